import { sshConnector } from '../connection/ssh.js';
import { diagnosticsToJson, formatDiagnostic } from '../inventory/format.js';
import { loadInventoryOrThrow } from '../inventory/load.js';
import { allocateMesh } from '../mesh/allocate.js';
import type { Output } from '../output.js';
import { writeFileAtomic } from '../pki/atomic-file.js';
import { statusToJson } from '../status/format/json.js';
import { formatMatrix } from '../status/format/matrix.js';
import { formatPrometheus } from '../status/format/prometheus.js';
import { mergeStatus } from '../status/merge.js';
import { StatusReader } from '../status/read.js';
import type { StatusReport } from '../status/types.js';
import type { Mesh } from '../types.js';
import { checkExpiry } from './expiry.js';
import { checkOutFile } from './graph.js';
import { selectLans } from './options.js';
import type { CommandDeps, ConnectingOptions } from './prepare.js';

/**
 * `meshctl status [--json] [--prometheus FILE] [--html FILE] [--watch SECONDS]` (SPEC §8): reads every gateway
 * (one read-only command each, in parallel), merges both ends of every tunnel and prints the LAN × LAN matrix.
 * Exit 0 when everything is healthy, 2 when something is down or the ends disagree, 1 when a gateway could not be
 * read. Writes nothing on any gateway and takes no lock: an apply may run meanwhile (and status then shows it).
 */

export interface StatusOptions extends ConnectingOptions {
  prometheus?: string;
  html?: string;
  /** Seconds between two reads; undefined: read once. */
  watch?: number;
}

/** Clears the terminal and puts the cursor top left (a redraw in place for --watch). */
const CLEAR = '\u001b[H\u001b[2J';

export async function run(options: StatusOptions, out: Output, deps: CommandDeps = {}): Promise<number> {
  // every file named must be writable before a gateway is contacted
  if (options.prometheus !== undefined) checkOutFile(options.prometheus, '--prometheus', 'meshctl.prom');
  if (options.html !== undefined) checkOutFile(options.html, '--html', 'status.html');
  const { inventory, warnings } = loadInventoryOrThrow(options.inventory);
  // the report is always the whole mesh (a tunnel has two ends), but a --limit typo is refused
  selectLans(inventory, options.limit);
  for (const w of warnings) out.warn(formatDiagnostic(w, { color: out.color.level > 0 }));
  const mesh = allocateMesh(inventory);
  // SPEC §10: the same expiry checks as validate, diff and apply; unlike them, status still reads the mesh:
  // expired material is when its live picture matters most; it is said first and makes the exit 1
  const expiry = checkExpiry(inventory, out);
  const expired = expiry.filter((f) => f.severity === 'error').map((f) => f.message);
  for (const message of expired) out.warn(out.color.red(`error: expired: ${message}`));
  const reader = new StatusReader(mesh, {
    forks: options.forks,
    acceptNew: Boolean(options.acceptNew),
    connector: deps.connector ?? sshConnector,
  });
  let stop = false;
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const onSignal = () => {
    stop = true;
    clearTimeout(timer);
    wake?.();
  };
  if (options.watch !== undefined) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  let previous: StatusReport | undefined;
  try {
    for (;;) {
      const readings = await reader.read();
      const merged = mergeStatus(mesh, readings, {
        now: new Date(),
        probes: reader.lastProbes,
        ...(previous ? { previous } : {}),
      });
      // expired key material is an error of the mesh, whatever the gateways say
      const report: StatusReport = expired.length > 0 ? { ...merged, health: 'error', exitCode: 1 } : merged;
      await emit(report, mesh, options, out, warnings, expired);
      previous = report;
      if (options.watch === undefined || stop) return report.exitCode;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, options.watch! * 1000);
      });
      if (stop) return report.exitCode;
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await reader.close();
  }
}

async function emit(
  report: StatusReport,
  mesh: Mesh,
  options: StatusOptions,
  out: Output,
  warnings: Parameters<typeof diagnosticsToJson>[0],
  expired: string[],
): Promise<void> {
  if (options.prometheus !== undefined) {
    await writeFileAtomic(options.prometheus, formatPrometheus(report), 0o644, { replace: true });
  }
  if (options.html !== undefined) {
    // Graphviz (WebAssembly) is loaded only when a page is asked for
    const { formatHtml } = await import('../status/format/html.js');
    await writeFileAtomic(options.html, await formatHtml(report, mesh), 0o644, { replace: true });
  }
  if (out.json) {
    out.result('status', {
      ok: report.exitCode === 0,
      ...statusToJson(report),
      expired,
      warnings: diagnosticsToJson(warnings),
    });
    return;
  }
  const redraw = options.watch !== undefined && process.stdout.isTTY ? CLEAR : '';
  const written = [
    ...expired.map((message) => `expired: ${message}`),
    options.prometheus !== undefined ? `prometheus: ${options.prometheus}` : '',
    options.html !== undefined ? `html: ${options.html}` : '',
  ].filter(Boolean);
  const footer = options.watch !== undefined ? [`every ${options.watch} s; Ctrl-C to stop`] : [];
  out.info(
    `${redraw}${formatMatrix(report, { color: out.color, width: process.stdout.columns || 80 }).trimEnd()}` +
      [...written, ...footer].map((line) => `\n${line}`).join(''),
  );
}
