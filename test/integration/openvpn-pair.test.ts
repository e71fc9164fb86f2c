import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allocateMesh } from '../../src/mesh/allocate.js';
import { ensurePki } from '../../src/pki/index.js';
import { renderMesh } from '../../src/render/render.js';
import { loadRoles } from '../../src/render/roles.js';
import { writeRenderTree } from '../../src/render/tree.js';
import type { Inventory, Mesh, PkiMaterial } from '../../src/types.js';
import { buildInventory } from '../helpers/inventory.js';
import { inNs, must, NamespacePair, run, skipBanner, whyNoNamespaces } from './netns.js';
import { OpenVpnProcess } from './openvpn-process.js';

/**
 * Real OpenVPN with EXACTLY the rendered files (SPEC §3, §4): two gateways in two network namespaces joined by a
 * veth pair on 198.18.200.0/24 (a benchmarking range, and only inside namespaces this test creates), real PKI from
 * ensurePki, the rendered firewall loaded in each namespace with an INPUT policy of DROP.
 *
 *   1. the pair comes up on both ends and the transit addresses answer across the tunnel
 *   2. the firewall: a source outside the peer's subnets is dropped on the tunnel; the script is idempotent,
 *      leaves the operator's rules and policies alone, and `stop` removes every trace
 *   3. pinning: a gateway presenting ANOTHER LAN's certificate is refused (verify-x509-name)
 */

const TITLE = 'integration: a real OpenVPN pair from the rendered files';
const INIT_DONE = /Initialization Sequence Completed/;
const prefix = `mcr${process.pid}`;
const net = new NamespacePair(prefix, '198.18.200.1', '198.18.200.2');

function inventory(pkiDir: string): Inventory {
  return buildInventory(
    [
      { name: 'alpha', id: 1, subnets: ['10.201.0.0/16'], endpoint: net.addressA },
      { name: 'bravo', id: 2, subnets: ['10.202.0.0/16'], endpoint: net.addressB },
      // never started: its certificate is the one bravo's impostor presents
      { name: 'charlie', id: 3, subnets: ['10.203.0.0/16'], endpoint: '198.18.200.3' },
    ],
    // a short keepalive so a dead peer shows quickly; everything else is the shipped roles' defaults
    { name: 'itest', pkiDir, knownHosts: '/dev/null', openvpn: { keepalive: [2, 10], extra: [] } },
  );
}

describe(TITLE, function () {
  this.timeout(180_000);

  let work: string;
  let out: string;
  let mesh: Mesh;
  let pki: PkiMaterial;
  const started: OpenVpnProcess[] = [];

  function openvpn(label: string, serverDir: string, ns: string, config: string): OpenVpnProcess {
    const proc = new OpenVpnProcess(label, serverDir, ns, config);
    started.push(proc);
    proc.start();
    return proc;
  }

  async function stopAll(): Promise<void> {
    for (const proc of started.splice(0)) await proc.stop();
  }

  async function firewallStart(ns: string, lanName: string): Promise<void> {
    await must(inNs(ns, [join(out, lanName, 'etc/meshctl/firewall.sh'), 'start']));
  }

  async function dropCount(ns: string, chain: string): Promise<number> {
    const listing = await must(inNs(ns, ['iptables', '-w', '-L', chain, '-v', '-x', '-n']));
    const drop = listing.split('\n').find((l) => /\bDROP\b/.test(l));
    assert.ok(drop, `no DROP rule in ${chain}:\n${listing}`);
    return Number(drop.trim().split(/\s+/)[0]);
  }

  before(async function () {
    const reason =
      whyNoNamespaces() ??
      (existsSync('/etc/openvpn/server')
        ? undefined
        : 'no /etc/openvpn/server directory to bind-mount over') ??
      ((await run(['openvpn', '--version'])).stdout.startsWith('OpenVPN')
        ? undefined
        : 'openvpn is not installed') ??
      ((await run(['iptables', '--version'])).code === 0 ? undefined : 'iptables is not installed');
    if (reason) {
      skipBanner(TITLE, reason);
      this.skip();
    }
    work = await mkdtemp(join(tmpdir(), 'meshctl-ovpn-'));
    out = join(work, 'render');
    const inv = inventory(join(work, 'pki'));
    mesh = allocateMesh(inv);
    ({ material: pki } = await ensurePki({
      dir: inv.mesh.pkiDir,
      mesh: inv.mesh.name,
      lans: inv.lans.map((l) => l.name),
      pairs: mesh.pairs.map((p) => p.index),
    }));
    await writeRenderTree(out, renderMesh(mesh, pki, loadRoles(), { version: 'integration' }));

    await net.create();
    for (const ns of [net.a, net.b]) {
      // the rendered firewall must be enough on its own: nothing else gets in
      await firewallStart(ns, ns === net.a ? 'alpha' : 'bravo');
      await must(inNs(ns, ['iptables', '-w', '-P', 'INPUT', 'DROP']));
    }
    // so a spoofed source reaches netfilter instead of being dropped by reverse-path filtering first
    await must(
      inNs(net.a, [
        'sysctl',
        '-q',
        '-w',
        'net.ipv4.conf.all.rp_filter=0',
        'net.ipv4.conf.default.rp_filter=0',
      ]),
    );
  });

  after(async () => {
    await stopAll();
    await net.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  });

  describe('with the rendered files as they are', () => {
    // pair 1 = alpha (1, TLS server, 172.19.0.5) ↔ bravo (2, TLS client, 172.19.0.6), UDP 11001, mtun1
    let alpha: OpenVpnProcess;
    let bravo: OpenVpnProcess;

    before(() => {
      alpha = openvpn('alpha', join(out, 'alpha/etc/openvpn/server'), net.a, 'mesh-bravo.conf');
      bravo = openvpn('bravo', join(out, 'bravo/etc/openvpn/server'), net.b, 'mesh-alpha.conf');
    });

    after(stopAll);

    it('both ends reach "Initialization Sequence Completed"', async () => {
      const [a, b] = await Promise.all([alpha.waitFor(INIT_DONE, 60_000), bravo.waitFor(INIT_DONE, 60_000)]);
      assert.ok(a && b, `tunnel did not come up\n${alpha.tail()}\n${bravo.tail()}`);
      assert.match(alpha.log, /Peer Connection Initiated with .*198\.18\.200\.2/);
      assert.match(bravo.log, /Peer Connection Initiated with .*198\.18\.200\.1/);
      // the rendered options load on this OpenVPN without a deprecation warning
      for (const proc of [alpha, bravo]) assert.doesNotMatch(proc.log, /deprecated|WARNING/i, proc.tail(200));
    });

    it('each end pings the other’s transit address across the tunnel, with AEAD data channel', async () => {
      const fromA = await run(inNs(net.a, ['ping', '-c', '3', '-W', '2', '172.19.0.6']));
      assert.equal(fromA.code, 0, `alpha → 172.19.0.6 failed: ${fromA.stdout}${fromA.stderr}`);
      const fromB = await run(inNs(net.b, ['ping', '-c', '3', '-W', '2', '172.19.0.5']));
      assert.equal(fromB.code, 0, `bravo → 172.19.0.5 failed: ${fromB.stdout}${fromB.stderr}`);
      assert.match(alpha.log, /Data Channel: cipher '(AES-256-GCM|AES-128-GCM|CHACHA20-POLY1305)'/);
      // the route to the peer's LAN is in place
      const routes = await must(inNs(net.a, ['ip', 'route', 'show', '10.202.0.0/16']));
      assert.match(routes, /10\.202\.0\.0\/16 via 172\.19\.0\.6 dev mtun1/);
    });

    it('the firewall drops a source outside the peer’s subnets arriving on the tunnel', async () => {
      await must(inNs(net.b, ['ip', 'addr', 'add', '10.202.0.1/32', 'dev', 'lo']));
      await must(inNs(net.b, ['ip', 'addr', 'add', '10.203.0.1/32', 'dev', 'lo']));
      const before = await dropCount(net.a, 'MESHCTL-SRC-mtun1');
      // bravo's own subnet is a legitimate source: not dropped by the source check
      await run(inNs(net.b, ['ping', '-c', '2', '-W', '1', '-I', '10.202.0.1', '172.19.0.5']));
      assert.equal(await dropCount(net.a, 'MESHCTL-SRC-mtun1'), before);
      // charlie's subnet through bravo's tunnel is a spoof: dropped
      const spoof = await run(inNs(net.b, ['ping', '-c', '2', '-W', '1', '-I', '10.203.0.1', '172.19.0.5']));
      assert.notEqual(spoof.code, 0);
      assert.equal(await dropCount(net.a, 'MESHCTL-SRC-mtun1'), before + 2);
    });
  });

  describe('the rendered firewall script', () => {
    it('is idempotent, keeps the operator’s rules and policies, removes stale chains, and `stop` cleans up', async () => {
      const ns = net.a;
      await must(inNs(ns, ['iptables', '-w', '-A', 'INPUT', '-s', '192.0.2.99/32', '-j', 'DROP']));
      await must(inNs(ns, ['iptables', '-w', '-N', 'MESHCTL-SRC-mtun999']));
      await firewallStart(ns, 'alpha');
      const once = await must(inNs(ns, ['iptables', '-w', '-S']));
      await firewallStart(ns, 'alpha');
      const twice = await must(inNs(ns, ['iptables', '-w', '-S']));
      assert.equal(twice, once);
      assert.doesNotMatch(once, /MESHCTL-SRC-mtun999/);
      assert.equal(once.split('\n').filter((l) => l === '-A INPUT -j MESHCTL-INPUT').length, 1);
      assert.match(once, /^-A INPUT -s 192\.0\.2\.99\/32 -j DROP$/m);
      assert.match(once, /^-P INPUT DROP$/m);

      await must(inNs(ns, [join(out, 'alpha/etc/meshctl/firewall.sh'), 'stop']));
      const stopped = await must(inNs(ns, ['iptables', '-w', '-S']));
      assert.doesNotMatch(stopped, /MESHCTL/);
      assert.match(stopped, /^-A INPUT -s 192\.0\.2\.99\/32 -j DROP$/m);
      assert.match(stopped, /^-P INPUT DROP$/m);
      await firewallStart(ns, 'alpha');
    });
  });

  describe('pinning: bravo’s end presents charlie’s certificate', () => {
    let alpha: OpenVpnProcess;
    let impostor: OpenVpnProcess;

    before(async () => {
      // the impostor holds the pair's tls-crypt key and a valid certificate of the same CA, but for charlie
      const impostorDir = join(work, 'impostor');
      await cp(join(out, 'bravo/etc/openvpn/server'), impostorDir, { recursive: true });
      const charlie = pki.gateways.get('charlie')!;
      await writeFile(join(impostorDir, 'meshctl/bravo.crt'), charlie.cert, { mode: 0o644 });
      await writeFile(join(impostorDir, 'meshctl/bravo.key'), charlie.key, { mode: 0o600 });
      alpha = openvpn('alpha', join(out, 'alpha/etc/openvpn/server'), net.a, 'mesh-bravo.conf');
      impostor = openvpn('impostor', impostorDir, net.b, 'mesh-alpha.conf');
    });

    after(stopAll);

    it('alpha refuses the handshake: verify-x509-name fails on CN=charlie', async () => {
      const refused = await alpha.waitFor(/VERIFY X509NAME ERROR: CN=charlie, must be bravo/, 45_000);
      assert.ok(refused, `no verify-x509-name failure\n${alpha.tail()}\n${impostor.tail()}`);
    });

    it('no Initialization Sequence Completed within a bounded wait, and the ping fails', async () => {
      const [a, b] = await Promise.all([alpha.waitFor(INIT_DONE, 15_000), impostor.waitFor(INIT_DONE, 1)]);
      assert.equal(a, false, alpha.tail());
      assert.equal(b || INIT_DONE.test(impostor.log), false, impostor.tail());
      const ping = await run(inNs(net.b, ['ping', '-c', '2', '-W', '1', '172.19.0.5']));
      assert.notEqual(ping.code, 0);
    });
  });
});
