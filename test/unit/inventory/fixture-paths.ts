import assert from 'node:assert/strict';
import path from 'node:path';
import type { Diagnostic } from '../../../src/types.js';
import { packageRoot } from '../../../src/version.js';

/** Fixtures stay in the source tree (tsc copies only .ts into dist/). */
export const fixturesDir = (): string => path.join(packageRoot(), 'test', 'fixtures', 'inventory');

export const exampleDir = (): string => path.join(packageRoot(), 'inventory');

/** Expectation for one bad fixture: an error diagnostic with this file (relative to the fixture), line, field… */
export interface Expectation {
  file: string;
  line: number | null;
  field: string;
  /** Absent when the finding has no value to show. */
  value?: unknown;
  messageIncludes: string;
}

function matches(d: Diagnostic, dir: string, e: Expectation): boolean {
  return (
    d.severity === 'error' &&
    d.file === path.join(dir, e.file) &&
    d.field === e.field &&
    (!('value' in e) || JSON.stringify(d.value) === JSON.stringify(e.value))
  );
}

function describeAll(ds: Diagnostic[]): string {
  return ds
    .map(
      (d) => `  ${d.file}:${d.line ?? '-'} [${d.field}] ${JSON.stringify(d.value)} ${d.message} — ${d.fix}`,
    )
    .join('\n');
}

/** Asserts an error diagnostic with the expected file, field and value exists, mentions the text, on the line. */
export function assertFinding(ds: Diagnostic[], dir: string, e: Expectation): void {
  const candidates = ds.filter((d) => matches(d, dir, e));
  assert.ok(
    candidates.length > 0,
    `no error for ${e.file} [${e.field}] ${JSON.stringify(e.value)}; got:\n${describeAll(ds)}`,
  );
  const mentioning = candidates.filter((d) => `${d.message} ${d.fix}`.includes(e.messageIncludes));
  assert.ok(
    mentioning.length > 0,
    `no message mentions ${JSON.stringify(e.messageIncludes)}; got:\n${describeAll(candidates)}`,
  );
  assert.equal(mentioning[0]!.line ?? null, e.line, `line of ${e.file} [${e.field}]`);
}
