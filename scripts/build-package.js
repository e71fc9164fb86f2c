#!/usr/bin/env node
// Runs on `npm pack` and `npm publish` (prepack): compiles src/ alone into dist/src/ and bundles it into
// dist/bin/ (scripts/bundle.js), the only compiled code the package ships ("files" in package.json). dist/src/
// and dist/bin/ are emptied first so a module deleted from src/ cannot ship from an earlier build.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
rmSync(join(root, 'dist', 'src'), { recursive: true, force: true });
let tsc;
try {
  tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
} catch {
  console.error('meshctl: packing compiles src/ with TypeScript, a dev dependency: run `npm install` first');
  process.exit(1);
}
const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
  cwd: root,
  stdio: 'inherit',
});
if (result.status !== 0) process.exit(result.status ?? 1);
const bundled = spawnSync(process.execPath, [join(root, 'scripts', 'bundle.js')], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(bundled.status ?? 1);
