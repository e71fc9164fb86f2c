import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Gateway, Inventory, Lan, SshSettings } from '../../src/types.js';

/**
 * Inventories for tests, the one place they are made by hand: in memory for the pure stages (buildInventory,
 * buildLan), on disk for the loader and the commands (writeInventory, lanText).
 */

export interface LanSpec {
  name: string;
  id: number;
  /** Default: 10.<id>.0.0/16. */
  subnets?: string[];
  /** Also the ssh_host. Default: 198.51.100.<id>. */
  endpoint?: string;
  /** A leaf via these core LANs (default: a core LAN). */
  via?: string[];
  /** Several gateways (one per AZ) instead of one named and numbered like the LAN. */
  gateways?: { name: string; id: number; subnets: string[]; backupSubnets?: string[]; endpoint?: string }[];
}

export interface MeshSpec {
  name?: string;
  transit?: string;
  portBase?: number;
  retiredIds?: number[];
  pkiDir?: string;
  /** The known_hosts file of every gateway's SSH settings. */
  knownHosts?: string;
  openvpn?: Inventory['mesh']['openvpn'];
  routing?: Inventory['mesh']['routing'];
  bgp?: Inventory['mesh']['bgp'];
}

function sshSettings(knownHosts = '/nonexistent/known_hosts'): SshSettings {
  return { user: 'root', port: 22, knownHosts, become: false };
}

/** One LAN as the loader would give it. */
export function buildLan(spec: LanSpec, ssh: SshSettings = sshSettings()): Lan {
  const file = `/inventory/lans/${spec.name}.yml`;
  const subnets = spec.subnets ?? [`10.${spec.id}.0.0/16`];
  const gateway = (g: {
    name: string;
    id: number;
    subnets: string[];
    backupSubnets?: string[];
    endpoint?: string;
  }): Gateway => {
    const endpoint = g.endpoint ?? `198.51.100.${g.id}`;
    return {
      name: g.name,
      id: g.id,
      lan: spec.name,
      subnets: g.subnets,
      backupSubnets: g.backupSubnets ?? [],
      endpoint,
      sshHost: endpoint,
      ssh,
      file,
    };
  };
  const gateways = spec.gateways
    ? spec.gateways.map(gateway)
    : [
        gateway({
          name: spec.name,
          id: spec.id,
          subnets,
          ...(spec.endpoint ? { endpoint: spec.endpoint } : {}),
        }),
      ];
  return {
    name: spec.name,
    id: spec.id,
    subnets,
    via: spec.via ?? [],
    gateways: gateways.sort((a, b) => a.id - b.id),
    file,
  };
}

/** Builds an Inventory in memory (no files), for tests of the pure stages; LANs sorted by id as the loader does. */
export function buildInventory(lans: LanSpec[], mesh: MeshSpec = {}): Inventory {
  const ssh = sshSettings(mesh.knownHosts);
  return {
    dir: '/inventory',
    meshFile: '/inventory/mesh.yml',
    mesh: {
      name: mesh.name ?? 'test',
      transit: mesh.transit ?? '172.19.0.0/16',
      portBase: mesh.portBase ?? 11000,
      retiredIds: mesh.retiredIds ?? [],
      pkiDir: mesh.pkiDir ?? '/inventory/pki',
      ssh,
      openvpn: mesh.openvpn ?? { keepalive: [10, 60], extra: [] },
      routing: mesh.routing ?? 'static',
      bgp: mesh.bgp ?? { asnBase: 4200000000, bfd: { intervalMs: 300, multiplier: 3 } },
    },
    ...withGateways(lans.map((lan) => buildLan(lan, ssh)).sort((a, b) => a.id - b.id)),
  };
}

/** `lans` and the flat list of their gateways, as an Inventory holds them. */
export function withGateways(lans: Lan[]): { lans: Lan[]; gateways: Gateway[] } {
  return { lans, gateways: lans.flatMap((lan) => lan.gateways).sort((a, b) => a.id - b.id) };
}

/**
 * A throw-away inventory on disk: DIR/mesh.yml and DIR/lans/<name>.yml from the given texts. DIR is `inventory`
 * inside a fresh temporary directory, so relative paths such as `../secrets` stay inside it: removeInventory(DIR).
 */
export function writeInventory(mesh: string, lans: Record<string, string | Buffer>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'meshctl-inventory-'));
  const dir = path.join(root, 'inventory');
  mkdirSync(path.join(dir, 'lans'), { recursive: true });
  writeFileSync(path.join(dir, 'mesh.yml'), mesh);
  for (const [name, text] of Object.entries(lans)) writeFileSync(path.join(dir, 'lans', `${name}.yml`), text);
  return dir;
}

/** Removes what writeInventory made; refuses any other directory (its parent is removed with it). */
export function removeInventory(dir: string): void {
  if (path.basename(dir) !== 'inventory') throw new Error(`${dir} was not made by writeInventory`);
  rmSync(path.dirname(dir), { recursive: true, force: true });
}

/** A LAN file with only what is required: its id, one subnet and the gateway endpoint. */
export function lanText(id: number, subnet = `10.${id}.0.0/16`, endpoint = `198.51.100.${id}`): string {
  return `# LAN ${id}\nid: ${id}\nsubnets: [${subnet}]\ngateway:\n  endpoint: ${endpoint}\n`;
}
