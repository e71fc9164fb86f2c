import { join } from 'node:path';
import { diagnosticsToJson } from '../inventory/format.js';
import type { Output } from '../output.js';
import { checkOutDir, writeRenderTree } from '../render/tree.js';
import { computeDesired } from './desired.js';
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
  const desired = await computeDesired(options, out);
  const selected = new Set(selectLans(desired.inventory, options.limit));
  const states = new Map([...desired.states].filter(([name]) => selected.has(name)));
  const written = await writeRenderTree(options.out, states);
  if (desired.created.length > 0) {
    out.info(
      `pki: created ${desired.created.length} file(s) in ${desired.inventory.mesh.pkiDir} (keys stay there, 0600)`,
    );
    if (out.verbose)
      for (const file of desired.created) out.info(`  ${join(desired.inventory.mesh.pkiDir, file)}`);
  }
  for (const [name, state] of states) {
    out.info(`${name}: ${state.files.length + 1} files in ${options.out}/${name}/`);
  }
  out.info(
    out.color.green(
      `rendered ${states.size} gateway(s), ${desired.mesh.pairs.length} tunnels in the mesh; private keys are mode 0600 — keep ${options.out} private`,
    ),
  );
  if (out.verbose) for (const file of written) out.info(`  ${file}`);
  out.result('render', {
    ok: true,
    mesh: desired.mesh.name,
    out: options.out,
    gateways: [...states.keys()],
    pkiCreated: desired.created,
    files: written,
    warnings: diagnosticsToJson(desired.warnings),
  });
  return 0;
}
