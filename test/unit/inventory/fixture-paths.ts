import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Diagnostic } from '../../../src/types.js';

/** The repository root, found from this file whether it runs from test/ or dist/test/. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('package.json not found above the test file');
    dir = parent;
  }
  return dir;
}

export const fixturesDir = (): string => path.join(repoRoot(), 'test', 'fixtures', 'inventory');

export const exampleDir = (): string => path.join(repoRoot(), 'inventory');

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
