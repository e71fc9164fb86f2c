import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createOutput } from '../../src/output.js';
import { removeInventory, writeInventory } from './inventory.js';
import { MemoryNetwork } from './memory-gateway.js';

/**
 * A throw-away inventory on disk whose gateways are memory gateways (see memory-gateway.ts): ssh_host of LAN
 * `name` is `name.memory`, which only the memory network's connector answers. Commands run in-process with
 * `deps.connector`, so every layer from the inventory to the remote commands is the real one.
 */

export interface MemoryLan {
  name: string;
  id: number;
  subnets?: string[];
  /** A leaf via these core LANs. */
  via?: string[];
}

export interface MemoryMesh {
  dir: string;
  network: MemoryNetwork;
  /** Rewrites mesh.yml with the given extra YAML lines (e.g. a changed keepalive). */
  setMeshExtra(lines: string): void;
  writeLan(lan: MemoryLan, endpoint?: string): void;
  /** Writes lans/NAME.yml as given (e.g. a LAN with several gateways). */
  writeLanText(name: string, text: string): void;
  cleanup(): void;
}

export function lanYaml(lan: MemoryLan, endpoint = `198.51.100.${lan.id}`): string {
  const subnets = lan.subnets ?? [`10.${lan.id}.0.0/16`];
  const via = lan.via ? `via: [${lan.via.join(', ')}]\n` : '';
  return `id: ${lan.id}\nsubnets: [${subnets.join(', ')}]\n${via}gateway:\n  endpoint: ${endpoint}\n  ssh_host: ${lan.name}.memory\n`;
}

export function memoryMesh(lans: MemoryLan[], meshExtra = ''): MemoryMesh {
  const dir = writeInventory('', Object.fromEntries(lans.map((lan) => [lan.name, lanYaml(lan)])));
  // known_hosts next to the inventory, in the same temporary directory
  const knownHosts = path.join(path.dirname(dir), 'known_hosts');
  const meshText = (extra: string) =>
    `name: memory\nssh:\n  user: root\n  known_hosts: ${knownHosts}\n${extra}`;
  const setMeshExtra = (extra: string) => writeFileSync(path.join(dir, 'mesh.yml'), meshText(extra));
  setMeshExtra(meshExtra);
  const network = new MemoryNetwork();
  for (const lan of lans) network.add(lan.name, `${lan.name}.memory`).addresses = [`10.${lan.id}.0.1/16`];
  return {
    dir,
    network,
    setMeshExtra,
    writeLan: (lan, endpoint) =>
      writeFileSync(path.join(dir, 'lans', `${lan.name}.yml`), lanYaml(lan, endpoint)),
    writeLanText: (name, text) => writeFileSync(path.join(dir, 'lans', `${name}.yml`), text),
    cleanup: () => removeInventory(dir),
  };
}

/** Output captured for assertions: human lines, stderr lines, and the --json result when asked for. */
export function captured(json = false) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const out = createOutput({
    json,
    color: false,
    stdout: { write: (s: string) => stdout.push(s), isTTY: false },
    stderr: { write: (s: string) => stderr.push(s) },
  });
  return {
    out,
    text: () => stdout.join(''),
    errors: () => stderr.join(''),
    json: () => JSON.parse(stdout.join('')) as Record<string, unknown>,
  };
}

/** The options every connecting command takes, for an in-process run against a memory mesh. */
export function engineOptions(dir: string, extra: Record<string, unknown> = {}) {
  return {
    inventory: dir,
    forks: 10,
    json: false,
    color: false,
    verbose: false,
    acceptNew: true,
    tunnelTimeout: 1,
    ...extra,
  };
}
