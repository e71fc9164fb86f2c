import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadInventory } from '../../../src/inventory/load.js';
import { assertFinding, type Expectation, fixturesDir } from './fixture-paths.js';

/** One bad inventory per rule under test/fixtures/inventory/bad/<case>/, each with the finding it must produce. */

describe('inventory validation: one bad fixture per rule', () => {
  const bad = path.join(fixturesDir(), 'bad');
  const cases = readdirSync(bad).sort();

  it('has at least 40 bad fixtures', () => {
    assert.ok(cases.length >= 40, `only ${cases.length} fixtures`);
  });

  for (const name of cases) {
    it(name, () => {
      // Relative, as an operator types it: diagnostics must show the same form.
      const dir = path.relative(process.cwd(), path.join(bad, name)) || '.';
      const expectation = JSON.parse(
        readFileSync(path.join(bad, name, 'expect.json'), 'utf8'),
      ) as Expectation;
      const { inventory, diagnostics } = loadInventory(dir, { homedir: '/home/operator' });
      assert.equal(inventory, undefined, 'an invalid inventory must not be returned');
      assertFinding(diagnostics, dir, expectation);
      for (const d of diagnostics) {
        assert.ok(
          d.message.length > 0 && d.fix.length > 0,
          `message and fix must be present: ${JSON.stringify(d)}`,
        );
      }
    });
  }
});
