/** The PEM blocks of a file (a CA bundle holds several certificates, a CRL bundle several CRLs), each with its newline. */
export function pemBlocks(text: string): string[] {
  return [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g)].map((m) => `${m[0]}\n`);
}
