import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeNewFilesAtomic } from '../../../src/pki/atomic-file.js';

describe('writeNewFilesAtomic', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'meshctl-atomic-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes every file whole, with its mode, and leaves no temporary behind', async () => {
    const files = Array.from({ length: 100 }, (_, i) => ({
      path: join(dir, `${i}.key`),
      content: `key ${i}\n`,
      mode: 0o600,
    }));
    await writeNewFilesAtomic(files, 8);
    for (const f of files) {
      assert.equal(readFileSync(f.path, 'utf8'), f.content);
      assert.equal(statSync(f.path).mode & 0o777, 0o600);
    }
    assert.equal(readdirSync(dir).length, 100, 'no .tmp file left');
  });

  it('never replaces a file that exists: it rejects, and the existing content stays', async () => {
    writeFileSync(join(dir, 'taken.key'), 'old\n');
    const files = [
      { path: join(dir, 'a.key'), content: 'a\n', mode: 0o600 },
      { path: join(dir, 'taken.key'), content: 'new\n', mode: 0o600 },
    ];
    await assert.rejects(writeNewFilesAtomic(files, 1), /EEXIST/);
    assert.equal(readFileSync(join(dir, 'taken.key'), 'utf8'), 'old\n');
    assert.deepEqual(readdirSync(dir).sort(), ['a.key', 'taken.key'], 'no .tmp file left');
  });
});
