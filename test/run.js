#!/usr/bin/env node
// The test command's runner: mocha over the compiled tests, in order unit → integration → e2e, ending with the
// line `N passed, N failed` that CI reads. Skipped tests (the lab needs root) are counted and announced loudly.
//   node test/run.js [unit|integration|e2e ...] [--grep PATTERN]
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Mocha from 'mocha';

const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const grepAt = args.indexOf('--grep');
const grep = grepAt >= 0 ? args[grepAt + 1] : undefined;
const suites = args.filter((a, i) => !a.startsWith('--') && (grepAt < 0 || i !== grepAt + 1));
const selected = suites.length > 0 ? suites : ['unit', 'integration', 'e2e'];

function testFiles(dir) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.sort().flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return testFiles(path);
    return name.endsWith('.test.js') ? [path] : [];
  });
}

const mocha = new Mocha({ reporter: 'spec', timeout: 20000, ...(grep ? { grep } : {}) });
for (const suite of selected)
  for (const file of testFiles(join(root, 'dist', 'test', suite))) mocha.addFile(file);

await mocha.loadFilesAsync();
const runner = mocha.run();
const skipped = [];
runner.on('pending', (test) => skipped.push(test.fullTitle()));
runner.on('end', () => {
  const { passes = 0, failures = 0 } = runner.stats ?? {};
  if (skipped.length > 0) {
    const bar = '!'.repeat(78);
    console.log(`\n${bar}\n!! ${skipped.length} test(s) SKIPPED — they did not run and prove nothing:`);
    for (const title of skipped) console.log(`!!   - ${title}`);
    console.log(`${bar}`);
  }
  console.log(`${skipped.length} skipped`);
  console.log(`${passes} passed, ${failures} failed`);
  process.exitCode = failures > 0 ? 1 : 0;
});
