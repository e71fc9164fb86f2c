import type { PkiMaterial } from '../types.js';
import { trustBundle } from './ca-bundle.js';
import { certificatePem } from './certificates.js';
import { crlNeedsRenewal } from './ensure.js';
import { inspectPki, type PkiRequest, type PkiSnapshot, pkiErrorFrom } from './inspect.js';
import { hasUsableCert, hasUsableKey } from './inspect-material.js';
import { rel } from './layout.js';
import { newPkiState, type PkiState } from './state.js';

/**
 * The PKI as `meshctl diff` sees it, like Terraform's plan: the material that exists, as it is, and for everything
 * ensurePki would create or renew, a placeholder clearly marked as such — with the list of those files. Nothing is
 * written: no file, no directory, no pki.json, no mtime. The refusals are ensurePki's own (inspectPki), so diff
 * refuses exactly the PKI apply would refuse.
 *
 * Placeholders are text no OpenVPN accepts, and the commands that push or write (apply, add-lan, remove-lan,
 * render) refuse any desired file that holds one (refusePlaceholders in src/commands/desired.ts).
 */

/** How every placeholder starts: `# meshctl placeholder: <file> would be created …`. */
export const PLACEHOLDER_PREFIX = '# meshctl placeholder: ';

export type PendingChange = 'would be created' | 'would be renewed';

export interface PkiPreview {
  material: PkiMaterial;
  /** Files apply would create, relative to the PKI dir, in ensurePki's write order. */
  wouldCreate: string[];
  /** Existing files apply would rewrite: a CRL due for renewal, pki.json recording a certificate or a CRL. */
  wouldUpdate: string[];
}

export async function previewPki(opts: PkiRequest & { now?: Date }): Promise<PkiPreview> {
  const now = opts.now ?? new Date();
  const { snapshot, problems } = await inspectPki(opts, 'use');
  if (problems.length > 0) throw pkiErrorFrom(problems);
  const pending = new Pending();
  if (snapshot.state === undefined) pending.create(rel.state);
  if (!snapshot.gitignoreExists) pending.create(rel.gitignore);
  const state = snapshot.state ?? newPkiState(opts.mesh);

  if (snapshot.ca.key === undefined || snapshot.ca.keyPem === undefined) pending.create(rel.caKey);
  const caCert =
    snapshot.ca.cert === undefined ? pending.create(rel.caCert) : certificatePem(snapshot.ca.cert);

  const gateways = new Map<string, { cert: string; key: string }>();
  for (const lan of new Set(opts.lans)) {
    const existing = snapshot.gateways.get(lan) ?? {};
    const key =
      existing.keyPem === undefined || !hasUsableKey(existing)
        ? pending.create(rel.gatewayKey(lan))
        : existing.keyPem;
    const cert =
      existing.certPem === undefined || !hasUsableCert(existing)
        ? pending.create(rel.gatewayCert(lan))
        : existing.certPem;
    if (snapshot.state !== undefined && recordsChange(state, lan, existing.serial)) pending.update(rel.state);
    gateways.set(lan, { cert, key });
  }

  const tlsCrypt = new Map<number, string>();
  for (const k of new Set(opts.pairs)) {
    tlsCrypt.set(k, snapshot.tlsCrypt.get(k) ?? pending.create(rel.tlsCrypt(k)));
  }

  const crl = previewCrl(snapshot, state, now, pending);
  return {
    material: { ...trustBundle(snapshot, caCert, crl), gateways, tlsCrypt },
    wouldCreate: pending.created,
    wouldUpdate: pending.updated,
  };
}

/** The CRL as it is, unless ensurePki would write a new one (missing, stale, or due within the warning window). */
function previewCrl(snapshot: PkiSnapshot, state: PkiState, now: Date, pending: Pending): string {
  if (snapshot.crl === undefined) return pending.create(rel.crl);
  if (!crlNeedsRenewal(snapshot, state, now)) return snapshot.crl.pem;
  // a new CRL also takes the next CRL number in pki.json
  if (snapshot.state !== undefined) pending.update(rel.state);
  return pending.update(rel.crl);
}

/** Whether ensurePki would record something about this LAN in pki.json (as its recordIssued does). */
function recordsChange(state: PkiState, lan: string, serial: string | undefined): boolean {
  if (serial === undefined || state.retired.includes(lan)) return true;
  return !state.issued.some((issued) => issued.serial === serial);
}

/** Collects what apply would write and hands out the placeholder that stands in for it meanwhile. */
class Pending {
  readonly created: string[] = [];
  readonly updated: string[] = [];

  create(file: string): string {
    if (!this.created.includes(file)) this.created.push(file);
    return placeholder(file, 'would be created');
  }

  update(file: string): string {
    if (!this.updated.includes(file)) this.updated.push(file);
    return placeholder(file, 'would be renewed');
  }
}

function placeholder(file: string, change: PendingChange): string {
  return `${PLACEHOLDER_PREFIX}pki_dir/${file} ${change} by \`meshctl apply\`; \`meshctl diff\` creates no key material\n`;
}

/** Whether a desired file's content holds a placeholder anywhere: such a file must never leave the bastion. */
export function holdsPlaceholder(content: string): boolean {
  return content.includes(PLACEHOLDER_PREFIX);
}

/** For content that is a placeholder: what apply would do and the PKI file (relative, `pki_dir/…`); else undefined. */
export function placeholderOf(content: string): { change: PendingChange; file: string } | undefined {
  if (!content.startsWith(PLACEHOLDER_PREFIX)) return undefined;
  const match = /^pki_dir\/(\S+) (would be created|would be renewed) /.exec(
    content.slice(PLACEHOLDER_PREFIX.length),
  );
  return match ? { file: `pki_dir/${match[1]}`, change: match[2] as PendingChange } : undefined;
}
