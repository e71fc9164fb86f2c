/**
 * pki.json: the PKI's own record. It binds the directory to one mesh and remembers what the files alone cannot:
 * every serial ever issued (so a new serial never repeats one) and the revoked serials (the CRL is rebuilt from
 * them, so losing this file would silently un-revoke gateways — which is why a PKI without it is refused).
 */

export const PKI_FORMAT = 1;

export interface IssuedRecord {
  lan: string;
  /** Lowercase hex, as in the certificate. */
  serial: string;
  notBefore: string;
  notAfter: string;
}

export interface RevokedRecord {
  lan: string;
  serial: string;
  /** ISO time; written into the CRL entry. */
  revokedAt: string;
}

export interface PkiState {
  format: number;
  mesh: string;
  /** Number of the last CRL written (CRL number extension: increases with every CRL). */
  crlNumber: number;
  /** Every certificate ever issued, revoked ones included. */
  issued: IssuedRecord[];
  revoked: RevokedRecord[];
  /**
   * LAN names whose certificate was revoked and which hold no certificate since. A name may come back: the
   * operator can add a LAN with that name again, and ensurePki then issues a NEW certificate (new serial) and
   * drops the name from this list, while the old serial stays revoked in the CRL. What must never come back is a
   * LAN *id* (mesh.yml retired_ids), because pair indices, ports and transit addresses derive from ids.
   */
  retired: string[];
}

export function newPkiState(mesh: string): PkiState {
  return { format: PKI_FORMAT, mesh, crlNumber: 0, issued: [], revoked: [], retired: [] };
}

export function serializePkiState(state: PkiState): string {
  return `${JSON.stringify(state, null, 2)}\n`;
}

/** Parses pki.json; returns the problem (without the fix) when it is not a PKI record this version understands. */
export function parsePkiState(text: string): PkiState | { problem: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { problem: `is not valid JSON (${(error as Error).message})` };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return { problem: 'is not a JSON object' };
  const r = raw as Record<string, unknown>;
  if (r.format !== PKI_FORMAT) {
    return { problem: `has format ${JSON.stringify(r.format)}, this meshctl reads format ${PKI_FORMAT}` };
  }
  if (typeof r.mesh !== 'string' || r.mesh === '') return { problem: 'has no "mesh" name' };
  if (!Number.isSafeInteger(r.crlNumber) || (r.crlNumber as number) < 0) {
    return { problem: `has a bad "crlNumber" ${JSON.stringify(r.crlNumber)}` };
  }
  const issued = recordList(r.issued, 'issued', ['lan', 'serial', 'notBefore', 'notAfter']);
  if ('problem' in issued) return issued;
  const revoked = recordList(r.revoked, 'revoked', ['lan', 'serial', 'revokedAt']);
  if ('problem' in revoked) return revoked;
  if (!Array.isArray(r.retired) || !r.retired.every((n) => typeof n === 'string')) {
    return { problem: '"retired" is not a list of LAN names' };
  }
  for (const entry of revoked.list) {
    if (Number.isNaN(Date.parse(entry.revokedAt))) {
      return {
        problem: `"revoked" entry ${entry.serial} has a bad revokedAt ${JSON.stringify(entry.revokedAt)}`,
      };
    }
  }
  return {
    format: PKI_FORMAT,
    mesh: r.mesh,
    crlNumber: r.crlNumber as number,
    issued: issued.list as unknown as IssuedRecord[],
    revoked: revoked.list as unknown as RevokedRecord[],
    retired: r.retired as string[],
  };
}

function recordList(
  value: unknown,
  field: string,
  keys: string[],
): { list: Record<string, string>[] } | { problem: string } {
  if (!Array.isArray(value)) return { problem: `"${field}" is not a list` };
  for (const [i, item] of value.entries()) {
    if (typeof item !== 'object' || item === null) return { problem: `"${field}[${i}]" is not an object` };
    for (const key of keys) {
      if (typeof (item as Record<string, unknown>)[key] !== 'string') {
        return { problem: `"${field}[${i}].${key}" is missing or not a string` };
      }
    }
  }
  return { list: value as Record<string, string>[] };
}

/** Serials compare as lowercase hex without leading zero bytes. */
export function normalizeSerial(serial: string): string {
  return serial.toLowerCase().replace(/^(00)+(?=..)/, '');
}
