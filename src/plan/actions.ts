import type { Action, ChangeSymbol, PlanSummary } from './types.js';

/** The symbol `diff` prints before an action (Terraform's + ~ -, plus ↻ for restarts and ✓ for checks). */
export function actionSymbol(action: Action): ChangeSymbol {
  switch (action.kind) {
    case 'install-package':
    case 'enable-unit':
    case 'start-unit':
      return '+';
    case 'write-file':
      return action.change === 'create' ? '+' : '~';
    case 'apply-sysctl':
    case 'write-manifest':
      return '~';
    case 'remove-file':
    case 'stop-unit':
    case 'disable-unit':
    case 'remove-firewall':
    case 'remove-manifest':
      return '-';
    case 'daemon-reload':
    case 'reload-firewall':
    case 'reload-routes':
    case 'reload-frr':
    case 'restart-unit':
      return '↻';
    case 'verify-tunnel':
    case 'verify-bgp':
      return '✓';
  }
}

/** What an action is about: a package, a path or a unit. */
export function actionSubject(action: Action): string {
  switch (action.kind) {
    case 'install-package':
      return action.package;
    case 'write-file':
    case 'remove-file':
    case 'apply-sysctl':
    case 'write-manifest':
    case 'remove-manifest':
      return action.path;
    case 'remove-firewall':
      return action.script;
    case 'daemon-reload':
      return 'systemd';
    case 'reload-firewall':
    case 'reload-routes':
    case 'reload-frr':
    case 'verify-bgp':
    case 'enable-unit':
    case 'start-unit':
    case 'restart-unit':
    case 'stop-unit':
    case 'disable-unit':
    case 'verify-tunnel':
      return action.unit;
  }
}

/** `write-file /etc/openvpn/server/mesh-branch.conf`: one line per action, as tests and logs name it. */
export function describeAction(action: Action): string {
  const detail = action.kind === 'write-file' ? ` (${action.change})` : '';
  return `${action.kind} ${actionSubject(action)}${detail}`;
}

type Category = 'add' | 'change' | 'remove';
const RANK: Record<Category, number> = { change: 0, add: 1, remove: 2 };

/** What an action does to its resource; null for steps that are not a resource change of their own. */
function category(action: Action): Category | null {
  switch (action.kind) {
    case 'install-package':
    case 'enable-unit':
      return 'add';
    case 'write-file':
      return action.change === 'create' ? 'add' : 'change';
    case 'remove-file':
    case 'stop-unit':
    case 'disable-unit':
    case 'remove-firewall':
    case 'remove-manifest':
      return 'remove';
    case 'start-unit':
    case 'reload-firewall':
    case 'reload-routes':
    case 'reload-frr':
    case 'apply-sysctl':
      return 'change';
    case 'restart-unit':
    case 'daemon-reload':
    case 'verify-tunnel':
    case 'verify-bgp':
    case 'write-manifest':
      return null;
  }
}

/**
 * Count resources (the package, each file, each unit), not steps: a unit that is enabled and started is one
 * addition; a stale unit stopped and disabled is one removal; a sysctl file written and loaded is one change.
 * Tunnel restarts are counted apart. The manifest is bookkeeping and counts only when it is the sole change,
 * so the summary reads all zeros exactly when there is nothing to do.
 */
export function summarize(actions: Action[], tunnelUnits: ReadonlySet<string>): PlanSummary {
  const byResource = new Map<string, Category>();
  for (const action of actions) {
    const kind = category(action);
    if (kind === null) continue;
    const resource = actionSubject(action);
    const seen = byResource.get(resource);
    if (seen === undefined || RANK[kind] > RANK[seen]) byResource.set(resource, kind);
  }
  const summary: PlanSummary = { add: 0, change: 0, remove: 0, restart: 0 };
  for (const kind of byResource.values()) summary[kind]++;
  const restarted = new Set<string>();
  for (const action of actions) {
    if (action.kind === 'restart-unit' && tunnelUnits.has(action.unit)) restarted.add(action.unit);
  }
  summary.restart = restarted.size;
  const onlyManifest = actions.length > 0 && actions.every((action) => action.kind === 'write-manifest');
  if (onlyManifest) summary.change = 1;
  return summary;
}

/** `3 to add, 1 to change, 0 to remove; 2 tunnels restart`. */
export function summaryLine(summary: PlanSummary): string {
  const tunnels = summary.restart === 1 ? '1 tunnel restarts' : `${summary.restart} tunnels restart`;
  return `${summary.add} to add, ${summary.change} to change, ${summary.remove} to remove; ${tunnels}`;
}
