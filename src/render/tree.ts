import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
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
  for (const name of [...states.keys()].sort()) written.push(...tree.write(name, states.get(name)!));
  return written;
}

/** A claimed --out directory that takes one gateway's files at a time. */
export interface RenderTree {
  /** Writes one gateway's files and manifest under DIR/<name>/; returns their paths. */
  write(name: string, state: DesiredState): string[];
}

/**
 * Claims --out for the gateways `names` (checked first: nothing is removed for a name that cannot be written),
 * replacing a previous render's output. Writing is synchronous: tens of thousands of small files, one after the
 * other, cost a system call each instead of a round trip through libuv's thread pool, and each directory is made
 * once.
 */
export async function openRenderTree(outDir: string, names: string[]): Promise<RenderTree> {
  for (const name of names) checkName(name);
  const root = resolve(outDir);
  await claimOutDir(outDir, root);
  const made = new Set<string>();
  const dir = (path: string, mode: number) => {
    if (made.has(path)) return;
    mkdirSync(path, { recursive: true, mode });
    made.add(path);
  };
  return {
    write(name, state) {
      checkState(name, state);
      const lanDir = join(root, name);
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
        written.push(target);
      }
      return written;
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
    if (entry === RENDER_MARKER) continue;
    const victim = join(root, entry);
    // readdir names cannot escape root, but be explicit: only direct children are removed
    if (!isAbsolute(victim) || dirname(normalize(victim)) !== root) continue;
    await rm(victim, { recursive: true, force: true });
  }
  await writeFile(join(root, RENDER_MARKER), MARKER_TEXT, { mode: 0o644 });
}
