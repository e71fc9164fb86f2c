import assert from 'node:assert/strict';
import { BGP_SUMMARY_COMMAND } from '../../../src/execute/bgp.js';
import { runEngine } from '../../../src/execute/run.js';
import { printSummary, runSucceeded, runsToJson } from '../../../src/execute/summary.js';
import { FRR_UNIT, gatewayPaths } from '../../../src/gateway/layout.js';
import { allocateMesh } from '../../../src/mesh/allocate.js';
import { renderMesh } from '../../../src/render/render.js';
import { loadRoles } from '../../../src/render/roles.js';
import type { DesiredState } from '../../../src/types.js';
import { buildInventory, type LanSpec } from '../../helpers/inventory.js';
import { FRR_PACKAGE_FILES, MemoryNetwork } from '../../helpers/memory-gateway.js';
import { captured } from '../../helpers/memory-mesh.js';
import { fixturePki } from '../render/fixture.js';

/**
 * `routing: bgp` through the real engine against memory gateways (SPEC §3, §7): FRR installed with OpenVPN in one
 * package-manager run, frr.conf and daemons landed, FRR started on them, every BGP session verified; a second
 * apply changes nothing; a new LAN reloads frr.conf on the others without restarting FRR; a session that never
 * comes up fails the gateway at the verify stage.
 *
 * The inventory loader does not read `routing:` yet, so the desired state is rendered here from an inventory built
 * in memory (as render tests do) and handed to the engine, as `meshctl apply` hands it the rendered inventory.
 */

interface GatewayJson {
  lan: string;
  status: string;
  error?: { stage: string; message: string };
  tunnels: { peer: string; outcome: { kind: string } }[];
}

const LANS: LanSpec[] = [
  { name: 'a', id: 1 },
  { name: 'b', id: 2 },
  { name: 'c', id: 3 },
];
const D: LanSpec = { name: 'd', id: 4 };

/** Every gateway's desired state for `lans` with routing: bgp; ssh_host `<name>.memory`. */
function desired(lans: LanSpec[]): Map<string, DesiredState> {
  const inventory = buildInventory(lans, { routing: 'bgp' });
  for (const gateway of inventory.gateways) gateway.sshHost = `${gateway.name}.memory`;
  const mesh = allocateMesh(inventory);
  return renderMesh(mesh, fixturePki(mesh), loadRoles(), { version: '0.1.0-test' });
}

function network(lans: LanSpec[]): MemoryNetwork {
  const net = new MemoryNetwork();
  for (const lan of lans) addGateway(net, lan);
  return net;
}

/** A fresh gateway: neither OpenVPN nor FRR installed. */
function addGateway(net: MemoryNetwork, lan: LanSpec): void {
  const gateway = net.add(lan.name, `${lan.name}.memory`);
  gateway.addresses = [`10.${lan.id}.0.1/16`];
  gateway.openvpnVersion = null;
}

/** What `meshctl apply --json` does with the rendered states: the engine, then the JSON result. */
async function apply(net: MemoryNetwork, states: Map<string, DesiredState>, timeoutMs = 1000) {
  const c = captured(true);
  const { runs } = await runEngine(states, [...states.keys()], {
    apply: true,
    forks: 10,
    acceptNew: true,
    connector: net.connector,
    out: c.out,
    tunnelTimeoutMs: timeoutMs,
    pollIntervalMs: 10,
  });
  printSummary(runs, true, c.out);
  const ok = runs.every(runSucceeded);
  c.out.result('apply', { ok, mesh: 'test', gateways: runsToJson(runs, true) });
  const result = c.json();
  return { ok: result.ok as boolean, gateways: result.gateways as GatewayJson[], runs };
}

/** Every gateway's desired state for LANS with the CA bundle in ca.crt doubled (`bundle`) or as it was. */
function withCaBundle(bundle: boolean): Map<string, DesiredState> {
  const inventory = buildInventory(LANS, { routing: 'bgp' });
  for (const gateway of inventory.gateways) gateway.sshHost = `${gateway.name}.memory`;
  const mesh = allocateMesh(inventory);
  const pki = fixturePki(mesh);
  const caCert = bundle ? `${pki.caCert}${pki.caCert}` : pki.caCert;
  return renderMesh(mesh, { ...pki, caCert }, loadRoles(), { version: '0.1.0-test' });
}

/** What rotate --ca with bgp asks of the engine for gateway a: a alone, its tunnels restarted one at a time. */
function rollingRun(net: MemoryNetwork, states: Map<string, DesiredState>, timeoutMs: number) {
  return runEngine(states, ['a'], {
    apply: true,
    forks: 10,
    acceptNew: true,
    connector: net.connector,
    out: captured(true).out,
    tunnelTimeoutMs: timeoutMs,
    pollIntervalMs: 10,
    verifyAlone: true,
    rolling: true,
  });
}

/** The units a memory gateway was asked to `systemctl restart` since entry `from` of its log, in order. */
function restartedUnits(gateway: ReturnType<MemoryNetwork['get']>, from: number): string[] {
  return gateway.log
    .slice(from)
    .filter((r) => r.argv[0] === 'systemctl' && r.argv[1] === 'restart')
    .map((r) => r.argv[2]!);
}

describe('apply with routing: bgp against memory gateways', function () {
  this.timeout(30_000);

  it('converges fresh gateways: FRR installed with OpenVPN, started on meshctl’s files, every session verified', async () => {
    const net = network(LANS);
    const first = await apply(net, desired(LANS));
    assert.equal(first.ok, true, JSON.stringify(first.gateways, null, 1));
    for (const g of first.gateways) {
      assert.equal(g.status, 'changed', g.lan);
      assert.deepEqual(
        g.tunnels.map((t) => t.outcome.kind),
        ['verified', 'verified'],
      );
    }
    const a = net.get('a');
    // one package-manager run for both
    const installs = a.log.filter((r) => r.argv[3] === 'meshctl-install');
    assert.deepEqual(
      installs.map((r) => r.argv.slice(4)),
      [['openvpn', 'frr', 'frr-pythontools']],
    );
    assert.equal(a.frrVersion, '8.4.4');
    assert.equal(a.frrReload, true);
    // the package's default config was replaced by meshctl's, and FRR runs on it (bgpd included)
    assert.notEqual(a.text(gatewayPaths.frrConf), FRR_PACKAGE_FILES[gatewayPaths.frrConf]);
    assert.match(a.text(gatewayPaths.frrConf)!, /^router bgp 4200000001$/m);
    assert.equal(a.files.get(gatewayPaths.frrConf)?.mode, 0o644);
    assert.ok(a.bgpdRunning(), 'restarted on meshctl’s daemons file (the package’s runs no bgpd)');
    assert.equal(a.units.get(FRR_UNIT)?.enabled, true);
    assert.deepEqual(
      [...a.bgpSessions()].map(([address, s]) => [address, s.state, s.pfxRcd]),
      [
        ['172.19.0.6', 'Established', 1],
        ['172.19.0.10', 'Established', 1],
      ],
    );
    assert.ok(
      a.log.some((r) => r.argv[0] === 'vtysh'),
      'the sessions were checked on the gateway',
    );
    assert.ok(a.manifest()!.files[gatewayPaths.frrConf]);
    assert.ok(a.manifest()!.units.includes(FRR_UNIT));

    // a second apply: only the probe, no restart anywhere
    const pids = new Map([...net.gateways.values()].map((g) => [g.name, g.pid(FRR_UNIT)]));
    const before = new Map([...net.gateways.values()].map((g) => [g.name, g.log.length]));
    const second = await apply(net, desired(LANS));
    assert.equal(second.ok, true);
    for (const g of net.gateways.values()) {
      assert.deepEqual(
        g.log.slice(before.get(g.name)).map((r) => r.argv[3] ?? r.argv[0]),
        ['meshctl-probe'],
        `${g.name}: only the probe`,
      );
      assert.equal(g.pid(FRR_UNIT), pids.get(g.name));
    }
    for (const g of second.gateways) assert.equal(g.status, 'unchanged');
  });

  it('a new LAN: the others reload frr.conf in place (FRR keeps its PID, no tunnel restarts), every session verified', async () => {
    const net = network(LANS);
    assert.equal((await apply(net, desired(LANS))).ok, true);
    const pid = (name: string, unit: string) => net.get(name).pid(unit);
    const before = new Map(
      ['a', 'b', 'c'].flatMap((g) =>
        [...net.get(g).units.keys()].map((u) => [`${g} ${u}`, pid(g, u)] as const),
      ),
    );
    const logAt = new Map(['a', 'b', 'c'].map((g) => [g, net.get(g).log.length]));
    addGateway(net, D);
    const four = [...LANS, D];
    const result = await apply(net, desired(four));
    assert.equal(result.ok, true, JSON.stringify(result.gateways, null, 1));
    for (const name of ['a', 'b', 'c']) {
      const g = net.get(name);
      const sent = g.log.slice(logAt.get(name)).map((r) => r.argv);
      assert.ok(
        sent.some((argv) => argv.join(' ') === 'systemctl reload frr.service'),
        `${name}: frr.conf reloaded`,
      );
      assert.ok(
        !sent.some((argv) => argv[0] === 'systemctl' && argv.includes(FRR_UNIT) && argv[1] !== 'reload'),
      );
      for (const [key, was] of before) {
        if (key.startsWith(`${name} `))
          assert.equal(pid(name, key.slice(name.length + 1)), was, `${key} kept running`);
      }
      assert.ok(g.reloads.includes(FRR_UNIT));
      // the new session is up, and so are the old ones
      const sessions = [...g.bgpSessions().values()].map((s) => s.state);
      assert.deepEqual(sessions, ['Established', 'Established', 'Established'], name);
      assert.deepEqual(
        result.gateways.find((x) => x.lan === name)!.tunnels.map((t) => [t.peer, t.outcome.kind]),
        [['d', 'verified']],
      );
    }
    const d = net.get('d');
    assert.ok(d.bgpdRunning());
    assert.equal(d.bgpSessions().size, 3);
    // and then nothing to do
    const again = await apply(net, desired(four));
    assert.ok(again.gateways.every((g) => g.status === 'unchanged'));
  });

  it('a BGP session that never comes up fails both ends at the verify stage, naming it; the re-run verifies it again', async () => {
    const net = network(LANS);
    // TCP 179 dropped between a and b: the tunnel comes up, the session never does
    net.bgpCut.add(MemoryNetwork.pairKey('a', 'b'));
    const failing = await apply(net, desired(LANS), 600);
    assert.equal(failing.ok, false);
    const byLan = (name: string) => failing.gateways.find((g) => g.lan === name)!;
    assert.equal(byLan('a').status, 'failed');
    assert.equal(byLan('a').error?.stage, 'verify');
    assert.match(
      byLan('a').error!.message,
      /^BGP session not up within 0\.6 s: b \(172\.19\.0\.6\): Active; the tunnels are up/,
    );
    assert.match(byLan('b').error!.message, /a \(172\.19\.0\.5\): Active/);
    assert.equal(byLan('c').status, 'changed', 'c’s sessions are up');
    // the tunnels themselves came up and stay
    assert.deepEqual(
      byLan('a').tunnels.map((t) => t.outcome.kind),
      ['verified', 'verified'],
    );

    // still cut: the next applies do not take the recorded files for converged, they check the sessions again
    for (const run of ['second', 'third']) {
      const from = net.get('a').log.length;
      const still = await apply(net, desired(LANS), 600);
      assert.equal(still.ok, false, `${run} apply: a session still down is never reported converged`);
      assert.match(still.gateways.find((g) => g.lan === 'a')!.error!.message, /b \(172\.19\.0\.6\): Active/);
      // FRR's files (first landed by the failed run: daemons too) are loaded again and the sessions checked
      const sent = net
        .get('a')
        .log.slice(from)
        .map((r) => r.argv);
      assert.ok(
        sent.some((argv) => argv[0] === 'systemctl' && argv.at(-1) === FRR_UNIT),
        `${run}: FRR loads them`,
      );
      assert.ok(
        sent.some((argv) => argv[0] === 'vtysh'),
        `${run}: sessions checked`,
      );
    }

    net.bgpCut.clear();
    const retry = await apply(net, desired(LANS));
    assert.equal(retry.ok, true, JSON.stringify(retry.gateways, null, 1));
    const third = await apply(net, desired(LANS));
    assert.ok(
      third.gateways.every((g) => g.status === 'unchanged'),
      JSON.stringify(third.gateways),
    );
  });

  it('apply: a session FRR holds back on next-hop tracking after its tunnel restarted gets that tunnel restarted once more at that end; other down sessions do not', async () => {
    const net = network(LANS);
    assert.equal((await apply(net, desired(LANS))).ok, true);
    // every tunnel restarts (stopped, then started with its peers); zebra on a misses the new device to b
    net.nhtStuckOnStart.set('a|openvpn-server@mesh-b.service', 1);
    const a = net.get('a');
    const b = net.get('b');
    const [fromA, fromB] = [a.log.length, b.log.length];
    const result = await apply(net, withCaBundle(true), 1000);
    assert.equal(result.ok, true, JSON.stringify(result.gateways.map((g) => g.error)));
    assert.equal(a.nhtStuck.size, 0);
    assert.deepEqual(restartedUnits(a, fromA), ['openvpn-server@mesh-b.service']);
    assert.deepEqual(restartedUnits(b, fromB), [], 'only the end FRR says waits on NHT restarts it');
    const tunnel = result.gateways.find((g) => g.lan === 'a')!.tunnels.find((t) => t.peer === 'b')!;
    assert.equal(tunnel.outcome.kind, 'verified');
    assert.match(
      (tunnel.outcome as { restartedAgain?: string }).restartedAgain ?? '',
      /still Active after 0\.5 s \(FRR's last reset: Waiting for NHT\)/,
    );

    // a session down for another reason (TCP 179 dropped) is not restarted: it fails the verify stage as before
    net.bgpCut.add(MemoryNetwork.pairKey('a', 'c'));
    const fromCut = a.log.length;
    const cut = await apply(net, withCaBundle(false), 600);
    assert.equal(cut.ok, false);
    assert.match(cut.gateways.find((g) => g.lan === 'a')!.error!.message, /BGP session not up .*c \(/);
    assert.deepEqual(restartedUnits(a, fromCut), []);
  });

  it('a tunnel is restarted for its BGP session once per run: still stuck after that, the gateway fails naming it', async () => {
    const net = network(LANS);
    assert.equal((await apply(net, desired(LANS))).ok, true);
    // zebra misses a's device to b after the rolling restart and after the one that follows it
    net.nhtStuckOnStart.set('a|openvpn-server@mesh-b.service', 2);
    const a = net.get('a');
    const from = a.log.length;
    const { runs } = await rollingRun(net, withCaBundle(true), 1000);
    assert.equal(
      restartedUnits(a, from).filter((u) => u === 'openvpn-server@mesh-b.service').length,
      2,
      'the rolling restart and one more, never a third (the verify phase sees NHT too)',
    );
    assert.equal(runs[0]!.failure?.stage, 'verify');
    assert.match(
      runs[0]!.failure!.message,
      /b \(172\.19\.0\.\d+\): Active \(FRR's last reset: Waiting for NHT\), although its tunnel was restarted once more/,
    );
    const json = runsToJson(runs, true)[0]! as { restartedForBgp?: { peer: string; why: string }[] };
    assert.deepEqual(
      json.restartedForBgp?.map((r) => r.peer),
      ['b'],
    );
  });

  it('FRR not answering (vtysh fails) is a failure of the verify stage, not a hang', async () => {
    const net = network(LANS);
    net
      .get('c')
      .faults.push((record) =>
        record.argv[0] === 'vtysh'
          ? { code: 1, stdout: '', stderr: 'Exiting: failed to connect to any daemons.\n' }
          : undefined,
      );
    const result = await apply(net, desired(LANS), 300);
    assert.equal(result.ok, false);
    const c = result.gateways.find((g) => g.lan === 'c')!;
    assert.equal(c.error?.stage, 'verify');
    assert.match(c.error!.message, /vtysh/);
    assert.ok(result.gateways.filter((g) => g.lan !== 'c').every((g) => g.status === 'changed'));
  });

  it('rolling (rotate --ca with bgp): one gateway alone restarts its changed tunnels one at a time, each up with its session before the next, none stopped first', async () => {
    const states = desired(LANS);
    const net = network(LANS);
    assert.equal((await apply(net, states)).ok, true);
    // a new CA bundle for a: every tunnel of a reads it
    const a = net.get('a');
    const from = a.log.length;
    const { runs } = await rollingRun(net, withCaBundle(true), 1000);
    assert.equal(runs.length, 1);
    assert.ok(runSucceeded(runs[0]!), JSON.stringify(runs[0]!.failure));
    assert.deepEqual(
      runs[0]!.tunnels.map((t) => [t.peer, t.outcome.kind]),
      [
        ['b', 'verified'],
        ['c', 'verified'],
      ],
    );
    const commands = a.log.slice(from).map((r) => r.argv.join(' '));
    assert.ok(!commands.some((cmd) => /^systemctl stop .*openvpn-server@/.test(cmd)), commands.join('\n'));
    const restartB = commands.indexOf('systemctl restart openvpn-server@mesh-b.service');
    const restartC = commands.indexOf('systemctl restart openvpn-server@mesh-c.service');
    assert.ok(restartB >= 0 && restartC > restartB, commands.join('\n'));
    const between = commands.slice(restartB + 1, restartC);
    assert.ok(
      between.some((cmd) => cmd === BGP_SUMMARY_COMMAND.join(' ')),
      `b's session waited for: ${between.join('\n')}`,
    );
    assert.ok(between.length >= 2, 'the tunnel to b was waited for before the tunnel to c restarted');
    // verifyAlone checks the sessions with peers outside the run too
    assert.equal(runs[0]!.bgpConfirmed, true);

    // a session that does not come back fails the gateway (rotate --ca then stops there)
    net.bgpCut.add(MemoryNetwork.pairKey('a', 'b'));
    const { runs: failed } = await rollingRun(net, withCaBundle(false), 300);
    assert.equal(failed[0]!.failure?.stage, 'verify', JSON.stringify(failed[0]!.failure));
    assert.match(failed[0]!.failure!.message, /BGP session not up .*b \(/);
  });

  it('rolling: a session stuck on next-hop tracking after its restart gets its tunnel restarted once more, and the run succeeds and says so', async () => {
    const net = network(LANS);
    assert.equal((await apply(net, desired(LANS))).ok, true);
    // zebra misses the re-created device of a's tunnel to b: its session waits until the tunnel restarts again
    net.nhtStuckOnStart.set('a|openvpn-server@mesh-b.service', 1);
    const a = net.get('a');
    const from = a.log.length;
    const { runs } = await rollingRun(net, withCaBundle(true), 1000);
    assert.ok(runSucceeded(runs[0]!), JSON.stringify(runs[0]!.failure));
    assert.equal(net.nhtStuckOnStart.size, 0, 'the stuck restart happened');
    assert.equal(a.nhtStuck.size, 0, 'and the second restart cleared it');
    const commands = a.log.slice(from).map((r) => r.argv.join(' '));
    const restarts = (peer: string) =>
      restartedUnits(a, from).filter((u) => u === `openvpn-server@mesh-${peer}.service`).length;
    assert.equal(restarts('b'), 2, commands.join('\n'));
    assert.equal(restarts('c'), 1, 'a tunnel whose session came up is restarted once');
    // the second restart came after FRR was asked why the session was down
    const asked = commands.indexOf('vtysh -c show bgp neighbors json');
    assert.ok(asked >= 0 && asked < commands.lastIndexOf('systemctl restart openvpn-server@mesh-b.service'));
    const b = runs[0]!.tunnels.find((t) => t.peer === 'b')!;
    assert.equal(b.outcome.kind, 'verified');
    assert.match(
      b.outcome.kind === 'verified' ? (b.outcome.restartedAgain ?? '') : '',
      /still Active after 0\.5 s \(FRR's last reset: Waiting for NHT\)/,
    );
    const summary = captured();
    printSummary(runs, true, summary.out);
    assert.match(
      summary.text() + summary.errors(),
      /tunnel b: up, after a second restart: its BGP session was still Active/,
    );
    const cOutcome = runs[0]!.tunnels.find((t) => t.peer === 'c')!.outcome;
    assert.deepEqual(cOutcome, { kind: 'verified' });
  });
});
