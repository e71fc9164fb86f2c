import { join } from 'node:path';
import { packageRoot } from '../../../src/version.js';

/** Fixtures stay in the source tree (tsc copies only .ts into dist/). */
export function factsFixture(name: string): string {
  return join(packageRoot(), 'test', 'unit', 'facts', 'fixtures', name);
}
