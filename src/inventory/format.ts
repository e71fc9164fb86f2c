import { Chalk } from 'chalk';
import type { Diagnostic } from '../types.js';

/**
 * One line per finding, compiler style, so editors and CI can jump to it:
 *   inventory/lans/branch.yml:4: subnets[0]: "10.2.0.1/16" has host bits set — use 10.2.0.0/16
 */
export function formatDiagnostic(d: Diagnostic, opts: { color?: boolean } = {}): string {
  const c = new Chalk({ level: opts.color ? 1 : 0 });
  const where = d.line === undefined ? d.file : `${d.file}:${d.line}`;
  const severity = d.severity === 'warning' ? `${c.yellow('warning')}: ` : '';
  const field = d.field === '' ? '' : `${c.bold(d.field)}: `;
  return `${c.dim(where)}: ${severity}${field}${d.message} — ${d.fix}`;
}

/** Diagnostics for `--json`: plain objects with a stable key order, `line` null when unknown. */
export function diagnosticsToJson(ds: Diagnostic[]): {
  severity: Diagnostic['severity'];
  file: string;
  line: number | null;
  field: string;
  value?: unknown;
  message: string;
  fix: string;
}[] {
  return ds.map((d) => ({
    severity: d.severity,
    file: d.file,
    line: d.line ?? null,
    field: d.field,
    ...(d.value === undefined ? {} : { value: d.value }),
    message: d.message,
    fix: d.fix,
  }));
}
