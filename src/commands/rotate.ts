import { sshConnector } from '../connection/ssh.js';
import type { Connector } from '../connection/types.js';
import { UsageError } from '../errors.js';
import type { GatewayRun } from '../execute/gateway.js';
import { type EngineOptions, runEngine } from '../execute/run.js';
import { printSummary, runSucceeded, runsToJson } from '../execute/summary.js';
import { gatewayPaths, tunnelName, tunnelUnitOf } from '../gateway/layout.js';
import { loadInventoryOrThrow } from '../inventory/load.js';
import { allocateMesh } from '../mesh/allocate.js';
import type { Output } from '../output.js';
import {
  beginCaRotation,
  beginRetire,
  checkCaRotationReady,
  enterCaPhase,
  finishCaRotation,
  installNewCa,
  markCaDone,
  reissueUnderNewCa,
  undoReissue,
} from '../pki/ca-rotation.js';
import { rel } from '../pki/layout.js';
import {
  beginGatewayRotation,
  beginPairRotation,
  clearRotation,
  ensurePairReplaced,
  installNext,
  type RotationRecord,
  readRotation,
  revokePrevious,
  rotationCommand,
  undoGatewayRotation,
  undoPairRotation,
} from '../pki/rotation.js';
import { CA_PHASES, type CaPhase, type CaRotationRecord, rotationProgress } from '../pki/rotation-record.js';
import type { Inventory, Mesh, Pair } from '../types.js';
import { computeDesired, refusePlaceholders } from './desired.js';
import { type CommandDeps, type ConnectingOptions, engineBase, lockInventory } from './prepare.js';

/**
 * `meshctl rotate --pair A,B | --gateway NAME | --ca [--plan]` (SPEC §10): a planned key change, as a change in pki_dir
 * followed by a converge of the gateways concerned through the ordinary engine (which restarts both ends of a
 * changed tunnel together, verifies it and restores the previous files at both ends when it does not come up).
 *
 *   --pair A,B      a new tls-crypt key for the pair; A and B are converged together (or neither is); only that
 *                   tunnel restarts. Not up: the previous key goes back at both ends and in pki_dir.
 *   --gateway NAME  a new key and certificate for NAME (same CN, new serial); NAME and its peers are converged
 *                   together: NAME's tunnels restart (both ends), nothing else does. Once every one is verified,
 *                   the old serial is revoked, the new CRL goes to every gateway and NAME's tunnels restart once
 *                   more (OpenVPN checks a changed CRL only from its next TLS session on; no other tunnel
 *                   accepts NAME's CN). Not up: the previous key and certificate go back on NAME and in pki_dir.
 *
 *   --ca            a new CA in three phases (trust both, reissue every certificate, retire the old CA), each one
 *                   gateway at a time: that gateway alone is converged (all of its tunnels restart) and verified
 *                   before the next (rotateCa; pki_dir's side: src/pki/ca-rotation.ts).
 *
 * The rotation's state lives in pki_dir (src/pki/rotation.ts): the same command again finishes an interrupted
 * run, and any other rotation is refused until then. `--plan` prints what would change and restart, and writes
 * nothing. Every value is checked before the lock; no key material is ever printed or put in argv.
 */

export interface RotateOptions extends ConnectingOptions {
  pair?: string;
  gateway?: string;
  ca?: boolean;
  plan?: boolean;
}

type Target = { kind: 'pair'; ends: [string, string] } | { kind: 'gateway'; name: string } | { kind: 'ca' };

interface Resolved {
  target: Target;
  /** The gateways the rotation converges (in the order of the inventory). */
  gateways: string[];
  /** The tunnel units that restart, per gateway. */
  restarts: Map<string, string[]>;
  pair?: Pair;
}

export async function run(options: RotateOptions, out: Output, deps: CommandDeps = {}): Promise<number> {
  const target = parseTarget(options);
  // resolved against the inventory before the lock exists or anything changes
  resolve(loadInventoryOrThrow(options.inventory).inventory, target);
  const { done } = lockInventory(options.inventory, `meshctl rotate ${describeTarget(target)}`);
  try {
    // again under the lock: another run may have changed the inventory meanwhile
    const { inventory } = loadInventoryOrThrow(options.inventory);
    const mesh = allocateMesh(inventory);
    const resolved = resolve(inventory, target, mesh);
    const dir = inventory.mesh.pkiDir;
    const pending = readRotation(dir);
    if (pending && !sameTarget(pending, target)) {
      throw new UsageError(
        `${dir}/${rel.rotation}: another rotation is not finished (${rotationCommand(pending)}, started ${pending.startedAt}). Fix: run \`${rotationCommand(pending)}\` to finish it first; nothing was changed`,
      );
    }
    if (options.plan) {
      printPlan(resolved, pending, mesh, out);
      return 0;
    }
    const connector = deps.connector ?? sshConnector;
    const run: RotationRun = { resolved, pending, inventory, options, out, connector };
    if (target.kind === 'ca') return await rotateCa(run);
    return target.kind === 'pair' ? await rotatePair(run) : await rotateGateway(run);
  } finally {
    done();
  }
}

/** Exactly one of --pair and --gateway; --limit is refused (a rotation picks its own gateways). */
function parseTarget(options: RotateOptions): Target {
  if (options.limit !== undefined) {
    throw new UsageError(
      '--limit: rotate converges exactly the gateways the rotation concerns (both ends of the pair, or the gateway and its peers). Fix: leave --limit out',
    );
  }
  const given = [options.pair !== undefined, options.gateway !== undefined, Boolean(options.ca)].filter(
    Boolean,
  ).length;
  if (given !== 1) {
    throw new UsageError(
      `rotate needs exactly one of --pair A,B (a new tls-crypt key for one tunnel), --gateway NAME (a new key and certificate for one gateway) and --ca (a new CA, in three phases); ${given === 0 ? 'none was given' : `${given} were given`}. Fix: pass one of them`,
    );
  }
  if (options.ca) return { kind: 'ca' };
  if (options.gateway !== undefined) return { kind: 'gateway', name: options.gateway.trim() };
  const ends = options.pair!.split(',').map((name) => name.trim());
  if (ends.length !== 2 || ends.some((name) => name === '') || ends[0] === ends[1]) {
    throw new UsageError(
      `--pair ${JSON.stringify(options.pair)}: not two different gateway names. Fix: pass --pair A,B with the two ends of one tunnel`,
    );
  }
  return { kind: 'pair', ends: [ends[0]!, ends[1]!] };
}

function describeTarget(target: Target): string {
  if (target.kind === 'ca') return '--ca';
  return target.kind === 'pair' ? `--pair ${target.ends.join(',')}` : `--gateway ${target.name}`;
}

function sameTarget(record: RotationRecord, target: Target): boolean {
  if (record.kind === 'ca' || target.kind === 'ca') return record.kind === target.kind;
  if (record.kind === 'pair' && target.kind === 'pair') {
    return [...record.ends].sort().join(',') === [...target.ends].sort().join(',');
  }
  return record.kind === 'gateway' && target.kind === 'gateway' && record.gateway === target.name;
}

/** The names must be gateways of the inventory and the pair one the topology tunnels. */
function resolve(inventory: Inventory, target: Target, mesh: Mesh = allocateMesh(inventory)): Resolved {
  const names = inventory.gateways.map((g) => g.name);
  const known = (name: string, option: string) => {
    if (names.includes(name)) return;
    const lan = inventory.lans.find((l) => l.name === name);
    const hint = lan
      ? `LAN "${name}" has several gateways: name one of them (${lan.gateways.map((g) => g.name).join(', ')})`
      : `gateways are: ${names.join(', ')}`;
    throw new UsageError(`${option}: "${name}" is not a gateway of the inventory ${inventory.dir}; ${hint}`);
  };
  const units = (peers: string[]) => peers.map((peer) => tunnelUnitOf(tunnelName(peer)));
  if (target.kind === 'ca') {
    // one gateway at a time, each restarting all of its own tunnels (the peers' ends reconnect)
    const restarts = new Map(
      names.map((name) => [name, units((mesh.tunnels.get(name) ?? []).map((t) => t.peer.name))]),
    );
    return { target, gateways: names, restarts };
  }
  if (target.kind === 'gateway') {
    known(target.name, '--gateway');
    const peers = (mesh.tunnels.get(target.name) ?? []).map((t) => t.peer.name);
    const restarts = new Map<string, string[]>([[target.name, units(peers)]]);
    for (const peer of peers) restarts.set(peer, units([target.name]));
    const chosen = new Set([target.name, ...peers]);
    return { target, gateways: names.filter((n) => chosen.has(n)), restarts };
  }
  const [a, b] = target.ends;
  known(a, '--pair');
  known(b, '--pair');
  const pair = mesh.pairs.find(
    (p) => (p.low.name === a && p.high.name === b) || (p.low.name === b && p.high.name === a),
  );
  if (!pair) {
    const peersOf = (name: string) =>
      (mesh.tunnels.get(name) ?? []).map((t) => t.peer.name).join(', ') || 'none';
    throw new UsageError(
      `--pair ${a},${b}: the topology has no tunnel between ${a} and ${b}, so they share no tls-crypt key. Tunnels of ${a}: ${peersOf(a)}; of ${b}: ${peersOf(b)}`,
    );
  }
  const restarts = new Map<string, string[]>([
    [a, units([b])],
    [b, units([a])],
  ]);
  return { target, gateways: names.filter((n) => n === a || n === b), restarts, pair };
}

/** `--plan`: what changes in pki_dir, on which gateways, what restarts. Reads nothing but the inventory and the record. */
function printPlan(resolved: Resolved, pending: RotationRecord | undefined, mesh: Mesh, out: Output): void {
  const { target } = resolved;
  const lines: string[] = [];
  const phases: { title: string; pki: string[]; converge: string[]; restarts: string[] }[] = [];
  const restartList = (only?: string[]) =>
    [...resolved.restarts]
      .filter(([g]) => !only || only.includes(g))
      .flatMap(([g, us]) => us.map((u) => `${g}: ${u}`));
  if (target.kind === 'ca') {
    planCa(resolved, pending?.kind === 'ca' ? pending : undefined, lines, phases);
  } else if (target.kind === 'pair') {
    const pair = resolved.pair!;
    const from = pending ? 'resumes' : 'starts';
    lines.push(
      `rotate --pair ${target.ends.join(',')} ${from}: pair ${pair.index} (${pair.low.name} <-> ${pair.high.name}, UDP ${pair.port})`,
    );
    phases.push({
      title: 'new tls-crypt key, both ends together',
      pki: pending
        ? [
            `${rel.tlsCrypt(pair.index)} already new (the previous key kept in ${rel.previousTlsCrypt(pair.index)})`,
          ]
        : [
            `${rel.tlsCrypt(pair.index)}: a new key (the previous one kept in ${rel.previousTlsCrypt(pair.index)} until both ends verify)`,
          ],
      converge: resolved.gateways.map((g) => `${g}: ${gatewayPaths.tlsCrypt(pair.index)}`),
      restarts: restartList(),
    });
  } else {
    const name = target.name;
    const peers = resolved.gateways.filter((g) => g !== name);
    const phase = pending?.kind === 'gateway' ? pending.phase : undefined;
    lines.push(
      `rotate --gateway ${name} ${pending ? `resumes (phase ${phase})` : 'starts'}: ${peers.length} tunnel(s), to ${peers.join(', ') || 'none'}`,
    );
    if (phase !== 'revoking') {
      phases.push({
        title: `new key and certificate for ${name}`,
        pki: [
          `${rel.gatewayKey(name)}, ${rel.gatewayCert(name)}: ${pending ? 'already new' : `a new key and certificate (CN ${name}, new serial)`}; the previous ones kept in ${rel.rotationDir}/ until every tunnel of ${name} verifies`,
        ],
        converge: [
          `${name}: ${gatewayPaths.cert(name)}, ${gatewayPaths.key(name)}, ${gatewayPaths.managementPassword}`,
          ...peers.map((p) => `${p}: nothing changes (it verifies ${name} by CA and CN)`),
        ],
        restarts: restartList(),
      });
    }
    phases.push({
      title: `revoke the old certificate of ${name}`,
      pki: [`${rel.crl}: a new CRL listing the old serial; the old certificate moved to revoked/`],
      converge: mesh.inventory.gateways.map((g) => `${g.name}: ${gatewayPaths.crl}`),
      // OpenVPN checks a changed CRL only from its next TLS session on: the tunnels verifying NAME reload it
      restarts: restartList(),
    });
  }
  phases.forEach((phase, i) => {
    lines.push(`\nphase ${i + 1}: ${phase.title}`);
    lines.push('  pki_dir:');
    for (const p of phase.pki) lines.push(`    ${p}`);
    lines.push('  files on gateways:');
    for (const c of phase.converge) lines.push(`    ${c}`);
    lines.push(`  restarts: ${phase.restarts.length === 0 ? 'nothing' : ''}`);
    for (const r of phase.restarts) lines.push(`    ${r}`);
  });
  lines.push(
    '\nEach converge also applies any other change the inventory holds for those gateways: run `meshctl diff` first.',
  );
  lines.push('Nothing was written (--plan).');
  out.info(lines.join('\n'));
  out.result('rotate', {
    ok: true,
    plan: true,
    target: describeTarget(target),
    pending: pending ? { command: rotationCommand(pending), startedAt: pending.startedAt } : null,
    gateways: resolved.gateways,
    phases,
  });
}

/** One converge of `selected`, both ends of every changed key together. */
async function converge(
  selected: string[],
  options: RotateOptions,
  out: Output,
  connector: Connector,
  how: Pick<EngineOptions, 'together' | 'restart' | 'verifyAlone' | 'rolling'>,
): Promise<GatewayRun[]> {
  // expired material is reported, not refused: rotating it is the fix
  const desired = await computeDesired({ inventory: options.inventory }, out, 'create', 'warn');
  refusePlaceholders(desired.states);
  const { runs } = await runEngine(desired.states, selected, {
    apply: true,
    ...engineBase(options, out, connector),
    ...how,
  });
  return runs;
}

/** What the converge did to the tunnels a rotation changed. */
type Verdict =
  /** every one verified (or already converged and confirmed by an earlier run) */
  | 'verified'
  /** every one rolled back to its previous files, at both ends */
  | 'rolled-back'
  /** no gateway was written: nothing changed there */
  | 'untouched'
  /** anything else: the record stays, the same command finishes it */
  | 'unknown';

/**
 * `restoredAt`: the gateways whose changed key material a rollback must have put back, with the file (on the
 * gateway) that proves it, for the rotation to count as undone there.
 */
function verdict(
  runs: GatewayRun[],
  restarts: Map<string, string[]>,
  restoredAt: { gateway: string; path: string }[],
): Verdict {
  if (runs.every((r) => r.failure && r.landed.length === 0)) return 'untouched';
  const touched = runs.flatMap((run) =>
    run.tunnels.filter((t) => (restarts.get(run.name) ?? []).includes(t.unit)),
  );
  // a tunnel this run did not touch was already converged and confirmed: the manifest vouches only for
  // verified files, so an unconfirmed one would have been restarted and verified again
  if (runs.every((r) => !r.failure) && touched.every((t) => t.outcome.kind === 'verified')) return 'verified';
  const restored = ({ gateway, path }: { gateway: string; path: string }) => {
    const run = runs.find((r) => r.name === gateway);
    const units = restarts.get(gateway) ?? [];
    return (
      units.length > 0 &&
      units.every((unit) => {
        const outcome = run?.tunnels.find((t) => t.unit === unit)?.outcome;
        return outcome?.kind === 'rolled-back' && outcome.restored.includes(path);
      })
    );
  };
  return restoredAt.every(restored) ? 'rolled-back' : 'unknown';
}

function finishResult(
  out: Output,
  body: { ok: boolean; target: Target; outcome: string; runs: GatewayRun[]; extra?: Record<string, unknown> },
): number {
  printSummary(body.runs, true, out);
  out.result('rotate', {
    ok: body.ok,
    target: describeTarget(body.target),
    outcome: body.outcome,
    gateways: runsToJson(body.runs, true),
    ...body.extra,
  });
  return body.ok ? 0 : 1;
}

/** What one rotation works with: the target resolved against the inventory, the pending record if any. */
interface RotationRun {
  resolved: Resolved;
  pending: RotationRecord | undefined;
  inventory: Inventory;
  options: RotateOptions;
  out: Output;
  connector: Connector;
}

async function rotatePair(run: RotationRun): Promise<number> {
  const { resolved, pending, inventory, options, out, connector } = run;
  const pair = resolved.pair!;
  const dir = inventory.mesh.pkiDir;
  const ends = resolved.gateways as [string, string];
  let record: RotationRecord & { kind: 'pair' };
  if (pending?.kind === 'pair') {
    record = pending;
    out.info(
      `rotate: finishing the rotation of pair ${pair.index} (${ends.join(' <-> ')}) started ${pending.startedAt}`,
    );
    // stopped before the new key was written: write it now, or the resume would "verify" the old key
    if (await ensurePairReplaced(dir, record))
      out.info('rotate: the new key had not been written yet: written now');
  } else {
    record = (await beginPairRotation({
      dir,
      mesh: inventory.mesh.name,
      pair: pair.index,
      ends,
    })) as RotationRecord & { kind: 'pair' };
    out.info(
      `pki: new tls-crypt key for pair ${pair.index} (${ends.join(' <-> ')}); the previous one is kept until both ends verify`,
    );
  }
  const runs = await converge(ends, options, out, connector, { together: true });
  const result = verdict(
    runs,
    resolved.restarts,
    ends.map((gateway) => ({ gateway, path: gatewayPaths.tlsCrypt(pair.index) })),
  );
  const target = resolved.target;
  // "untouched" proves the previous key is still at both ends only when this run began the rotation: an earlier
  // run may have landed the new one already
  const undo = result === 'rolled-back' || (result === 'untouched' && pending === undefined);
  if (result === 'verified') {
    await clearRotation(dir, record);
    out.info(
      out.color.green(`\nrotate: pair ${pair.index} (${ends.join(' <-> ')}) runs on its new tls-crypt key`),
    );
    return finishResult(out, { ok: true, target, outcome: 'rotated', runs });
  }
  if (undo) {
    await undoPairRotation(dir, record);
    out.warn(
      out.color.red(
        result === 'untouched'
          ? `rotate: no gateway was changed (see above); the previous tls-crypt key of pair ${pair.index} is back in pki_dir. Fix the cause and run \`${rotationCommand(record)}\` again`
          : `rotate: the tunnel did not come up on the new key; the previous key is restored at both ends and in pki_dir. Fix the cause and run \`${rotationCommand(record)}\` again`,
      ),
    );
    return finishResult(out, { ok: false, target, outcome: result, runs });
  }
  out.warn(
    out.color.red(
      `rotate: not finished: the outcome at one end is unknown (see above). pki_dir holds the new key and keeps the previous one aside; fix the cause and run \`${rotationCommand(record)}\` again to finish`,
    ),
  );
  return finishResult(out, { ok: false, target, outcome: 'pending', runs });
}

async function rotateGateway(run: RotationRun): Promise<number> {
  const { resolved, pending, inventory, options, out, connector } = run;
  const target = resolved.target as Target & { kind: 'gateway' };
  const name = target.name;
  const dir = inventory.mesh.pkiDir;
  const mesh = inventory.mesh.name;
  let record: RotationRecord & { kind: 'gateway' };
  if (pending?.kind === 'gateway') {
    record = pending;
    out.info(
      `rotate: finishing the rotation of ${name}'s certificate started ${pending.startedAt} (phase ${pending.phase})`,
    );
    if (record.phase === 'switching') await installNext(dir, record);
  } else {
    record = await beginGatewayRotation({ dir, mesh, gateway: name });
    out.info(
      `pki: new key and certificate for ${name} (serial ${record.newSerial}); the previous ones (serial ${record.oldSerial}) are kept until every tunnel of ${name} verifies`,
    );
  }
  let switched: GatewayRun[] = [];
  if (record.phase === 'switching') {
    switched = await converge(resolved.gateways, options, out, connector, { together: true });
    const result = verdict(switched, resolved.restarts, [{ gateway: name, path: gatewayPaths.cert(name) }]);
    // as for a pair: "untouched" is proof only for a rotation this run began
    if (result === 'rolled-back' || (result === 'untouched' && pending === undefined)) {
      await undoGatewayRotation(dir, record);
      out.warn(
        out.color.red(
          result === 'untouched'
            ? `rotate: no gateway was changed (see above); the previous key and certificate of ${name} are back in pki_dir. Fix the cause and run \`${rotationCommand(record)}\` again`
            : `rotate: ${name}'s tunnels did not come up on the new certificate; its previous key and certificate are restored on ${name} and in pki_dir. Fix the cause and run \`${rotationCommand(record)}\` again`,
        ),
      );
      return finishResult(out, { ok: false, target, outcome: result, runs: switched });
    }
    if (result !== 'verified') {
      out.warn(
        out.color.red(
          `rotate: not finished: not every tunnel of ${name} was verified on the new certificate (see above); the old one is not revoked yet. Fix the cause and run \`${rotationCommand(record)}\` again to finish`,
        ),
      );
      return finishResult(out, { ok: false, target, outcome: 'pending', runs: switched });
    }
    record = await revokePrevious({ dir, mesh, record });
    out.info(
      `pki: old certificate of ${name} (serial ${record.oldSerial}) revoked; the new CRL goes to every gateway, and ${name}'s tunnels restart once more to load it`,
    );
  }
  const all = inventory.gateways.map((g) => g.name);
  // OpenVPN loads a changed crl-verify file only when it sets up its next TLS session, so the next handshake of
  // a running tunnel would still be checked against the old list (seen on OpenVPN 2.6: a peer presenting the
  // revoked certificate got in once). The tunnels that verify NAME restart (both ends) with the new CRL loaded;
  // no other tunnel accepts NAME's CN, so no other restarts.
  const reload = new Map<string, string>();
  for (const [gateway, units] of resolved.restarts) {
    for (const unit of units) {
      reload.set(
        `${gateway} ${unit}`,
        `the old certificate of ${name} is revoked: restart so OpenVPN checks the new CRL from the next handshake on`,
      );
    }
  }
  const revoked = await converge(all, options, out, connector, { together: false, restart: reload });
  const ok = revoked.every(runSucceeded);
  const runs = [...switched, ...revoked];
  if (!ok) {
    const left = revoked.filter((r) => !runSucceeded(r)).map((r) => r.name);
    out.warn(
      out.color.red(
        `rotate: ${name} runs on its new certificate and the old serial is revoked in pki_dir, but ${left.join(', ')} did not get the new CRL yet, or not the restart that loads it (see above), so there the old certificate may still be accepted. Fix the cause and run \`${rotationCommand(record)}\` again (or \`meshctl apply\`)`,
      ),
    );
    return finishResult(out, { ok: false, target, outcome: 'pending', runs });
  }
  await clearRotation(dir, record);
  out.info(
    out.color.green(
      `\nrotate: ${name} runs on its new certificate (serial ${record.newSerial}); the old one (serial ${record.oldSerial}) is revoked on every gateway`,
    ),
  );
  return finishResult(out, {
    ok: true,
    target,
    outcome: 'rotated',
    runs,
    extra: { oldSerial: record.oldSerial, newSerial: record.newSerial },
  });
}

/** `rotate --ca --plan`: the three phases, one gateway at a time in inventory order, and where a pending one stands. */
function planCa(
  resolved: Resolved,
  pending: CaRotationRecord | undefined,
  lines: string[],
  phases: { title: string; pki: string[]; converge: string[]; restarts: string[] }[],
): void {
  const current = pending ? CA_PHASES.indexOf(pending.phase) : -1;
  lines.push(
    pending
      ? `rotate --ca resumes: ${rotationProgress(pending, resolved.gateways.length)} (started ${pending.startedAt})`
      : `rotate --ca starts: ${resolved.gateways.length} gateway(s), three phases, one gateway at a time; each gateway's tunnels are verified before the next`,
  );
  const steps = (phase: number, what: (g: string) => string) =>
    resolved.gateways.map((g) => {
      const done = current > phase || (current === phase && pending!.done.includes(g));
      const units = resolved.restarts.get(g) ?? [];
      return `${g}: ${what(g)}; restarts its ${units.length} tunnel(s)${done ? ' (done)' : ''}`;
    });
  const restarts = resolved.gateways.flatMap((g) =>
    (resolved.restarts.get(g) ?? []).map((u) => `${g}: ${u}`),
  );
  phases.push({
    title: `trust both CAs${current > 0 ? ' (done)' : ''}`,
    pki: [
      current >= 0
        ? `${rel.nextCaCert}, ${rel.nextCaKey}, ${rel.nextCrl}: the new CA and its CRL (already made)`
        : `${rel.nextCaCert}, ${rel.nextCaKey}, ${rel.nextCrl}: a new CA and its CRL; ${rel.rotation} records the rotation`,
    ],
    converge: steps(0, () => `${gatewayPaths.caCert} and ${gatewayPaths.crl} hold both CAs and both CRLs`),
    restarts,
  });
  phases.push({
    title: `reissue every gateway certificate under the new CA${current > 1 ? ' (done)' : ''}`,
    pki: ['issued/<gateway>.crt: signed by the new CA (same key, new serial), one gateway at a time'],
    converge: steps(1, (g) => `${gatewayPaths.cert(g)}`),
    restarts,
  });
  phases.push({
    title: 'retire the old CA',
    pki: [
      `${rel.caCert}, ${rel.caKey}, ${rel.crl}: the new CA's; the old CA certificate kept as revoked/ca-<serial>.crt`,
    ],
    converge: steps(2, () => `${gatewayPaths.caCert} and ${gatewayPaths.crl}: the new CA alone`),
    restarts,
  });
}

/**
 * Before a CA rotation begins: every gateway connected to and its facts read (nothing changed), so one that
 * cannot be reached refuses the rotation instead of stopping it halfway.
 */
async function preflight(
  options: RotateOptions,
  out: Output,
  connector: Connector,
  all: string[],
): Promise<void> {
  // read only: the preview of the material (nothing is created before the rotation begins)
  const desired = await computeDesired({ inventory: options.inventory }, out, 'preview', 'warn');
  const { runs } = await runEngine(desired.states, all, {
    apply: false,
    ...engineBase(options, out, connector),
  });
  const failed = runs.filter((r) => r.failure);
  if (failed.length > 0) {
    throw new UsageError(
      `rotate --ca converges every gateway in turn, and ${failed.map((r) => `${r.name} (${r.failure!.stage}: ${r.failure!.message})`).join('; ')} could not be read; nothing was changed. Fix the cause and run it again`,
    );
  }
}

/** One gateway converged alone: it counts as done when it was reached and every one of its tunnels verified. */
function gatewayDone(runs: GatewayRun[]): boolean {
  return (
    runs.length === 1 && !runs[0]!.failure && runs[0]!.tunnels.every((t) => t.outcome.kind === 'verified')
  );
}

/**
 * `rotate --ca` (SPEC §10): three phases, each converging one gateway at a time (all of its tunnels restart, both
 * ends stay in the mesh: the peers' ends reconnect) and verifying it before the next. The record in pki_dir says
 * which gateways each phase has done, so a run stopped anywhere is finished by running it again; a gateway that
 * fails stops the rotation there (its previous files are put back when its tunnels did not come up), with every
 * gateway still trusting the CA of every certificate in use.
 */
async function rotateCa(run: RotationRun): Promise<number> {
  const { resolved, pending, inventory, options, out, connector } = run;
  const dir = inventory.mesh.pkiDir;
  const mesh = inventory.mesh.name;
  const target = resolved.target;
  const all = resolved.gateways;
  let record: CaRotationRecord;
  if (pending?.kind === 'ca') {
    record = pending;
    out.info(`rotate --ca: resuming, ${rotationProgress(record, all.length)} (started ${record.startedAt})`);
    if (record.phase === 'retire') await installNewCa(dir);
  } else {
    // every gateway ready and reached before anything is written: one that is not would stop the rotation halfway
    await checkCaRotationReady({ dir, mesh, gateways: all });
    await preflight(options, out, connector, all);
    record = await beginCaRotation({ dir, mesh, gateways: all });
    out.info(
      `pki: a new CA (serial ${record.newCa}) and its CRL beside the current one (serial ${record.oldCa}); ${rel.rotation} records the rotation`,
    );
  }
  const runs: GatewayRun[] = [];
  const stopped = (gateway: string, why: string): number => {
    out.warn(
      out.color.red(
        `rotate --ca: stopped at ${gateway} in ${rotationProgress(record, all.length)}: ${why}. Every gateway still trusts the CA of every certificate in use. Fix the cause and run \`meshctl rotate --ca\` again: it goes on from ${gateway}`,
      ),
    );
    return finishResult(out, {
      ok: false,
      target,
      outcome: 'pending',
      runs,
      extra: { phase: record.phase, done: record.done, stoppedAt: gateway },
    });
  };
  const titles: Record<CaPhase, string> = {
    trust: 'trust both CAs',
    reissue: 'certificates of the new CA',
    retire: 'the new CA alone',
  };
  for (const phase of CA_PHASES) {
    if (CA_PHASES.indexOf(phase) < CA_PHASES.indexOf(record.phase)) continue;
    if (record.phase !== phase) {
      record = phase === 'retire' ? await beginRetire(dir, record) : await enterCaPhase(dir, record, phase);
      if (phase === 'retire') {
        out.info(
          `pki: the new CA is pki_dir's CA now; the old one is kept aside until every gateway drops it`,
        );
      }
    }
    const left = all.filter((g) => !record.done.includes(g));
    for (const gateway of left) {
      const step = CA_PHASES.indexOf(phase) + 1;
      out.info(
        out.color.bold(
          `\nrotate --ca: phase ${step} of 3 (${titles[phase]}): ${gateway} (${record.done.length + 1} of ${all.length})`,
        ),
      );
      const reissued = phase === 'reissue' ? await reissueUnderNewCa({ dir, mesh, gateway }) : false;
      if (reissued) out.info(`pki: ${gateway}'s certificate reissued by the new CA (same key, new serial)`);
      const converged = await converge([gateway], options, out, connector, {
        together: false,
        verifyAlone: true,
        // with bgp, the gateway's other tunnels carry its traffic while each one restarts (SPEC §10)
        rolling: inventory.mesh.routing === 'bgp',
      });
      runs.push(...converged);
      if (gatewayDone(converged)) {
        record = await markCaDone(dir, record, gateway);
        continue;
      }
      if (phase === 'reissue') {
        const result = verdict(converged, resolved.restarts, [{ gateway, path: gatewayPaths.cert(gateway) }]);
        if (result === 'rolled-back' || (result === 'untouched' && reissued)) {
          await undoReissue(dir, gateway);
          return stopped(
            gateway,
            `its tunnels did not come up on the new certificate (or it could not be reached); the previous certificate is back on ${gateway} and in pki_dir`,
          );
        }
      }
      return stopped(gateway, 'not every one of its tunnels was verified (see above)');
    }
  }
  await finishCaRotation(dir, record);
  out.info(
    out.color.green(
      `\nrotate --ca: every gateway trusts the new CA (serial ${record.newCa}) alone and presents a certificate it signed; the old CA (serial ${record.oldCa}) is retired (its certificate kept in pki_dir/${rel.retiredCaCert(record.oldCa)})`,
    ),
  );
  return finishResult(out, {
    ok: true,
    target,
    outcome: 'rotated',
    runs,
    extra: { oldCa: record.oldCa, newCa: record.newCa },
  });
}
