import assert from 'node:assert/strict';
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { PkiError } from '../../../src/errors.js';
import { ensurePki, revokeGateway } from '../../../src/pki/index.js';
import { treeSnapshot } from '../../helpers/snapshot.js';
import { tempRoot } from './helpers.js';

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

async function serialOf(file: string): Promise<string> {
  return new x509.X509Certificate(await readFile(file, 'utf8')).serialNumber;
}

describe('pki: revokeGateway', () => {
  let pki: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ pki, cleanup } = await tempRoot());
    await ensurePki({ dir: pki, mesh: 'corp', lans: ['alpha', 'beta', 'gamma'], pairs: [1, 2, 3] });
  });
  afterEach(() => cleanup());

  it('records the serial, rebuilds the CRL, keeps the certificate for audit and deletes the keys', async () => {
    const serial = await serialOf(join(pki, 'issued/beta.crt'));
    const certPem = await readFile(join(pki, 'issued/beta.crt'), 'utf8');
    const now = new Date('2031-02-03T04:05:06Z');
    await revokeGateway({ dir: pki, mesh: 'corp', lan: 'beta', pairs: [1, 3], now });

    assert.equal(await readFile(join(pki, `revoked/beta-${serial}.crt`), 'utf8'), certPem);
    assert.equal(await exists(join(pki, 'issued/beta.crt')), false);
    assert.equal(await exists(join(pki, 'private/beta.key')), false);
    assert.equal(await exists(join(pki, 'tls-crypt/pair-1.key')), false);
    assert.equal(await exists(join(pki, 'tls-crypt/pair-3.key')), false);
    assert.equal(await exists(join(pki, 'tls-crypt/pair-2.key')), true, 'alpha–gamma keeps its key');

    const state = JSON.parse(await readFile(join(pki, 'pki.json'), 'utf8'));
    assert.deepEqual(state.revoked, [{ lan: 'beta', serial, revokedAt: now.toISOString() }]);
    assert.deepEqual(state.retired, ['beta']);
    const crl = new x509.X509Crl(await readFile(join(pki, 'crl.pem'), 'utf8'));
    assert.deepEqual(
      crl.entries.map((e) => e.serialNumber),
      [serial],
    );
    assert.equal(crl.entries[0]!.revocationDate.toISOString(), '2031-02-03T04:05:06.000Z');
    assert.equal(treeSnapshot(pki).get(`revoked/beta-${serial}.crt`)!.mode, 0o644);
  });

  it('is idempotent: a second revocation of the same LAN changes nothing', async () => {
    await revokeGateway({ dir: pki, mesh: 'corp', lan: 'beta' });
    const before = treeSnapshot(pki);
    await revokeGateway({ dir: pki, mesh: 'corp', lan: 'beta' });
    assert.deepEqual(treeSnapshot(pki), before);
  });

  it('the other gateways and the CA stay untouched, and the next ensurePki writes nothing', async () => {
    const before = treeSnapshot(pki);
    await revokeGateway({ dir: pki, mesh: 'corp', lan: 'beta' });
    const after = treeSnapshot(pki);
    for (const path of [
      'ca.crt',
      'private/ca.key',
      'issued/alpha.crt',
      'private/alpha.key',
      'issued/gamma.crt',
    ]) {
      assert.deepEqual(after.get(path), before.get(path), path);
    }
    const { created } = await ensurePki({ dir: pki, mesh: 'corp', lans: ['alpha', 'gamma'], pairs: [2] });
    assert.deepEqual(created, []);
  });

  it('a name may come back: it gets a NEW certificate with a new serial, the old one stays revoked', async () => {
    const oldSerial = await serialOf(join(pki, 'issued/beta.crt'));
    await revokeGateway({ dir: pki, mesh: 'corp', lan: 'beta' });
    const { created } = await ensurePki({
      dir: pki,
      mesh: 'corp',
      lans: ['alpha', 'beta', 'gamma'],
      pairs: [2],
    });
    assert.deepEqual(created, ['private/beta.key', 'issued/beta.crt', 'pki.json']);
    const newSerial = await serialOf(join(pki, 'issued/beta.crt'));
    assert.notEqual(newSerial, oldSerial);
    const state = JSON.parse(await readFile(join(pki, 'pki.json'), 'utf8'));
    assert.deepEqual(state.retired, []);
    assert.deepEqual(
      state.revoked.map((r: { serial: string }) => r.serial),
      [oldSerial],
    );
    const crl = new x509.X509Crl(await readFile(join(pki, 'crl.pem'), 'utf8'));
    assert.ok(crl.findRevoked(oldSerial));
    assert.equal(crl.findRevoked(newSerial), null);
  });

  it('finishes a revocation interrupted after pki.json was written', async () => {
    const serial = await serialOf(join(pki, 'issued/beta.crt'));
    const statePath = join(pki, 'pki.json');
    const state = JSON.parse(await readFile(statePath, 'utf8'));
    state.revoked.push({ lan: 'beta', serial, revokedAt: new Date().toISOString() });
    state.retired.push('beta');
    await writeFile(statePath, JSON.stringify(state, null, 2));
    // Until then, the gateway's material is refused for use…
    await assert.rejects(
      ensurePki({ dir: pki, mesh: 'corp', lans: ['beta'], pairs: [] }),
      /is revoked \(a revocation was interrupted\).*meshctl remove-lan beta/,
    );
    // …and running the revocation again completes it.
    await revokeGateway({ dir: pki, mesh: 'corp', lan: 'beta' });
    assert.equal(await exists(join(pki, 'issued/beta.crt')), false);
    const crl = new x509.X509Crl(await readFile(join(pki, 'crl.pem'), 'utf8'));
    assert.ok(crl.findRevoked(serial));
  });

  it('refuses a LAN that never had a certificate, and a directory with no PKI', async () => {
    await assert.rejects(
      revokeGateway({ dir: pki, mesh: 'corp', lan: 'delta' }),
      (e: unknown) => e instanceof PkiError && e.message.includes(join(pki, 'issued/delta.crt')),
    );
    await assert.rejects(
      revokeGateway({ dir: join(pki, 'nowhere'), mesh: 'corp', lan: 'beta' }),
      (e: unknown) => e instanceof PkiError && /no PKI of mesh "corp"/.test(e.message),
    );
  });
});
