import { PkiError } from '../errors.js';

/** One refusal: the file, what is wrong, the exact fix. Never any key bytes. */
export interface PkiProblem {
  file: string;
  problem: string;
  fix: string;
}

export function pkiErrorFrom(problems: PkiProblem[]): PkiError {
  const lines = problems.map((p) => `${p.file}: ${p.problem}. Fix: ${p.fix}`);
  const head = problems.length === 1 ? 'PKI refused' : `PKI refused (${problems.length} problems)`;
  return new PkiError(`${head}:\n  ${lines.join('\n  ')}`);
}
