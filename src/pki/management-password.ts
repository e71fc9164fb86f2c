import { createHmac } from 'node:crypto';

/**
 * The password of a gateway's OpenVPN management interfaces (`management.pass`), derived from its private key so
 * that no new PKI state is needed: HMAC-SHA256 keyed with the private key PEM as deployed, over a fixed message
 * naming the gateway, as hex. The same key always gives the same password (render stays pure and stable); a new
 * key gives a new one; the password reveals nothing of the key. Pure: no I/O.
 */
export function managementPassword(privateKeyPem: string, gateway: string): string {
  return createHmac('sha256', privateKeyPem)
    .update(`meshctl management password ${gateway}`, 'utf8')
    .digest('hex');
}
