import { lstatSync, readFileSync } from 'node:fs';
import type { PkiProblem } from './problems.js';

export function checkDirMode(dir: string, mode: number, problems: PkiProblem[]): void {
  if ((mode & 0o077) !== 0) {
    problems.push({
      file: dir,
      problem: `is accessible by group or others (mode ${octal(mode)}); it holds private keys`,
      fix: `chmod 700 ${dir}`,
    });
  }
}

/**
 * Reads a regular file (symlinks refused: a key must be where it looks). Secrets must be 0600 or stricter.
 * Synchronous on purpose: a big mesh has one tls-crypt key per pair (11,175 for 150 LANs), and two trips through
 * libuv's thread pool per small file cost more than the reads themselves.
 */
export function readPlainFile(file: string, secret: boolean, problems: PkiProblem[]): string | undefined {
  let info: ReturnType<typeof lstatSync>;
  try {
    info = lstatSync(file);
  } catch (error) {
    return ignoreMissing(error as NodeJS.ErrnoException);
  }
  if (!info.isFile()) {
    problems.push({
      file,
      problem: 'is not a regular file (symlinks and other kinds are refused)',
      fix: `replace ${file} with the file itself`,
    });
    return undefined;
  }
  if (secret && (info.mode & 0o077) !== 0) {
    problems.push({
      file,
      problem: `is a secret readable or writable by group or others (mode ${octal(info.mode)})`,
      fix: `chmod 600 ${file}`,
    });
  }
  return readFileSync(file, 'utf8');
}

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8)}`;
}

export function ignoreMissing(error: NodeJS.ErrnoException): undefined {
  if (error.code === 'ENOENT') return undefined;
  throw error;
}
