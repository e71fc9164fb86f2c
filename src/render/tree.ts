import { chmod, lstat, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
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
  const root = resolve(outDir);
  for (const [name, state] of states) checkState(name, state);
  await claimOutDir(outDir, root);

  const written: string[] = [];
  for (const name of [...states.keys()].sort()) {
    const state = states.get(name)!;
    const lanDir = join(root, name);
    await mkdir(lanDir, { mode: 0o700 });
    await chmod(lanDir, 0o700);
    const entries = [
      ...state.files.map((f) => ({ path: f.path, content: f.content, mode: f.mode })),
      { path: state.manifestPath, content: manifestText(state.manifest), mode: MODES.public },
    ];
    for (const entry of entries) {
      const target = join(lanDir, entry.path.slice(1));
      await mkdir(dirname(target), { recursive: true, mode: MODES.publicDir });
      // created with its final mode (a key is never readable by others, even for a moment), then chmod
      // because the umask may have cleared bits such as the script's execute bits
      await writeFile(target, entry.content, { mode: entry.mode, flag: 'wx' });
      await chmod(target, entry.mode);
      written.push(target);
    }
  }
  return written;
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
