import path from 'node:path';
import { UsageError } from '../errors.js';
import { diagnosticsToJson, formatDiagnostic } from '../inventory/format.js';
import { loadInventoryOrThrow } from '../inventory/load.js';
import { allocateMesh } from '../mesh/allocate.js';
import { cloudFindings } from '../operator/cloud.js';
import { instructionsToJson, operatorInstructions } from '../operator/instructions.js';
import { formatLan, formatRoutes, type RouteFormat } from '../operator/routes.js';
import type { Output } from '../output.js';
import type { Diagnostic, Inventory } from '../types.js';
import { type GlobalOptions, selectLans } from './options.js';

/**
 * `meshctl routes [LAN] [--format text|linux|aws|gcp|azure]` (SPEC §9): offline, what each LAN's routers, cloud
 * route tables, firewalls and instances need for the mesh to carry traffic. --format was checked by cli.ts; the
 * LAN is checked here against the inventory, before anything is printed.
 */

export interface RoutesOptions extends GlobalOptions {
  lan?: string;
  format?: RouteFormat;
}

export async function run(options: RoutesOptions, out: Output): Promise<number> {
  const { inventory, warnings: loadWarnings } = loadInventoryOrThrow(options.inventory);
  const format = options.format ?? 'text';
  if (options.lan !== undefined) checkLan(inventory, options.lan);
  // --limit selects nothing here (name the LAN instead), but a name not in the inventory is a typo worth refusing
  selectLans(inventory, options.limit);
  const warnings = [
    ...loadWarnings,
    ...inventory.lans
      .filter((lan) => options.lan === undefined || lan.name === options.lan)
      .flatMap((lan) => cloudWarnings(options.inventory, inventory, lan.name)),
  ];
  for (const w of warnings) out.warn(formatDiagnostic(w, { color: out.color.level > 0 }));
  const mesh = allocateMesh(inventory);
  const lans = operatorInstructions(mesh, options.lan);
  out.info(formatRoutes(mesh.name, lans, format).trimEnd());
  out.result('routes', {
    ok: true,
    mesh: mesh.name,
    format,
    lans: lans.map((lan) => ({ ...instructionsToJson(lan), commands: formatLan(lan, format) })),
    warnings: diagnosticsToJson(warnings),
  });
  return 0;
}

/** An unknown LAN is refused with the names there are; a gateway's name is pointed at its LAN. */
export function checkLan(inventory: Inventory, name: string): void {
  if (inventory.lans.some((lan) => lan.name === name)) return;
  const names = inventory.lans.map((lan) => lan.name).join(', ');
  const gateway = inventory.gateways.find((g) => g.name === name);
  if (gateway) {
    throw new UsageError(
      `LAN ${name}: that is a gateway of LAN ${gateway.lan}. Fix: pass ${gateway.lan} (LANs are: ${names})`,
    );
  }
  throw new UsageError(
    `LAN ${JSON.stringify(name)} is not in the inventory ${inventory.dir}. Fix: pass one of ${names}, or leave LAN out for all of them`,
  );
}

/** `cloud:` entries routes cannot use as written, as warnings naming lans/NAME.yml as the operator typed -i. */
function cloudWarnings(dir: string, inventory: Inventory, lanName: string): Diagnostic[] {
  const lan = inventory.lans.find((l) => l.name === lanName)!;
  return cloudFindings(lan).map((f) => ({
    severity: 'warning',
    file: path.join(dir, 'lans', path.basename(lan.file)),
    field: f.field,
    value: f.value,
    message: f.message,
    fix: f.fix,
  }));
}
