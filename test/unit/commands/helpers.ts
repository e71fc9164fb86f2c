import { createOutput, type Output } from '../../../src/output.js';

/** An Output whose lines are kept for assertions. */
export function capture(): { out: Output; stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const out = createOutput({
    color: false,
    stdout: { write: (s: string) => stdout.push(s), isTTY: false },
    stderr: { write: (s: string) => stderr.push(s) },
  });
  return { out, stdout, stderr };
}
