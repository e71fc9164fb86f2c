import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { UsageError } from '../../../src/errors.js';
import { scaffoldInventory } from '../../../src/inventory/init.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { exampleDir } from './fixture-paths.js';

describe('scaffoldInventory', () => {
  let work: string;
  beforeEach(() => {
    work = mkdtempSync(path.join(tmpdir(), 'meshctl-init-'));
  });
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  it('copies the example into a new directory, which validates clean', () => {
    const target = path.join(work, 'inventory');
    const written = scaffoldInventory(target);
    const lans = readdirSync(path.join(exampleDir(), 'lans')).filter((f) => f.endsWith('.yml'));
    assert.deepEqual(
      written.sort(),
      [path.join(target, 'mesh.yml'), ...lans.map((f) => path.join(target, 'lans', f))].sort(),
    );
    for (const file of written) {
      const original = path.join(exampleDir(), path.relative(target, file));
      assert.equal(readFileSync(file, 'utf8'), readFileSync(original, 'utf8'));
    }
    const { inventory, diagnostics } = loadInventory(target);
    assert.deepEqual(diagnostics, []);
    assert.equal(inventory?.lans.length, lans.length);
  });

  it('scaffolds into an existing empty directory', () => {
    assert.ok(scaffoldInventory(work).length >= 5);
    assert.ok(existsSync(path.join(work, 'mesh.yml')));
  });

  for (const existing of ['mesh.yml', 'lans']) {
    it(`refuses a target that already has ${existing} and writes nothing`, () => {
      if (existing === 'lans') mkdirSync(path.join(work, 'lans'));
      else writeFileSync(path.join(work, 'mesh.yml'), 'name: mine\n');
      const before = readdirSync(work, { recursive: true }).sort();
      assert.throws(
        () => scaffoldInventory(work),
        (e: unknown) => e instanceof UsageError && /never overwrites/.test(e.message),
      );
      assert.deepEqual(readdirSync(work, { recursive: true }).sort(), before);
      if (existing === 'mesh.yml')
        assert.equal(readFileSync(path.join(work, 'mesh.yml'), 'utf8'), 'name: mine\n');
    });
  }
});
