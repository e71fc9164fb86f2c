import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { processesIn, removeCgroup } from './cgroup.js';
import { childrenOf, identify, type ProcessIdentity, sleep, stillRunning, waitFor } from './process.js';
import { LabError } from './run.js';

/**
 * Booting and stopping one gateway: Debian with real systemd under systemd-nspawn, using the fixes LAB.md found
 * for this kind of machine (no system bus, /run not a tmpfs, hybrid cgroups, PID 1 not systemd).
 */

export interface BootOptions {
  machine: string;
  hostname: string;
  image: string;
  netnsPath: string;
  /** The gateway's own cgroup directories (one per hierarchy); the booting shell moves itself into each. */
  cgroups: string[];
  /** [file on the machine, path in the container], bound read-only. */
  binds: [string, string][];
  /** A persistent upper layer; without it the container gets a throw-away overlay (--volatile=overlay). */
  persistentUpper?: string;
  /** The container's console output goes here (read when boot fails). */
  consoleLog: string;
}

/**
 * Runs in a private mount namespace (unshare): a fresh tmpfs on /run/systemd keeps nspawn's propagation folder off
 * the machine's /run; then the shell joins each cgroup given before `--` and becomes systemd-nspawn.
 */
const BOOT_SCRIPT = [
  'set -e',
  'while [ "$1" != -- ]; do echo $$ > "$1/cgroup.procs"; shift; done',
  'shift',
  'mkdir -p /run/systemd',
  'mount -t tmpfs -o mode=0755 tmpfs /run/systemd',
  'exec "$@"',
].join('\n');

export function nspawnArgs(o: BootOptions): string[] {
  return [
    'systemd-nspawn',
    '-q',
    '-b',
    '-D',
    o.image,
    o.persistentUpper ? `--overlay=${o.image}:${o.persistentUpper}:/` : '--volatile=overlay',
    '--register=no',
    '--keep-unit',
    `--machine=${o.machine}`,
    `--hostname=${o.hostname}`,
    `--network-namespace-path=${o.netnsPath}`,
    // with only the path, iptables and net sysctls are refused inside; together they grant CAP_NET_ADMIN
    '--private-network',
    '--console=pipe',
    // no DNS in the lab: without resolv.conf lookups fail at once instead of timing out on the machine's servers
    '--resolv-conf=delete',
    ...o.binds.map(([from, to]) => `--bind-ro=${from}:${to}`),
  ];
}

/** Starts the container in its own session (a Ctrl-C in the terminal reaches us, not it); returns nspawn's identity. */
export function bootContainer(o: BootOptions): ProcessIdentity {
  const log = openSync(o.consoleLog, 'a', 0o600);
  try {
    const child = spawn(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        BOOT_SCRIPT,
        'sh',
        ...o.cgroups,
        '--',
        ...nspawnArgs(o),
      ],
      // a pure cgroup2 hierarchy inside, for every release: sid's systemd does not start without one (it exits
      // 255 before printing anything) and trixie's runs tainted; nspawn then splits the gateway's cgroup into
      // payload/ and supervisor/, which teardown removes depth-first
      {
        detached: true,
        stdio: ['ignore', log, log],
        env: { ...process.env, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: '1' },
      },
    );
    child.on('error', () => {});
    child.unref();
    const identity = child.pid === undefined ? undefined : identify(child.pid);
    if (!identity) {
      throw new LabError(`systemd-nspawn for ${o.machine} did not start: see ${o.consoleLog}`);
    }
    return identity;
  } finally {
    closeSync(log);
  }
}

/** The container's PID 1 as seen from the machine: the descendant of nspawn whose innermost PID is 1. */
export function leaderOf(nspawn: ProcessIdentity): number | undefined {
  const queue = childrenOf(nspawn.pid);
  while (queue.length > 0) {
    const pid = queue.shift()!;
    try {
      const nspid = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]?.split(/\s+/);
      if (nspid && nspid.length > 1 && nspid[nspid.length - 1] === '1') return pid;
    } catch {
      continue;
    }
    queue.push(...childrenOf(pid));
  }
  return undefined;
}

/** True when something listens on TCP `port` in the network namespace of `pid` (read from /proc, no process). */
export function listensOn(pid: number, port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const table of ['tcp', 'tcp6']) {
    try {
      for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
        const fields = line.trim().split(/\s+/);
        if (fields[1]?.endsWith(hex) && fields[3] === '0A') return true;
      }
    } catch {
      // the process is gone or not up yet
    }
  }
  return false;
}

export function consoleTail(path: string, lines = 15): string {
  if (!existsSync(path)) return '(no console output)';
  const text = readFileSync(path, 'utf8').trim();
  return text ? text.split('\n').slice(-lines).join('\n') : '(no console output)';
}

/** Waits until the container's sshd listens; fails early (with the console's last lines) if nspawn exits. */
export async function waitForSshd(
  nspawn: ProcessIdentity,
  o: BootOptions,
  aborted: () => boolean = () => false,
  timeoutMs = 60_000,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (aborted()) throw new LabError(`gateway ${o.hostname}: boot abandoned, the lab is being torn down`);
    if (!stillRunning(nspawn)) {
      throw new LabError(
        `gateway ${o.hostname} stopped while booting; its console said:\n${consoleTail(o.consoleLog)}\n` +
          '(check that the image is complete: delete it under the cache folder to rebuild it)',
      );
    }
    const leader = leaderOf(nspawn);
    if (leader !== undefined && listensOn(leader, 22)) return leader;
    if (performance.now() > deadline) {
      throw new LabError(
        `gateway ${o.hostname}: sshd not listening after ${timeoutMs / 1000} s; console:\n${consoleTail(o.consoleLog)}`,
      );
    }
    await sleep(50);
  }
}

/**
 * Stops a container: SIGTERM asks systemd inside to halt; a second SIGTERM makes nspawn terminate at once;
 * SIGKILL is the last resort. Then anything still in the gateway's cgroups (all of it started by this
 * container) is killed, and the cgroups are removed.
 */
export async function stopContainer(nspawn: ProcessIdentity | undefined, cgroups: string[], graceMs: number) {
  if (nspawn && stillRunning(nspawn)) {
    process.kill(nspawn.pid, 'SIGTERM');
    if (!(await waitFor(() => !stillRunning(nspawn), graceMs))) {
      if (stillRunning(nspawn)) process.kill(nspawn.pid, 'SIGTERM');
      if (!(await waitFor(() => !stillRunning(nspawn), 3000)) && stillRunning(nspawn)) {
        process.kill(nspawn.pid, 'SIGKILL');
        await waitFor(() => !stillRunning(nspawn), 3000);
      }
    }
  }
  for (const dir of cgroups) await emptyCgroup(dir);
  for (const dir of cgroups) removeCgroup(dir);
}

/** Kills every process left in a cgroup of ours (cgroup.kill where the kernel has it) and waits until it is empty. */
export async function emptyCgroup(dir: string): Promise<void> {
  if (!existsSync(dir) || processesIn(dir).length === 0) return;
  if (existsSync(`${dir}/cgroup.kill`)) {
    writeFileSync(`${dir}/cgroup.kill`, '1');
  } else {
    for (const pid of processesIn(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  if (!(await waitFor(() => processesIn(dir).length === 0, 5000))) {
    throw new LabError(
      `processes ${processesIn(dir).join(', ')} in ${dir} survived SIGKILL; inspect them with ps`,
    );
  }
}
