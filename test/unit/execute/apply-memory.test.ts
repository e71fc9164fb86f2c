import assert from 'node:assert/strict';
import { run as apply } from '../../../src/commands/apply.js';
import { run as diff } from '../../../src/commands/diff.js';
import { ConnectError } from '../../../src/errors.js';
import { UNCONFIRMED_SHA256 } from '../../../src/execute/outcomes.js';
import { WAIT_SCRIPT } from '../../../src/execute/tunnels.js';
import { sha256 } from '../../helpers/hash.js';
import { type MemoryGateway, MemoryNetwork } from '../../helpers/memory-gateway.js';
import { captured, engineOptions, type MemoryMesh, memoryMesh } from '../../helpers/memory-mesh.js';

/**
 * The push engine end to end against memory gateways: the real commands, planner, executor, verification,
 * rollback and manifest, with each gateway's files and units as data. The lab tests confirm the same on real
 * gateways; these find what the lab cannot reach (a check that throws, a shared file behind a failure).
 */

const LANS = [
  { name: 'alpha', id: 1 },
  { name: 'beta', id: 2 },
  { name: 'gamma', id: 3 },
];

const unit = (peer: string) => `openvpn-server@mesh-${peer}.service`;

interface TunnelJson {
  unit: string;
  peer: string;
  up: boolean;
  outcome: { kind: string; restored?: string[]; kept?: { path: string; sharedWith: string[] }[] };
  note: string;
}
interface GatewayJson {
  lan: string;
  status: string;
  error?: { stage: string; message: string };
  tunnels: TunnelJson[];
}

async function runApply(mesh: MemoryMesh, extra: Record<string, unknown> = {}) {
  const c = captured(true);
  const code = await apply(engineOptions(mesh.dir, { json: true, ...extra }), c.out, {
    connector: mesh.network.connector,
  });
  const result = c.json();
  return { code, result, gateways: result.gateways as GatewayJson[], errors: c.errors() };
}

async function runDiff(mesh: MemoryMesh) {
  const c = captured(true);
  const code = await diff(engineOptions(mesh.dir, { json: true }), c.out, {
    connector: mesh.network.connector,
  });
  return { code, result: c.json() };
}

function pids(network: MemoryNetwork): Record<string, number> {
  const result: Record<string, number> = {};
  for (const g of network.gateways.values()) for (const [u, s] of g.units) result[`${g.name} ${u}`] = s.pid;
  return result;
}

function tunnel(gateways: GatewayJson[], lan: string, peer: string): TunnelJson | undefined {
  return gateways.find((g) => g.lan === lan)?.tunnels.find((t) => t.peer === peer);
}

/** Makes the tunnel checks (the ping through each tunnel) on `gateway` fail the way a hung command does. */
function checksTimeOut(gateway: MemoryGateway): void {
  gateway.faults.push((record) => {
    if (record.argv[2] === WAIT_SCRIPT)
      throw new ConnectError(gateway.host, `${gateway.name}: command timed out`);
    return undefined;
  });
}

describe('apply against memory gateways', function () {
  this.timeout(30_000);
  let mesh: MemoryMesh;
  beforeEach(() => {
    mesh = memoryMesh(LANS);
  });
  afterEach(() => mesh.cleanup());

  it('converges a fresh mesh: every tunnel verified, files with their modes, manifest last; then nothing to do', async () => {
    const first = await runApply(mesh);
    assert.equal(first.code, 0, first.errors);
    for (const g of first.gateways) {
      assert.equal(g.status, 'changed');
      assert.deepEqual(
        g.tunnels.map((t) => [t.peer, t.outcome.kind]),
        LANS.filter((l) => l.name !== g.lan).map((l) => [l.name, 'verified']),
      );
    }
    const alpha = mesh.network.get('alpha');
    assert.equal(alpha.files.get('/etc/openvpn/server/meshctl/alpha.key')?.mode, 0o600);
    assert.equal(alpha.files.get('/etc/openvpn/server/mesh-beta.conf')?.mode, 0o644);
    // the last round trip: the rollback copies, then the manifest alone, then its rollback copy
    assert.equal(alpha.commands().at(-1), 'script sequence');
    const last = alpha.log.at(-1)!.stdin!;
    const written = [...last.matchAll(/^meshctl_put '?([^' ]+)'? /gm)].map((m) => m[1]);
    assert.deepEqual(written, ['/etc/meshctl/manifest.json'], 'the manifest is the last file written');
    assert.equal(
      alpha.commands().filter((c) => c === 'script install').length,
      1,
      'all other files in one bundle',
    );
    const manifest = alpha.manifest()!;
    const conf = '/etc/openvpn/server/mesh-beta.conf';
    assert.equal(manifest.files[conf], sha256(alpha.files.get(conf)!.content));
    assert.ok(alpha.tunnelUp(unit('beta')) && alpha.tunnelUp(unit('gamma')));
    assert.ok(alpha.ipForward && alpha.firewall !== null);

    const before = pids(mesh.network);
    assert.equal((await runDiff(mesh)).code, 0, 'diff after apply finds nothing to do');
    const second = await runApply(mesh);
    assert.equal(second.code, 0);
    assert.deepEqual(pids(mesh.network), before, 'no unit restarted');
    for (const g of mesh.network.gateways.values()) {
      assert.deepEqual(g.commands().slice(-2), ['meshctl-probe', 'meshctl-probe'], `${g.name}: only probes`);
    }
  });

  it('a check that throws is a verify-error: nothing rolled back, not vouched for, verified by the next run', async () => {
    assert.equal((await runApply(mesh)).code, 0);
    // a change that restarts alpha↔gamma and beta↔gamma at both ends
    mesh.writeLan(LANS[2]!, '198.51.100.33');
    const gamma = mesh.network.get('gamma');
    checksTimeOut(gamma);
    const failing = await runApply(mesh);
    assert.equal(failing.code, 1);
    const g = failing.gateways.find((x) => x.lan === 'gamma')!;
    assert.equal(g.status, 'failed');
    assert.equal(g.error?.stage, 'verify');
    assert.equal(tunnel(failing.gateways, 'gamma', 'alpha')?.outcome.kind, 'verify-error');
    // the other end saw it up, but the pair is unverified at both ends: never "verified", never rolled back
    assert.equal(tunnel(failing.gateways, 'alpha', 'gamma')?.outcome.kind, 'verify-error');
    assert.ok(!gamma.commands().includes('script restore'), 'nothing rolled back at gamma');
    assert.ok(
      !mesh.network.get('alpha').commands().includes('script restore'),
      'nothing rolled back at alpha',
    );
    assert.equal(tunnel(failing.gateways, 'alpha', 'beta'), undefined, 'alpha↔beta was not touched');
    // the manifests do not vouch for the files of the unverified tunnels
    const alphaManifest = mesh.network.get('alpha').manifest()!;
    assert.equal(alphaManifest.files['/etc/openvpn/server/mesh-gamma.conf'], UNCONFIRMED_SHA256);
    assert.notEqual(alphaManifest.files['/etc/meshctl/iptables.rules'], UNCONFIRMED_SHA256);

    gamma.faults = [];
    const before = pids(mesh.network);
    assert.equal((await runDiff(mesh)).code, 2, 'diff still has work: the unverified tunnels');
    const retry = await runApply(mesh);
    assert.equal(retry.code, 0, retry.errors);
    assert.equal(tunnel(retry.gateways, 'gamma', 'alpha')?.outcome.kind, 'verified');
    assert.equal(tunnel(retry.gateways, 'alpha', 'gamma')?.outcome.kind, 'verified');
    const after = pids(mesh.network);
    assert.notEqual(
      after[`gamma ${unit('alpha')}`],
      before[`gamma ${unit('alpha')}`],
      'restarted to be verified',
    );
    assert.equal(after[`alpha ${unit('beta')}`], before[`alpha ${unit('beta')}`], 'alpha↔beta kept running');
    assert.equal((await runDiff(mesh)).code, 0);
  });

  it('a check that throws twice: the second run, which wrote nothing new, still does not vouch for the tunnel', async () => {
    assert.equal((await runApply(mesh)).code, 0);
    mesh.writeLan(LANS[2]!, '198.51.100.33');
    const gamma = mesh.network.get('gamma');
    checksTimeOut(gamma);
    assert.equal((await runApply(mesh)).code, 1);
    const conf = '/etc/openvpn/server/mesh-gamma.conf';
    assert.equal(mesh.network.get('alpha').manifest()!.files[conf], UNCONFIRMED_SHA256);
    // again: the config is already on disk, so nothing is written; the tunnel is restarted and the check fails
    const again = await runApply(mesh);
    assert.equal(again.code, 1);
    assert.equal(tunnel(again.gateways, 'alpha', 'gamma')?.outcome.kind, 'verify-error');
    assert.equal(
      mesh.network.get('alpha').manifest()!.files[conf],
      UNCONFIRMED_SHA256,
      'still not vouched for',
    );
    assert.equal((await runDiff(mesh)).code, 2, 'diff still has work');
    gamma.faults = [];
    const retry = await runApply(mesh);
    assert.equal(retry.code, 0, retry.errors);
    assert.equal(tunnel(retry.gateways, 'alpha', 'gamma')?.outcome.kind, 'verified');
    assert.equal(
      mesh.network.get('alpha').manifest()!.files[conf],
      sha256(mesh.network.get('alpha').files.get(conf)!.content),
    );
    assert.equal((await runDiff(mesh)).code, 0);
  });

  it('a tunnel that does not come up is rolled back at both ends and the manifest records the restored files', async () => {
    assert.equal((await runApply(mesh)).code, 0);
    const alpha = mesh.network.get('alpha');
    const oldConf = alpha.text('/etc/openvpn/server/mesh-gamma.conf');
    mesh.writeLan(LANS[2]!, '198.51.100.33');
    mesh.network.cut.add(MemoryNetwork.pairKey('alpha', 'gamma'));
    const failing = await runApply(mesh);
    assert.equal(failing.code, 1);
    // gamma's endpoint is in alpha's config of the pair, not in gamma's: alpha restores, gamma has nothing to
    const here = tunnel(failing.gateways, 'alpha', 'gamma')!;
    assert.equal(here.outcome.kind, 'rolled-back');
    assert.match(here.note, /previous config restored \(mesh-gamma\.conf\)/);
    assert.equal(tunnel(failing.gateways, 'gamma', 'alpha')?.outcome.kind, 'down');
    assert.equal(tunnel(failing.gateways, 'beta', 'gamma')?.outcome.kind, 'verified');
    assert.equal(alpha.text('/etc/openvpn/server/mesh-gamma.conf'), oldConf, 'previous config back in place');
    assert.equal(alpha.manifest()!.files['/etc/openvpn/server/mesh-gamma.conf'], sha256(oldConf!));

    mesh.network.cut.clear();
    const retry = await runApply(mesh);
    assert.equal(retry.code, 0, retry.errors);
    assert.equal(tunnel(retry.gateways, 'alpha', 'gamma')?.outcome.kind, 'verified');
    assert.equal((await runDiff(mesh)).code, 0);
  });

  it('a rollback says which changed shared file it kept, instead of claiming the previous config is back', async () => {
    assert.equal((await runApply(mesh)).code, 0);
    const alpha = mesh.network.get('alpha');
    // alpha's certificate changed (as after a reissue): every alpha tunnel restarts; only alpha↔gamma fails
    const cert = '/etc/openvpn/server/meshctl/alpha.crt';
    alpha.files.set(cert, { ...alpha.files.get(cert)!, content: Buffer.from('an older certificate\n') });
    mesh.network.cut.add(MemoryNetwork.pairKey('alpha', 'gamma'));
    const failing = await runApply(mesh);
    assert.equal(failing.code, 1);
    const t = tunnel(failing.gateways, 'alpha', 'gamma')!;
    assert.equal(t.outcome.kind, 'down', 'only a shared file changed: nothing of its own to restore');
    assert.deepEqual(t.outcome.kept, [{ path: cert, sharedWith: [unit('beta')] }]);
    assert.doesNotMatch(t.note, /previous config restored/);
    assert.match(t.note, /alpha\.crt NOT restored: shared with tunnel\(s\) to beta/);
    assert.equal(tunnel(failing.gateways, 'alpha', 'beta')?.outcome.kind, 'verified');
  });

  it('reports the kept file when a file shared with a tunnel that came up changed with the failing one', async () => {
    assert.equal((await runApply(mesh)).code, 0);
    const alpha = mesh.network.get('alpha');
    const cert = '/etc/openvpn/server/meshctl/alpha.crt';
    alpha.files.set(cert, { ...alpha.files.get(cert)!, content: Buffer.from('an older certificate\n') });
    mesh.writeLan(LANS[2]!, '198.51.100.33');
    mesh.network.cut.add(MemoryNetwork.pairKey('alpha', 'gamma'));
    const failing = await runApply(mesh);
    const t = tunnel(failing.gateways, 'alpha', 'gamma')!;
    assert.equal(t.outcome.kind, 'rolled-back');
    assert.deepEqual(t.outcome.restored, ['/etc/openvpn/server/mesh-gamma.conf']);
    assert.deepEqual(t.outcome.kept, [{ path: cert, sharedWith: [unit('beta')] }]);
    assert.match(t.note, /alpha\.crt NOT restored: shared with tunnel\(s\) to beta/);
    // the certificate the running alpha↔beta tunnel uses stays on disk and in the manifest
    assert.notEqual(alpha.text(cert), 'an older certificate\n');
    assert.equal(alpha.manifest()!.files[cert], sha256(alpha.files.get(cert)!.content));
  });

  it('a config OpenVPN refuses to start is rolled back at both ends', async () => {
    assert.equal((await runApply(mesh)).code, 0);
    const beta = mesh.network.get('beta');
    beta.refuses = (config) => config.includes('198.51.100.33');
    mesh.writeLan(LANS[2]!, '198.51.100.33');
    const failing = await runApply(mesh);
    assert.equal(failing.code, 1);
    assert.equal(tunnel(failing.gateways, 'beta', 'gamma')?.outcome.kind, 'rolled-back');
    assert.equal(tunnel(failing.gateways, 'gamma', 'beta')?.outcome.kind, 'down');
    assert.equal(beta.units.get(unit('gamma'))?.active, 'active', 'running on its previous config again');
  });

  it('one gateway unreachable: the others converge and the run exits 1 naming it', async () => {
    mesh.network.get('gamma').reachable = false;
    const result = await runApply(mesh);
    assert.equal(result.code, 1);
    const gamma = result.gateways.find((g) => g.lan === 'gamma')!;
    assert.equal(gamma.status, 'failed');
    assert.equal(gamma.error?.stage, 'connect');
    assert.equal(tunnel(result.gateways, 'alpha', 'beta')?.outcome.kind, 'verified');
    assert.equal(tunnel(result.gateways, 'alpha', 'gamma')?.outcome.kind, 'peer-failed');
    // not vouched for: the next run with gamma back restarts and verifies it
    const manifest = mesh.network.get('alpha').manifest()!;
    assert.equal(manifest.files['/etc/openvpn/server/mesh-gamma.conf'], UNCONFIRMED_SHA256);
    mesh.network.get('gamma').reachable = true;
    const retry = await runApply(mesh);
    assert.equal(retry.code, 0, retry.errors);
    assert.equal(tunnel(retry.gateways, 'alpha', 'gamma')?.outcome.kind, 'verified');
    assert.equal((await runDiff(mesh)).code, 0);
  });

  it('a connection lost while the bundle lands leaves the manifest alone; the re-run converges', async () => {
    const beta = mesh.network.get('beta');
    beta.faults.push((record, gw) => {
      if (record.stdin?.includes('meshctl_put') && !gw.files.has('/etc/meshctl/manifest.json')) {
        gw.reachable = false;
        throw new ConnectError(gw.host, 'beta: connection lost');
      }
      return undefined;
    });
    const result = await runApply(mesh);
    assert.equal(result.code, 1);
    assert.equal(result.gateways.find((g) => g.lan === 'beta')?.error?.stage, 'converge');
    assert.equal(beta.manifest(), undefined);
    beta.faults = [];
    beta.reachable = true;
    const retry = await runApply(mesh);
    assert.equal(retry.code, 0, retry.errors);
    assert.equal((await runDiff(mesh)).code, 0);
  });

  /** Points of a change run where beta's link dies: the run fails there, and a re-run converges everything. */
  const interruptions: [string, (r: { argv: string[]; stdin?: string }) => boolean][] = [
    ['while its files land', (r) => Boolean(r.stdin?.includes('meshctl_put'))],
    ['between converge and start', (r) => r.argv[0] === 'systemctl' && r.argv[1] === 'start'],
    ['while its tunnels are checked', (r) => r.argv[2] === WAIT_SCRIPT],
    ['while its manifest is written', (r) => Boolean(r.stdin?.includes('/etc/meshctl/manifest.json'))],
  ];
  for (const [when, matches] of interruptions) {
    it(`a link lost ${when}: that gateway fails, the others finish, and a re-run converges`, async () => {
      assert.equal((await runApply(mesh)).code, 0);
      mesh.setMeshExtra('port_base: 12000\n');
      const beta = mesh.network.get('beta');
      beta.faults.push((record, gw) => {
        if (!matches(record)) return undefined;
        gw.reachable = false;
        throw new ConnectError(gw.host, 'beta: connection lost');
      });
      const cut = await runApply(mesh);
      assert.equal(cut.code, 1);
      assert.equal(cut.gateways.find((g) => g.lan === 'beta')?.status, 'failed');
      beta.faults = [];
      beta.reachable = true;
      const retry = await runApply(mesh);
      assert.equal(retry.code, 0, `${when}: ${retry.errors}${JSON.stringify(retry.gateways)}`);
      for (const g of mesh.network.gateways.values()) {
        for (const peer of LANS.filter((l) => l.name !== g.name))
          assert.ok(g.tunnelUp(unit(peer.name)), `${g.name} → ${peer.name}`);
      }
      assert.equal((await runDiff(mesh)).code, 0, `${when}: diff after the re-run`);
    });
  }

  it('a gateway without systemd as PID 1 is refused before anything is written, naming what was found', async () => {
    const gamma = mesh.network.get('gamma');
    gamma.systemd = 'not-booted';
    const result = await runApply(mesh);
    assert.equal(result.code, 1);
    const g = result.gateways.find((x) => x.lan === 'gamma')!;
    assert.equal(g.error?.stage, 'plan');
    assert.match(
      g.error!.message,
      /systemd 252\) but systemd is not running as PID 1.*needs a systemd Linux/,
    );
    assert.equal(gamma.files.size, 0, 'nothing written there');
    assert.deepEqual(gamma.commands(), ['meshctl-probe']);
    gamma.systemd = 'missing';
    const again = await runApply(mesh);
    assert.match(again.gateways.find((x) => x.lan === 'gamma')!.error!.message, /has no systemctl/);
  });

  it('diff names the release, OpenVPN and systemd of each gateway', async () => {
    const beta = mesh.network.get('beta');
    Object.assign(beta.os, { versionId: '11', codename: 'bullseye' });
    beta.openvpnVersion = '2.5.1';
    mesh.network.get('gamma').openvpnVersion = null;
    const c = captured();
    assert.equal(await diff(engineOptions(mesh.dir), c.out, { connector: mesh.network.connector }), 2);
    assert.match(
      c.text(),
      /^alpha \(alpha\.memory\) {2}debian 12 \(bookworm\), OpenVPN 2\.6\.14, systemd 252$/m,
    );
    assert.match(
      c.text(),
      /^beta \(beta\.memory\) {2}debian 11 \(bullseye\), OpenVPN 2\.5\.1, systemd 252$/m,
    );
    assert.match(
      c.text(),
      /^gamma \(gamma\.memory\) {2}debian 12 \(bookworm\), OpenVPN not installed, systemd 252$/m,
    );
    const json = (await runDiff(mesh)).result.plans as {
      lan: string;
      system: { release: string; openvpn: string | null };
    }[];
    assert.deepEqual(json.find((p) => p.lan === 'beta')?.system, {
      release: 'debian 11 (bullseye)',
      openvpn: '2.5.1',
      systemd: 252,
    });
  });

  it('tunnels running while the firewall unit is not are started after it and verified (they are bound to it)', async () => {
    assert.equal((await runApply(mesh)).code, 0);
    const beta = mesh.network.get('beta');
    beta.units.get('meshctl-firewall.service')!.active = 'inactive';
    beta.firewall = null;
    const result = await runApply(mesh);
    assert.equal(result.code, 0, result.errors);
    assert.equal(beta.units.get('meshctl-firewall.service')!.active, 'active');
    assert.ok(beta.firewall !== null, 'the chains are loaded again');
    assert.deepEqual(
      result.gateways.find((g) => g.lan === 'beta')!.tunnels.map((t) => [t.peer, t.outcome.kind]),
      [
        ['alpha', 'verified'],
        ['gamma', 'verified'],
      ],
    );
  });

  it('diff is read-only and exits 2 when apply would change something', async () => {
    const result = await runDiff(mesh);
    assert.equal(result.code, 2);
    for (const g of mesh.network.gateways.values()) {
      assert.equal(g.files.size, 0, `${g.name}: nothing written`);
      assert.deepEqual(g.commands(), ['meshctl-probe'], `${g.name}: the probe only`);
    }
  });
});
