#!/usr/bin/env node
// Part of `npm run build` and of the prepack, after tsc: links the compiled CLI (dist/src/cli.js) and the
// dependencies it imports into dist/bin/, the `meshctl` bin. Start-up is dominated by Node's ES module loader
// resolving and reading files one by one (about 90 for `validate`, 430 for `apply`); a few larger files load
// faster. Code splitting keeps each command's modules in chunks of their own, imported only when the command
// runs, as dist/src/cli.js does. dist/src/ stays as tsc wrote it: the tests import its modules.
//
// ssh2 (and node-ssh, which requires it) are left out of the bundle and loaded from node_modules: ssh2 loads
// optional native bindings (its crypto binding, cpu-features) by paths relative to its own files.
// Files read at run time (package.json, roles/, src/**/*.sh, inventory/) are found from the package root,
// which src/version.ts and src/inventory/init.ts find by walking up from the module: dist/bin/ works as
// dist/src/ does.
import { chmodSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const outdir = join(root, 'dist', 'bin');
const entry = join(root, 'dist', 'src', 'cli.js');
const EXTERNAL = ['ssh2', 'node-ssh', 'cpu-features'];

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  console.error('meshctl: the build bundles the CLI with esbuild, a dev dependency: run `npm install` first');
  process.exit(1);
}

// a chunk removed from the build must not stay behind (nor ship)
rmSync(outdir, { recursive: true, force: true });
const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: { meshctl: entry },
  outdir,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  // bundled CommonJS code (liquidjs' node build) calls require() for Node's built-ins; an ES module has none
  banner: {
    js: "import { createRequire as __meshctlCreateRequire } from 'node:module'; const require = __meshctlCreateRequire(import.meta.url);",
  },
  // the copyright and licence comments of bundled code (`/*!`, `@license`) stay, at the end of each file
  legalComments: 'eof',
  metafile: true,
  logLevel: 'warning',
});

// src/cli.ts runs main() only when it is the process's main module (import.meta.url === argv[1]): its code
// must stay in the entry file, not move to a shared chunk
const entryOut = join(outdir, 'meshctl.js');
const inputs = Object.keys(result.metafile.outputs[relative(root, entryOut)]?.inputs ?? {});
if (!inputs.includes(relative(root, entry))) {
  console.error(
    `meshctl: ${relative(root, entry)} is not in ${relative(root, entryOut)}: the bin would do nothing`,
  );
  process.exit(1);
}
chmodSync(entryOut, 0o755);

// the bundle carries copies of its dependencies' code: their licences go with it
const packages = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
  if (m) packages.add(m[1]);
}
const notices = [...packages].sort().map((dir) => {
  const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
  // LICENSE, LICENCE.md, LICENSE-MIT.txt, COPYING, NOTICE, CopyrightNotice.txt: every one of them
  const files = readdirSync(join(root, dir))
    .filter((f) => /^(licen[cs]e|copying|notice|copyrightnotice)([-._]|$)/i.test(f))
    .sort();
  const text =
    files.length > 0
      ? files.map((f) => readFileSync(join(root, dir, f), 'utf8').trim()).join('\n\n')
      : `License: ${pkg.license} (the package ships no licence file; its notices are kept in the bundled code)`;
  return `${pkg.name}@${pkg.version} (${pkg.license ?? 'see below'})\n\n${text}\n`;
});
writeFileSync(
  join(outdir, 'THIRD-PARTY-LICENSES.txt'),
  `The files in this directory include code of these packages, under their own licences.\n\n${notices.join(`\n${'-'.repeat(78)}\n\n`)}`,
);
