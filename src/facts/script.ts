import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../version.js';

/**
 * Remote shell scripts live as plain .sh files in the source tree so they can be read, linted and run on their
 * own. tsc does not copy them into dist/, so they are found from the package root, not next to this module.
 */
export function readPackageScript(relativePath: string): string {
  const path = join(packageRoot(), relativePath);
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(
      `meshctl: cannot read its remote script ${relativePath} (${(error as Error).message}); the package is ` +
        'incomplete: reinstall meshctl',
    );
  }
}
