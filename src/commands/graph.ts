import { statSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { diagnosticsToJson, formatDiagnostic } from '../inventory/format.js';
import { loadInventoryOrThrow } from '../inventory/load.js';
import { allocateMesh } from '../mesh/allocate.js';
import {
  type GraphFormat,
  graphTitle,
  graphTunnels,
  topologyDot,
  topologyMermaid,
} from '../operator/graph.js';
import { renderSvg } from '../operator/svg.js';
import type { Output } from '../output.js';
import { writeFileAtomic } from '../pki/atomic-file.js';
import { type GlobalOptions, selectLans } from './options.js';

/**
 * `meshctl graph [--format dot|mermaid|svg] [--out FILE]` (SPEC §8): the inventory's topology as a picture,
 * offline. --format was checked by cli.ts; --out is checked here before anything is computed, and written
 * atomically (a reader never sees half a picture).
 */

export interface GraphOptions extends GlobalOptions {
  format?: GraphFormat;
  out?: string;
}

export async function run(options: GraphOptions, out: Output): Promise<number> {
  const format = options.format ?? 'dot';
  if (options.out !== undefined) checkOutFile(options.out);
  const { inventory, warnings } = loadInventoryOrThrow(options.inventory);
  // the picture is always the whole mesh, but a --limit name that is not in the inventory is a typo worth refusing
  selectLans(inventory, options.limit);
  for (const w of warnings) out.warn(formatDiagnostic(w, { color: out.color.level > 0 }));
  const mesh = allocateMesh(inventory);
  const content =
    format === 'mermaid'
      ? topologyMermaid(mesh)
      : format === 'svg'
        ? ensureNewline(await renderSvg(topologyDot(mesh), { title: graphTitle(mesh) }))
        : topologyDot(mesh);
  const tunnels = graphTunnels(mesh);
  if (options.out !== undefined) {
    await writeFileAtomic(options.out, content, 0o644, { replace: true });
    out.info(
      `${options.out}: ${format}, ${inventory.lans.length} LANs, ${inventory.gateways.length} gateways, ${tunnels.length} tunnels`,
    );
  } else {
    out.info(content.trimEnd());
  }
  out.result('graph', {
    ok: true,
    mesh: mesh.name,
    format,
    out: options.out ?? null,
    lans: inventory.lans.map((lan) => ({
      name: lan.name,
      via: lan.via,
      gateways: lan.gateways.map((g) => g.name),
    })),
    tunnels: tunnels.map(({ pair, kind }) => ({
      pair: pair.index,
      low: pair.low.name,
      high: pair.high.name,
      kind,
      port: pair.port,
    })),
    content: options.out === undefined ? content : null,
    warnings: diagnosticsToJson(warnings),
  });
  return 0;
}

function ensureNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

/** The file may exist (it is replaced) but not be a directory, and its directory must exist. */
export function checkOutFile(file: string, option = '--out', example = 'topology.svg'): void {
  const stat = statSync(file, { throwIfNoEntry: false });
  if (stat?.isDirectory()) {
    throw new UsageError(
      `${option} ${file}: a directory, not a file. Fix: pass ${option} FILE, e.g. ${path.join(file, example)}`,
    );
  }
  const dir = path.dirname(path.resolve(file));
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new UsageError(
      `${option} ${file}: the directory ${path.dirname(file)} does not exist. Fix: create it, or write elsewhere`,
    );
  }
}
