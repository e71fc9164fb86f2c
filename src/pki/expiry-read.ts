import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rel } from './layout.js';
import type { ExpiryInput } from './warnings.js';

/**
 * The public files expiry is judged on, read as they are for commands that never create key material (validate,
 * status): what is missing is skipped (a PKI not created yet has nothing to expire). An unreadable directory is
 * the caller's warning, not a failure: `problem` says why.
 */
export function readExpiryInput(dir: string, gateways: string[]): { input: ExpiryInput; problem?: string } {
  const input: ExpiryInput = { certs: new Map() };
  let problem: string | undefined;
  const read = (relative: string): string | undefined => {
    try {
      return readFileSync(join(dir, relative), 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') {
        problem ??= `${join(dir, relative)}: cannot be read (${code ?? 'error'})`;
      }
      return undefined;
    }
  };
  const ca = read(rel.caCert);
  if (ca !== undefined) input.caCert = ca;
  const crl = read(rel.crl);
  if (crl !== undefined) input.crl = crl;
  for (const name of gateways) {
    const cert = read(rel.gatewayCert(name));
    if (cert !== undefined) input.certs.set(name, cert);
  }
  return problem === undefined ? { input } : { input, problem };
}
