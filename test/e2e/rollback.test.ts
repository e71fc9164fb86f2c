import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, type LabSpec, reapOrphans } from '../lab/lab.js';
import {
  editMesh,
  gatewaySums,
  meshctl,
  type RenderedTree,
  renderTree,
  skipUnlessLabUsable,
  waitForFullMesh,
} from './interrupt-support.js';

/**
 * SPEC §5 apply: "if a changed tunnel does not come up, restore its previous files and report the failure". On
 * gateways whose INPUT policy is DROP (the operator's own rules admit only SSH from the bastion), port_base
 * moves every pair's port and an operator rule on beta drops the new port of the alpha–beta pair. apply must
 * exit 1 naming that tunnel, put back its previous files at both ends, keep its previous port accepted by the
 * firewall (the reloaded rules only accept the new ports), and the two LANs must still reach each other over
 * the old config while the other tunnels run the new one. Once the blocker goes, a re-run converges.
 */

const BASTION = '198.18.0.254';
const OLD_BASE = 11000;
const NEW_BASE = 12000;

/** The operator's own firewall: nothing but loopback and SSH from the bastion, then the policy drops. */
const OPERATOR_RULES = [
  ['iptables', '-w', '-A', 'INPUT', '-i', 'lo', '-j', 'ACCEPT'],
  ['iptables', '-w', '-A', 'INPUT', '-p', 'tcp', '-s', BASTION, '--dport', '22', '-j', 'ACCEPT'],
  ['iptables', '-w', '-P', 'INPUT', 'DROP'],
];

describe('rollback of a tunnel that cannot come up, INPUT policy DROP (lab)', function () {
  this.timeout(300_000);
  const spec: LabSpec = {
    name: 'hsr',
    portBase: OLD_BASE,
    gateways: [
      { name: 'alpha', id: 1, subnets: ['10.44.0.0/24'] },
      { name: 'beta', id: 2, subnets: ['10.45.0.0/24'] },
      { name: 'gamma', id: 3, subnets: ['10.46.0.0/24'] },
    ],
  };
  // pair index of ids 1 and 2 is 1 (SPEC §2)
  const blockedPort = String(NEW_BASE + 1);
  let lab: Lab | undefined;
  let scratch: string;
  let oldTree: RenderedTree;
  let newTree: RenderedTree;

  before(async function () {
    skipUnlessLabUsable(this);
    await reapOrphans();
    lab = await Lab.up(spec);
    scratch = mkdtempSync(join(tmpdir(), 'meshctl-rollback-'));
    for (const gw of spec.gateways) {
      for (const rule of OPERATOR_RULES) {
        const result = await lab.exec(gw.name, rule);
        assert.equal(result.code, 0, `${gw.name}: ${rule.join(' ')}: ${result.stderr}`);
      }
    }
  });

  after(async () => {
    await lab?.down();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('converges a fresh mesh although every gateway drops unsolicited input', async () => {
    const apply = await meshctl(lab!, ['apply']);
    assert.equal(apply.code, 0, `${apply.stdout}${apply.stderr}`);
    const mesh = await waitForFullMesh(lab!);
    assert.ok(mesh.ok, mesh.matrix);
    oldTree = await renderTree(lab!, join(scratch, 'old'));
  });

  it('rolls back the blocked tunnel at both ends, reports it, and keeps it working on the old config', async () => {
    editMesh(lab!, (mesh) => {
      mesh.port_base = NEW_BASE;
    });
    newTree = await renderTree(lab!, join(scratch, 'new'));
    // the operator's blocker, above meshctl's jump
    const block = ['iptables', '-w', '-I', 'INPUT', '1', '-p', 'udp', '--dport', blockedPort, '-j', 'DROP'];
    assert.equal((await lab!.exec('beta', block)).code, 0);

    const apply = await meshctl(lab!, ['apply', '--tunnel-timeout', '15']);
    const output = apply.stdout + apply.stderr;
    assert.equal(apply.code, 1, output);
    assert.match(output, /alpha\s+FAILED\s+verify: beta: tunnel did not come up within 15 s/);
    assert.match(output, /beta\s+FAILED\s+verify: alpha: tunnel did not come up within 15 s/);
    assert.match(
      output,
      /tunnel beta: did not come up; previous config restored \([^)]*mesh-beta\.conf[^)]*\) and restarted; firewall keeps its previous rules/,
    );
    assert.match(
      output,
      /tunnel alpha: did not come up; previous config restored \([^)]*mesh-alpha\.conf[^)]*\) and restarted; firewall keeps its previous rules/,
    );

    // both ends of alpha–beta hold their previous tunnel files again; the other tunnels their new ones
    const expectations: [string, string, RenderedTree][] = [
      ['alpha', '/etc/openvpn/server/mesh-beta.conf', oldTree],
      ['beta', '/etc/openvpn/server/mesh-alpha.conf', oldTree],
      ['alpha', '/etc/openvpn/server/mesh-gamma.conf', newTree],
      ['beta', '/etc/openvpn/server/mesh-gamma.conf', newTree],
      ['gamma', '/etc/openvpn/server/mesh-alpha.conf', newTree],
      ['gamma', '/etc/openvpn/server/mesh-beta.conf', newTree],
    ];
    for (const [gw, path, tree] of expectations) {
      const sums = await gatewaySums(lab!, gw, [path]);
      assert.equal(
        sums.get(path),
        tree.get(gw)!.get(path),
        `${gw}:${path} is not the ${tree === oldTree ? 'old' : 'new'} one`,
      );
    }
    const oldConf = readFileSync(join(scratch, 'old/alpha/etc/openvpn/server/mesh-beta.conf'), 'utf8');
    assert.match(oldConf, new RegExp(`^port ${OLD_BASE + 1}$`, 'm'));

    // the pair still works over the old config, through firewalls whose INPUT policy is DROP
    const mesh = await waitForFullMesh(lab!, 45_000);
    assert.ok(mesh.ok, mesh.matrix);
    for (const gw of ['alpha', 'beta']) {
      const listening = await lab!.exec(gw, ['ss', '-Hulnp']);
      assert.match(
        listening.stdout,
        new RegExp(`:${OLD_BASE + 1}\\s.*openvpn`),
        `${gw} runs alpha–beta on its old port`,
      );
      const chain = await lab!.exec(gw, ['iptables', '-w', '-S', 'MESHCTL-INPUT']);
      assert.match(
        chain.stdout,
        new RegExp(`--dport ${OLD_BASE + 1} -j ACCEPT`),
        `${gw} still accepts the old port`,
      );
    }
    // the operator's rules and policy are untouched
    const input = await lab!.exec('beta', ['iptables', '-w', '-S', 'INPUT']);
    assert.match(input.stdout, /^-P INPUT DROP$/m);
    assert.match(input.stdout, new RegExp(`--dport ${blockedPort} -j DROP`));
    // gamma converged: its manifest records the new files
    const gammaManifest = '/etc/meshctl/manifest.json';
    const sums = await gatewaySums(lab!, 'gamma', [gammaManifest]);
    assert.equal(sums.get(gammaManifest), newTree.get('gamma')!.get(gammaManifest));
  });

  it('converges once the blocker is gone: apply 0, diff 0, every LAN pings', async () => {
    const unblock = ['iptables', '-w', '-D', 'INPUT', '-p', 'udp', '--dport', blockedPort, '-j', 'DROP'];
    assert.equal((await lab!.exec('beta', unblock)).code, 0);
    const apply = await meshctl(lab!, ['apply']);
    assert.equal(apply.code, 0, `${apply.stdout}${apply.stderr}`);
    const diff = await meshctl(lab!, ['diff']);
    assert.equal(diff.code, 0, `${diff.stdout}${diff.stderr}`);
    const mesh = await waitForFullMesh(lab!);
    assert.ok(mesh.ok, mesh.matrix);
    for (const gw of spec.gateways) {
      const paths = [...newTree.get(gw.name)!.keys()];
      const sums = await gatewaySums(lab!, gw.name, paths);
      for (const path of paths)
        assert.equal(sums.get(path), newTree.get(gw.name)!.get(path), `${gw.name}:${path}`);
    }
  });
});
