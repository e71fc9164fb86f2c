import { planMesh } from '../../mesh/allocate.js';
import type { Output } from '../../output.js';
import { ensurePki, pkiWarnings } from '../../pki/index.js';
import { renderMesh } from '../../render/render.js';
import { loadRoles } from '../../render/roles.js';
import type { Inventory } from '../../types.js';
import { meshctlVersion } from '../../version.js';
import type { Desired } from '../desired.js';

/**
 * computeDesired for an inventory already loaded (add-lan and remove-lan validate a would-be inventory first):
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
