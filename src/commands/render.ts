import { join } from 'node:path';
import { diagnosticsToJson } from '../inventory/format.js';
import type { Output } from '../output.js';
import { checkOutDir, openRenderTree } from '../render/tree.js';
import { computeDesired, renderDesired } from './desired.js';
import { type GlobalOptions, selectLans } from './options.js';
import { checkAgainstInventory, lockInventory } from './prepare.js';

/** `meshctl render --out DIR`: every gateway's files as a tree under DIR/<lan>/, for review or air-gapped install. */
export async function run(options: GlobalOptions & { out: string }, out: Output): Promise<number> {
  // the inventory, --limit and --out are judged before the lock and the PKI exist
  checkAgainstInventory(options);
  await checkOutDir(options.out);
  // render creates the PKI on first use: one run at a time
  const { done } = lockInventory(options.inventory, 'meshctl render');
  try {
    return await renderLocked(options, out);
  } finally {
    done();
  }
}

async function renderLocked(options: GlobalOptions & { out: string }, out: Output): Promise<number> {
  // one gateway at a time: rendered, written, dropped (a large mesh is never held whole)
  const desired = await computeDesired(options, out, 'create', 'refuse', undefined, false);
  const selected = selectLans(desired.inventory, options.limit);
  const tree = await openRenderTree(options.out, selected);
  const written: string[] = [];
  const counts = new Map<string, number>();
  try {
    // written in name order, as a whole render always was; a failure leaves the previous output as it was
    for (const [name, state] of renderDesired(desired, [...selected].sort())) {
      written.push(...tree.write(name, state));
      counts.set(name, state.files.length + 1);
      // between gateways: a Ctrl-C is handled (the lock released) without waiting for the whole mesh
      await new Promise((resolve) => setImmediate(resolve));
    }
  } catch (error) {
    await tree.abort();
    throw error;
  }
  await tree.commit();
  if (desired.created.length > 0) {
    out.info(
      `pki: created ${desired.created.length} file(s) in ${desired.inventory.mesh.pkiDir} (keys stay there, 0600)`,
    );
    if (out.verbose)
      for (const file of desired.created) out.info(`  ${join(desired.inventory.mesh.pkiDir, file)}`);
  }
  for (const name of selected) out.info(`${name}: ${counts.get(name)} files in ${options.out}/${name}/`);
  out.info(
    out.color.green(
      `rendered ${selected.length} gateway(s), ${desired.mesh.pairs.length} tunnels in the mesh; private keys are mode 0600 — keep ${options.out} private`,
    ),
  );
  if (out.verbose) for (const file of written) out.info(`  ${file}`);
  out.result('render', {
    ok: true,
    mesh: desired.mesh.name,
    out: options.out,
    gateways: selected,
    pkiCreated: desired.created,
    files: written,
    warnings: diagnosticsToJson(desired.warnings),
  });
  return 0;
}
