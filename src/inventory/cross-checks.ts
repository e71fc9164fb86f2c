import { highestPairIndex, maxIdForTransit, maxPairIndexForTransit, pairIndex } from '../mesh/allocate.js';
import { overlaps, parseCidr } from '../mesh/ipv4.js';
import type { LanDraft } from './lan-file.js';
import type { MeshDraft } from './mesh-file.js';

/**
 * Checks that span files: ids, subnets, transit and ports against the whole mesh, endpoints, and the warnings
 * about Docker's network and mesh size. LAN drafts come in file-name order, so "the first one wins" is stable.
 */

/** Docker's default bridge: a gateway running Docker already routes it locally. */
const DOCKER_BRIDGE = parseCidr('172.17.0.0/16');

/** Above this many LANs a full mesh costs more per gateway than most operators expect. */
export const LARGE_MESH_LANS = 25;

/** Rough unique RSS of one OpenVPN process serving one quiet tunnel; shared libraries come on top. */
const MB_PER_TUNNEL = 2;

export function crossCheck(mesh: MeshDraft, lans: LanDraft[]): void {
  checkIds(mesh, lans);
  checkSubnetOverlaps(lans);
  checkTransit(mesh, lans);
  checkPorts(mesh, lans);
  checkEndpoints(lans);
  warnDocker(mesh, lans);
  warnLargeMesh(mesh, lans);
}

function freeId(mesh: MeshDraft, lans: LanDraft[]): number {
  return Math.max(0, ...mesh.retiredIds, ...lans.map((l) => l.id ?? 0)) + 1;
}

function checkIds(mesh: MeshDraft, lans: LanDraft[]): void {
  const seen = new Map<number, LanDraft>();
  for (const lan of lans) {
    if (lan.id === undefined) continue;
    const first = seen.get(lan.id);
    if (first) {
      lan.findings.error(
        'id',
        lan.id,
        `id ${lan.id} is already used by LAN "${first.name}" (${first.findings.where('id')})`,
        `give one of them an unused id, e.g. ${freeId(mesh, lans)} (ids are never reused)`,
      );
    } else seen.set(lan.id, lan);
    if (mesh.retiredIds.includes(lan.id)) {
      lan.findings.error(
        'id',
        lan.id,
        `id ${lan.id} is listed in retired_ids of ${mesh.findings.where('retired_ids')}: it belonged to a removed LAN`,
        `use an unused id, e.g. ${freeId(mesh, lans)}; a retired id is never given out again, so old tunnels cannot be confused with new ones`,
      );
    }
  }
}

function checkSubnetOverlaps(lans: LanDraft[]): void {
  const all = lans.flatMap((lan) => lan.subnets.map((subnet) => ({ lan, subnet })));
  for (let j = 0; j < all.length; j++) {
    for (let i = 0; i < j; i++) {
      const a = all[i]!;
      const b = all[j]!;
      if (!overlaps(a.subnet.cidr, b.subnet.cidr)) continue;
      const other =
        a.lan === b.lan
          ? `${a.subnet.field} (${a.subnet.text}) of the same LAN`
          : `${a.subnet.text} of LAN "${a.lan.name}" (${a.lan.findings.where(a.subnet.field)})`;
      b.lan.findings.error(
        b.subnet.field,
        b.subnet.text,
        `${b.subnet.text} of LAN "${b.lan.name}" overlaps ${other}`,
        a.lan === b.lan
          ? 'list each network once: remove the one that is contained in the other'
          : 'every LAN needs address space of its own, or routes would be ambiguous: renumber one of them',
      );
    }
  }
}

/** The longest transit prefix whose /30s reach pair index k. */
function transitPrefixFor(k: number): number {
  return 32 - Math.ceil(Math.log2(4 * (k + 1)));
}

function checkTransit(mesh: MeshDraft, lans: LanDraft[]): void {
  const { transitCidr, transit } = mesh;
  if (!transitCidr || !transit) return;
  for (const lan of lans) {
    for (const subnet of lan.subnets) {
      if (!overlaps(transitCidr, subnet.cidr)) continue;
      mesh.findings.error(
        'transit',
        transit,
        `transit ${transit} overlaps ${subnet.text} of LAN "${lan.name}" (${lan.findings.where(subnet.field)})`,
        'pick a transit network that no LAN uses, e.g. 172.19.0.0/16 or another unused private range',
      );
    }
  }
  const ids = lans.flatMap((l) => (l.id === undefined ? [] : [l.id]));
  const highest = highestPairIndex(ids);
  const limit = maxPairIndexForTransit(transit);
  const needed = Math.max(highest, 1);
  if (needed > limit) {
    const sorted = [...new Set(ids)].sort((x, y) => x - y);
    const top = sorted.slice(-2);
    const largestId = limit >= 1 ? maxIdForTransit(transit) : 0;
    mesh.findings.error(
      'transit',
      transit,
      top.length === 2
        ? `transit ${transit} is too small: the pair of ids ${top[0]} and ${top[1]} has index ${pairIndex(top[0]!, top[1]!)}, but this transit holds pair indices up to ${Math.max(limit, 0)}`
        : `transit ${transit} is too small: it needs room for at least pair index 1 (a /29)`,
      `use a /${transitPrefixFor(needed)} or larger transit${largestId >= 2 ? `, or keep every LAN id at most ${largestId}` : ''}`,
    );
  }
}

function checkPorts(mesh: MeshDraft, lans: LanDraft[]): void {
  if (mesh.portBase === undefined) return;
  const highest = highestPairIndex(lans.flatMap((l) => (l.id === undefined ? [] : [l.id])));
  if (mesh.portBase + highest <= 65535) return;
  const room = 65535 - mesh.portBase;
  let largestId = 1;
  while (((largestId + 1) * largestId) / 2 <= room) largestId++;
  mesh.findings.error(
    'port_base',
    mesh.portBase,
    `port_base ${mesh.portBase} + highest pair index ${highest} = ${mesh.portBase + highest}, past the last UDP port 65535`,
    `lower port_base to at most ${65535 - highest}, or keep every LAN id at most ${largestId}`,
  );
}

function checkEndpoints(lans: LanDraft[]): void {
  const seen = new Map<string, LanDraft>();
  for (const lan of lans) {
    if (lan.endpoint === undefined) continue;
    const key = lan.endpoint.toLowerCase();
    const first = seen.get(key);
    if (first) {
      lan.findings.error(
        'gateway.endpoint',
        lan.endpoint,
        `endpoint ${lan.endpoint} is also the endpoint of LAN "${first.name}" (${first.findings.where('gateway.endpoint')})`,
        'each LAN has its own gateway: give this one the address its peers can reach it on',
      );
    } else seen.set(key, lan);
  }
}

function warnDocker(mesh: MeshDraft, lans: LanDraft[]): void {
  const fix = 'if a gateway runs Docker, move this network or set Docker\'s "bip" to another range';
  if (mesh.transitCidr && overlaps(mesh.transitCidr, DOCKER_BRIDGE)) {
    mesh.findings.warning(
      'transit',
      mesh.transit,
      `transit ${mesh.transit} overlaps Docker's default bridge 172.17.0.0/16`,
      fix,
    );
  }
  for (const lan of lans) {
    for (const subnet of lan.subnets) {
      if (!overlaps(subnet.cidr, DOCKER_BRIDGE)) continue;
      lan.findings.warning(
        subnet.field,
        subnet.text,
        `${subnet.text} overlaps Docker's default bridge 172.17.0.0/16`,
        fix,
      );
    }
  }
}

function warnLargeMesh(mesh: MeshDraft, lans: LanDraft[]): void {
  const n = lans.length;
  if (n <= LARGE_MESH_LANS) return;
  const tunnels = n - 1;
  mesh.findings.warning(
    'lans',
    n,
    `${n} LANs in a full mesh: each gateway runs ${tunnels} tunnels, one OpenVPN process each, ≈ ${tunnels} × ${MB_PER_TUNNEL} MB = ${tunnels * MB_PER_TUNNEL} MB of unique memory plus shared libraries, and the mesh has ${(n * tunnels) / 2} tunnels in all`,
    `past ~${LARGE_MESH_LANS} LANs consider a hub-and-spoke or routed topology (a few hubs, dynamic routing) instead of a full mesh`,
  );
}
