import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/version.js';

/** The `meshctl` bin of package.json (the bundled CLI, scripts/bundle.js): what a user's `meshctl` runs. */
export const MESHCTL_BIN = join(
  packageRoot(),
  (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { bin: { meshctl: string } }).bin
    .meshctl,
);
