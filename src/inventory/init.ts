import { constants, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';

/**
 * `meshctl init`: copies the commented example inventory shipped with meshctl into a new directory. It never
 * overwrites: an existing mesh.yml or lans/ means there is already an inventory there.
 */

/** The package root: the nearest ancestor with meshctl's package.json (works from src/ and from dist/src/). */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'meshctl') return dir;
    const parent = path.dirname(dir);
    if (parent === dir)
      throw new Error('cannot find the meshctl package root (package.json) above this module');
    dir = parent;
  }
}

export function exampleInventoryDir(): string {
  return path.join(packageRoot(), 'inventory');
}

/** Copies the example into targetDir (created if needed) and returns the files written, as targetDir/…. */
export function scaffoldInventory(targetDir: string): string[] {
  const existing = ['mesh.yml', 'lans'].filter((entry) => existsSync(path.join(targetDir, entry)));
  if (existing.length > 0) {
    throw new UsageError(
      `${targetDir} already holds an inventory (${existing.map((e) => path.join(targetDir, e)).join(', ')}); ` +
        'meshctl init never overwrites — choose a new directory, e.g. `meshctl init inventory-new`',
    );
  }
  const source = exampleInventoryDir();
  const files = [
    'mesh.yml',
    ...readdirSync(path.join(source, 'lans'))
      .filter((f) => f.endsWith('.yml'))
      .sort()
      .map((f) => path.join('lans', f)),
  ];
  mkdirSync(path.join(targetDir, 'lans'), { recursive: true });
  return files.map((relative) => {
    const target = path.join(targetDir, relative);
    // COPYFILE_EXCL: even a file that appeared since the check above is never overwritten.
    copyFileSync(path.join(source, relative), target, constants.COPYFILE_EXCL);
    return target;
  });
}
