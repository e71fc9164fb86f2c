import { resolve } from 'node:path';
import { scaffoldInventory } from '../inventory/init.js';
import type { Output } from '../output.js';
import type { GlobalOptions } from './options.js';

/** `meshctl init [DIR]`: copy the commented example inventory; never overwrites an existing one. */
export async function run(options: GlobalOptions & { dir?: string }, out: Output): Promise<number> {
  const dir = options.dir ?? options.inventory;
  const written = scaffoldInventory(dir);
  out.info(`created an example inventory in ${dir}:`);
  for (const file of written) out.info(`  ${file}`);
  out.info(
    [
      '',
      'Next:',
      `  1. edit ${dir}/mesh.yml (the mesh name) and ${dir}/lans/*.yml (one file per LAN: id, subnets, gateway endpoint)`,
      `  2. meshctl validate -i ${dir}`,
      `  3. meshctl render -i ${dir} --out rendered     # review every gateway's files offline`,
    ].join('\n'),
  );
  out.result('init', { ok: true, dir: resolve(dir), files: written });
  return 0;
}
