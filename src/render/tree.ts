import { chmodSync, mkdirSync, readdirSync, renameSync, rmdirSync, writeFileSync } from 'node:fs';
import { lstat, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, posix, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { LAN_NAME_PATTERN, LAN_NAME_SOURCE, MODES } from '../gateway/layout.js';
import type { DesiredState } from '../types.js';
import { manifestText } from './render.js';

/**
 * `meshctl render --out DIR`: every gateway's files as a tree `DIR/<lan>/<absolute path on the gateway>`, with
 * the modes they get on the gateway, plus each manifest. `DIR/<lan>` is 0700 because it holds private keys.
 *
 * DIR is meshctl's once it carries the marker file: a later render replaces the whole previous output (so files
 * of removed LANs or tunnels do not linger). A non-empty directory without the marker is refused, so a typo in
 * --out can never delete someone's files.
 */

export const RENDER_MARKER = '.meshctl-render';
const MARKER_TEXT =
  'Written by `meshctl render`. Everything in this directory is replaced on the next render.\n';

export async function writeRenderTree(outDir: string, states: Map<string, DesiredState>): Promise<string[]> {
  for (const [name, state] of states) checkState(name, state);
  const tree = await openRenderTree(outDir, [...states.keys()]);
  const written: string[] = [];
  try {
    for (const name of [...states.keys()].sort()) written.push(...tree.write(name, states.get(name)!));
  } catch (error) {
    await tree.abort();
    throw error;
  }
  await tree.commit();
  return written;
}

/**
 * An --out directory being rendered: gateways are written one at a time into a staging directory inside it, and
 * only `commit` replaces the previous render's output with them, so a render that fails half-way (a template
 * error, a gateway refused) leaves the previous output as it was.
 */
export interface RenderTree {
  /** Writes one gateway's files and manifest; returns the paths they have once committed (DIR/<name>/…). */
  write(name: string, state: DesiredState): string[];
  /** Replaces the previous output (and the files of LANs no longer rendered) with what was written. */
  commit(): Promise<void>;
  /** Removes what was written; the previous output stays. */
  abort(): Promise<void>;
}

/** Where a render writes before its commit: inside --out, so the commit only renames. */
const STAGING = '.meshctl-render-staging';

/**
 * Opens --out for the gateways `names` (checked first, and --out must be absent, empty or a previous render's
 * output: nothing is written otherwise). Writing is synchronous: tens of thousands of small files, one after the
 * other, cost a system call each instead of a round trip through libuv's thread pool, and each directory is made
 * once.
 */
export async function openRenderTree(outDir: string, names: string[]): Promise<RenderTree> {
  for (const name of names) checkName(name);
  const root = resolve(outDir);
  await checkOutDir(outDir);
  await mkdir(root, { recursive: true, mode: 0o700 });
  const staging = join(root, STAGING);
  // a render killed before its commit left this behind
  await rm(staging, { recursive: true, force: true });
  mkdirSync(staging, { mode: 0o700 });
  const made = new Set<string>();
  const dir = (path: string, mode: number) => {
    if (made.has(path)) return;
    mkdirSync(path, { recursive: true, mode });
    made.add(path);
  };
  return {
    write(name, state) {
      checkState(name, state);
      const lanDir = join(staging, name);
      mkdirSync(lanDir, { mode: 0o700 });
      chmodSync(lanDir, 0o700);
      made.add(lanDir);
      const entries = [
        ...state.files.map((f) => ({ path: f.path, content: f.content, mode: f.mode })),
        { path: state.manifestPath, content: manifestText(state.manifest), mode: MODES.public },
      ];
      const written: string[] = [];
      for (const entry of entries) {
        const target = join(lanDir, entry.path.slice(1));
        dir(dirname(target), MODES.publicDir);
        // created with its final mode (a key is never readable by others, even for a moment), then chmod
        // because the umask may have cleared bits such as the script's execute bits
        writeFileSync(target, entry.content, { mode: entry.mode, flag: 'wx' });
        chmodSync(target, entry.mode);
        written.push(join(root, name, entry.path.slice(1)));
      }
      return written;
    },
    async commit() {
      await claimOutDir(outDir, root);
      for (const entry of readdirSync(staging)) renameSync(join(staging, entry), join(root, entry));
      rmdirSync(staging);
    },
    async abort() {
      await rm(staging, { recursive: true, force: true });
    },
  };
}

function checkName(name: string): void {
  if (!LAN_NAME_PATTERN.test(name)) {
    throw new UsageError(
      `refusing to render gateway ${JSON.stringify(name)}: not a valid LAN name (^${LAN_NAME_SOURCE}$); fix the LAN's file name`,
    );
  }
}

/** Names and paths go into the file system: check them again, whoever built the state. */
function checkState(name: string, state: DesiredState): void {
  if (!LAN_NAME_PATTERN.test(name) || state.gateway.name !== name) {
    throw new UsageError(
      `refusing to render gateway ${JSON.stringify(name)}: not a valid LAN name (^${LAN_NAME_SOURCE}$) or not the state's own LAN (${state.gateway.name}); fix the LAN's file name`,
    );
  }
  for (const path of [...state.files.map((f) => f.path), state.manifestPath]) {
    if (!posix.isAbsolute(path) || posix.normalize(path) !== path || path.split('/').includes('..')) {
      throw new UsageError(
        `refusing to render ${JSON.stringify(path)} for gateway ${name}: gateway paths must be absolute and normalized`,
      );
    }
  }
}

/**
 * Whether --out may be written (absent, empty, or a previous render's output), without writing anything: render
 * asks before it creates the PKI, so a wrong --out costs nothing. Returns its entries (none when absent).
 */
export async function checkOutDir(outDir: string): Promise<string[] | undefined> {
  const root = resolve(outDir);
  let entries: string[];
  try {
    const stat = await lstat(root);
    if (!stat.isDirectory()) {
      throw new UsageError(`--out ${outDir} exists and is not a directory: choose a new or empty directory`);
    }
    entries = await readdir(root);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return undefined;
  }
  // a render's own staging directory (one killed before its commit) does not make --out foreign
  entries = entries.filter((entry) => entry !== STAGING);
  if (entries.length > 0) {
    const marker = await lstat(join(root, RENDER_MARKER)).catch(() => undefined);
    if (!marker?.isFile()) {
      throw new UsageError(
        `--out ${outDir} is not empty and was not written by meshctl render (no ${RENDER_MARKER} file): choose a new or empty directory, or a previous render's output`,
      );
    }
  }
  return entries;
}

async function claimOutDir(outDir: string, root: string): Promise<void> {
  // asked again: the directory may have changed since render first checked it
  const entries = await checkOutDir(outDir);
  if (entries === undefined) await mkdir(root, { recursive: true, mode: 0o700 });
  for (const entry of entries ?? []) {
    if (entry === RENDER_MARKER || entry === STAGING) continue;
    const victim = join(root, entry);
    // readdir names cannot escape root, but be explicit: only direct children are removed
    if (!isAbsolute(victim) || dirname(normalize(victim)) !== root) continue;
    await rm(victim, { recursive: true, force: true });
  }
  await writeFile(join(root, RENDER_MARKER), MARKER_TEXT, { mode: 0o644 });
}
