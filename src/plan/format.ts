import type { ChalkInstance } from 'chalk';
import { createTwoFilesPatch } from 'diff';
import type { DesiredState } from '../types.js';
import { actionSymbol, describeAction, summaryLine } from './actions.js';
import { HostPlanError } from './errors.js';
import { octal, shortSha } from './labels.js';
import type { Action, ChangeSymbol, GatewaySystem, HostPlan, WriteFileAction } from './types.js';

/**
 * Human and JSON forms of plans for `meshctl diff` / `apply`. Key material never appears: secret files are
 * shown as "(key material, content hidden)", their old contents are never read even when handed in, and
 * actions carry no content at all.
 */

export const SECRET_PLACEHOLDER = '(key material, content hidden)';

export interface FormatOptions {
  /** Colours go through this instance (level 0 for plain text). */
  color: ChalkInstance;
  /** The gateway's desired state: the new content of files being written. */
  desired: DesiredState;
  /** Path → the gateway's current content of changed non-secret files (see fetchOldContentsCommand). */
  oldContents?: Record<string, string>;
  /** Also list every no-op with its reason. */
  verbose?: boolean;
  /**
   * Path → what stands in for files whose PKI material does not exist yet (diff previews the PKI without creating
   * it), e.g. "(would be created) from pki_dir/issued/hq.crt". Shown in place of the content, which is a placeholder.
   */
  pending?: Record<string, string>;
}

function paintSymbol(color: ChalkInstance, symbol: ChangeSymbol): string {
  switch (symbol) {
    case '+':
      return color.green(symbol);
    case '~':
      return color.yellow(symbol);
    case '-':
      return color.red(symbol);
    case '↻':
      return color.cyan(symbol);
    case '✓':
      return color.blue(symbol);
  }
}

const INDENT = '      ';

function colourDiffLine(color: ChalkInstance, line: string): string {
  if (line.startsWith('+++') || line.startsWith('---')) return color.bold(line);
  if (line.startsWith('+')) return color.green(line);
  if (line.startsWith('-')) return color.red(line);
  if (line.startsWith('@@')) return color.cyan(line);
  return line;
}

/** The unified diff (or what stands in for it) under a write-file line. */
function fileDetail(action: WriteFileAction, opts: FormatOptions): string[] {
  const { color } = opts;
  const pending = opts.pending?.[action.path];
  if (pending !== undefined) return [`${INDENT}${color.yellow(pending)}`];
  if (action.change === 'mode-only') {
    return [`${INDENT}${color.dim(action.reason)}`];
  }
  if (action.secret) {
    return [`${INDENT}${SECRET_PLACEHOLDER} ${action.change === 'create' ? 'created' : 'changed'}`];
  }
  const file = opts.desired.files.find((f) => f.path === action.path);
  if (!file) return [`${INDENT}${color.dim('(new content not in the desired state)')}`];
  let old: string;
  let oldName = action.path;
  if (action.change === 'create') {
    old = '';
    oldName = '/dev/null';
  } else {
    const fetched = opts.oldContents?.[action.path];
    if (fetched === undefined) {
      const from = action.oldSha256 ? shortSha(action.oldSha256) : '?';
      const to = action.newSha256 ? shortSha(action.newSha256) : '?';
      return [`${INDENT}${color.dim(`(previous content not available: sha256 ${from} → ${to})`)}`];
    }
    old = fetched;
  }
  const patch = createTwoFilesPatch(oldName, action.path, old, file.content, 'gateway', 'meshctl');
  return patch
    .split('\n')
    .filter((line, index, lines) => !line.startsWith('=====') && !(index === lines.length - 1 && line === ''))
    .map((line) => `${INDENT}${colourDiffLine(color, line)}`);
}

function actionLine(action: Action, color: ChalkInstance): string {
  const mode = action.kind === 'write-file' ? ` ${octal(action.mode)}` : '';
  return `  ${paintSymbol(color, actionSymbol(action))} ${describeAction(action)}${mode}`;
}

/** One gateway's plan: header, actions (with diffs), notes, optional no-ops, and the summary line. */
export function formatHostPlan(plan: HostPlan, opts: FormatOptions): string {
  const { color } = opts;
  const lines = [
    `${color.bold(`${plan.gateway.name} (${plan.gateway.sshHost})`)}  ${systemText(plan.system)}`,
  ];
  for (const action of plan.actions) {
    lines.push(actionLine(action, color));
    if (action.kind === 'write-file') lines.push(...fileDetail(action, opts));
    else lines.push(`${INDENT}${color.dim(action.reason)}`);
  }
  if (plan.actions.length === 0) lines.push(`  ${color.green('no changes')}`);
  for (const note of plan.notes) lines.push(`  ${color.yellow('note:')} ${note}`);
  if (opts.verbose) {
    for (const noop of plan.noops) lines.push(`  ${color.dim(`= ${noop.reason}`)}`);
  } else if (plan.noops.length > 0) {
    lines.push(
      `  ${color.dim(`${plan.noops.length} item(s) already as wanted (-v lists them with reasons)`)}`,
    );
  }
  lines.push(`  ${summaryLine(plan.summary)}`);
  return lines.join('\n');
}

export interface FormatPlansOptions {
  color: ChalkInstance;
  desired: Map<string, DesiredState>;
  /** Per gateway: path → current content of its changed non-secret files. */
  oldContents?: Map<string, Record<string, string>>;
  verbose?: boolean;
  /** Per gateway: see FormatOptions.pending. */
  pending?: Map<string, Record<string, string>>;
}

/** Every gateway, in the order planned; a refused gateway shows its error in place of a plan. */
export function formatPlans(
  results: Map<string, HostPlan | HostPlanError>,
  opts: FormatPlansOptions,
): string {
  const blocks: string[] = [];
  for (const [name, result] of results) {
    if (result instanceof HostPlanError) {
      blocks.push(`${opts.color.bold(name)}\n  ${opts.color.red('refused:')} ${result.message}`);
      continue;
    }
    const desired = opts.desired.get(name);
    if (!desired) throw new Error(`formatPlans: no desired state for ${name}`);
    blocks.push(
      formatHostPlan(result, {
        color: opts.color,
        desired,
        oldContents: opts.oldContents?.get(name) ?? {},
        verbose: opts.verbose ?? false,
        pending: opts.pending?.get(name) ?? {},
      }),
    );
  }
  return blocks.join('\n\n');
}

/** The `--json` form of one plan: actions with their symbols, no file content (secrets carry no checksum either). */
/** `debian 12 (bookworm), OpenVPN 2.6.14, systemd 252`. */
export function systemText(system: GatewaySystem): string {
  const openvpn = system.openvpn ? `OpenVPN ${system.openvpn}` : 'OpenVPN not installed';
  const frr = system.frr === undefined ? [] : [system.frr ? `FRR ${system.frr}` : 'FRR not installed'];
  return [system.release, openvpn, ...frr, ...(system.systemd ? [`systemd ${system.systemd}`] : [])].join(
    ', ',
  );
}

export function planToJson(plan: HostPlan): Record<string, unknown> {
  return {
    lan: plan.gateway.name,
    host: plan.gateway.sshHost,
    system: plan.system,
    actions: plan.actions.map((action) => ({ symbol: actionSymbol(action), ...action })),
    noops: plan.noops,
    notes: plan.notes,
    summary: plan.summary,
    summaryLine: summaryLine(plan.summary),
  };
}

/** The `--json` form of every gateway: refused ones carry their error kind and message. */
export function plansToJson(results: Map<string, HostPlan | HostPlanError>): Record<string, unknown> {
  const gateways = [...results].map(([name, result]) =>
    result instanceof HostPlanError
      ? { lan: name, ok: false, error: { kind: result.kind, message: result.message } }
      : { ok: true, ...planToJson(result) },
  );
  const changes = [...results.values()].some((r) => !(r instanceof HostPlanError) && r.actions.length > 0);
  return { changes, gateways };
}
