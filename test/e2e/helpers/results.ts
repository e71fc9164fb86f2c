/** The `--json` documents of `meshctl diff` and `meshctl apply`, as far as the end-to-end tests read them. */

export interface GatewayResult {
  lan: string;
  host: string;
  status: 'failed' | 'unchanged' | 'changed' | 'pending';
  error?: { stage: string; message: string };
  summary?: { add: number; change: number; remove: number; restart: number };
  summaryLine?: string;
  tunnels: { unit: string; peer: string; up: boolean; note?: string }[];
}

export interface PlannedAction {
  symbol: string;
  kind: string;
  path?: string;
  unit?: string;
  change?: string;
  package?: string;
  reason: string;
}

export interface PlanJson {
  lan: string;
  actions: PlannedAction[];
  notes: string[];
}

export interface RunJson {
  ok: boolean;
  command: 'diff' | 'apply';
  mesh: string;
  changes?: boolean;
  gateways: GatewayResult[];
  plans?: PlanJson[];
}

export function gatewayResult(json: RunJson, lan: string): GatewayResult {
  const found = json.gateways.find((g) => g.lan === lan);
  if (!found)
    throw new Error(`no result for gateway ${lan} in ${JSON.stringify(json.gateways.map((g) => g.lan))}`);
  return found;
}

export function statuses(json: RunJson): Record<string, string> {
  return Object.fromEntries(json.gateways.map((g) => [g.lan, g.status]));
}

/**
 * Every action of every plan that changes something, as `gateway kind subject[ change]`, sorted. The actions
 * that only accompany a change (verifying a restarted tunnel, recording the manifest) are left out.
 */
export function changingActions(json: RunJson): string[] {
  const accompanying = new Set(['verify-tunnel', 'write-manifest']);
  return (json.plans ?? [])
    .flatMap((plan) =>
      plan.actions
        .filter((a) => !accompanying.has(a.kind))
        .map(
          (a) =>
            `${plan.lan} ${a.kind} ${a.path ?? a.unit ?? a.package ?? ''}${a.change ? ` ${a.change}` : ''}`,
        ),
    )
    .sort();
}
