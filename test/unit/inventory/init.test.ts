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

  it('shows routing: static and a commented-out bgp: block that validates, once uncommented, to the defaults', () => {
    const target = path.join(work, 'inventory');
    scaffoldInventory(target);
    const meshFile = path.join(target, 'mesh.yml');
    const text = readFileSync(meshFile, 'utf8');
    assert.match(text, /^routing: static$/m);
    assert.match(text, /^# bgp:$/m);
    const bgp = text
      .replace(/^routing: static$/m, 'routing: bgp')
      .replace(/^# (bgp:| {2}.*)$/gm, (_, line: string) => line);
    assert.match(bgp, /^bgp:\n {2}asn_base: 4200000000\n {2}bfd:\n {4}interval_ms: 300\n {4}multiplier: 3$/m);
    writeFileSync(meshFile, bgp);
    const { inventory, diagnostics } = loadInventory(target);
    assert.deepEqual(diagnostics, []);
    assert.equal(inventory?.mesh.routing, 'bgp');
    assert.deepEqual(inventory?.mesh.bgp, { asnBase: 4200000000, bfd: { intervalMs: 300, multiplier: 3 } });
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
