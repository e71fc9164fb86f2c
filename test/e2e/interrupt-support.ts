import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import yaml from 'js-yaml';
import type { Lab } from '../lab/lab.js';
import { MESHCTL_CLI } from '../lab/paths.js';

export { skipUnlessLabUsable } from './helpers/skip.js';

/**
 * What the hostile-conditions tests (interrupt, rollback, flaky link) share: a meshctl run they can watch and
 * kill, the rendered files to compare a gateway against, and checks of what really runs on a gateway.
 */

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** A meshctl process running in the lab's ctl namespace, whose output can be waited on line by line. */
export class LiveRun {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  private stdout = '';
  private stderr = '';
  private readonly waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];

  constructor(lab: Lab, args: string[]) {
    const started = performance.now();
    // `ip netns exec` execs meshctl in place: a signal sent to this child reaches meshctl itself
    this.child = spawn('ip', ['netns', 'exec', lab.ctlNamespace, process.execPath, MESHCTL_CLI, ...args], {
      cwd: lab.dir,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (chunk: Buffer) => this.take('stdout', chunk.toString()));
    this.child.stderr!.on('data', (chunk: Buffer) => this.take('stderr', chunk.toString()));
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) =>
        resolve({
          code,
          signal,
          stdout: this.stdout,
          stderr: this.stderr,
          seconds: (performance.now() - started) / 1000,
        }),
      );
    });
  }

  get output(): string {
    return this.stdout + this.stderr;
  }

  private take(stream: 'stdout' | 'stderr', text: string): void {
    if (stream === 'stdout') this.stdout += text;
    else this.stderr += text;
    for (const waiter of [...this.waiters]) {
      const line = this.output.split('\n').find((l) => waiter.pattern.test(l));
      if (line !== undefined) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  }

  /** Resolves with the first output line matching `pattern`; rejects if the run ends or the time passes first. */
  async waitForLine(pattern: RegExp, timeoutMs = 60_000): Promise<string> {
    const seen = this.output.split('\n').find((l) => pattern.test(l));
    if (seen !== undefined) return seen;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        new Promise<string>((resolve) => this.waiters.push({ pattern, resolve })),
        this.exited.then((exit) => {
          throw new Error(`meshctl exited (${exit.code}) before printing ${pattern}:\n${this.output}`);
        }),
        new Promise<string>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms:\n${this.output}`)),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }
}

/** Runs meshctl to the end (killed after `timeoutMs`, which then fails the test: a run must never hang). */
export async function meshctl(lab: Lab, args: string[], timeoutMs = 240_000): Promise<Exit> {
  const live = new LiveRun(lab, args);
  const timer = setTimeout(() => live.kill('SIGKILL'), timeoutMs);
  const exit = await live.exited;
  clearTimeout(timer);
  assert.notEqual(
    exit.signal,
    'SIGKILL',
    `meshctl ${args.join(' ')} hung for ${timeoutMs} ms:\n${live.output}`,
  );
  return exit;
}

/** Every gateway's files as `meshctl render` writes them: lan → absolute path on the gateway → sha256. */
export type RenderedTree = Map<string, Map<string, string>>;

export async function renderTree(lab: Lab, outDir: string): Promise<RenderedTree> {
  const exit = await meshctl(lab, ['render', '--out', outDir]);
  assert.equal(exit.code, 0, `render failed:\n${exit.stdout}${exit.stderr}`);
  const tree: RenderedTree = new Map();
  for (const lan of readdirSync(outDir)) {
    const lanDir = join(outDir, lan);
    if (!statSync(lanDir).isDirectory()) continue;
    const files = new Map<string, string>();
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else files.set(`/${relative(lanDir, path)}`, sha256(readFileSync(path)));
      }
    };
    walk(lanDir);
    tree.set(lan, files);
  }
  return tree;
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** sha256 of each path on the gateway; null when absent. */
export async function gatewaySums(
  lab: Lab,
  gateway: string,
  paths: string[],
): Promise<Map<string, string | null>> {
  const script =
    'for p do if [ -f "$p" ]; then printf "%s %s\\n" "$(sha256sum < "$p" | cut -d" " -f1)" "$p"; ' +
    'else printf -- "- %s\\n" "$p"; fi; done';
  const result = await lab.exec(gateway, ['sh', '-c', script, 'sh', ...paths]);
  assert.equal(result.code, 0, result.stderr);
  const sums = new Map<string, string | null>();
  for (const line of result.stdout.trim().split('\n')) {
    const [sum, path] = [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)];
    sums.set(path, sum === '-' ? null : sum);
  }
  return sums;
}

/** meshctl's temporaries and rollback copies anywhere it writes on the gateway. */
export async function leftoverTemporaries(lab: Lab, gateway: string): Promise<string[]> {
  const result = await lab.exec(gateway, [
    'sh',
    '-c',
    'find /etc/openvpn /etc/meshctl /etc/sysctl.d /etc/systemd/system -name ".meshctl-tmp.*" 2>/dev/null; true',
  ]);
  return result.stdout.split('\n').filter(Boolean);
}

/**
 * The SPEC §6 promise after an interrupted run: each managed path is absent, or byte-identical to its version
 * before the run or to the one the run wanted — never partial, never a temporary in its place.
 */
export async function assertNoHalfWrittenFile(
  lab: Lab,
  before: RenderedTree | null,
  after: RenderedTree,
  where: string,
): Promise<{ old: number; new: number; absent: number }> {
  const counts = { old: 0, new: 0, absent: 0 };
  for (const [lan, wanted] of after) {
    const previous = before?.get(lan) ?? new Map<string, string>();
    const paths = [...new Set([...wanted.keys(), ...previous.keys()])].sort();
    const sums = await gatewaySums(lab, lan, paths);
    for (const path of paths) {
      const sum = sums.get(path);
      if (sum === null) counts.absent++;
      else if (sum === wanted.get(path)) counts.new++;
      else if (sum === previous.get(path)) counts.old++;
      else
        assert.fail(
          `${where}: ${lan}:${path} is neither absent, the old nor the new content (sha256 ${sum})`,
        );
    }
  }
  return counts;
}

/** Edits the inventory's mesh.yml. */
export function editMesh(lab: Lab, edit: (mesh: Record<string, unknown>) => void): void {
  const path = join(lab.inventoryDir, 'mesh.yml');
  const mesh = yaml.load(readFileSync(path, 'utf8')) as Record<string, unknown>;
  edit(mesh);
  writeFileSync(path, yaml.dump(mesh, { lineWidth: 200 }));
}

/** Polls the ping matrix until every LAN answers every other, or the time passes; returns the last matrix. */
export async function waitForFullMesh(
  lab: Lab,
  timeoutMs = 30_000,
): Promise<{ ok: boolean; matrix: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const results = await lab.pingMatrix();
    if (results.every((r) => r.ok)) return { ok: true, matrix: '' };
    if (Date.now() >= deadline) {
      const failing = results.filter((r) => !r.ok).map((r) => `${r.from}→${r.to}`);
      return { ok: false, matrix: `no answer: ${failing.join(', ')}` };
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/**
 * What really runs matches the rendered files: each tunnel's OpenVPN listens on its rendered port, and
 * meshctl's loaded INPUT chain accepts that port. A run that landed files but was killed before restarting
 * would leave old processes and old rules behind while the files look converged.
 */
export async function assertRunningMatchesRendered(lab: Lab, rendered: string): Promise<void> {
  for (const gw of lab.gateways) {
    const confDir = join(rendered, gw.name, 'etc/openvpn/server');
    const ports = readdirSync(confDir)
      .filter((n) => /^mesh-.*\.conf$/.test(n))
      .map((n) => /^port (\d+)$/m.exec(readFileSync(join(confDir, n), 'utf8'))![1]!);
    const listening = await lab.exec(gw.name, ['ss', '-Hulnp']);
    const chain = await lab.exec(gw.name, ['iptables', '-w', '-S', 'MESHCTL-INPUT']);
    for (const port of ports) {
      assert.match(
        listening.stdout,
        new RegExp(`:${port}\\s.*openvpn`),
        `${gw.name}: nothing listens on ${port}`,
      );
      assert.match(chain.stdout, new RegExp(`--dport ${port} -j ACCEPT`), `${gw.name}: ${port} not accepted`);
    }
  }
}
