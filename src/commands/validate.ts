import { InventoryError } from '../errors.js';
import { diagnosticsToJson, formatDiagnostic } from '../inventory/format.js';
import { loadInventory } from '../inventory/load.js';
import { formatRouting } from '../inventory/routing-view.js';
import { allocateMesh } from '../mesh/allocate.js';
import { allocationRows, formatAllocation, formatPaths } from '../mesh/table.js';
import type { Output } from '../output.js';
import { refuseExpired } from '../pki/warnings.js';
import { checkExpiry } from './expiry.js';
import { type GlobalOptions, selectLans } from './options.js';

/** `meshctl validate`: offline checks of SPEC §1. Exit 0 when valid (warnings allowed), 1 otherwise. */
export async function run(options: GlobalOptions, out: Output): Promise<number> {
  const { inventory, diagnostics } = loadInventory(options.inventory);
  if (!inventory) throw new InventoryError(diagnostics);
  // --limit selects nothing here, but a name that is not in the inventory is a typo worth refusing
  selectLans(inventory, options.limit);
  const warnings = diagnostics.filter((d) => d.severity === 'warning');
  for (const w of warnings) out.warn(formatDiagnostic(w, { color: out.color.level > 0 }));
  const mesh = allocateMesh(inventory);
  // SPEC §10: expired material is refused here (exit 1)
  const expiry = checkExpiry(inventory, out);
  refuseExpired(expiry);
  const counts = [...mesh.tunnels.values()].map((t) => t.length);
  const perGateway =
    Math.min(...counts) === Math.max(...counts)
      ? `${counts[0] ?? 0}`
      : `${Math.min(...counts)}–${Math.max(...counts)}`;
  const gateways =
    inventory.gateways.length === inventory.lans.length ? '' : `, ${inventory.gateways.length} gateways`;
  out.info(
    out.color.green(
      `${options.inventory}: valid — mesh "${mesh.name}", ${inventory.lans.length} LANs${gateways}, ${mesh.pairs.length} tunnels (${perGateway} per gateway)`,
    ),
  );
  if (options.verbose) {
    out.info(`\n${formatAllocation(mesh)}\n\n${formatPaths(mesh)}`);
    // routing: bgp only: a static mesh's output stays as it was
    const routing = formatRouting(inventory);
    if (routing !== undefined) out.info(`\n${routing}`);
  }
  out.result('validate', {
    ok: true,
    mesh: mesh.name,
    lans: inventory.lans.map((l) => ({
      name: l.name,
      id: l.id,
      subnets: l.subnets,
      // one gateway: its endpoint, as before; several: each with its own
      ...(l.gateways.length === 1 ? { endpoint: l.gateways[0]!.endpoint } : {}),
      via: l.via,
      gateways: l.gateways.map((g) => ({ name: g.name, id: g.id, subnets: g.subnets, endpoint: g.endpoint })),
    })),
    paths: mesh.topology.paths,
    pairs: allocationRows(mesh),
    warnings: diagnosticsToJson(warnings),
    pkiWarnings: expiry.map((f) => f.message),
  });
  return 0;
}
