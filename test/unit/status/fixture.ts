import * as x509 from '@peculiar/x509';
import { allocateMesh } from '../../../src/mesh/allocate.js';
import { intToIp, parseCidr } from '../../../src/mesh/ipv4.js';
import { EC_KEY, SIGNING_ALGORITHM } from '../../../src/pki/keys.js';
import { gatewayAsn } from '../../../src/render/render.js';
import { type ProbePlan, planProbes } from '../../../src/status/merge.js';
import type { GatewayReading, Reading, TunnelReading } from '../../../src/status/types.js';
import type { Gateway, Mesh } from '../../../src/types.js';
import { buildInventory, type LanSpec, type MeshSpec } from '../../helpers/inventory.js';

/**
 * Readings for the status tests, as plain GatewayReading objects: a healthy mesh (every tunnel CONNECTED and
 * answering, every planned probe answered along the topology's route), which a test then breaks in one place.
 */

export const NOW = new Date('2027-03-01T12:00:00.000Z');
/** Unix seconds of NOW. */
export const NOW_S = NOW.getTime() / 1000;
/** When the healthy tunnels came up: an hour before NOW. */
export const UP_SINCE_S = NOW_S - 3600;

export function meshOf(lans: LanSpec[], mesh: MeshSpec = {}): Mesh {
  return allocateMesh(buildInventory(lans, mesh));
}

/** n core LANs l1…ln (ids 1…n): a full mesh. */
export function fullMesh(n: number, mesh: MeshSpec = {}): Mesh {
  return meshOf(
    Array.from({ length: n }, (_, i) => ({ name: `l${i + 1}`, id: i + 1 })),
    mesh,
  );
}

/** hq (core) with two leaves via it: shop and depot. */
export function hubMesh(mesh: MeshSpec = {}): Mesh {
  return meshOf(
    [
      { name: 'hq', id: 1 },
      { name: 'shop', id: 2, via: ['hq'] },
      { name: 'depot', id: 3, via: ['hq'] },
    ],
    mesh,
  );
}

/** hq and dc (cores) and eu with one gateway per AZ (eu-a owns 10.30.0.0/16, eu-b 10.31.0.0/16). */
export function zonesMesh(mesh: MeshSpec = {}): Mesh {
  return meshOf(
    [
      { name: 'hq', id: 1 },
      { name: 'dc', id: 2 },
      {
        name: 'eu',
        id: 3,
        subnets: ['10.30.0.0/16', '10.31.0.0/16'],
        gateways: [
          { name: 'eu-a', id: 3, subnets: ['10.30.0.0/16'] },
          { name: 'eu-b', id: 4, subnets: ['10.31.0.0/16'] },
        ],
      },
    ],
    mesh,
  );
}

/** The address the healthy readings give a gateway on eth1: the first host of its first subnet. */
export function lanAddress(g: Gateway): string {
  return intToIp(parseCidr(g.subnets[0]!).base + 1);
}

export function lanAddresses(mesh: Mesh): Map<string, string | null> {
  return new Map(mesh.inventory.gateways.map((g) => [g.name, lanAddress(g)]));
}

/** A certificate (self-signed: only its dates matter here) that expires at `notAfter`. */
export async function certificateExpiring(notAfter: Date): Promise<string> {
  const keys = await crypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=test',
    notBefore: new Date(notAfter.getTime() - 400 * 86400_000),
    notAfter,
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
  });
  return cert.toString('pem');
}

function gatewayNamed(mesh: Mesh, name: string): Gateway {
  const g = mesh.inventory.gateways.find((x) => x.name === name);
  if (!g) throw new Error(`no gateway ${name}`);
  return g;
}

/** The topology's path from `from` to `to` (gateway names, first hop first). */
export function topologyPath(mesh: Mesh, from: string, to: string): string[] {
  const path: string[] = [];
  let at = from;
  while (at !== to) {
    at = mesh.topology.routing.get(at)!.routes.find((r) => r.owner === to)!.via;
    path.push(at);
  }
  return path;
}

export function healthyTunnel(mesh: Mesh, gateway: string, peer: string): TunnelReading {
  const t = mesh.tunnels.get(gateway)!.find((x) => x.peer.name === peer)!;
  return {
    unit: `openvpn-server@${t.name}.service`,
    peer,
    deployed: true,
    activeState: 'active',
    openvpnState: 'CONNECTED',
    stateSince: UP_SINCE_S,
    peerAddress: `${t.peer.endpoint}:${t.port}`,
    bytesIn: 10_000,
    bytesOut: 20_000,
    lastReceived: { within: 2 },
    ping: { sent: 3, received: 3, lossPercent: 0, rttMs: 1.5 },
    problem: null,
  };
}

/** What a gateway of a healthy mesh reports; `plans` are the probes it was asked to run (default: planProbes). */
export function healthyReading(
  mesh: Mesh,
  name: string,
  opts: { certificatePem?: string | null; plans?: ReadonlyMap<string, ProbePlan[]> } = {},
): GatewayReading {
  const g = gatewayNamed(mesh, name);
  const plans = opts.plans ?? planProbes(mesh, lanAddresses(mesh));
  const tunnels = mesh.tunnels.get(name)!;
  const bgp = mesh.inventory.mesh.routing === 'bgp';
  return {
    gateway: name,
    startedAt: NOW.getTime() - 1200,
    finishedAt: NOW.getTime() - 200,
    gatewayTime: NOW_S,
    addresses: [
      { device: 'lo', cidr: '127.0.0.1/8' },
      { device: 'eth0', cidr: `${g.endpoint}/24` },
      { device: 'eth1', cidr: `${lanAddress(g)}/${g.subnets[0]!.split('/')[1]}` },
      ...tunnels.map((t) => ({ device: t.device, cidr: `${t.localAddress}/30` })),
    ],
    certificatePem: opts.certificatePem ?? null,
    tunnels: tunnels.map((t) => healthyTunnel(mesh, name, t.peer.name)),
    bgp: bgp
      ? tunnels.map((t) => ({
          address: t.peerAddress,
          state: 'Established',
          prefixesReceived: mesh.bgp!.get(name)!.accepts.get(t.peer.name)?.length ?? 1,
        }))
      : null,
    probes: (plans.get(name) ?? []).map((p) => {
      const path = topologyPath(mesh, name, p.target);
      const device = tunnels.find((t) => t.peer.name === path[0])!.device;
      return {
        target: p.target,
        source: p.source,
        destination: p.destination,
        ping: { sent: 3, received: 3, lossPercent: 0, rttMs: 2.5 },
        device,
        asPath: bgp ? path.map((hop) => gatewayAsn(mesh, gatewayNamed(mesh, hop))) : null,
      };
    }),
    unreadable: [],
  };
}

/** Every gateway's healthy reading. */
export function healthyReadings(
  mesh: Mesh,
  opts: { certificatePem?: string | null } = {},
): Map<string, Reading> {
  return new Map(mesh.inventory.gateways.map((g) => [g.name, healthyReading(mesh, g.name, opts)]));
}

/** The reading of `gateway` (a GatewayReading, for a test to change). */
export function readingOf(readings: Map<string, Reading>, gateway: string): GatewayReading {
  const r = readings.get(gateway);
  if (!r || 'error' in r) throw new Error(`${gateway} has no reading`);
  return r;
}

/** The tunnel to `peer` in the reading of `gateway`, for a test to change. */
export function tunnelIn(readings: Map<string, Reading>, gateway: string, peer: string): TunnelReading {
  return readingOf(readings, gateway).tunnels.find((t) => t.peer === peer)!;
}
