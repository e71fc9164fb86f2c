import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { sshConnector } from '../connection/ssh.js';
import type { Connector } from '../connection/types.js';
import { InventoryError, UsageError } from '../errors.js';
import { printSummary, runsToJson } from '../execute/summary.js';
import { FIREWALL_UNIT, MANIFEST_PATH, TUNNEL_UNIT_PREFIX } from '../gateway/layout.js';
import { readRemovedLan } from '../inventory/removed-lan.js';
import { RetireEditError, retireIdText } from '../inventory/retire-id.js';
import { loadInventoryView } from '../inventory/view.js';
import { routesForRemovedLan } from '../mesh/advice.js';
import { pairIndex } from '../mesh/allocate.js';
import type { Output } from '../output.js';
import { removeFileDurably, writeFileAtomic } from '../pki/atomic-file.js';
import { revokeGateway } from '../pki/index.js';
import { rel } from '../pki/layout.js';
import { readRotation, rotationProgress } from '../pki/rotation-record.js';
import { parsePkiState } from '../pki/state.js';
import { retiringState } from '../render/render.js';
import { loadRoles } from '../render/roles.js';
import type { Inventory, Lan } from '../types.js';
import { meshctlVersion } from '../version.js';
import { desiredFromInventory } from './desired.js';
import { formatAdvice } from './lan/advice.js';
import { checkLanName, refuseLimit } from './lan/checks.js';
import { leftOver, rolloutPhase } from './lan/rollout.js';
import { type CommandDeps, type ConnectingOptions, lockInventory } from './prepare.js';

/**
 * `meshctl remove-lan NAME`: the reverse of add-lan. The steps are ordered so that a crash anywhere is finished by
 * running the command again (and no step can be undone by a concurrent mistake):
 *
 *   1. retire the id in mesh.yml (a minimal textual edit) and revoke the certificate (CRL, key and pair keys
 *      deleted): from here on the id is never handed out again and the gateway cannot authenticate;
 *   2. roll out the mesh without the LAN: every remaining gateway gets the new CRL (no restart) and stops,
 *      disables and removes its tunnel to the LAN (listed in its manifest as stale);
 *   3. clean the removed gateway when it is reachable (tunnels, firewall chains, every file of its manifest);
 *   4. remove lans/NAME.yml.
 *
 * Re-running after step 4 (the file is gone, the PKI remembers the name as removed) repeats step 2 only, so it
 * also finishes a rollout that a gateway being down left incomplete — as `meshctl apply` does.
 */

export interface RemoveLanOptions extends ConnectingOptions {
  name: string;
}

interface Cleanup {
  status: 'cleaned' | 'nothing' | 'failed' | 'unknown';
  detail: string;
}

export async function run(options: RemoveLanOptions, out: Output, deps: CommandDeps = {}): Promise<number> {
  refuseLimit(options, 'remove-lan');
  const name = checkLanName(options.name);
  const dir = options.inventory;
  // the name is judged against the inventory before the lock exists or anything changes
  resolveRemoval(dir, name);
  const { done } = lockInventory(dir, `meshctl remove-lan ${name}`);
  try {
    // resolved again under the lock: another run may have changed the inventory since
    const { file, remaining, removed } = resolveRemoval(dir, name);
    const rotation = readRotation(remaining.mesh.pkiDir);
    if (removed && rotation?.kind === 'ca') {
      throw new UsageError(
        `${remaining.mesh.pkiDir}: a CA rotation is in progress (${rotationProgress(rotation)}); while gateways trust two CAs a revocation would have to reach both CRLs. Nothing was changed. Fix: run \`meshctl rotate --ca\` to finish it first, then remove-lan again`,
      );
    }
    if (removed) await retireAndRevoke(removed, remaining, dir, out);
    else {
      out.info(
        `LAN "${name}" is already out of the inventory and its certificate is revoked: finishing the rollout`,
      );
    }

    const desired = await desiredFromInventory(remaining, out);
    const connector = deps.connector ?? sshConnector;
    out.info(
      out.color.bold(
        `\nRoll-out: the mesh without ${name} on ${remaining.gateways.length} gateway(s) (new CRL, tunnel to ${name} removed)`,
      ),
    );
    const runs = await rolloutPhase(
      desired.states,
      remaining.gateways.map((g) => g.name),
      { options, out, connector },
    );

    const cleanups = removed
      ? await cleanRemovedGateways(removed, remaining.mesh.name, connector, options, out)
      : [
          {
            status: 'unknown' as const,
            detail: `not cleaned by this run: ${file} is gone, so its gateway is unknown`,
          },
        ];
    // one gateway (the usual case) reports as before; several report each, worst status first
    const cleanup =
      cleanups.length === 1
        ? cleanups[0]!
        : {
            status: (['failed', 'unknown', 'cleaned', 'nothing'] as const).find((st) =>
              cleanups.some((c) => c.status === st),
            )!,
            detail: cleanups.map((c, i) => `${removed!.gateways[i]!.name}: ${c.detail}`).join('; '),
          };
    if (removed) {
      await removeFileDurably(file);
      out.info(`removed ${file}`);
    }

    printSummary(runs, true, out);
    const staleRoutes = removed ? routesForRemovedLan(remaining, removed) : [];
    if (staleRoutes.length > 0) {
      out.info('');
      out.info(formatAdvice(staleRoutes, [], 'remove'));
    }
    out.info(
      `  ${name.padEnd(Math.max(7, ...runs.map((r) => r.name.length)))}  removed    ${cleanup.detail}`,
    );
    const left = leftOver(runs);
    if (left.length > 0) {
      out.info('');
      out.info(out.color.red(`Left to do (LAN "${name}" is retired, revoked and out of the inventory):`));
      for (const l of left) out.info(out.color.red(`  ${l.lan}: ${l.reason}`));
      out.info(
        `Fix the cause, then run \`meshctl apply -i ${dir}\` (or \`meshctl remove-lan ${name}\` again): it finishes the removal there.`,
      );
    }
    const ok = left.length === 0;
    out.result('remove-lan', {
      ok,
      mesh: remaining.mesh.name,
      lan: {
        name,
        ...(removed
          ? { id: removed.id, retiredId: removed.id, retiredIds: removed.gateways.map((g) => g.id) }
          : {}),
      },
      gateways: runsToJson(runs, true),
      removedGateway: cleanup,
      routes: staleRoutes,
      left,
    });
    return ok ? 0 : 1;
  } finally {
    done();
  }
}

/**
 * What removing `name` means, read without changing anything: the inventory without it (which must be valid), and
 * the LAN itself while its file exists (undefined when an earlier run removed the file and revoked it already).
 */
function resolveRemoval(dir: string, name: string): { file: string; remaining: Inventory; removed?: Lan } {
  const file = path.join(dir, 'lans', `${name}.yml`);
  refuseLastLan(dir, name);
  const view = loadInventoryView(dir, { omit: name });
  if (!view.inventory) {
    const errors = view.diagnostics.filter((d) => d.severity === 'error');
    throw new InventoryError(
      errors,
      `inventory ${dir} without LAN "${name}" is invalid (${errors.length} problem(s) above): fix them first; nothing was changed`,
    );
  }
  const remaining = view.inventory;
  if (existsSync(file)) return { file, remaining, removed: readRemovedLan(file, name, remaining, file) };
  if (!wasRemoved(remaining, name)) {
    throw new UsageError(
      `there is no LAN "${name}": ${file} does not exist and the PKI has no removed LAN of that name. LANs are: ${remaining.lans.map((l) => l.name).join(', ')}`,
    );
  }
  return { file, remaining };
}

/** Removing the last LAN would leave no mesh to converge: say what to do instead. */
function refuseLastLan(dir: string, name: string): void {
  const lans = path.join(dir, 'lans');
  if (!existsSync(lans) || !statSync(lans).isDirectory()) return;
  const others = readdirSync(lans).filter(
    (f) => f.endsWith('.yml') && !f.startsWith('.') && f !== `${name}.yml`,
  );
  if (others.length === 0 && existsSync(path.join(lans, `${name}.yml`))) {
    throw new UsageError(
      `LAN "${name}" is the only LAN of the mesh: removing it would leave no mesh. Fix: add the LAN that replaces it first (meshctl add-lan), or retire the whole mesh by hand`,
    );
  }
}

/** The PKI remembers a LAN whose certificate was revoked (a re-run after the file was removed). */
function wasRemoved(inventory: Inventory, name: string): boolean {
  const stateFile = path.join(inventory.mesh.pkiDir, rel.state);
  if (!existsSync(stateFile)) return false;
  const state = parsePkiState(readFileSync(stateFile, 'utf8'));
  return !('problem' in state) && state.revoked.some((r) => r.lan === name);
}

/** Step 1: the LAN's ids (one per gateway) into retired_ids, then each gateway's certificate revoked. Idempotent. */
async function retireAndRevoke(removed: Lan, remaining: Inventory, dir: string, out: Output): Promise<void> {
  const meshFile = path.join(dir, 'mesh.yml');
  let text = readFileSync(meshFile, 'utf8');
  const original = text;
  const ids = removed.gateways.map((g) => g.id);
  for (const id of ids) {
    try {
      text = retireIdText(text, id);
    } catch (error) {
      if (!(error instanceof RetireEditError)) throw error;
      throw new InventoryError(
        [
          {
            severity: 'error',
            file: meshFile,
            field: 'retired_ids',
            value: id,
            message: error.message,
            fix: `add ${ids.join(', ')} to retired_ids in ${meshFile} by hand (e.g. retired_ids: [${ids.join(', ')}]), then re-run \`meshctl remove-lan ${removed.name}\``,
          },
        ],
        `cannot retire id ${id} of LAN "${removed.name}" automatically; nothing was changed`,
      );
    }
  }
  if (text !== original) {
    await writeFileAtomic(meshFile, text, statSync(meshFile).mode & 0o7777, { replace: true });
    out.info(
      `${meshFile}: id${ids.length > 1 ? 's' : ''} ${ids.join(', ')} of "${removed.name}" added to retired_ids (never given out again)`,
    );
  }

  const { pkiDir, name: mesh } = remaining.mesh;
  for (const gateway of removed.gateways) {
    const issued = existsSync(path.join(pkiDir, rel.gatewayCert(gateway.name)));
    if (!issued && !wasRemoved(remaining, gateway.name)) {
      out.info(`pki: "${gateway.name}" never had a certificate: nothing to revoke`);
      continue;
    }
    await revokeGateway({
      dir: pkiDir,
      mesh,
      lan: gateway.name,
      pairs: remaining.gateways.map((other) => pairIndex(other.id, gateway.id)),
    });
    out.info(
      `pki: certificate of "${gateway.name}" revoked (CRL updated; its key and its tunnels' tls-crypt keys deleted)`,
    );
  }
}

/**
 * Step 3: best effort. The removed LAN's gateways get a desired state of nothing (render's retiringState): the
 * ordinary engine plans against each manifest — stop and disable its tunnels and firewall unit, remove meshctl's
 * chains, every file it lists, the manifest last — with a reason for everything left alone. A removed gateway that
 * is gone for good must not block the removal.
 */
async function cleanRemovedGateways(
  lan: Lan,
  mesh: string,
  connector: Connector,
  options: ConnectingOptions,
  out: Output,
): Promise<Cleanup[]> {
  out.info(
    out.color.bold(
      `\nCleaning ${lan.gateways.map((g) => `${g.name} (${g.sshHost})`).join(', ')}, the removed gateway(s)`,
    ),
  );
  const roles = loadRoles();
  const states = new Map(
    lan.gateways.map((g) => [g.name, retiringState(g, mesh, roles, { version: meshctlVersion() })]),
  );
  const runs = await rolloutPhase(states, [...states.keys()], { options, out, connector });
  return runs.map((run) => {
    if (run.failure) {
      const detail =
        `NOT cleaned: ${run.failure.stage}: ${run.failure.message}. Its tunnels cannot come up again (certificate ` +
        `revoked, peers dropped them). To clean it by hand: systemctl disable --now '${TUNNEL_UNIT_PREFIX}*' ` +
        `${FIREWALL_UNIT}; then remove the files listed in ${MANIFEST_PATH}, and the manifest`;
      out.warn(out.color.yellow(`warning: ${run.name}: ${detail}`));
      return { status: 'failed', detail };
    }
    const plan = run.plan!;
    if (plan.actions.length === 0) {
      const reason = plan.noops.find((n) => n.subject === MANIFEST_PATH)?.reason ?? 'nothing to clean';
      out.info(`${run.name}: ${reason}`);
      return { status: 'nothing', detail: reason };
    }
    const stopped = plan.actions.filter((a) => a.kind === 'stop-unit' || a.kind === 'disable-unit');
    const tunnels = new Set(
      stopped.map((a) => (a as { unit: string }).unit).filter((u) => u !== FIREWALL_UNIT),
    );
    const files = plan.actions.filter((a) => a.kind === 'remove-file' || a.kind === 'remove-manifest').length;
    const detail = `cleaned: ${tunnels.size} tunnel(s) stopped and disabled, firewall chains removed, ${files} file(s) removed`;
    out.info(`${run.name}: ${detail}`);
    return { status: 'cleaned', detail };
  });
}
