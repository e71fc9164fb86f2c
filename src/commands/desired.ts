import { formatDiagnostic } from '../inventory/format.js';
import { loadInventoryOrThrow } from '../inventory/load.js';
import { planMesh } from '../mesh/allocate.js';
import type { Output } from '../output.js';
import { ensurePki, pkiWarnings } from '../pki/index.js';
import { renderMesh } from '../render/render.js';
import { loadRoles } from '../render/roles.js';
import type { DesiredState, Inventory, Mesh, PkiMaterial } from '../types.js';
import { meshctlVersion } from '../version.js';

export interface Desired {
  inventory: Inventory;
  mesh: Mesh;
  pki: PkiMaterial;
  /** Desired state of every gateway of the mesh (not only --limit's): a tunnel has two ends. */
  states: Map<string, DesiredState>;
  /** PKI files created by this run (paths), empty when everything was reused. */
  created: string[];
}

/**
 * The offline half of every command: inventory → mesh → PKI (created on first need, reused afterwards) →
 * rendered desired state. Validation happens first, so bad input never creates a key or touches a gateway.
 */
export async function computeDesired(options: { inventory: string }, out: Output): Promise<Desired> {
  const { inventory, warnings } = loadInventoryOrThrow(options.inventory);
  for (const w of warnings) out.warn(formatDiagnostic(w, { color: out.color.level > 0 }));
  return desiredFromInventory(inventory, out);
}

/**
 * The same for an inventory already loaded (add-lan and remove-lan validate a would-be inventory first):
 * mesh → PKI (issued on first need, reused afterwards) → rendered desired state of every gateway.
 */
export async function desiredFromInventory(inventory: Inventory, out: Output): Promise<Desired> {
  const mesh = planMesh(inventory);
  const { material, created } = await ensurePki({
    dir: inventory.mesh.pkiDir,
    mesh: inventory.mesh.name,
    lans: inventory.lans.map((lan) => lan.name),
    pairs: mesh.pairs.map((pair) => pair.index),
  });
  for (const warning of pkiWarnings(material, new Date())) out.warn(out.color.yellow(`warning: ${warning}`));
  const states = renderMesh(mesh, material, loadRoles(), { version: meshctlVersion() });
  return { inventory, mesh, pki: material, states, created };
}
