import path from 'node:path';
import { loadInventory } from '../../../src/inventory/load.js';
import { allocateMesh } from '../../../src/mesh/allocate.js';
import type { Mesh } from '../../../src/types.js';
import { packageRoot } from '../../../src/version.js';

/**
 * The fixed inventory of the routes and graph golden tests (test/fixtures/routes/inventory): hq on premises (no
 * cloud block), dc on Azure with two subnets and a DNS endpoint, eu on AWS with one gateway per AZ, shop a leaf
 * via hq on Google Cloud. Loaded from disk, so the `cloud:` blocks go through the real loader.
 */
export const operatorFixtureDir = (): string =>
  path.join(packageRoot(), 'test', 'fixtures', 'routes', 'inventory');

export function operatorFixtureMesh(): Mesh {
  const { inventory, diagnostics } = loadInventory(operatorFixtureDir());
  if (!inventory) throw new Error(`fixture inventory is invalid: ${JSON.stringify(diagnostics, null, 1)}`);
  return allocateMesh(inventory);
}

/** The golden file's path, and its expected text (rewritten first when UPDATE_GOLDEN is set). */
export function goldenPath(...parts: string[]): string {
  return path.join(packageRoot(), 'test', 'fixtures', ...parts);
}
