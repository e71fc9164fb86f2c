import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAB_ROOT } from './paths.js';
import type { ProcessIdentity } from './process.js';
import type { LabSpec } from './spec.js';

/**
 * The state file: everything a lab created, recorded *before* it is created, so that a teardown from this file
 * alone (by the same process, a later `down`, or the reaper after a crash) removes exactly what the lab made and
 * touches nothing else.
 */
export interface LabState {
  version: 1;
  name: string;
  dir: string;
  /** The process that owns the lab; when it is gone the reaper tears the lab down. Null: kept until `down`. */
  owner: ProcessIdentity | null;
  spec: LabSpec;
  /** Image path per gateway. */
  images: Record<string, string>;
  /** The local package folder (of its release) per gateway without OpenVPN. */
  repos?: Record<string, string>;
  /** Network namespace names, in creation order. */
  netns: string[];
  /** Cgroup directories (absolute), one per gateway and hierarchy, plus the lab's parent directories. */
  cgroups: string[];
  /** The systemd-nspawn process of each running gateway. */
  containers: Record<string, ProcessIdentity>;
}

export function labDir(name: string): string {
  return join(LAB_ROOT, name);
}

export function statePath(name: string): string {
  return join(labDir(name), 'state.json');
}

/** Atomic: a reader never sees half a file, and a crash leaves the previous complete version. */
export function writeState(state: LabState): void {
  mkdirSync(state.dir, { recursive: true, mode: 0o700 });
  const tmp = `${statePath(state.name)}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, statePath(state.name));
}

export function readState(name: string): LabState | undefined {
  const path = statePath(name);
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as LabState;
}

/** Every lab with a readable state file; unreadable ones are reported through `warn` and left alone. */
export function listStates(warn: (line: string) => void = () => {}): LabState[] {
  if (!existsSync(LAB_ROOT)) return [];
  const states: LabState[] = [];
  for (const entry of readdirSync(LAB_ROOT).sort()) {
    try {
      const state = readState(entry);
      if (state) states.push(state);
    } catch (error) {
      warn(
        `${statePath(entry)} is unreadable (${(error as Error).message}); ` +
          `inspect it, then remove that folder by hand if the lab is gone`,
      );
    }
  }
  return states;
}
