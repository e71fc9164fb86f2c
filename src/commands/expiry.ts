import type { Output } from '../output.js';
import { readExpiryInput } from '../pki/expiry-read.js';
import { pendingRotationWarning } from '../pki/rotation-record.js';
import { type ExpiryFinding, expiryFindings } from '../pki/warnings.js';
import type { Inventory } from '../types.js';

/**
 * SPEC §10 for the commands that read pki_dir without loading it whole (validate, status): the certificates and
 * the CRL that exist there, read only (a PKI not created yet is fine, an unreadable file a warning). Prints the
 * warnings (expiring material, an unfinished rotation) and returns every finding: the caller decides what an
 * expired one does (validate refuses, status reads the mesh and exits 1).
 */
export function checkExpiry(inventory: Inventory, out: Output): ExpiryFinding[] {
  const { input, problem } = readExpiryInput(
    inventory.mesh.pkiDir,
    inventory.gateways.map((g) => g.name),
  );
  if (problem) out.warn(out.color.yellow(`warning: pki_dir: ${problem}; expiry not checked for it`));
  const expiry = expiryFindings(input, new Date());
  for (const f of expiry.filter((f) => f.severity === 'warning')) {
    out.warn(out.color.yellow(`warning: ${f.message}`));
  }
  const rotation = pendingRotationWarning(inventory.mesh.pkiDir);
  if (rotation) out.warn(out.color.yellow(`warning: ${rotation}`));
  return expiry;
}
