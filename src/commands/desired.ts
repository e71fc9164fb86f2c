import { formatDiagnostic } from '../inventory/format.js';
import { loadInventoryOrThrow } from '../inventory/load.js';
import { allocateMesh } from '../mesh/allocate.js';
import type { Output } from '../output.js';
import { ensurePki, holdsPlaceholder, placeholderOf, previewPki } from '../pki/index.js';
import { pendingRotationWarning } from '../pki/rotation-record.js';
import { expiryFindings, expiryOfMaterial, refuseExpired } from '../pki/warnings.js';
import { gatewayRenderer, renderMesh } from '../render/render.js';
import { loadRoles } from '../render/roles.js';
import type { DesiredState, Diagnostic, Inventory, Mesh, PkiMaterial } from '../types.js';
import { meshctlVersion } from '../version.js';

/**
 * `create`: the PKI is created on first need (render, apply, add-lan, remove-lan). `preview`: read-only, what is
 * missing is a marked placeholder (diff); such a desired state can be shown, never pushed or written.
 */
export type PkiMode = 'create' | 'preview';

export interface Desired {
  inventory: Inventory;
  mesh: Mesh;
  pki: PkiMaterial;
  /** Desired state of every gateway of the mesh (not only --limit's): a tunnel has two ends. */
  states: Map<string, DesiredState>;
  /** PKI files created by this run (paths), empty when everything was reused (and always in preview mode). */
  created: string[];
  /** Preview mode only: the PKI files apply would create or rewrite; placeholders stand in for them. */
  preview?: { wouldCreate: string[]; wouldUpdate: string[] };
  /** The inventory's warnings (already printed), for --json results. */
  warnings: Diagnostic[];
}

/**
 * The offline half of every command: inventory → mesh → PKI (created on first need and reused afterwards, or
 * previewed) → rendered desired state. Validation happens first, so bad input never creates a key or touches a
 * gateway.
 */
export async function computeDesired(
  options: { inventory: string },
  out: Output,
  mode: PkiMode = 'create',
  expiry: ExpiryPolicy = 'refuse',
  scope?: (inventory: Inventory) => string[],
  /** false: `states` is left empty, for a caller that renders one gateway at a time (renderDesired). */
  render = true,
): Promise<Desired> {
  const { inventory, warnings } = loadInventoryOrThrow(options.inventory);
  for (const w of warnings) out.warn(formatDiagnostic(w, { color: out.color.level > 0 }));
  return {
    ...(await desiredFromInventory(inventory, out, mode, expiry, scope?.(inventory), render)),
    warnings,
  };
}

/**
 * Expired key material (SPEC §10): `refuse` stops the command before any gateway is touched (diff, apply, add-lan,
 * remove-lan); `warn` reports it and goes on (rotate, which is the fix).
 */
export type ExpiryPolicy = 'refuse' | 'warn';

/**
 * The same for an inventory already loaded (add-lan and remove-lan validate a would-be inventory first):
 * mesh → PKI → rendered desired state of every gateway.
 */
export async function desiredFromInventory(
  inventory: Inventory,
  out: Output,
  mode: PkiMode = 'create',
  expiry: ExpiryPolicy = 'refuse',
  /** The gateways the command acts on (--limit): another gateway's expired certificate does not stop it. */
  only?: string[],
  render = true,
): Promise<Desired> {
  const mesh = allocateMesh(inventory);
  const request = {
    dir: inventory.mesh.pkiDir,
    mesh: inventory.mesh.name,
    // one certificate per gateway (CN = gateway name; the LAN's name for a LAN with one gateway)
    lans: inventory.gateways.map((gateway) => gateway.name),
    pairs: mesh.pairs.map((pair) => pair.index),
  };
  const pki: PkiResult = mode === 'preview' ? await previewed(request) : await ensurePki(request);
  const { material, created, preview } = pki;
  // after ensurePki, which renews a CRL near its end: what is left is for the operator (a preview's placeholders
  // parse as nothing and are skipped: apply creates or renews them)
  const findings = expiryFindings(expiryOfMaterial(material), new Date());
  const outside = (f: (typeof findings)[number]) =>
    only !== undefined && f.gateway !== undefined && !only.includes(f.gateway);
  for (const finding of findings) {
    if (finding.severity === 'warning') out.warn(out.color.yellow(`warning: ${finding.message}`));
    else if (expiry === 'warn') out.warn(out.color.red(`error: ${finding.message}`));
    else if (outside(finding)) {
      out.warn(out.color.red(`error: ${finding.message} (${finding.gateway} is not acted on by this run)`));
    }
  }
  if (expiry === 'refuse') refuseExpired(findings.filter((f) => !outside(f)));
  // rotate (the 'warn' policy) is the command that finishes a pending rotation: no warning about itself
  const rotation = expiry === 'refuse' ? pendingRotationWarning(inventory.mesh.pkiDir) : undefined;
  if (rotation) out.warn(out.color.yellow(`warning: ${rotation}`));
  const states = render
    ? renderMesh(mesh, material, loadRoles(), { version: meshctlVersion() })
    : new Map<string, DesiredState>();
  if (mode === 'create') refusePlaceholders(states);
  return { inventory, mesh, pki: material, states, created, warnings: [], ...(preview ? { preview } : {}) };
}

/**
 * One gateway's desired state at a time, for a command that needs each only once (render --out): what is written
 * can be dropped before the next is rendered, so a large mesh is never held whole. Each gateway rendered is checked
 * as renderMesh checks it (with --limit, only the gateways named and their peers).
 */
export function* renderDesired(desired: Desired, names: string[]): Generator<[string, DesiredState]> {
  const render = gatewayRenderer(desired.mesh, desired.pki, loadRoles(), { version: meshctlVersion() });
  for (const name of names) {
    const state = render(name);
    refusePlaceholders(new Map([[name, state]]));
    yield [name, state];
  }
}

type PkiResult = { material: PkiMaterial; created: string[]; preview?: Desired['preview'] };

async function previewed(request: Parameters<typeof previewPki>[0]): Promise<PkiResult> {
  const { material, wouldCreate, wouldUpdate } = await previewPki(request);
  return { material, created: [], preview: { wouldCreate, wouldUpdate } };
}

/**
 * The guard between a preview and a gateway: every command that pushes or writes desired files calls this first.
 * A placeholder stands in for a key that does not exist yet; pushed, it would replace a working key or certificate
 * with text OpenVPN refuses. Reaching it is a meshctl bug, never an operator's mistake.
 */
export function refusePlaceholders(states: Map<string, DesiredState>): void {
  for (const [name, state] of states) {
    const file = state.files.find((f) => holdsPlaceholder(f.content));
    if (file) {
      throw new Error(
        `refusing to push ${file.path} to ${name}: it holds a placeholder from a read-only PKI preview, not key material (a meshctl bug: report it)`,
      );
    }
  }
}

/** Per gateway: path → "(would be created) pki_dir/…" for each file a preview filled with a placeholder. */
export function pendingFiles(states: Map<string, DesiredState>): Map<string, Record<string, string>> {
  const pending = new Map<string, Record<string, string>>();
  for (const [name, state] of states) {
    const files: Record<string, string> = {};
    for (const file of state.files) {
      const of = placeholderOf(file.content);
      if (of) files[file.path] = `(${of.change}) from ${of.file}`;
    }
    if (Object.keys(files).length > 0) pending.set(name, files);
  }
  return pending;
}
