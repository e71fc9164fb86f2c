import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ensurePki, revokeGateway } from '../../../src/pki/index.js';
import { run, tempRoot } from './helpers.js';

/** The material checked by the real OpenSSL CLI, the library OpenVPN itself uses. */
describe('pki: OpenSSL accepts the material', function () {
  this.timeout(20_000);
  let pki: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ pki, cleanup } = await tempRoot());
    await ensurePki({ dir: pki, mesh: 'corp', lans: ['alpha', 'beta'], pairs: [1] });
  });
  afterEach(() => cleanup());

  it('verifies each gateway certificate against the CA', () => {
    for (const lan of ['alpha', 'beta']) {
      const result = run('openssl', [
        'verify',
        '-CAfile',
        join(pki, 'ca.crt'),
        join(pki, `issued/${lan}.crt`),
      ]);
      assert.equal(result.status, 0, result.out);
      assert.match(result.out, /: OK/);
    }
  });

  it('gateway certificates carry both EKUs, CN = LAN, CA:FALSE, an authority key id; the CA is a critical CA', () => {
    const cert = join(pki, 'issued/alpha.crt');
    const eku = run('openssl', ['x509', '-in', cert, '-noout', '-ext', 'extendedKeyUsage']);
    assert.equal(eku.status, 0, eku.out);
    assert.match(eku.out, /TLS Web Server Authentication/);
    assert.match(eku.out, /TLS Web Client Authentication/);
    const text = run('openssl', ['x509', '-in', cert, '-noout', '-subject', '-text']).out;
    assert.match(text, /subject=CN = alpha\n/);
    assert.match(text, /Basic Constraints: critical\n\s+CA:FALSE/);
    assert.match(text, /Key Usage: critical\n\s+Digital Signature, Key Agreement/);
    assert.match(text, /Authority Key Identifier/);
    assert.match(text, /ASN1 OID: prime256v1/);
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
    const ca = run('openssl', ['x509', '-in', join(pki, 'ca.crt'), '-noout', '-subject', '-text']).out;
    assert.match(ca, /subject=CN = corp meshctl CA\n/);
    assert.match(ca, /Basic Constraints: critical\n\s+CA:TRUE/);
    assert.match(ca, /Key Usage: critical\n\s+Certificate Sign, CRL Sign/);
    assert.match(ca, /Subject Key Identifier/);
    // The private keys are EC P-256 keys OpenSSL can load.
    const key = run('openssl', ['pkey', '-in', join(pki, 'private/alpha.key'), '-noout', '-text_pub']);
    assert.equal(key.status, 0, key.out);
    assert.match(key.out, /prime256v1/);
  });

  it('the CRL parses, is signed by the CA and its next update is more than 5 years away', () => {
    const crl = run('openssl', [
      'crl',
      '-in',
      join(pki, 'crl.pem'),
      '-CAfile',
      join(pki, 'ca.crt'),
      '-noout',
      '-nextupdate',
    ]);
    assert.equal(crl.status, 0, crl.out);
    assert.match(crl.out, /verify OK/);
    const nextUpdate = new Date(/nextUpdate=(.*)/.exec(crl.out)![1]!);
    assert.ok(nextUpdate.getTime() > Date.now() + 5 * 365 * 24 * 3600 * 1000, `nextUpdate ${nextUpdate}`);
    assert.match(
      run('openssl', ['crl', '-in', join(pki, 'crl.pem'), '-noout', '-text']).out,
      /No Revoked Certificates/,
    );
  });

  it('after revokeGateway the serial is listed and `openssl verify -crl_check` fails for that certificate only', async () => {
    const serial = run('openssl', ['x509', '-in', join(pki, 'issued/beta.crt'), '-noout', '-serial'])
      .out.trim()
      .replace('serial=', '');
    await revokeGateway({ dir: pki, mesh: 'corp', lan: 'beta' });
    const listed = run('openssl', ['crl', '-in', join(pki, 'crl.pem'), '-noout', '-text']).out;
    assert.match(listed, new RegExp(`Serial Number: ${serial}\\n`));
    assert.match(listed, /Cessation Of Operation/);

    const [revokedFile] = await readdir(join(pki, 'revoked'));
    assert.equal(revokedFile, `beta-${serial.toLowerCase()}.crt`);
    const crlArgs = [
      'verify',
      '-crl_check',
      '-CAfile',
      join(pki, 'ca.crt'),
      '-CRLfile',
      join(pki, 'crl.pem'),
    ];
    const revoked = run('openssl', [...crlArgs, join(pki, 'revoked', revokedFile!)]);
    assert.notEqual(revoked.status, 0);
    assert.match(revoked.out, /certificate revoked/);
    const alive = run('openssl', [...crlArgs, join(pki, 'issued/alpha.crt')]);
    assert.equal(alive.status, 0, alive.out);
  });
});
