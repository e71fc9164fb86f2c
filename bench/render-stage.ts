import { join } from 'node:path';
import { loadInventory } from '../src/inventory/load.js';
import { allocateMesh } from '../src/mesh/allocate.js';
import { ensurePki } from '../src/pki/index.js';
import { renderMesh } from '../src/render/render.js';
import { loadRoles } from '../src/render/roles.js';
import { meshctlVersion } from '../src/version.js';

/**
 * One fresh process doing what `meshctl diff`, `apply` and `render` do before touching a gateway, on an inventory
 * whose PKI exists: validate, allocate, re-check the PKI, load the templates, render every gateway. Prints the
 * seconds of each stage, the process's peak RSS and (run with --expose-gc) the heap still live with every state
 * held, as one JSON line (bench/render.ts runs it).
 *
 *   node --expose-gc dist/bench/render-stage.js INVENTORY_DIR
 */

const dir = process.argv[2];
if (!dir) throw new Error('usage: render-stage.js INVENTORY_DIR');
const seconds: Record<string, number> = {};
function stage<T>(name: string, fn: () => T): T {
  const start = process.hrtime.bigint();
  const value = fn();
  seconds[name] = Number(process.hrtime.bigint() - start) / 1e9;
  return value;
}
const loaded = stage('validate', () => loadInventory(dir));
if (!loaded.inventory) throw new Error(`invalid inventory: ${JSON.stringify(loaded.diagnostics[0])}`);
const inventory = loaded.inventory;
const mesh = stage('plan', () => allocateMesh(inventory));
const pkiStart = process.hrtime.bigint();
const { material } = await ensurePki({
  dir: join(dir, 'pki'),
  mesh: inventory.mesh.name,
  lans: inventory.lans.map((l) => l.name),
  pairs: mesh.pairs.map((p) => p.index),
});
seconds.pki = Number(process.hrtime.bigint() - pkiStart) / 1e9;
const roles = stage('roles', () => loadRoles());
const states = stage('render', () => renderMesh(mesh, material, roles, { version: meshctlVersion() }));
const maxRss = process.resourceUsage().maxRSS * 1024;
// what stays live with every gateway's desired state held (as diff and apply hold it), once garbage is collected
(globalThis as { gc?: () => void }).gc?.();
const liveHeap = process.memoryUsage().heapUsed;
console.log(JSON.stringify({ seconds, gateways: states.size, maxRss, liveHeap }));
