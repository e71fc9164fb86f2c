import { readFileSync } from 'node:fs';

/**
 * A process as the lab recorded it: its PID plus its start time, so a PID that the kernel reused for someone
 * else's process is never mistaken for ours (and never signalled).
 */
export interface ProcessIdentity {
  pid: number;
  /** Field 22 of /proc/PID/stat: clock ticks after boot. */
  start: number;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces and parentheses: split after its last ')'
    return stat
      .slice(stat.lastIndexOf(')') + 2)
      .trim()
      .split(' ');
  } catch {
    return undefined;
  }
}

/** The identity of a running process, or undefined when it is gone. */
export function identify(pid: number): ProcessIdentity | undefined {
  const fields = statFields(pid);
  // after the name, field 3 (state) is at index 0, so field 22 (starttime) is at index 19
  return fields ? { pid, start: Number(fields[19]) } : undefined;
}

/** True while the recorded process still runs (same PID and same start time), and is not a zombie. */
export function stillRunning(process: ProcessIdentity): boolean {
  const fields = statFields(process.pid);
  return fields !== undefined && Number(fields[19]) === process.start && fields[0] !== 'Z';
}

/** Direct children of a process. */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until `done()` is true or `ms` elapse; returns whether it became true. */
export async function waitFor(done: () => boolean, ms: number, every = 50): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!done()) {
    if (performance.now() > deadline) return false;
    await sleep(every);
  }
  return true;
}
