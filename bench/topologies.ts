/**
 * Offline cost of topologies (SPEC §7): validate (load + every check, the topology proof included), allocation
 * (the tunnel graph and static routing) and render of every gateway, for a 150-LAN hub-and-spoke with two hubs, a
 * 150-LAN full mesh + leaf (10 cores, 140 leaves each via two cores), and a full mesh for the per-tunnel baseline.
 * Key generation is done first and not timed. Prints seconds, seconds per tunnel and peak RSS per shape.
 *
 *   npm run build && node dist/bench/topologies.js [--full-mesh-lans N]   (default 60: 1,770 tunnels)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadInventory } from '../src/inventory/load.js';
import { allocateMesh } from '../src/mesh/allocate.js';
import { ensurePki } from '../src/pki/index.js';
import { renderMesh } from '../src/render/render.js';
import { loadRoles } from '../src/render/roles.js';
import { meshctlVersion } from '../src/version.js';

interface Shape {
  name: string;
  lans: number;
  /** The via list of LAN `id` (empty: a core LAN). */
  via: (id: number) => number[];
}

const at = process.argv.indexOf('--full-mesh-lans');
const fullMeshLans = at >= 0 ? Number(process.argv[at + 1]) : 60;

const SHAPES: Shape[] = [
  { name: 'hub-and-spoke, 2 hubs', lans: 150, via: (id) => (id <= 2 ? [] : [1, 2]) },
  {
    name: 'full mesh + leaf, 10 cores',
    lans: 150,
    via: (id) => (id <= 10 ? [] : [((id - 11) % 10) + 1, ((id - 10) % 10) + 1]),
  },
  { name: `full mesh (baseline), ${fullMeshLans} LANs`, lans: fullMeshLans, via: () => [] },
];

let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 5);

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function measure(shape: Shape): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-bench-topology-'));
  try {
    mkdirSync(join(dir, 'lans'), { recursive: true });
    writeFileSync(join(dir, 'mesh.yml'), 'name: bench\ntransit: 172.19.0.0/16\nport_base: 20000\n');
    for (let id = 1; id <= shape.lans; id++) {
      const via = shape.via(id);
      writeFileSync(
        join(dir, 'lans', `site-${id}.yml`),
        `id: ${id}\nsubnets: [10.${id}.0.0/16]\n${via.length > 0 ? `via: [${via.map((v) => `site-${v}`).join(', ')}]\n` : ''}gateway:\n  endpoint: 198.51.${Math.floor(id / 250)}.${(id % 250) + 1}\n`,
      );
    }
    const first = loadInventory(dir);
    if (!first.inventory) throw new Error(`invalid bench inventory: ${JSON.stringify(first.diagnostics[0])}`);
    const firstMesh = allocateMesh(first.inventory);
    const { material } = await ensurePki({
      dir: join(dir, 'pki'),
      mesh: 'bench',
      lans: first.inventory.gateways.map((g) => g.name),
      pairs: firstMesh.pairs.map((p) => p.index),
    });
    const roles = loadRoles();
    peakRss = process.memoryUsage().rss;

    const t0 = process.hrtime.bigint();
    const { inventory } = loadInventory(dir);
    const validate = seconds(t0);
    const t1 = process.hrtime.bigint();
    const mesh = allocateMesh(inventory!);
    const allocate = seconds(t1);
    const t2 = process.hrtime.bigint();
    const states = renderMesh(mesh, material, roles, { version: meshctlVersion() });
    const render = seconds(t2);
    let files = 0;
    for (const state of states.values()) files += state.files.length + 1;
    const tunnels = mesh.pairs.length;
    const total = validate + allocate + render;
    const perTunnel = (total / tunnels) * 1000;
    // the work that grows with a topology is one route per (gateway, remote subnet), as many as a full mesh has
    const routes = [...mesh.topology.routing.values()].reduce((n, r) => n + r.routes.length, 0);
    const perRoute = (total / routes) * 1000;
    console.log(
      `${shape.name.padEnd(34)} ${String(shape.lans).padStart(4)} LANs ${String(tunnels).padStart(6)} tunnels  ` +
        `validate ${validate.toFixed(3)} s  allocate ${allocate.toFixed(3)} s  render ${render.toFixed(3)} s ` +
        `(${files} files)  ${perTunnel.toFixed(3)} ms/tunnel  ${perRoute.toFixed(3)} ms/route (${routes} routes)  ` +
        `peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  console.log(`meshctl ${meshctlVersion()} topology benchmark (offline; key generation not timed)`);
  for (const shape of SHAPES) await measure(shape);
} finally {
  clearInterval(sampler);
}
