/** How plans name things in reasons and diffs. */

/** Unit names in messages: `openvpn-server@mesh-branch` reads better than with `.service`. */
export function shortUnit(unit: string): string {
  return unit.endsWith('.service') ? unit.slice(0, -'.service'.length) : unit;
}

/** `ab12cd34…`: enough of a checksum to compare by eye. */
export function shortSha(sha256: string): string {
  return `${sha256.slice(0, 8)}…`;
}

export function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}
