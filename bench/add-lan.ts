import { rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Chalk } from 'chalk';
import { run as addLanCommand } from '../src/commands/add-lan.js';
import { sshConnector } from '../src/connection/ssh.js';
import type { Output } from '../src/output.js';
import { Lab, type LabSpec, reapOrphans } from '../test/lab/lab.js';
import { prerequisiteProblems } from '../test/lab/prerequisites.js';
import { pairUpSeconds, sshFloorSeconds } from './floor.js';
import { span, type TraceEvent, tracingConnector } from './trace.js';

/**
 * How long growing the mesh takes: from the start of `meshctl add-lan` until every pair of LANs pings (LAN host
 * to LAN host, both directions), for 4 → 5 and 8 → 9 LANs on the lab. The first N gateways are applied first;
 * the last one is a machine not yet in the inventory. Each figure is the MEDIAN of `--runs` runs (a fresh lab
 * each), with a breakdown of where the time goes (from the remote commands' own timeline) and each figure as a
 * multiple of the floor measured on the same lab in the same run (bench/floor.ts).
 *
 * The figure is the `meshctl` bin's (dist/bin/, what an operator runs), spawned in the lab's ctl namespace: from
 * spawn until it exits, and until every pair pings. The breakdown comes from as many runs of add-lan in a process
 * of its own (this file with `--measure`): the command's `run` with a tracing connector (bench/trace.ts) and no
 * progress output; its wall time is that process's, from spawn to exit (Node's start and the unbundled modules
 * of dist/src/ loaded, with the bench's own).
 *
 * Run as root: `npm run build && node dist/bench/add-lan.js [--sizes 4,8] [--runs 3]`.
 */

const args = process.argv.slice(2);
const argValue = (name: string): string | undefined => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};

function specOf(n: number): LabSpec {
  return {
    name: `alb${n}`,
    gateways: Array.from({ length: n + 1 }, (_, i) => ({
      name: `alb${i + 1}`,
      id: i + 1,
      subnets: [`10.151.${i + 1}.0/24`],
    })),
  };
}

/** An Output that prints nothing (the progress tree would distort the timing). */
function quietOutput(): Output {
  return {
    json: true,
    verbose: false,
    color: new Chalk({ level: 0 }),
    info() {},
    warn() {},
    result() {},
  };
}

interface Worked {
  exitCode: number;
  /** ms since the worker process started: when add-lan's run began, and when it returned. */
  runStart: number;
  runEnd: number;
  events: TraceEvent[];
}

/** Worker mode: add-lan in-process, in the lab's namespace; the timeline as JSON on stdout. */
async function worker(): Promise<void> {
  if (argValue('--measure') === 'floor-ssh') {
    process.stdout.write(`${JSON.stringify({ seconds: await sshFloorSeconds(argValue('--inventory')!) })}\n`);
    return;
  }
  const events: TraceEvent[] = [];
  const runStart = performance.now();
  const exitCode = await addLanCommand(
    {
      inventory: argValue('--inventory')!,
      forks: 10,
      json: true,
      color: false,
      verbose: false,
      name: argValue('--name')!,
      subnet: [argValue('--subnet')!],
      endpoint: argValue('--endpoint')!,
    },
    quietOutput(),
    { connector: tracingConnector(sshConnector, events) },
  );
  const worked: Worked = { exitCode, runStart, runEnd: performance.now(), events };
  process.stdout.write(`${JSON.stringify(worked)}\n`);
}

async function inCtl(lab: Lab, measure: string, extra: string[]): Promise<{ stdout: string; wall: number }> {
  const self = fileURLToPath(import.meta.url);
  const started = performance.now();
  const result = await lab.execCtl(
    [process.execPath, self, '--measure', measure, '--inventory', lab.inventoryDir, ...extra],
    { timeoutMs: 300_000 },
  );
  const wall = (performance.now() - started) / 1000;
  if (result.code !== 0)
    throw new Error(`bench worker ${measure} failed (exit ${result.code}):\n${result.stderr}`);
  return { stdout: result.stdout.trim().split('\n').at(-1) ?? '', wall };
}

/** Every ordered LAN pair pings: pinged in parallel, each ping ending at its first answer (one echo per 0.1 s). */
async function allPairsPing(lab: Lab): Promise<boolean> {
  const pairs = lab.gateways.flatMap((from) =>
    lab.gateways.filter((to) => to !== from).map((to) => [from, to]),
  );
  const results = await Promise.all(
    pairs.map(([from, to]) =>
      lab.execLan(from!.name, [
        'ping',
        '-n',
        '-q',
        '-c',
        '1',
        '-i',
        '0.1',
        '-w',
        '1',
        lab.lanHostAddress(to!.name),
      ]),
    ),
  );
  return results.every((r) => r.code === 0);
}

/** One row of the breakdown: seconds, and which floor it is shown against. */
interface Row {
  label: string;
  seconds: number;
  floor: 'ssh' | 'pair' | 'both';
}

/** The steps of an add-lan run, in the order they happen; converge is split in its two waves. */
const STEPS: [string, (e: TraceEvent, newGateway: string) => boolean, Row['floor']][] = [
  ['connect, every gateway', (e) => e.kind === 'connect', 'ssh'],
  ['probe (facts), every gateway', (e) => e.kind === 'probe', 'ssh'],
  ['converge: the new gateway first', (e, n) => e.kind === 'converge' && e.gateway === n, 'ssh'],
  ['converge: then the existing gateways', (e, n) => e.kind === 'converge' && e.gateway !== n, 'ssh'],
  ['start the new tunnels (both ends at once)', (e) => e.kind === 'start', 'pair'],
  ['tunnel verification (wait-tunnels.sh)', (e) => e.kind === 'verify', 'pair'],
  ['record manifests', (e) => e.kind === 'record', 'ssh'],
  ['read LAN addresses', (e) => e.kind === 'addresses', 'ssh'],
];

/** The breakdown of one add-lan run, in the order things happen. */
function breakdown(w: Worked, newGateway: string, processWall: number, allPing: number): Row[] {
  const s = (ms: number) => ms / 1000;
  const rows: Row[] = [{ label: 'process start, modules loaded', seconds: s(w.runStart), floor: 'ssh' }];
  const first = Math.min(...w.events.map((e) => e.start));
  rows.push({
    label: 'inventory, PKI, render (until the first connect)',
    seconds: s(first - w.runStart),
    floor: 'ssh',
  });
  let cursor = first;
  for (const [label, match, floor] of STEPS) {
    const sp = span(w.events, (e) => match(e, newGateway));
    if (!sp) continue;
    // the gap before a step: local work (planning, the progress tree) between two phases
    rows.push({
      label: `  local work before: ${label}`,
      seconds: s(Math.max(0, sp[0] - cursor)),
      floor: 'ssh',
    });
    rows.push({ label, seconds: s(sp[1] - sp[0]), floor });
    cursor = Math.max(cursor, sp[1]);
  }
  rows.push({
    label: 'after the last remote command until run() returned',
    seconds: s(w.runEnd - cursor),
    floor: 'ssh',
  });
  rows.push({ label: 'add-lan exits (whole process)', seconds: processWall, floor: 'both' });
  rows.push({ label: 'from exit until every pair pings', seconds: allPing - processWall, floor: 'pair' });
  rows.push({ label: 'add-lan start until every pair pings', seconds: allPing, floor: 'both' });
  return rows;
}

interface RunFigures {
  rows: Row[];
  floorSsh: number;
  pairUp: number;
}

/**
 * One fresh lab of n applied LANs (the n+1th gateway up, not in the inventory yet), its floors measured, then
 * `grow` adding the last LAN; returns the floors and how long until every pair pings after grow started.
 */
async function onFreshLab<T>(
  n: number,
  grow: (lab: Lab, added: LabSpec['gateways'][number]) => Promise<T>,
): Promise<{ result: T; floorSsh: number; pairUp: number; allPing: number }> {
  const spec = specOf(n);
  const lab = await Lab.up(spec);
  try {
    const added = spec.gateways[n]!;
    rmSync(join(lab.inventoryDir, 'lans', `${added.name}.yml`));
    const apply = await lab.meshctl(['apply', '--no-color']);
    if (apply.code !== 0) throw new Error(`apply of ${n} LANs failed:\n${apply.stdout}\n${apply.stderr}`);
    // the floor of this very lab: the SSH floor over the gateways in the inventory, a pair of them coming up
    const floorSsh = (JSON.parse((await inCtl(lab, 'floor-ssh', [])).stdout) as { seconds: number }).seconds;
    const pairUp = await pairUpSeconds(lab, spec.gateways[0]!.name, spec.gateways[1]!.name);
    const started = performance.now();
    const result = await grow(lab, added);
    for (;;) {
      if (await allPairsPing(lab)) break;
      if (performance.now() - started > 120_000) throw new Error('not every pair pings 120 s after add-lan');
    }
    return { result, floorSsh, pairUp, allPing: (performance.now() - started) / 1000 };
  } finally {
    await lab.down();
  }
}

/** Where the added LAN is: add-lan's --subnet and --endpoint. */
function placement(lab: Lab, added: LabSpec['gateways'][number]): string[] {
  return ['--subnet', added.subnets[0]!, '--endpoint', lab.publicAddress(added.name)];
}

/** The breakdown: add-lan's `run` in a worker process with a tracing connector (bench/trace.ts). */
async function measureTraced(n: number): Promise<RunFigures> {
  let name = '';
  const { result, floorSsh, pairUp, allPing } = await onFreshLab(n, async (lab, added) => {
    name = added.name;
    return inCtl(lab, 'add-lan', ['--name', added.name, ...placement(lab, added)]);
  });
  const worked = JSON.parse(result.stdout) as Worked;
  if (process.env.BENCH_TRACE) writeFileSync(process.env.BENCH_TRACE, result.stdout);
  if (worked.exitCode !== 0) throw new Error(`add-lan exited ${worked.exitCode}`);
  return { rows: breakdown(worked, name, result.wall, allPing), floorSsh, pairUp };
}

/** The figure itself: the `meshctl` bin an operator runs (bundled, dist/bin/), spawned as they would. */
async function measureBin(n: number): Promise<RunFigures> {
  const { result, floorSsh, pairUp, allPing } = await onFreshLab(n, async (lab, added) => {
    const started = performance.now();
    const run = await lab.meshctl(['add-lan', added.name, ...placement(lab, added), '--json'], {
      timeoutMs: 300_000,
    });
    if (run.code !== 0) throw new Error(`meshctl add-lan exited ${run.code}:\n${run.stderr}`);
    return (performance.now() - started) / 1000;
  });
  return {
    rows: [
      { label: 'the meshctl bin: add-lan exits', seconds: result, floor: 'both' },
      { label: 'the meshctl bin: add-lan start until every pair pings', seconds: allPing, floor: 'both' },
    ],
    floorSsh,
    pairUp,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  const problems = prerequisiteProblems();
  if (problems.length > 0) {
    console.error(`cannot run the lab benchmark:\n  - ${problems.join('\n  - ')}`);
    process.exitCode = 1;
    return;
  }
  const sizes = (argValue('--sizes') ?? '4,8').split(',').map(Number);
  const runs = Math.max(1, Number(argValue('--runs') ?? 3));
  await reapOrphans();
  console.log(
    `meshctl add-lan on the lab: ${cpus().length} CPUs, medians of ${runs} run(s) of the bin and ${runs} traced ` +
      `in-process run(s) (a fresh lab each); × floor: ` +
      'over the SSH floor (ssh), one pair coming up (pair) or both (ssh+pair)',
  );
  for (const n of sizes) {
    const all: RunFigures[] = [];
    // the target's figure from the bin; where its time goes from a traced run of the same command in-process
    // (its process start is that of the unbundled modules and the bench's own)
    for (let run = 0; run < runs; run++) all.push(await measureBin(n), await measureTraced(n));
    const ssh = median(all.map((f) => f.floorSsh));
    const pair = median(all.map((f) => f.pairUp));
    const floors = { ssh, pair, both: ssh + pair };
    console.log(`\n${n} → ${n + 1} LANs (${(n + 1) * n} ordered LAN pairs)`);
    const table: string[][] = [
      ['floor: SSH connect + `true`, all gateways in parallel', ssh.toFixed(2), ''],
      ['floor: one OpenVPN pair up (both ends started at once)', pair.toFixed(2), ''],
    ];
    // rows are matched by label: a run may lack one (a step that did not run there)
    const labels = [...new Set(all.flatMap((f) => f.rows.map((r) => r.label)))];
    for (const label of labels) {
      const rows = all.flatMap((f) => f.rows.filter((r) => r.label === label));
      const seconds = median(rows.map((r) => r.seconds));
      const floor = rows[0]!.floor;
      const name = floor === 'both' ? 'ssh+pair' : floor;
      table.push([label, seconds.toFixed(2), `${(seconds / floors[floor]).toFixed(1)}× ${name}`]);
    }
    const widths = [0, 1, 2].map((i) => Math.max(...table.map((r) => r[i]!.length)));
    for (const row of table)
      console.log(`  ${row[0]!.padEnd(widths[0]!)}  ${row[1]!.padStart(widths[1]!)} s  ${row[2]}`);
  }
}

if (argValue('--measure')) {
  worker().then(
    () => process.exit(process.exitCode ?? 0),
    (error: Error) => {
      console.error(error.stack ?? error.message);
      process.exit(1);
    },
  );
} else {
  await main();
}
