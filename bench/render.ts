/**
 * Benchmark of the offline core on a big mesh: generates a 150-LAN inventory (11,175 tunnels), then times
 * validate (load + checks), plan (allocation), PKI creation (key generation, reported separately), re-checking
 * the existing PKI (what every later render, diff and apply does first: once without private/verified.json, as
 * the first run after upgrading, then RECHECKS times with it, reported as their median), and render of every
 * gateway's files. Prints seconds per stage and peak memory.
 *
 *   npm run bench            (or: node dist/bench/render.js [LANS] [static|bgp])
 *
 * With `bgp` the mesh uses `routing: bgp` (SPEC §7): every gateway's frr.conf is rendered too.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadInventory } from '../src/inventory/load.js';
import { allocateMesh } from '../src/mesh/allocate.js';
import { ensurePki } from '../src/pki/index.js';
import { renderMesh } from '../src/render/render.js';
import { loadRoles } from '../src/render/roles.js';
import type { PkiMaterial } from '../src/types.js';
import { meshctlVersion } from '../src/version.js';

const lanCount = Number(process.argv[2] ?? 150);
const routing = process.argv[3] === 'bgp' ? 'bgp' : 'static';
const dir = mkdtempSync(join(tmpdir(), 'meshctl-bench-'));
const RECHECKS = 5;

function time<T>(label: string, fn: () => T): T {
  const start = process.hrtime.bigint();
  const value = fn();
  report(label, start);
  return value;
}

async function timeAsync<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const start = process.hrtime.bigint();
  const value = await fn();
  report(label, start);
  return value;
}

let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 5);

function report(label: string, start: bigint): void {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`${label.padEnd(36)} ${seconds.toFixed(3).padStart(8)} s`);
}

try {
  mkdirSync(join(dir, 'lans'), { recursive: true });
  writeFileSync(
    join(dir, 'mesh.yml'),
    `name: bench\ntransit: 172.19.0.0/16\nport_base: 20000\nrouting: ${routing}\n`,
  );
  for (let id = 1; id <= lanCount; id++) {
    // ids 1..150 → 10.<id>.0.0/16, every LAN a different size would only change the text, not the work
    writeFileSync(
      join(dir, 'lans', `site-${id}.yml`),
      `id: ${id}\nsubnets: [10.${id}.0.0/16]\ngateway:\n  endpoint: 198.51.${Math.floor(id / 250)}.${(id % 250) + 1}\n`,
    );
  }
  console.log(
    `meshctl ${meshctlVersion()} offline benchmark: ${lanCount} LANs, ${(lanCount * (lanCount - 1)) / 2} tunnels, routing ${routing}`,
  );
  const total = process.hrtime.bigint();
  const loaded = time('validate (load + all checks)', () => loadInventory(dir));
  if (!loaded.inventory) throw new Error(`bench inventory invalid: ${JSON.stringify(loaded.diagnostics[0])}`);
  const inventory = loaded.inventory;
  const mesh = time('plan (allocation)', () => allocateMesh(inventory));
  const pkiArgs = {
    dir: join(dir, 'pki'),
    mesh: 'bench',
    lans: inventory.lans.map((l) => l.name),
    pairs: mesh.pairs.map((p) => p.index),
  };
  await timeAsync('pki: key generation (first run)', () => ensurePki(pkiArgs));
  // the first re-check after upgrading from a version without the record: every gateway checked in full
  rmSync(join(pkiArgs.dir, 'private', 'verified.json'));
  await timeAsync('pki: re-check, no verified.json yet', () => ensurePki(pkiArgs));
  const rechecks: number[] = [];
  let material: PkiMaterial | undefined;
  for (let run = 0; run < RECHECKS; run++) {
    const start = process.hrtime.bigint();
    material = (await ensurePki(pkiArgs)).material;
    rechecks.push(Number(process.hrtime.bigint() - start) / 1e9);
  }
  const median = [...rechecks].sort((a, b) => a - b)[Math.floor(RECHECKS / 2)]!;
  console.log(
    `${'pki: re-checking the existing PKI'.padEnd(36)} ${median.toFixed(3).padStart(8)} s  (median of ${RECHECKS}: ${rechecks.map((r) => r.toFixed(3)).join(' ')})`,
  );
  const roles = time('load role templates', () => loadRoles());
  const states = time('render every gateway', () =>
    renderMesh(mesh, material!, roles, { version: meshctlVersion() }),
  );
  let files = 0;
  for (const state of states.values()) files += state.files.length + 1;
  report('total', total);
  console.log(`rendered ${states.size} gateways, ${files} files`);
  console.log(`peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`);
} finally {
  clearInterval(sampler);
  rmSync(dir, { recursive: true, force: true });
}
