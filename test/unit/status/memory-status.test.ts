import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { run as apply } from '../../../src/commands/apply.js';
import type { Connection } from '../../../src/connection/types.js';
import { gatewayPaths, tunnelUnitOf } from '../../../src/gateway/layout.js';
import { loadInventoryOrThrow } from '../../../src/inventory/load.js';
import { allocateMesh } from '../../../src/mesh/allocate.js';
import { parseAddresses, parseReading } from '../../../src/status/parse.js';
import { probeInput, READY_LINE, type StatusTarget, statusCommand } from '../../../src/status/script.js';
import type { GatewayReading } from '../../../src/status/types.js';
import { captured, engineOptions, type MemoryMesh, memoryMesh } from '../../helpers/memory-mesh.js';

/**
 * statusCommand end to end against memory gateways after a real apply: phase 1 through onStdout, the probes
 * written to a stream once `ready` was seen (as the orchestrator does), then the whole reading parsed.
 */

const LANS = [
  { name: 'alpha', id: 1 },
  { name: 'beta', id: 2 },
  { name: 'gamma', id: 3 },
];

async function connect(mesh: MemoryMesh, name: string): Promise<Connection> {
  return mesh.network.connector({
    name,
    host: `${name}.memory`,
    port: 22,
    user: 'root',
    knownHosts: '/dev/null',
    acceptNew: true,
    become: false,
  });
}

/** Reads one gateway the way `status` does: probes towards each peer's LAN address picked from phase 1. */
async function read(mesh: MemoryMesh, name: string): Promise<{ reading: GatewayReading; stdin: string }> {
  const { inventory } = loadInventoryOrThrow(mesh.dir);
  const topology = allocateMesh(inventory);
  const tunnels = topology.tunnels.get(name) ?? [];
  const targets: StatusTarget[] = tunnels.map((t) => ({
    unit: tunnelUnitOf(t.name),
    peer: t.peer.name,
    config: gatewayPaths.tunnelConfig(t.name),
    managementPort: t.port,
    peerAddress: t.peerAddress,
  }));
  const argv = statusCommand({
    passwordFile: gatewayPaths.managementPassword,
    certFile: gatewayPaths.cert(name),
    bgp: false,
    tunnels: targets,
  });
  const conn = await connect(mesh, name);
  const stdin = new PassThrough();
  let seen = '';
  let sent = '';
  const startedAt = Date.now();
  const result = await conn.exec(argv, {
    stdin,
    onStdout: (chunk) => {
      seen += chunk.toString('utf8');
      if (!sent && seen.includes(`\n${READY_LINE}\n`)) {
        // the LAN address of this gateway (its first non-tunnel one) to each peer's: as known from the memory mesh
        const source = parseAddresses(seen)
          .find((a) => !a.device.startsWith('mtun'))!
          .cidr.split('/')[0]!;
        sent = probeInput(
          tunnels.map((t) => ({
            target: t.peer.name,
            source,
            destination: mesh.network.get(t.peer.name).addresses[0]!.split('/')[0]!,
          })),
        );
        stdin.end(sent);
      }
    },
  });
  assert.equal(result.code, 0);
  assert.ok(sent, 'the probes were sent once ready was seen');
  const reading = parseReading(name, result.stdout, {
    startedAt,
    finishedAt: Date.now(),
    peers: new Map(targets.map((t) => [t.unit, t.peer])),
  });
  return { reading, stdin: sent };
}

describe('status against memory gateways', () => {
  let mesh: MemoryMesh;

  beforeEach(async () => {
    mesh = memoryMesh(LANS);
    const c = captured(true);
    assert.equal(
      await apply(engineOptions(mesh.dir, { json: true }), c.out, { connector: mesh.network.connector }),
      0,
    );
  });
  afterEach(() => mesh.cleanup());

  it('every tunnel CONNECTED, pinged, receiving; every probe answers through its own tunnel', async () => {
    const { reading, stdin } = await read(mesh, 'alpha');
    assert.deepEqual(reading.unreadable, []);
    assert.equal(reading.problem, undefined);
    assert.match(reading.certificatePem ?? '', /BEGIN CERTIFICATE/);
    assert.equal(stdin, 'probe beta 10.1.0.1 10.2.0.1\nprobe gamma 10.1.0.1 10.3.0.1\ngo\n');
    assert.equal(mesh.network.get('alpha').log.at(-1)!.stdin, stdin, 'the memory gateway read the stream');
    for (const t of reading.tunnels) {
      assert.equal(t.deployed, true);
      assert.equal(t.activeState, 'active');
      assert.equal(t.openvpnState, 'CONNECTED', t.unit);
      assert.match(t.peerAddress ?? '', /^198\.51\.100\.\d:\d+$/);
      assert.equal(t.ping?.received, 5);
      assert.ok(t.lastReceived && 'within' in t.lastReceived, 'the counter grew');
      assert.equal(t.problem, null);
    }
    assert.deepEqual(
      reading.probes.map((p) => [p.target, p.ping?.received, p.device]),
      [
        ['beta', 3, 'mtun1'],
        ['gamma', 3, 'mtun2'],
      ],
    );
    assert.ok(reading.addresses.some((a) => a.device === 'mtun1'));
  });

  it('a stopped unit: not running at that end, WAIT and no answer at the other, the probe between them fails', async () => {
    const gamma = mesh.network.get('gamma');
    const conn = await connect(mesh, 'gamma');
    await conn.exec(['systemctl', 'stop', 'openvpn-server@mesh-alpha.service']);
    const here = (await read(mesh, 'gamma')).reading;
    const stopped = here.tunnels.find((t) => t.peer === 'alpha')!;
    assert.equal(stopped.activeState, 'inactive');
    assert.equal(stopped.openvpnState, null);
    assert.equal(stopped.problem, null, 'a unit that does not run has no management interface to miss');
    const there = (await read(mesh, 'alpha')).reading;
    const waiting = there.tunnels.find((t) => t.peer === 'gamma')!;
    assert.equal(waiting.openvpnState, 'WAIT');
    assert.equal(waiting.ping?.received, 0);
    assert.ok(waiting.lastReceived && 'over' in waiting.lastReceived);
    assert.equal(there.probes.find((p) => p.target === 'gamma')!.ping?.received, 0);
    assert.equal(there.probes.find((p) => p.target === 'beta')!.ping?.received, 3);
    assert.ok(gamma.units.get('openvpn-server@mesh-beta.service')?.active === 'active');
  });

  it('blockLan: the tunnels are up, the probes to that LAN fail', async () => {
    mesh.network.get('gamma').blockLan = true;
    const { reading } = await read(mesh, 'alpha');
    assert.ok(reading.tunnels.every((t) => t.openvpnState === 'CONNECTED' && t.ping?.received === 5));
    assert.equal(reading.probes.find((p) => p.target === 'gamma')!.ping?.received, 0);
    assert.equal(reading.probes.find((p) => p.target === 'beta')!.ping?.received, 3);
  });

  it('malformed or cut output: unreadable lines kept, tunnels still listed, a clear problem, no throw', async () => {
    const alpha = mesh.network.get('alpha');
    alpha.mangleStatus = (text, phase) =>
      phase === 1
        ? text.replace(/^mgmt-line\t(.*)$/gm, 'garbage $1').replace(/^unit-end$/m, 'unit-end\nwhat')
        : '';
    const { reading } = await read(mesh, 'alpha');
    assert.ok(reading.unreadable.length > 0);
    assert.ok(reading.unreadable.includes('what'));
    assert.match(reading.problem ?? '', /cut short \(no `end`\)/);
    assert.equal(reading.tunnels.length, 2);
    for (const t of reading.tunnels) {
      assert.equal(t.openvpnState, null);
      assert.ok(t.problem, `${t.unit} says what is missing`);
    }
  });

  it('a status fault answers instead of the gateway, like any other command', async () => {
    mesh.network
      .get('beta')
      .faults.push((record) =>
        record.argv[3] === 'meshctl-status'
          ? { code: 255, stdout: '', stderr: 'sudo: a password is required\n' }
          : undefined,
      );
    const conn = await connect(mesh, 'beta');
    const result = await conn.exec(
      statusCommand({
        passwordFile: gatewayPaths.managementPassword,
        certFile: '/x.crt',
        bgp: false,
        tunnels: [],
      }),
      { stdin: 'go\n' },
    );
    assert.equal(result.code, 255);
    const reading = parseReading('beta', result.stdout, { startedAt: 0, finishedAt: 0, peers: new Map() });
    assert.match(reading.problem ?? '', /no status records/);
  });
});
