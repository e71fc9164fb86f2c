import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Writes `content` to `path` atomically: a temporary file in the same directory, created with `mode` (set again
 * explicitly because the umask may have cleared bits), fsynced, then moved into place, then the directory fsynced.
 * An interrupted run leaves the old file or the new one, never half of either.
 *
 * `replace: false` publishes with link(2), which fails if `path` appeared meanwhile: key material is never
 * overwritten, even by a concurrent run.
 */
export async function writeFileAtomic(
  path: string,
  content: string,
  mode: number,
  { replace }: { replace: boolean },
): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', mode);
  try {
    await handle.chmod(mode);
    await handle.writeFile(content, 'utf8');
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(tmp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    if (replace) {
      await rename(tmp, path);
    } else {
      await link(tmp, path);
      await rm(tmp);
    }
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  await syncDirectory(dir);
}

/** Creates `path` (and parents) with mode 0700 exactly, whatever the umask. Existing directories are untouched. */
export async function ensurePrivateDirectory(path: string, mode: number): Promise<void> {
  const first = await mkdir(path, { recursive: true, mode });
  if (first === undefined) return;
  // mkdir returns the first directory it created: fix the mode of each created level down to `path`.
  let current = path;
  const created: string[] = [];
  while (current.length >= first.length) {
    created.push(current);
    if (current === first) break;
    current = dirname(current);
  }
  for (const dirPath of created) await chmod(dirPath, mode);
  await syncDirectory(dirname(first));
}

/** fsync a directory so a rename or unlink in it survives a crash. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Removes a file and makes the removal durable. Missing files are fine (a resumed run). */
export async function removeFileDurably(path: string): Promise<void> {
  await rm(path, { force: true });
  await syncDirectory(dirname(path));
}
