import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from '../lab/lab.js';

export { skipUnlessLabUsable } from './helpers/skip.js';

/**
 * What the hostile-conditions end-to-end tests share: the loud skip, fingerprints of what a run could change
 * (a local tree, a gateway's managed state), and observers that tell whether meshctl even opened an SSH session.
 */

/**
 * Every entry under `dir` with its type, mode and content hash (symlinks by target, not followed), keyed by path
 * relative to `dir`. Two equal maps mean nothing was created, removed, rewritten or chmod-ed.
 */
export function treeEntries(dir: string): Map<string, string> {
  const entries = new Map<string, string>();
  const walk = (relative: string) => {
    const path = join(dir, relative);
    const stat = lstatSync(path, { throwIfNoEntry: false });
    if (!stat) return;
    const mode = (stat.mode & 0o7777).toString(8);
    if (stat.isSymbolicLink()) entries.set(relative, `link ${mode} -> ${readlinkSync(path)}`);
    else if (stat.isDirectory()) {
      entries.set(relative, `dir ${mode}`);
      for (const name of readdirSync(path).sort()) walk(relative === '' ? name : join(relative, name));
    } else if (stat.isFile()) {
      // a sparse 1 GiB "huge file" case: hash size and mtime instead of reading it all
      const content =
        stat.size > 8 * 1024 * 1024
          ? `size ${stat.size} mtime ${stat.mtimeMs}`
          : createHash('sha256').update(readFileSync(path)).digest('hex');
      entries.set(relative, `file ${mode} ${content}`);
    } else entries.set(relative, `other ${mode} ${stat.mtimeMs}`);
  };
  walk('');
  return entries;
}

/** The differences between two trees, one line each, for an assertion message. */
export function treeChanges(before: Map<string, string>, after: Map<string, string>): string[] {
  const changes: string[] = [];
  for (const [path, was] of before) {
    const now = after.get(path);
    if (now === undefined) changes.push(`removed ${path || '.'}`);
    else if (now !== was) changes.push(`changed ${path || '.'}: ${was} → ${now}`);
  }
  for (const path of after.keys()) if (!before.has(path)) changes.push(`created ${path}`);
  return changes;
}

/**
 * What meshctl manages on a gateway, as text: every path under its directories (type, mode, link target), the
 * content hash of every file, the firewall, and each tunnel unit's invocation id (it changes on every restart).
 */
const GATEWAY_STATE_SCRIPT = `
for d in /etc/openvpn /etc/meshctl /etc/sysctl.d /etc/systemd/system; do
  if [ ! -e "$d" ]; then echo "absent $d"; continue; fi
  find "$d" -printf '%p %y %m %l\\n' | LC_ALL=C sort
  find "$d" -type f -exec sha256sum {} + | LC_ALL=C sort
done
iptables -S
sysctl net.ipv4.ip_forward
for u in $(systemctl list-units --all --plain --no-legend 'openvpn-server@*' | awk '{print $1}'); do
  echo "$u $(systemctl show -p InvocationID --value "$u") $(systemctl is-active "$u")"
done
`;

export async function gatewayState(lab: Lab, gateway: string): Promise<string> {
  const result = await lab.exec(gateway, ['sh', '-c', GATEWAY_STATE_SCRIPT]);
  if (result.code !== 0) throw new Error(`${gateway}: reading its state failed: ${result.stderr}`);
  return result.stdout;
}

export async function allGatewayStates(lab: Lab): Promise<Map<string, string>> {
  const states = new Map<string, string>();
  for (const gw of lab.gateways) states.set(gw.name, await gatewayState(lab, gw.name));
  return states;
}

/** A position in the gateway's journal; `sshdSince` reads what sshd logged after it. */
export async function journalCursor(lab: Lab, gateway: string): Promise<string> {
  const result = await lab.exec(gateway, ['journalctl', '-q', '-n', '0', '--show-cursor']);
  const cursor = /-- cursor: (\S+)/.exec(result.stdout)?.[1];
  if (!cursor) throw new Error(`${gateway}: no journal cursor in ${JSON.stringify(result.stdout)}`);
  return cursor;
}

/** Lines sshd logged since the cursor: every connection, even one closed before authentication, leaves one. */
export async function sshdSince(lab: Lab, gateway: string, cursor: string): Promise<string[]> {
  const result = await lab.exec(gateway, [
    'journalctl',
    '-q',
    '--no-pager',
    '-o',
    'cat',
    `--after-cursor=${cursor}`,
    '_COMM=sshd',
  ]);
  return result.stdout.split('\n').filter((line) => line.trim() !== '');
}

/**
 * Counts TCP connection attempts (SYN) to port 22 leaving the lab's ctl namespace, where meshctl runs: the
 * strictest "no SSH session was even opened" there is. Lives in the lab's own namespace only.
 */
export class SshSynCounter {
  private static readonly TAG = 'meshctl-hostile-syn';
  constructor(private readonly lab: Lab) {}

  private rule(op: '-I' | '-D'): string[] {
    return [
      'iptables',
      op,
      'OUTPUT',
      '-p',
      'tcp',
      '--dport',
      '22',
      '--syn',
      '-m',
      'comment',
      '--comment',
      SshSynCounter.TAG,
    ];
  }

  async install(): Promise<void> {
    const result = await this.lab.execCtl(this.rule('-I'));
    if (result.code !== 0) throw new Error(`cannot install the SYN counter: ${result.stderr}`);
  }

  async read(): Promise<number> {
    const result = await this.lab.execCtl(['iptables', '-L', 'OUTPUT', '-v', '-x', '-n']);
    const line = result.stdout.split('\n').find((l) => l.includes(SshSynCounter.TAG));
    if (!line) throw new Error(`the SYN counter rule is gone: ${result.stdout}`);
    return Number(line.trim().split(/\s+/)[0]);
  }
}

/** Runs meshctl's bin (`node dist/bin/meshctl.js`) inside the lab's ctl namespace, killable by pid (for the crash and lock cases). */
export function spawnMeshctl(
  lab: Lab,
  cli: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): {
  pid: number;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
} {
  const child = spawn('ip', ['netns', 'exec', lab.ctlNamespace, process.execPath, cli, ...args], {
    cwd: lab.dir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const done = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>((resolve) =>
    child.on('close', (code, signal) =>
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    ),
  );
  return { pid: child.pid!, done };
}

/** Polls until `check` holds or the time is up; true when it held. */
export async function waitUntil(check: () => boolean, timeoutMs: number, stepMs = 20): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
  return check();
}

/** Runs at most `limit` jobs at once, results in input order. */
export async function inParallel<T, R>(
  items: T[],
  limit: number,
  job: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await job(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
