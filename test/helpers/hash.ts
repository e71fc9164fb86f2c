import { createHash } from 'node:crypto';

/** The sha256 digest, hex by default: what the manifest and the probe report for a file's content. */
export function sha256(data: string | Buffer, encoding: 'hex' | 'base64' = 'hex'): string {
  return createHash('sha256').update(data).digest(encoding);
}
