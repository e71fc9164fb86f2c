import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Chalk } from 'chalk';
import { run as applyCommand } from '../src/commands/apply.js';
import { run as diffCommand } from '../src/commands/diff.js';
import type { ConnectingOptions } from '../src/commands/prepare.js';
import { run as renderCommand } from '../src/commands/render.js';
import { sshConnector } from '../src/connection/ssh.js';
import type { Connection, Connector } from '../src/connection/types.js';
import type { Output } from '../src/output.js';
import { hierarchies, processesIn } from '../test/lab/cgroup.js';
import { Lab, type LabSpec, reapOrphans } from '../test/lab/lab.js';
import { prerequisiteProblems } from '../test/lab/prerequisites.js';
import { sleep } from '../test/lab/process.js';
import { names } from '../test/lab/spec.js';
import { pairUpSeconds, sshFloorSeconds } from './floor.js';

/**
 * Push-engine figures on the lab: wall time of a cold `apply` (fresh gateways, PKI already made; until apply exits
 * with every tunnel verified), a no-op `apply` and a `diff` on 3, 6 and 12 gateways (24 with `--sizes`; the lab raises the inotify limits it needs), each the
 * MEDIAN of `--runs` runs (a fresh lab for each cold run), and how many remote commands (execs) and SSH
 * connections each gateway gets. Counting wraps the SSH connector the commands accept as `deps.connector`.
 *
 * A floor on the same lab and run: a bare SSH connect + `true` to every gateway in parallel (same connector), and
 * one OpenVPN pair coming up (both ends started at once, until both report "Initialization Sequence Completed").
 * Each figure is also printed as a multiple of its floor: SSH for render (offline, for comparison), no-op apply and
 * diff, SSH + pair for a cold apply. Memory per gateway: PSS of its processes once its tunnels run, against the
 * same gateways booted and not yet applied (the memory floor).
 *
 * meshctl must run where the gateways are reachable: in the lab's ctl network namespace. So this file has two
 * modes: the driver (default) brings labs up and runs itself with `--measure COMMAND --inventory DIR` in that
 * namespace, which runs one command in-process and prints its figures as JSON.
 *
 * Run as root: `npm run build && node dist/bench/apply.js [--sizes 3,6,12] [--runs 3] [--forks N]`.
 */

interface Measured {
  command: string;
  exitCode: number;
  seconds: number;
  /** Per gateway: remote commands run and SSH connections opened. */
  gateways: Record<string, { execs: number; connects: number }>;
  statuses: Record<string, string>;
}

const args = process.argv.slice(2);
const argValue = (name: string): string | undefined => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};

/** An Output that prints nothing and keeps the JSON result (the progress tree would distort the timing). */
function quietOutput(): Output & { value: unknown } {
  const out = {
    json: true,
    verbose: false,
    color: new Chalk({ level: 0 }),
    value: undefined as unknown,
    info() {},
    warn() {},
    result(_command: unknown, body: unknown) {
      out.value = body;
    },
  };
  return out;
}

/** Wraps a connector: every exec and every connection is counted per gateway. */
function countingConnector(inner: Connector, counts: Measured['gateways']): Connector {
  return async (opts) => {
    const conn = await inner(opts);
    counts[opts.name] ??= { execs: 0, connects: 0 };
    const count = counts[opts.name]!;
    count.connects++;
    const counted: Connection = {
      name: conn.name,
      host: conn.host,
      exec: (argv, execOpts) => {
        count.execs++;
        return conn.exec(argv, execOpts);
      },
      close: () => conn.close(),
    };
    return counted;
  };
}

/** Worker mode, floor: connect to every gateway at once (meshctl's own SSH connector), run `true`, close. */
async function measureSsh(inventory: string): Promise<void> {
  const seconds = await sshFloorSeconds(inventory);
  process.stdout.write(
    `${JSON.stringify({ command: 'floor-ssh', exitCode: 0, seconds, gateways: {}, statuses: {} })}\n`,
  );
}

/** Worker mode: one command, in-process, in the lab's namespace; its figures as JSON on stdout. */
async function measure(command: string, inventory: string, forks: number): Promise<void> {
  if (command === 'floor-ssh') return measureSsh(inventory);
  const counts: Measured['gateways'] = {};
  const deps = { connector: countingConnector(sshConnector, counts) };
  const options: ConnectingOptions = { inventory, forks, json: true, color: false, verbose: false };
  const out = quietOutput();
  const started = performance.now();
  let exitCode: number;
  if (command === 'apply') exitCode = await applyCommand(options, out, deps);
  else if (command === 'diff') exitCode = await diffCommand(options, out, deps);
  else if (command === 'render')
    exitCode = await renderCommand({ ...options, out: `${inventory}/../rendered` }, out);
  else throw new Error(`--measure ${command}: use apply, diff or render`);
  const seconds = (performance.now() - started) / 1000;
  const gateways = ((out.value as { gateways?: unknown[] }).gateways ?? []) as {
    lan: string;
    status: string;
  }[];
  const statuses = Object.fromEntries(
    gateways.filter((g) => typeof g === 'object').map((g) => [g.lan, g.status]),
  );
  const result: Measured = { command, exitCode, seconds, gateways: counts, statuses };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function specOf(n: number): LabSpec {
  return {
    name: `apb${n}`,
    mesh: 'bench',
    gateways: Array.from({ length: n }, (_, i) => ({
      name: `gw${i + 1}`,
      id: i + 1,
      // a mix of LAN sizes, as in real inventories
      subnets: [[`10.${i + 1}.0.0/16`, `10.200.${i + 1}.0/24`, `192.168.${i + 1}.0/27`][i % 3]!],
    })),
  };
}

async function runMeasured(lab: Lab, command: string, forks: number): Promise<Measured> {
  const self = fileURLToPath(import.meta.url);
  const result = await lab.execCtl(
    [process.execPath, self, '--measure', command, '--inventory', lab.inventoryDir, '--forks', String(forks)],
    { timeoutMs: 600_000 },
  );
  const line = result.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as Measured;
  } catch {
    throw new Error(
      `measuring \`meshctl ${command}\` on lab ${lab.name} failed (exit ${result.code}):\n${result.stderr}`,
    );
  }
}

function perGateway(m: Measured, n: number, key: 'execs' | 'connects'): string {
  const values = Object.values(m.gateways).map((g) => g[key]);
  if (values.length === 0) return '0';
  // a gateway missing from the counts was never connected to: it counts as 0
  while (values.length < n) values.push(0);
  const min = Math.min(...values);
  const max = Math.max(...values);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return min === max ? String(min) : `${min}–${max} (mean ${mean.toFixed(1)})`;
}

/** The expected outcome of each measured run: a figure from a failed run would mean nothing. */
function check(m: Measured, expectedExit: number, expectedStatus: string, n: number): void {
  const statuses = Object.values(m.statuses);
  if (m.exitCode !== expectedExit || statuses.length !== n || statuses.some((s) => s !== expectedStatus)) {
    throw new Error(
      `\`meshctl ${m.command}\` ended with exit ${m.exitCode} and statuses ${JSON.stringify(m.statuses)}; ` +
        `expected exit ${expectedExit} and every gateway ${expectedStatus}: run it by hand on the lab to see why`,
    );
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** PSS of every process of each gateway (shared libraries counted once across them), mean over the gateways, MiB. */
function pssPerGatewayMiB(spec: LabSpec): number {
  const root = join(hierarchies().at(-1)!, names.cgroup(spec.name));
  const per = spec.gateways.map((g) => {
    let kib = 0;
    for (const pid of processesIn(join(root, g.name))) {
      try {
        kib += Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
      } catch {
        // exited meanwhile
      }
    }
    return kib / 1024;
  });
  return per.reduce((a, b) => a + b, 0) / per.length;
}

interface SizeFigures {
  n: number;
  render: number;
  cold: Measured[];
  noop: Measured[];
  diff: Measured[];
  floorSsh: number[];
  pairUp: number[];
  pssMiB: number;
  /** PSS per gateway of the fresh lab before the first apply: the memory floor. */
  idlePssMiB: number;
}

/** One lab of `n` gateways per cold run; no-op apply, diff and the floor `runs` times on the last one. */
async function measureSize(n: number, forks: number, runs: number): Promise<SizeFigures> {
  const figures: SizeFigures = {
    n,
    render: 0,
    cold: [],
    noop: [],
    diff: [],
    floorSsh: [],
    pairUp: [],
    pssMiB: 0,
    idlePssMiB: 0,
  };
  for (let run = 0; run < runs; run++) {
    const spec = specOf(n);
    const lab = await Lab.up(spec);
    try {
      // the memory floor: the booted gateways before meshctl touched them (systemd, sshd, journald)
      if (run === runs - 1) figures.idlePssMiB = pssPerGatewayMiB(spec);
      const pki = await runMeasured(lab, 'render', forks);
      figures.render = pki.seconds;
      // on the fresh lab, before anything runs on it: the SSH floor of this very lab
      figures.floorSsh.push((await runMeasured(lab, 'floor-ssh', forks)).seconds);
      const cold = await runMeasured(lab, 'apply', forks);
      check(cold, 0, 'changed', n);
      figures.cold.push(cold);
      if (run < runs - 1) continue;
      await sleep(1000);
      figures.pssMiB = pssPerGatewayMiB(spec);
      for (let i = 0; i < runs; i++) {
        const noop = await runMeasured(lab, 'apply', forks);
        check(noop, 0, 'unchanged', n);
        figures.noop.push(noop);
        const diff = await runMeasured(lab, 'diff', forks);
        check(diff, 0, 'unchanged', n);
        figures.diff.push(diff);
        figures.floorSsh.push((await runMeasured(lab, 'floor-ssh', forks)).seconds);
        figures.pairUp.push(await pairUpSeconds(lab, 'gw1', 'gw2'));
      }
    } finally {
      await lab.down();
    }
  }
  return figures;
}

function rowsOf(f: SizeFigures): string[][] {
  const { n } = f;
  const ssh = median(f.floorSsh);
  const pair = median(f.pairUp);
  const secs = (ms: Measured[]) => median(ms.map((m) => m.seconds));
  const row = (label: string, seconds: number, floor: number | null, m?: Measured[]) => [
    String(n),
    label,
    seconds.toFixed(2),
    floor === null ? '' : `${(seconds / floor).toFixed(1)}×`,
    m ? `${((seconds / n) * 1000).toFixed(0)}` : '',
    m ? perGateway(m.at(-1)!, n, 'execs') : '0',
    m ? perGateway(m.at(-1)!, n, 'connects') : '0',
  ];
  return [
    row('floor: SSH connect + `true`, all gateways in parallel', ssh, null),
    row('floor: one OpenVPN pair up (both ends started at once)', pair, null),
    // offline: shown against the SSH floor only to compare it with the rest
    row('render (PKI created, offline)', f.render, ssh),
    row(`apply, cold (${n - 1} tunnels/gw)`, secs(f.cold), ssh + pair, f.cold),
    row('apply, no-op', secs(f.noop), ssh, f.noop),
    row('diff, no changes', secs(f.diff), ssh, f.diff),
    [
      String(n),
      'floor: memory per gateway, booted, before apply (PSS)',
      `${f.idlePssMiB.toFixed(1)} MiB`,
      '',
      '',
      '',
      '',
    ],
    [
      String(n),
      'memory per gateway, tunnels up (PSS, mean)',
      `${f.pssMiB.toFixed(1)} MiB`,
      f.idlePssMiB > 0 ? `${(f.pssMiB / f.idlePssMiB).toFixed(1)}×` : '',
      '',
      '',
      '',
    ],
  ];
}

async function driver(): Promise<void> {
  const problems = prerequisiteProblems();
  if (problems.length > 0) throw new Error(`cannot run the apply bench:\n  ${problems.join('\n  ')}`);
  const sizes = (argValue('--sizes') ?? '3,6,12').split(',').map(Number);
  const forks = Number(argValue('--forks') ?? 10);
  const runs = Math.max(1, Number(argValue('--runs') ?? 3));
  await reapOrphans();
  const rows: string[][] = [];
  const failures: string[] = [];
  for (const n of sizes) {
    try {
      rows.push(...rowsOf(await measureSize(n, forks, runs)));
    } catch (error) {
      // a size that fails (e.g. a lab that does not come up on a loaded machine) must not hide the others
      failures.push(`${n} gateways: ${(error as Error).message}`);
      rows.push([String(n), 'FAILED (see below)', '-', '-', '-', '-', '-']);
    }
  }
  const header = [
    'gateways',
    'step',
    'median s',
    '× floor',
    'ms/gw',
    'remote commands/gw',
    'SSH connections/gw',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(
    `meshctl apply/diff on the lab: ${cpus().length} CPUs, --forks ${forks}, medians of ${runs} run(s), ` +
      'in-process wall time; × floor: render, no-op and diff over the SSH floor, cold apply over SSH + pair, ' +
      'memory over the booted gateway',
  );
  console.log(line(header));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of rows) console.log(line(row));
  for (const failure of failures) console.error(`failed: ${failure}`);
  if (failures.length > 0) process.exitCode = 1;
}

const measuring = argValue('--measure');
const main = measuring
  ? () => measure(measuring, argValue('--inventory') ?? 'inventory', Number(argValue('--forks') ?? 10))
  : driver;
main().then(
  () => {
    // the worker's SSH sockets are closed; exit now rather than wait for idle timers
    process.exit(process.exitCode ?? 0);
  },
  (error: Error) => {
    console.error(error.message);
    process.exit(1);
  },
);
