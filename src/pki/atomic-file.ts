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
  { replace, syncDir = true }: { replace: boolean; syncDir?: boolean },
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
  if (syncDir) await syncDirectory(dir);
}

/**
 * `writeFileAtomic` for many new files (`replace: false`), `concurrency` at a time, each file fsynced before it is
 * published, and each directory fsynced ONCE after all its files: thousands of keys no longer wait for two fsyncs
 * apiece. Until it returns, nothing may depend on these files (a crash loses some of them whole, never half of
 * one). Rejects with the first error, after the writes already started have ended.
 */
export async function writeNewFilesAtomic(
  files: { path: string; content: string; mode: number }[],
  concurrency = 32,
): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async () => {
    while (next < files.length && errors.length === 0) {
      const file = files[next++]!;
      try {
        await writeFileAtomic(file.path, file.content, file.mode, { replace: false, syncDir: false });
      } catch (error) {
        errors.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
  // the directories of the files that did land, also when one failed: they must not be lost silently
  for (const dir of new Set(files.map((f) => dirname(f.path)))) await syncDirectory(dir);
  if (errors.length > 0) throw errors[0];
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
