import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
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

/** Never follows a symlink; never waits on a FIFO someone put in place of a key. */
const READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/**
 * Reads a regular file (symlinks refused: a key must be where it looks). Secrets must be 0600 or stricter.
 * The type and mode are those of the file actually read (fstat of the open descriptor, so nothing can be swapped
 * in between). Synchronous on purpose: a big mesh has one tls-crypt key per pair (11,175 for 150 LANs), and two
 * trips through libuv's thread pool per small file cost more than the reads themselves.
 */
export function readPlainFile(file: string, secret: boolean, problems: PkiProblem[]): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, READ_FLAGS);
  } catch (error) {
    // O_NOFOLLOW: a symlink (dangling or not) fails with ELOOP
    if ((error as NodeJS.ErrnoException).code !== 'ELOOP')
      return ignoreMissing(error as NodeJS.ErrnoException);
    notPlain(file, problems);
    return undefined;
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) {
      notPlain(file, problems);
      return undefined;
    }
    if (secret && (info.mode & 0o077) !== 0) {
      problems.push({
        file,
        problem: `is a secret readable or writable by group or others (mode ${octal(info.mode)})`,
        fix: `chmod 600 ${file}`,
      });
    }
    return readAll(fd, info.size);
  } finally {
    closeSync(fd);
  }
}

function notPlain(file: string, problems: PkiProblem[]): void {
  problems.push({
    file,
    problem: 'is not a regular file (symlinks and other kinds are refused)',
    fix: `replace ${file} with the file itself`,
  });
}

/** The whole file as UTF-8, also when it grew after fstat. */
function readAll(fd: number, size: number): string {
  let buffer = Buffer.allocUnsafe(size + 1);
  let length = 0;
  for (;;) {
    if (length === buffer.length) buffer = Buffer.concat([buffer, Buffer.allocUnsafe(buffer.length)]);
    const n = readSync(fd, buffer, length, buffer.length - length, null);
    if (n === 0) return buffer.toString('utf8', 0, length);
    length += n;
  }
}

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8)}`;
}

export function ignoreMissing(error: NodeJS.ErrnoException): undefined {
  if (error.code === 'ENOENT') return undefined;
  throw error;
}
