/**
 * Policy for `openvpn.extra`: operators may tune tunnels (mtu, buffers, verbosity…), but not replace what meshctl
 * relies on for identity, encryption and layout. Each refused directive carries the reason.
 */

const SECURITY = 'would weaken or bypass the per-peer TLS identity meshctl sets up';
const LAYOUT = 'is set by meshctl per tunnel from the allocation; a mesh-wide value would break every tunnel';
const SCRIPTS =
  'runs commands on the gateway; meshctl keeps script-security at its default so configs cannot run code';

const REFUSED: Record<string, string> = {
  secret:
    'selects static-key mode, deprecated in OpenVPN 2.6 and removed in 2.7; meshctl uses TLS with per-peer certificates',
  'tls-remote': 'was removed in OpenVPN 2.4; meshctl already pins each peer with verify-x509-name',
  'verify-x509-name': `${SECURITY} (meshctl pins each peer's CN)`,
  'remote-cert-tls': SECURITY,
  'tls-verify': SCRIPTS,
  'tls-crypt': `${SECURITY} (meshctl gives each pair its own tls-crypt key)`,
  'tls-crypt-v2': SECURITY,
  'tls-auth': `${SECURITY} (tls-crypt is already in use)`,
  ca: SECURITY,
  cert: SECURITY,
  key: SECURITY,
  pkcs12: SECURITY,
  'crl-verify': `${SECURITY} (meshctl manages the CRL that revokes removed LANs)`,
  dh: 'meshctl uses ECDHE only (dh none)',
  'tls-server': LAYOUT,
  'tls-client': LAYOUT,
  client: LAYOUT,
  server: LAYOUT,
  mode: LAYOUT,
  dev: LAYOUT,
  'dev-type': LAYOUT,
  ifconfig: LAYOUT,
  'ifconfig-push': LAYOUT,
  topology: LAYOUT,
  remote: LAYOUT,
  port: LAYOUT,
  lport: LAYOUT,
  rport: LAYOUT,
  proto: `${LAYOUT} (the firewall rules meshctl writes accept UDP)`,
  route: `${LAYOUT} (routes to each peer's subnets are written per tunnel)`,
  'route-gateway': LAYOUT,
  config: 'would include another file that meshctl neither manages nor validates',
  status: LAYOUT,
  'script-security': SCRIPTS,
  up: SCRIPTS,
  down: SCRIPTS,
  'route-up': SCRIPTS,
  'route-pre-down': SCRIPTS,
  ipchange: SCRIPTS,
  'learn-address': SCRIPTS,
  'client-connect': SCRIPTS,
  'client-disconnect': SCRIPTS,
  'auth-user-pass-verify': SCRIPTS,
  plugin: SCRIPTS,
  'comp-lzo': 'enables compression, which leaks plaintext through packet sizes (VORACLE)',
  compress: 'enables compression, which leaks plaintext through packet sizes (VORACLE)',
  'ncp-disable': 'was removed in OpenVPN 2.6 and would disable AEAD cipher negotiation',
};

/** AEAD data-channel ciphers OpenVPN 2.5+ supports. */
const AEAD = new Set(['AES-128-GCM', 'AES-192-GCM', 'AES-256-GCM', 'CHACHA20-POLY1305']);

const CIPHER_DIRECTIVES = new Set(['cipher', 'data-ciphers', 'ncp-ciphers', 'data-ciphers-fallback']);

/** Undefined when the entry may be appended to tunnel configs; otherwise why not. */
export function extraDirectiveProblem(entry: string): { message: string; fix: string } | undefined {
  if (entry.includes('\0')) return { message: 'contains a NUL byte', fix: 'remove the NUL byte' };
  if (/[\r\n]/.test(entry)) {
    return {
      message: 'spans several lines',
      fix: 'write one directive per list entry, each on a single line',
    };
  }
  const trimmed = entry.trim();
  if (trimmed === '') return { message: 'is empty', fix: 'remove the empty entry' };
  if (trimmed.startsWith('<')) {
    return {
      message: 'is an inline file block',
      fix: 'remove it: keys and certificates are managed by meshctl',
    };
  }
  if (trimmed.startsWith('#') || trimmed.startsWith(';')) {
    return { message: 'is a comment', fix: 'put comments in the YAML (# …) rather than in the list' };
  }
  const [rawName = '', ...args] = trimmed.split(/\s+/);
  const name = rawName.replace(/^--/, '').toLowerCase();
  const reason = REFUSED[name];
  if (reason)
    return { message: `is refused: ${name} ${reason}`, fix: `remove "${trimmed}" from openvpn.extra` };
  if (CIPHER_DIRECTIVES.has(name)) {
    const ciphers = args.join(':').split(':').filter(Boolean);
    const weak = ciphers.filter((c) => !AEAD.has(c.toUpperCase()));
    if (ciphers.length === 0 || weak.length > 0) {
      return {
        message: `names ${weak.length ? `non-AEAD cipher(s) ${weak.join(', ')}` : 'no cipher'}: meshctl allows AEAD data ciphers only`,
        fix: `use only ${[...AEAD].join(', ')} (e.g. "data-ciphers AES-256-GCM:CHACHA20-POLY1305"), or remove it`,
      };
    }
  }
  if (name === 'allow-compression' && args[0]?.toLowerCase() !== 'no') {
    return {
      message:
        'is refused: allow-compression other than "no" re-enables compression, which leaks plaintext (VORACLE)',
      fix: 'remove it or write "allow-compression no"',
    };
  }
  return undefined;
}
