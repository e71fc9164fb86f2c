/** POSIX single-quoting for the one place the lab hands a command line to a shell (the ssh client's remote side). */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
