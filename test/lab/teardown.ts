import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { hierarchies, removeCgroup } from './cgroup.js';
import { emptyCgroup, stopContainer } from './container.js';
import { mountsUnder, removeTree } from './mounts.js';
import { deleteNamespace } from './netns.js';
import { stillRunning } from './process.js';
import { LabError } from './run.js';
import { names } from './spec.js';
import { type LabState, labDir, listStates, readState } from './state.js';

/**
 * Tearing a lab down from its state file alone: the owner process, a later `down`, or the reaper after a crash
 * all run this. It removes only what the state file lists, then checks that nothing with the lab's prefix is left.
 */

type Log = (line: string) => void;

export async function teardown(state: LabState, log: Log = () => {}, graceMs = 1500): Promise<void> {
  const started = performance.now();
  const problems: string[] = [];
  const attempt = async (what: string, step: () => Promise<void> | void) => {
    try {
      await step();
    } catch (error) {
      problems.push(`${what}: ${(error as Error).message}`);
    }
  };
  // containers first, all at once: each halts in about a second
  await Promise.all(
    Object.entries(state.containers).map(([gw, nspawn]) =>
      attempt(`stopping gateway ${gw}`, () => stopContainer(nspawn, [], graceMs)),
    ),
  );
  // then whatever is still in the lab's cgroups (only ever processes the lab started), deepest folder first
  const cgroups = [...state.cgroups].sort((a, b) => b.length - a.length);
  for (const dir of cgroups) await attempt(`emptying ${dir}`, () => emptyCgroup(dir));
  for (const dir of cgroups) await attempt(`removing ${dir}`, () => removeCgroup(dir));
  for (const ns of [...state.netns].reverse())
    await attempt(`deleting namespace ${ns}`, () => deleteNamespace(ns));
  await attempt(`removing ${state.dir}`, () => removeTree(state.dir));
  const left = leftovers(state.name, state);
  if (problems.length > 0 || left.length > 0) {
    throw new LabError(
      `tearing down lab '${state.name}' left things behind:\n  ${[...problems, ...left].join('\n  ')}\n` +
        `run \`npm run lab -- down ${state.name}\` again; if it persists, remove them by hand`,
    );
  }
  log(`lab '${state.name}' torn down in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/**
 * Everything of lab `name` still present on the machine: namespaces with its prefix, its cgroup folders, mounts
 * under its folder, recorded processes still alive. Empty after a clean teardown.
 */
export function leftovers(name: string, state?: LabState): string[] {
  const found: string[] = [];
  if (existsSync('/run/netns')) {
    for (const ns of readdirSync('/run/netns')) {
      if (ns.startsWith(`${name}-`)) found.push(`network namespace ${ns}`);
    }
  }
  for (const h of hierarchies()) {
    const dir = join(h, names.cgroup(name));
    if (existsSync(dir)) found.push(`cgroup folder ${dir}`);
  }
  for (const point of mountsUnder(labDir(name))) found.push(`mount ${point}`);
  for (const [gw, nspawn] of Object.entries(state?.containers ?? {})) {
    if (stillRunning(nspawn)) found.push(`process ${nspawn.pid} (systemd-nspawn of ${gw})`);
  }
  return found;
}

/** Tears down every lab whose owner process is gone (a crashed test run); kept labs are left alone. */
export async function reapOrphans(log: Log = () => {}): Promise<string[]> {
  const reaped: string[] = [];
  for (const state of listStates(log)) {
    if (state.owner && !stillRunning(state.owner)) {
      log(`lab '${state.name}' outlived its owner (PID ${state.owner.pid}): tearing it down`);
      await teardown(state, log);
      reaped.push(state.name);
    }
  }
  return reaped;
}

export async function downByName(name: string, log: Log = () => {}): Promise<void> {
  const state = readState(name);
  if (!state) {
    const running = listStates().map((s) => s.name);
    throw new LabError(
      `no lab named '${name}' (no ${labDir(name)}/state.json); ` +
        (running.length ? `running labs: ${running.join(', ')}` : 'no lab is running'),
    );
  }
  await teardown(state, log);
}

/** Tears down every lab on this machine, kept or owned. */
export async function downAll(log: Log = () => {}): Promise<string[]> {
  const states = listStates(log);
  for (const state of states) await teardown(state, log);
  return states.map((s) => s.name);
}
