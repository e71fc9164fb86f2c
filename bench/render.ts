/**
 * Benchmark of the offline core on a big mesh: generates a 150-LAN inventory (11,175 tunnels), then times
 * validate (load + checks), plan (allocation), PKI creation (key generation, reported separately), re-checking
 * the existing PKI (what every later render, diff and apply does first: once without private/verified.json, as
 * the first run after upgrading, then RECHECKS times with it, reported as their median), and render of every
 * gateway's files. Prints seconds per stage and peak memory: this process's (every stage above, in one process),
 * and that of `meshctl render --out` (the bin, one command on the existing PKI, writing every file), which is
 * what an operator's offline run holds. Peaks are the kernel's (getrusage maxrss), transient allocations
 * included.
 *
 *   npm run bench            (or: node dist/bench/render.js [LANS] [static|bgp])
 *
 * With `bgp` the mesh uses `routing: bgp` (SPEC §7): every gateway's frr.conf is rendered too.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadInventory } from '../src/inventory/load.js';
import { allocateMesh } from '../src/mesh/allocate.js';
import { ensurePki } from '../src/pki/index.js';
import { renderMesh } from '../src/render/render.js';
import { loadRoles } from '../src/render/roles.js';
import type { PkiMaterial } from '../src/types.js';
import { meshctlVersion } from '../src/version.js';
import { MESHCTL_BIN } from '../test/helpers/bin.js';

/** `N MiB (M MB)`. */
function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB (${(bytes / 1e6).toFixed(0)} MB)`;
}

/**
 * `meshctl render --out` on the inventory, as its own process: wall seconds and the kernel's peak RSS of that
 * process (it reports its own getrusage at exit through a preloaded hook: no wrapper process is measured).
 */
function renderCommand(inventory: string): { seconds: number; maxRss: number } {
  const out = join(dir, 'rendered');
  const hook = `data:text/javascript,process.on('exit',()=>process.stderr.write('maxrss '+process.resourceUsage().maxRSS+'\\n'))`;
  const start = process.hrtime.bigint();
  const result = spawnSync(
    process.execPath,
    ['--import', hook, MESHCTL_BIN, 'render', '--inventory', inventory, '--out', out, '--no-color'],
    { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 },
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const rss = /^maxrss (\d+)$/m.exec(result.stderr);
  if (result.status !== 0 || !rss) {
    throw new Error(`meshctl render failed (exit ${result.status}): ${result.stderr.slice(-2000)}`);
  }
  return { seconds, maxRss: Number(rss[1]) * 1024 };
}

interface StageFigures {
  seconds: { validate: number; plan: number; pki: number; roles: number; render: number };
  maxRss: number;
  liveHeap: number;
}

/** bench/render-stage.ts in a process of its own: the stages a command runs before any gateway. */
function renderStage(inventory: string): StageFigures {
  const script = fileURLToPath(new URL('./render-stage.js', import.meta.url));
  const result = spawnSync(process.execPath, ['--expose-gc', script, inventory], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`render-stage failed (exit ${result.status}): ${result.stderr}`);
  return JSON.parse(result.stdout) as StageFigures;
}

const STAGE_RUNS = 3;
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

function report(label: string, start: bigint): void {
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
  const peak = process.resourceUsage().maxRSS * 1024;
  console.log(`peak RSS, this process (every stage above)  ${mib(peak)}`);
  // the render stage as a command runs it: a fresh process, the PKI re-checked (not created) first
  const fresh = Array.from({ length: STAGE_RUNS }, () => renderStage(dir));
  const at = (pick: (r: StageFigures) => number) =>
    fresh.map(pick).sort((a, b) => a - b)[Math.floor(STAGE_RUNS / 2)]!;
  console.log(
    `render, in a fresh process after a PKI re-check (as diff, apply and render run it), median of ${STAGE_RUNS}: ` +
      `${at((r) => r.seconds.render).toFixed(3)} s (${fresh.map((r) => r.seconds.render.toFixed(3)).join(' ')}); ` +
      `validate ${at((r) => r.seconds.validate).toFixed(3)} s, plan ${at((r) => r.seconds.plan).toFixed(3)} s, ` +
      `pki ${at((r) => r.seconds.pki).toFixed(3)} s; peak RSS ${mib(at((r) => r.maxRss))}, ` +
      `live heap with every state held ${mib(at((r) => r.liveHeap))}`,
  );
  const command = renderCommand(dir);
  console.log(
    `meshctl render --out (the bin, whole process)  ${command.seconds.toFixed(3)} s, peak RSS ${mib(command.maxRss)}`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
