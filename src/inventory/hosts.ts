import ipaddr from 'ipaddr.js';

/**
 * Endpoint and ssh_host values: an IPv4 address or an RFC 1123 DNS name. They land in OpenVPN `remote` lines and in
 * SSH connections, so nothing else gets through.
 */

/** Undefined when `value` is acceptable; otherwise why it is not. */
export function hostProblem(value: string): string | undefined {
  if (value.includes(':')) {
    return 'looks like an IPv6 address (or has a port); meshctl supports IPv4 addresses and DNS names for now';
  }
  if (/^[0-9.]+$/.test(value)) {
    return ipaddr.IPv4.isValidFourPartDecimal(value)
      ? undefined
      : 'is not a valid IPv4 address (four numbers 0-255)';
  }
  if (value.length > 253) return `is ${value.length} characters long; a DNS name has at most 253`;
  const labels = value.split('.');
  for (const label of labels) {
    if (label === '') return 'has an empty label (two dots in a row, or a leading or trailing dot)';
    if (label.length > 63) return `has a label of ${label.length} characters; a DNS label has at most 63`;
    if (!/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/.test(label)) {
      return `has the label "${label}": DNS labels hold only letters, digits and inner "-" (RFC 1123)`;
    }
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1]!))
    return 'ends in an all-numeric label, so it is not a DNS name';
  return undefined;
}
