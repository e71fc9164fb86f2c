import { highestPairIndex, maxIdForTransit, maxPairIndexForTransit, pairIndex } from '../mesh/allocate.js';
import { cidrSize, contains, overlaps, parseCidr } from '../mesh/ipv4.js';
import { topologyProblems } from '../topology/topology.js';
import { gatewayAsn, PRIVATE_ASN_MAX, PRIVATE_ASN_MIN } from './bgp.js';
import type { BackupSubnetDraft, GatewayDraft, LanDraft } from './lan-file.js';
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
  checkNames(lans);
  checkSubnetOverlaps(lans);
  checkGatewaySubnets(lans);
  checkBackupSubnets(mesh, lans);
  checkTransit(mesh, lans);
  checkPorts(mesh, lans);
  checkEndpoints(lans);
  checkAsns(mesh, lans);
  checkTopology(lans);
  warnDocker(mesh, lans);
  warnLargeMesh(mesh, lans);
}

/** Every gateway with the file it is written in: ids, names and endpoints are unique across all of them. */
interface Placed {
  lan: LanDraft;
  gateway: GatewayDraft;
}

function placedGateways(lans: LanDraft[]): Placed[] {
  return lans.flatMap((lan) => lan.gateways.map((gateway) => ({ lan, gateway })));
}

/** `id` for a LAN's own id (`gateway:`), `gateways[1].id` for an entry of `gateways:`. */
function idField(p: Placed): string {
  return p.gateway.field === 'gateway' ? 'id' : `${p.gateway.field}.id`;
}

function ownerText(p: Placed): string {
  return p.gateway.field === 'gateway'
    ? `LAN "${p.lan.name}"`
    : `gateway "${p.gateway.name}" of LAN "${p.lan.name}"`;
}

function freeId(mesh: MeshDraft, lans: LanDraft[]): number {
  return Math.max(0, ...mesh.retiredIds, ...placedGateways(lans).map((p) => p.gateway.id ?? 0)) + 1;
}

/** LAN ids and gateway ids share one space (SPEC §2): pair numbers come from gateway ids. */
function checkIds(mesh: MeshDraft, lans: LanDraft[]): void {
  const seen = new Map<number, Placed>();
  for (const placed of placedGateways(lans)) {
    const { id } = placed.gateway;
    if (id === undefined) continue;
    const first = seen.get(id);
    if (first) {
      placed.lan.findings.error(
        idField(placed),
        id,
        `id ${id} is already used by ${ownerText(first)} (${first.lan.findings.where(idField(first))})`,
        `give one of them an unused id, e.g. ${freeId(mesh, lans)} (ids are never reused)`,
      );
    } else seen.set(id, placed);
    if (mesh.retiredIds.includes(id)) {
      placed.lan.findings.error(
        idField(placed),
        id,
        `id ${id} is listed in retired_ids of ${mesh.findings.where('retired_ids')}: it belonged to a removed LAN`,
        `use an unused id, e.g. ${freeId(mesh, lans)}; a retired id is never given out again, so old tunnels cannot be confused with new ones`,
      );
    }
  }
}

/**
 * A gateway's name becomes a certificate CN and a tunnel name: unique among all LAN and gateway names — except
 * that one gateway of a LAN may keep the LAN's own name, so splitting a LAN onto a second gateway keeps the first
 * one's certificate and tunnels (SPEC §7: the tunnels that stay keep running).
 */
function checkNames(lans: LanDraft[]): void {
  const lanNames = new Set(lans.map((lan) => lan.name));
  const seen = new Map<string, Placed>();
  for (const placed of placedGateways(lans)) {
    const { name, field } = placed.gateway;
    if (name === undefined) continue;
    const other = lans.find((lan) => lan.name === name);
    const first = seen.get(name);
    if (first) {
      placed.lan.findings.error(
        `${field}.name`,
        name,
        `gateway name "${name}" is already used (${first.lan.findings.where(`${first.gateway.field}.name`)})`,
        'give every gateway a name of its own',
      );
    } else if (lanNames.has(name) && other !== placed.lan) {
      placed.lan.findings.error(
        `${field}.name`,
        name,
        `"${name}" is also the name of LAN "${other?.name}" (${other?.file})`,
        `give the gateway a name of its own, e.g. ${placed.lan.name}-${String.fromCharCode(97 + Number(field.match(/\d+/)?.[0] ?? 0))}`,
      );
    } else seen.set(name, placed);
  }
}

/**
 * Several gateways per LAN (SPEC §7): each gateway's subnets lie inside the LAN's, no two gateways share
 * addresses, and together they cover the LAN (a part nobody owns would be unreachable).
 */
function checkGatewaySubnets(lans: LanDraft[]): void {
  for (const lan of lans) {
    const owned = lan.gateways.flatMap((g) => (g.subnets ?? []).map((subnet) => ({ gateway: g, subnet })));
    if (lan.gateways.every((g) => g.subnets === undefined)) continue;
    for (const { gateway, subnet } of owned) {
      if (!lan.subnets.some((s) => contains(s.cidr, subnet.cidr))) {
        lan.findings.error(
          subnet.field,
          subnet.text,
          `${subnet.text} of gateway "${gateway.name}" is not inside the LAN's subnets (${lan.subnets.map((s) => s.text).join(', ')})`,
          "list only a part of the LAN's subnets here, or add the network to the LAN's subnets",
        );
      }
    }
    for (let j = 0; j < owned.length; j++) {
      for (let i = 0; i < j; i++) {
        const [a, b] = [owned[i]!, owned[j]!];
        if (!overlaps(a.subnet.cidr, b.subnet.cidr)) continue;
        lan.findings.error(
          b.subnet.field,
          b.subnet.text,
          `${b.subnet.text} of gateway "${b.gateway.name}" overlaps ${a.subnet.text} of gateway "${a.gateway.name}" (${lan.findings.where(a.subnet.field)})`,
          `give each gateway its own part of the LAN: peers route each subnet to the one gateway that owns it${a.subnet.text === b.subnet.text ? `; to serve it as a backup instead (routing: bgp), write { cidr: ${b.subnet.text}, backup: true }` : ''}`,
        );
      }
    }
    for (const subnet of lan.subnets) {
      const inside = owned.filter((o) => contains(subnet.cidr, o.subnet.cidr));
      const covered = inside.reduce((sum, o) => sum + cidrSize(o.subnet.cidr), 0);
      if (covered < cidrSize(subnet.cidr)) {
        lan.findings.error(
          subnet.field,
          subnet.text,
          `${subnet.text} is not wholly served by the LAN's gateways (${inside.map((o) => o.subnet.text).join(', ') || 'none of it'}): the rest would be unreachable`,
          "give every part of the LAN's subnets to one of its gateways",
        );
      }
    }
  }
}

/**
 * `{ cidr: X, backup: true }` in a `gateways:` entry (SPEC §7, bgp only): the gateway also advertises X, with a
 * longer AS path, so peers fail over to it when X's owner is gone. X must be exactly a subnet another gateway of
 * the same LAN owns: BGP advertises exact prefixes, and a backup of addresses nobody owns would be the only route.
 */
function checkBackupSubnets(mesh: MeshDraft, lans: LanDraft[]): void {
  for (const lan of lans) {
    for (const gateway of lan.gateways) {
      const seen = new Map<string, BackupSubnetDraft>();
      for (const backup of gateway.backupSubnets) {
        const first = seen.get(backup.text);
        if (first) {
          lan.findings.error(
            backup.field,
            backup.text,
            `${backup.text} is listed twice as a backup subnet of gateway "${gateway.name}" (first at ${lan.findings.where(first.field)})`,
            'list each backup subnet once: remove this entry',
          );
          continue;
        }
        seen.set(backup.text, backup);
        if (mesh.routing === 'static') {
          lan.findings.error(
            backup.backupField,
            true,
            `backup: true needs routing: bgp in mesh.yml, but routing is static (${mesh.findings.lines?.has('routing') ? mesh.findings.where('routing') : `the default: ${mesh.findings.file} has no routing: key`}): with static routing every subnet is routed to the one gateway that owns it, so there is no way to fail over to a backup`,
            `set routing: bgp in mesh.yml, or remove this backup entry (${backup.text} stays served by its owner)`,
          );
        }
        checkBackupOwner(lan, gateway, backup);
      }
    }
  }
}

function checkBackupOwner(lan: LanDraft, gateway: GatewayDraft, backup: BackupSubnetDraft): void {
  const own = (gateway.subnets ?? []).find((s) => s.text === backup.text);
  if (own) {
    lan.findings.error(
      backup.field,
      backup.text,
      `gateway "${gateway.name}" lists ${backup.text} both as its own subnet (${lan.findings.where(own.field)}) and as a backup`,
      'a gateway cannot back up its own subnet: remove the backup entry, or the plain one if another gateway owns it',
    );
    return;
  }
  const others = lan.gateways.filter((g) => g !== gateway);
  if (others.some((g) => (g.subnets ?? []).some((s) => s.text === backup.text))) return;
  const owned = others.flatMap((g) => (g.subnets ?? []).map((subnet) => ({ gateway: g, subnet })));
  const near = owned.find((o) => overlaps(o.subnet.cidr, backup.cidr));
  const choices = owned.map((o) => `${o.subnet.text} of "${o.gateway.name}"`).join(', ');
  const use =
    owned.length > 0
      ? `a backup repeats another gateway's own subnet exactly: use ${near ? near.subnet.text : `one of ${choices}`}`
      : 'a backup needs another gateway of the same LAN that owns the subnet: add that gateway under gateways:';
  // the entry could be this gateway's own only where it is the LAN's and no sibling has it
  const canOwn = !near && lan.subnets.some((s) => contains(s.cidr, backup.cidr));
  lan.findings.error(
    backup.field,
    backup.text,
    near
      ? `${backup.text} is marked backup, but it is not exactly a subnet of another gateway of LAN "${lan.name}": it overlaps ${near.subnet.text} of gateway "${near.gateway.name}" (${lan.findings.where(near.subnet.field)}), and BGP advertises exact prefixes`
      : `${backup.text} is marked backup, but no other gateway of LAN "${lan.name}" owns it, so there is nothing to back up`,
    `${use}${canOwn ? ", or drop backup: true to make it this gateway's own" : ''}`,
  );
}

/**
 * routing: bgp gives each gateway the ASN asn_base + id (SPEC §7), over every gateway of every LAN; all of them
 * must be private 4-byte ASNs (RFC 6996), or FRR would speak for an AS someone else may own on the Internet.
 */
function checkAsns(mesh: MeshDraft, lans: LanDraft[]): void {
  const { bgp } = mesh;
  if (mesh.routing !== 'bgp' || !bgp) return;
  const placed = placedGateways(lans).filter((p) => p.gateway.id !== undefined);
  if (placed.length === 0) return;
  const byId = [...placed].sort((a, b) => a.gateway.id! - b.gateway.id!);
  const lowest = byId[0]!;
  const highest = byId[byId.length - 1]!;
  const [minId, maxId] = [lowest.gateway.id!, highest.gateway.id!];
  const range = `${PRIVATE_ASN_MIN}..${PRIVATE_ASN_MAX}`;
  const fits = { from: PRIVATE_ASN_MIN - minId, to: PRIVATE_ASN_MAX - maxId };
  const base = fits.from <= fits.to ? `use an asn_base from ${fits.from} to ${fits.to}` : undefined;
  const over = byId.filter((p) => gatewayAsn(bgp, p.gateway.id!) > PRIVATE_ASN_MAX);
  const under = byId.filter((p) => gatewayAsn(bgp, p.gateway.id!) < PRIVATE_ASN_MIN);
  const more = (n: number, what: string) => (n > 1 ? `; ${n - 1} more gateway(s) ${what} too` : '');
  const where = (p: Placed) => `${ownerText(p)}, ${p.lan.findings.where(idField(p))}`;
  if (over.length > 0) {
    const largestId = PRIVATE_ASN_MAX - bgp.asnBase;
    mesh.findings.error(
      'bgp.asn_base',
      bgp.asnBase,
      `bgp.asn_base ${bgp.asnBase} + id ${maxId} (${where(highest)}) = ${gatewayAsn(bgp, maxId)}, past ${PRIVATE_ASN_MAX}, the last private 4-byte ASN (RFC 6996)${more(over.length, 'overflow')}`,
      base
        ? `lower asn_base to at most ${fits.to} (the highest gateway id is ${maxId})${largestId >= minId ? `, or keep every gateway id at most ${largestId}` : ''}`
        : `the ids ${minId}..${maxId} span more than the private ASNs ${range}: renumber the gateways closer together`,
    );
  }
  if (under.length > 0) {
    mesh.findings.error(
      'bgp.asn_base',
      bgp.asnBase,
      `bgp.asn_base ${bgp.asnBase} + id ${minId} (${where(lowest)}) = ${gatewayAsn(bgp, minId)}, not a private 4-byte ASN (${range}, RFC 6996)${more(under.length, 'fall below it')}`,
      base
        ? `${base} (every gateway's ASN is asn_base + its id), e.g. asn_base: ${Math.min(PRIVATE_ASN_MIN, fits.to)}`
        : `the ids ${minId}..${maxId} span more than the private ASNs ${range}: renumber the gateways closer together`,
    );
  }
}

/** SPEC §7: every via names a core LAN other than itself, and every LAN reaches every other. */
function checkTopology(lans: LanDraft[]): void {
  if (lans.some((lan) => lan.gateways.some((g) => g.id === undefined || g.name === undefined))) return;
  const input = {
    lans: lans.map((lan) => ({
      name: lan.name,
      via: lan.via,
      gateways: lan.gateways.map((g) => ({
        name: g.name!,
        id: g.id!,
        lan: lan.name,
        subnets: (g.subnets ?? lan.subnets).map((s) => s.text),
      })),
    })),
  };
  for (const problem of topologyProblems(input)) {
    const lan = lans.find((l) => l.name === problem.lan)!;
    lan.findings.error(problem.field, problem.value, problem.message, problem.fix);
  }
}

/**
 * Backup subnets that lie outside their own LAN's subnets (so are no other gateway's subnet either, which
 * checkBackupSubnets reports): the other checks of addresses look at a LAN's subnets only, and a valid backup is
 * inside them by construction, so only these can still collide with another LAN or the transit.
 */
function strayBackups(lan: LanDraft): { gateway: GatewayDraft; subnet: BackupSubnetDraft }[] {
  return lan.gateways.flatMap((gateway) =>
    gateway.backupSubnets
      .filter((b) => !lan.subnets.some((s) => contains(s.cidr, b.cidr)))
      .map((subnet) => ({ gateway, subnet })),
  );
}

function checkSubnetOverlaps(lans: LanDraft[]): void {
  for (const lan of lans) {
    for (const { gateway, subnet } of strayBackups(lan)) {
      for (const other of lans) {
        if (other === lan) continue;
        for (const theirs of other.subnets) {
          if (!overlaps(subnet.cidr, theirs.cidr)) continue;
          lan.findings.error(
            subnet.field,
            subnet.text,
            `${subnet.text}, a backup subnet of gateway "${gateway.name}" of LAN "${lan.name}", overlaps ${theirs.text} of LAN "${other.name}" (${other.findings.where(theirs.field)})`,
            "a backup repeats a subnet of another gateway of the same LAN: use one of this LAN's own subnets",
          );
        }
      }
    }
  }
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
    for (const { gateway, subnet } of strayBackups(lan)) {
      if (!overlaps(transitCidr, subnet.cidr)) continue;
      lan.findings.error(
        subnet.field,
        subnet.text,
        `${subnet.text}, a backup subnet of gateway "${gateway.name}", overlaps the transit network ${transit} (${mesh.findings.where('transit')})`,
        "a backup repeats a subnet of another gateway of the same LAN: use one of this LAN's own subnets",
      );
    }
  }
  const ids = gatewayIds(lans);
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
  const highest = highestPairIndex(gatewayIds(lans));
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

function gatewayIds(lans: LanDraft[]): number[] {
  return placedGateways(lans).flatMap((p) => (p.gateway.id === undefined ? [] : [p.gateway.id]));
}

function checkEndpoints(lans: LanDraft[]): void {
  const seen = new Map<string, Placed>();
  for (const placed of placedGateways(lans)) {
    const { endpoint, field } = placed.gateway;
    if (endpoint === undefined) continue;
    const key = endpoint.toLowerCase();
    const first = seen.get(key);
    if (first) {
      placed.lan.findings.error(
        `${field}.endpoint`,
        endpoint,
        `endpoint ${endpoint} is also the endpoint of ${ownerText(first)} (${first.lan.findings.where(`${first.gateway.field}.endpoint`)})`,
        'each gateway has its own address: give this one the address its peers can reach it on',
      );
    } else seen.set(key, placed);
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
  // the warning is about a full mesh: a mesh with leaves already is another topology
  if (n <= LARGE_MESH_LANS || lans.some((lan) => lan.via.length > 0)) return;
  const tunnels = n - 1;
  mesh.findings.warning(
    'lans',
    n,
    `${n} LANs in a full mesh: each gateway runs ${tunnels} tunnels, one OpenVPN process each, ≈ ${tunnels} × ${MB_PER_TUNNEL} MB = ${tunnels * MB_PER_TUNNEL} MB of unique memory plus shared libraries, and the mesh has ${(n * tunnels) / 2} tunnels in all`,
    `past ~${LARGE_MESH_LANS} LANs consider a hub-and-spoke or routed topology (a few hubs, dynamic routing) instead of a full mesh`,
  );
}
