import assert from 'node:assert/strict';
import { access, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { PkiError } from '../../../src/errors.js';
import { beginCaRotation } from '../../../src/pki/ca-rotation.js';
import {
  certFingerprint,
  ensurePki,
  loadPkiReadOnly,
  pkiWarnings,
  revokeGateway,
} from '../../../src/pki/index.js';
import { crlNextUpdate } from '../../../src/pki/warnings.js';
import { treeSnapshot } from '../../helpers/snapshot.js';
import { run, tempRoot } from './helpers.js';

describe('pki: loadPkiReadOnly', () => {
  let pki: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ pki, cleanup } = await tempRoot());
  });
  afterEach(() => cleanup());

  it('creates nothing when there is no PKI yet, and says which command creates it', async () => {
    await assert.rejects(
      loadPkiReadOnly({ dir: pki, mesh: 'corp', lans: ['alpha'], pairs: [1] }),
      (e: unknown) => e instanceof PkiError && e.message.includes(pki) && e.message.includes('meshctl apply'),
    );
    await assert.rejects(access(pki), { code: 'ENOENT' });
  });

  it('returns what ensurePki returned, and names every missing file without writing', async () => {
    const opts = { dir: pki, mesh: 'corp', lans: ['alpha', 'beta'], pairs: [1] };
    const { material } = await ensurePki(opts);
    assert.deepEqual(await loadPkiReadOnly(opts), material);

    await rm(join(pki, 'crl.pem'));
    const before = treeSnapshot(pki);
    await assert.rejects(
      loadPkiReadOnly({ ...opts, lans: ['alpha', 'beta', 'gamma'], pairs: [1, 2] }),
      (e: unknown) =>
        e instanceof PkiError &&
        [
          join(pki, 'issued/gamma.crt'),
          join(pki, 'private/gamma.key'),
          join(pki, 'tls-crypt/pair-2.key'),
          join(pki, 'crl.pem'),
          'run `meshctl render` or `meshctl apply`',
        ].every((fragment) => e.message.includes(fragment)),
    );
    assert.deepEqual(treeSnapshot(pki), before);
  });
});

describe('pki: pkiWarnings and certFingerprint', () => {
  let pki: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ pki, cleanup } = await tempRoot());
  });
  afterEach(() => cleanup());

  it('warns for each certificate and the CRL expiring within 90 days, with date and fix', async () => {
    const issued = new Date('2016-03-01T00:00:00Z');
    const { material } = await ensurePki({
      dir: pki,
      mesh: 'corp',
      lans: ['beta', 'alpha'],
      pairs: [],
      now: issued,
    });
    assert.deepEqual(pkiWarnings(material, new Date('2025-11-01T00:00:00Z')), []);
    const warnings = pkiWarnings(material, new Date('2026-01-15T00:00:00Z'));
    assert.equal(warnings.length, 3, warnings.join('\n'));
    assert.match(
      warnings[0]!,
      /^the certificate of alpha \(pki_dir\/issued\/alpha\.crt\) expires on 2026-03-01: .*`meshctl rotate --gateway alpha`/,
    );
    assert.match(warnings[1]!, /^the certificate of beta .* expires on 2026-03-01/);
    assert.match(warnings[2]!, /^the CRL \(pki_dir\/crl\.pem\) expires on 2026-03-01: .*renews it/);
    const late = pkiWarnings(material, new Date('2035-12-31T00:00:00Z'));
    assert.match(late.join('\n'), /the mesh CA certificate \(pki_dir\/ca\.crt\) expires on 2036-03-01/);
    assert.match(late.join('\n'), /the certificate of alpha .* expired on 2026-03-01/);
  });

  it('names `meshctl rotate --ca` for a CA near its end, a new pki_dir once it has ended, and judges both CAs while a rotation runs', async () => {
    const issued = new Date('2016-03-01T00:00:00Z');
    const { material } = await ensurePki({ dir: pki, mesh: 'corp', lans: ['alpha'], pairs: [], now: issued });
    const near = pkiWarnings(material, new Date('2035-12-31T00:00:00Z')).join('\n');
    assert.match(
      near,
      /the mesh CA certificate \(pki_dir\/ca\.crt\) expires on 2036-03-01: .*Fix: `meshctl rotate --ca`/,
    );
    const ended = pkiWarnings(material, new Date('2036-03-02T00:00:00Z')).join('\n');
    assert.match(
      ended,
      /the mesh CA certificate .* expired on 2036-03-01: .*point pki_dir in mesh\.yml at an empty directory/,
    );
    // mid-rotation the gateways get both CAs: the new one (20 years from its own start) is judged by its name
    await beginCaRotation({
      dir: pki,
      mesh: 'corp',
      gateways: ['alpha'],
      now: new Date('2025-12-01T00:00:00Z'),
    });
    const during = await ensurePki({
      dir: pki,
      mesh: 'corp',
      lans: ['alpha'],
      pairs: [],
      now: new Date('2025-12-01T00:00:00Z'),
    });
    const both = pkiWarnings(during.material, new Date('2045-10-01T00:00:00Z')).join('\n');
    assert.match(both, /the mesh CA certificate \(pki_dir\/ca\.crt\) expired on 2036-03-01/);
    assert.match(
      both,
      /the new mesh CA certificate \("corp meshctl CA 2", pki_dir\/private\/rotation\/next-ca\.crt\) expires on 2045-12-01/,
    );
  });

  it('fingerprints a certificate as `openssl x509 -fingerprint -sha256` does', async () => {
    const { material } = await ensurePki({ dir: pki, mesh: 'corp', lans: ['alpha'], pairs: [] });
    const openssl = run('openssl', [
      'x509',
      '-in',
      join(pki, 'issued/alpha.crt'),
      '-noout',
      '-fingerprint',
      '-sha256',
    ]);
    const expected = openssl.out.trim().replace(/^sha256 Fingerprint=/i, '');
    assert.equal(certFingerprint(material.gateways.get('alpha')!.cert), expected);
    assert.match(expected, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });
});

describe('pki: crlNextUpdate (expiry without @peculiar/x509)', () => {
  let pki: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ pki, cleanup } = await tempRoot());
  });
  afterEach(() => cleanup());

  it("reads the nextUpdate of meshctl's CRL, also with revoked entries (their dates are not taken), as @peculiar/x509 does", async () => {
    await ensurePki({
      dir: pki,
      mesh: 'corp',
      lans: ['alpha', 'beta'],
      pairs: [],
      now: new Date('2024-05-01T00:00:00Z'),
    });
    await revokeGateway({ dir: pki, mesh: 'corp', lan: 'beta', now: new Date('2025-02-03T04:05:06Z') });
    const pem = await readFile(join(pki, 'crl.pem'), 'utf8');
    const crl = new x509.X509Crl(pem);
    assert.equal(crl.entries.length, 1);
    assert.equal(crlNextUpdate(pem)?.toISOString(), crl.nextUpdate!.toISOString());
    assert.equal(crlNextUpdate(pem)?.toISOString(), '2035-02-03T04:05:06.000Z');
  });

  it('reads nothing from text that is not a CRL', () => {
    assert.equal(crlNextUpdate('not a crl'), undefined);
    assert.equal(crlNextUpdate('-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n'), undefined);
    // a CRL whose nextUpdate is garbage: no date, no exception (validate and status read files as they are)
    const crl = (time: number[]) => {
      const tlv = (tag: number, content: number[]) => [tag, content.length, ...content];
      const ascii = (text: string) => [...Buffer.from(text, 'ascii')];
      const tbs = tlv(0x30, [
        ...tlv(0x30, [...tlv(0x06, [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02])]),
        ...tlv(0x30, []),
        ...tlv(0x17, ascii('240501000000Z')),
        ...time,
      ]);
      const der = Buffer.from(tlv(0x30, [...tbs, ...tlv(0x30, []), ...tlv(0x03, [0x00])]));
      return `-----BEGIN X509 CRL-----\n${der.toString('base64')}\n-----END X509 CRL-----\n`;
    };
    const bytes = (tag: number, text: string) => [tag, text.length, ...Buffer.from(text, 'ascii')];
    assert.equal(crlNextUpdate(crl(bytes(0x17, '340501000000Z')))?.toISOString(), '2034-05-01T00:00:00.000Z');
    assert.equal(crlNextUpdate(crl(bytes(0x18, 'not-a-time!!!!Z'))), undefined);
    assert.equal(crlNextUpdate(crl(bytes(0x17, 'xxxxxxxxxxxxZ'))), undefined);
  });
});
