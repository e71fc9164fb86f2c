import { existsSync } from 'node:fs';
import path from 'node:path';
import { sshConnector } from '../connection/ssh.js';
import { InventoryError, UsageError } from '../errors.js';
import type { GatewayRun } from '../execute/gateway.js';
import type { Stage } from '../execute/outcomes.js';
import { printSummary, runsToJson } from '../execute/summary.js';
import { diagnosticsToJson, formatDiagnostic } from '../inventory/format.js';
import { loadInventory, loadInventoryOrThrow } from '../inventory/load.js';
import { loadInventoryView } from '../inventory/view.js';
import { lanFileText, type NewLanFile } from '../inventory/write.js';
import { portsForNewLan, routesForNewLan } from '../mesh/advice.js';
import { type IdsInUse, nextLanId, requestedIdProblem } from '../mesh/ids.js';
import type { Output } from '../output.js';
import { writeFileAtomic } from '../pki/atomic-file.js';
import { readRotation, rotationProgress } from '../pki/rotation-record.js';
import type { Diagnostic, Inventory } from '../types.js';
import type { Desired } from './desired.js';
import { desiredFromInventory } from './desired.js';
import { formatAdvice } from './lan/advice.js';
import { checkLanName, refuseLimit } from './lan/checks.js';
import { leftOver, rolloutPhase } from './lan/rollout.js';
import { limitNames } from './options.js';
import { type CommandDeps, type ConnectingOptions, lockInventory } from './prepare.js';

/**
 * `meshctl add-lan NAME --subnet CIDR… --endpoint HOST`: grow the mesh by one LAN with no disruption.
 *
 *   validate the would-be inventory (nothing written on any problem) → write lans/NAME.yml (the only inventory
 *   file touched) → issue its certificate and pair keys → roll out: the new gateway first, then the new tunnel on
 *   every existing gateway (their other tunnels keep running: only files of the new pair change, and the planner
 *   restarts only tunnels whose files changed) → print the routes and cloud firewall rules left to the operator.
 *
 * A gateway that fails does not stop the others; the run exits 1 naming it, and `meshctl apply` finishes later.
 */

export interface AddLanOptions extends ConnectingOptions {
  name: string;
  subnet: string[];
  endpoint: string;
  sshHost?: string;
  sshUser?: string;
  sshPort?: number;
  /** `--via hub[,hub2]`: a leaf LAN (SPEC §7). */
  via?: string;
  id?: number;
  /** false with --no-apply: stop after the inventory file and the PKI. */
  apply?: boolean;
}

export async function run(options: AddLanOptions, out: Output, deps: CommandDeps = {}): Promise<number> {
  refuseLimit(options, 'add-lan');
  const name = checkLanName(options.name);
  // every argument is judged against the mesh before the lock, the LAN file or a key exists
  planNewLan(name, options);
  const { done } = lockInventory(options.inventory, `meshctl add-lan ${name}`);
  try {
    // planned again under the lock: another run may have changed the inventory since
    const planned = planNewLan(name, options);
    for (const w of planned.warnings) out.warn(formatDiagnostic(w, { color: out.color.level > 0 }));
    const { inventory, lan } = await writeNewLan(planned, options.inventory, out);
    const desired = { ...(await desiredFromInventory(inventory, out)), warnings: planned.warnings };
    reportPki(desired, out);
    if (options.apply === false) {
      out.info(
        `\n--no-apply: no gateway was touched. Roll out with: meshctl apply -i ${options.inventory}\n`,
      );
      const routes = routesForNewLan(desired.mesh, name, new Map());
      const ports = portsForNewLan(desired.mesh, name);
      out.info(formatAdvice(routes, ports));
      out.result('add-lan', {
        ok: true,
        applied: false,
        ...resultBase(desired, lan),
        routes,
        ports,
      });
      return 0;
    }
    return await rollOut(desired, name, options, out, deps);
  } finally {
    done();
  }
}

/** A LAN file add-lan may write: the would-be inventory with it is valid. */
interface PlannedLan {
  name: string;
  file: string;
  text: string;
  lan: NewLanFile;
  /** Warnings of the would-be inventory, for the caller to print once. */
  warnings: Diagnostic[];
}

/**
 * Judges the new LAN against the current inventory (name and id free, the would-be mesh valid) and builds its
 * file's text. Reads only: a refusal leaves every file as it was.
 */
function planNewLan(name: string, options: AddLanOptions): PlannedLan {
  const dir = options.inventory;
  const current = loadInventory(dir);
  if (!current.inventory) {
    const errors = current.diagnostics.filter((d) => d.severity === 'error').length;
    throw new InventoryError(
      current.diagnostics,
      `inventory ${dir} is invalid (${errors} problem(s)): fix it (meshctl validate) before adding a LAN; nothing was written`,
    );
  }
  const file = path.join(dir, 'lans', `${name}.yml`);
  const rotation = readRotation(current.inventory.mesh.pkiDir);
  if (rotation?.kind === 'ca') {
    throw new UsageError(
      `${current.inventory.mesh.pkiDir}: a CA rotation is in progress (${rotationProgress(rotation)}); a certificate issued now would miss some of its phases. Nothing was written. Fix: run \`meshctl rotate --ca\` to finish it, then add the LAN`,
    );
  }
  const existing = current.inventory.lans.find((lan) => lan.name === name);
  if (existing || existsSync(file)) {
    throw new UsageError(
      `${file} already exists${existing ? ` (LAN "${name}", id ${existing.id})` : ''}: add-lan never rewrites an operator's file. Fix: choose another name, or edit ${file} and run \`meshctl apply\``,
    );
  }
  const lan = newLanFile(options, {
    lans: current.inventory.gateways.map((g) => ({ name: g.name, id: g.id })),
    retired: current.inventory.mesh.retiredIds,
  });
  const text = lanFileText(lan);
  const view = loadInventoryView(dir, { add: { name, text } });
  if (!view.inventory) {
    const errors = view.diagnostics.filter((d) => d.severity === 'error');
    throw new InventoryError(
      errors,
      `${file} was not written: the mesh with LAN "${name}" would be invalid (${errors.length} problem(s) above)`,
    );
  }
  const warnings = view.diagnostics.filter((d) => d.severity === 'warning');
  return { name, file, text, lan, warnings };
}

/** The new LAN's fields from the options: --id when free, else the next id never used. */
function newLanFile(options: AddLanOptions, ids: IdsInUse): NewLanFile {
  if (options.id !== undefined) {
    const problem = requestedIdProblem(options.id, ids);
    if (problem) throw new UsageError(problem);
  }
  const lan: NewLanFile = {
    id: options.id ?? nextLanId(ids),
    subnets: options.subnet ?? [],
    endpoint: options.endpoint,
    ...(options.sshHost === undefined ? {} : { sshHost: options.sshHost }),
    ...(options.via === undefined ? {} : { via: limitNames(options.via) }),
  };
  const ssh = {
    ...(options.sshUser === undefined ? {} : { user: options.sshUser }),
    ...(options.sshPort === undefined ? {} : { port: options.sshPort }),
  };
  if (Object.keys(ssh).length > 0) lan.ssh = ssh;
  return lan;
}

/** Writes lans/NAME.yml (never over an existing file); returns the inventory read back with the new LAN. */
async function writeNewLan(
  planned: PlannedLan,
  dir: string,
  out: Output,
): Promise<{ inventory: Inventory; lan: NewLanFile & { name: string; file: string } }> {
  const { name, file, text, lan } = planned;
  try {
    await writeFileAtomic(file, text, 0o644, { replace: false });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new UsageError(
        `${file} appeared while add-lan ran: it was left as it is. Fix: check who wrote it`,
      );
    }
    throw error;
  }
  out.info(`wrote ${file}: LAN "${name}", id ${lan.id}, ${lan.subnets.join(', ')}, endpoint ${lan.endpoint}`);
  // read back through the loader, so what is rolled out is exactly what the file now says
  const { inventory } = loadInventoryOrThrow(dir);
  return { inventory, lan: { ...lan, name, file } };
}

function reportPki(desired: Desired, out: Output): void {
  if (desired.created.length === 0) return;
  out.info(
    `pki: created ${desired.created.length} file(s) in ${desired.inventory.mesh.pkiDir} (the new gateway's certificate and key, one tls-crypt key per new tunnel)`,
  );
  if (out.verbose) for (const file of desired.created) out.info(`  ${file}`);
}

function resultBase(desired: Desired, lan: NewLanFile & { name: string; file: string }) {
  return {
    mesh: desired.mesh.name,
    lan: { name: lan.name, id: lan.id, subnets: lan.subnets, endpoint: lan.endpoint, file: lan.file },
    pkiCreated: desired.created,
    warnings: diagnosticsToJson(desired.warnings),
  };
}

/** The stages at which a gateway that failed had not converged yet. */
const BEFORE_CONVERGED: readonly Stage[] = ['connect', 'plan', 'converge'];

async function rollOut(
  desired: Desired,
  name: string,
  options: AddLanOptions,
  out: Output,
  deps: CommandDeps,
): Promise<number> {
  const connector = deps.connector ?? sshConnector;
  const addresses = new Map<string, string[]>();
  const ctx = { options, out, connector, addresses };
  const newLan = desired.inventory.lans.find((lan) => lan.name === name)!;
  const lan = {
    id: newLan.id,
    subnets: newLan.subnets,
    endpoint: newLan.gateways[0]!.endpoint,
    name,
    file: newLan.file,
  };
  const existing = desired.inventory.gateways.filter((g) => g.lan !== name).map((g) => g.name);

  // one engine run: facts from every gateway at once, then the new gateway converges first and the existing ones
  // only once it did; the new tunnels then start at both ends in the same instant and are verified from both ends
  const all = await rolloutPhase(desired.states, [name, ...existing], {
    ...ctx,
    ...(existing.length > 0
      ? {
          convergeFirst: {
            names: [name],
            title: `Roll-out 1/2: ${name}, the new gateway`,
            othersTitle: `Roll-out 2/2: the tunnel to ${name} on ${existing.length} existing gateway(s)`,
          },
        }
      : {}),
  });
  const first = all.find((r) => r.name === name)!;
  // the new gateway did not converge: the existing ones were only read, never changed
  const blocked = first.failure !== undefined && BEFORE_CONVERGED.includes(first.failure.stage);
  const runs: GatewayRun[] = blocked ? [first] : [first, ...all.filter((r) => r.name !== name)];

  printSummary(runs, true, out);
  const routes = routesForNewLan(desired.mesh, name, addresses);
  const ports = portsForNewLan(desired.mesh, name);
  out.info('');
  out.info(formatAdvice(routes, ports));
  const left = leftOver(runs);
  const skipped = blocked ? existing : [];
  if (left.length > 0) {
    out.info('');
    out.info(out.color.red(`Left to do (LAN "${name}" is in the inventory; its rollout is not finished):`));
    for (const l of left) out.info(out.color.red(`  ${l.lan}: ${l.reason}`));
    if (skipped.length > 0)
      out.info(
        out.color.red(
          `  ${skipped.join(', ')}: not changed, because the new gateway ${name} did not converge first`,
        ),
      );
    out.info(
      `Fix the cause, then run \`meshctl apply -i ${options.inventory}\`: it converges what is left (add-lan is not re-run: the LAN file exists).`,
    );
  }
  const ok = left.length === 0;
  out.result('add-lan', {
    ok,
    applied: true,
    ...resultBase(desired, lan),
    gateways: runsToJson(runs, true),
    routes,
    ports,
    left: [
      ...left,
      ...skipped.map((l) => ({ lan: l, reason: `not changed: ${name} did not converge first` })),
    ],
  });
  return ok ? 0 : 1;
}
