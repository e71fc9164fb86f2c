import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { ensurePki } from '../../../src/pki/index.js';
import { treeSnapshot } from '../../helpers/snapshot.js';
import { tempRoot } from './helpers.js';

describe('pki: ensurePki', () => {
  let pki: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ pki, cleanup } = await tempRoot());
  });
  afterEach(() => cleanup());

  it('creates the layout with 0700 directories, 0600 secrets and 0644 public files', async () => {
    const { created, material } = await ensurePki({
      dir: pki,
      mesh: 'corp',
      lans: ['alpha', 'beta'],
      pairs: [1],
    });
    assert.deepEqual(created, [
      'pki.json',
      '.gitignore',
      'private/ca.key',
      'ca.crt',
      'private/alpha.key',
      'issued/alpha.crt',
      'private/beta.key',
      'issued/beta.crt',
      'tls-crypt/pair-1.key',
      'crl.pem',
    ]);
    const modes = Object.fromEntries([...treeSnapshot(pki)].map(([path, e]) => [path, e.mode]));
    assert.deepEqual(modes, {
      '.': 0o700,
      '.gitignore': 0o644,
      'ca.crt': 0o644,
      'crl.pem': 0o644,
      issued: 0o700,
      'issued/alpha.crt': 0o644,
      'issued/beta.crt': 0o644,
      'pki.json': 0o644,
      private: 0o700,
      'private/alpha.key': 0o600,
      'private/beta.key': 0o600,
      'private/ca.key': 0o600,
      'private/verified.json': 0o600,
      'tls-crypt': 0o700,
      'tls-crypt/pair-1.key': 0o600,
    });

    const gitignore = (await readFile(join(pki, '.gitignore'), 'utf8')).split('\n');
    assert.ok(gitignore.includes('private/') && gitignore.includes('tls-crypt/'));

    // The returned material is exactly what is on disk.
    assert.equal(material.caCert, await readFile(join(pki, 'ca.crt'), 'utf8'));
    assert.equal(material.crl, await readFile(join(pki, 'crl.pem'), 'utf8'));
    assert.deepEqual([...material.gateways.keys()], ['alpha', 'beta']);
    assert.equal(material.gateways.get('beta')!.key, await readFile(join(pki, 'private/beta.key'), 'utf8'));
    assert.equal(material.gateways.get('beta')!.cert, await readFile(join(pki, 'issued/beta.crt'), 'utf8'));
    assert.equal(material.tlsCrypt.get(1), await readFile(join(pki, 'tls-crypt/pair-1.key'), 'utf8'));
    assert.match(material.gateways.get('alpha')!.key, /^-----BEGIN PRIVATE KEY-----\n/);

    const state = JSON.parse(await readFile(join(pki, 'pki.json'), 'utf8'));
    assert.equal(state.mesh, 'corp');
    assert.equal(state.format, 1);
    assert.deepEqual(
      state.issued.map((i: { lan: string }) => i.lan),
      ['alpha', 'beta'],
    );
    assert.deepEqual(state.revoked, []);
    assert.deepEqual(state.retired, []);
    const serials = state.issued.map((i: { serial: string }) => i.serial);
    assert.equal(new Set(serials).size, 2);
    for (const serial of serials) assert.match(serial, /^[1-7][0-9a-f]{31}$|^0[1-9a-f][0-9a-f]{30}$/);
  });

  it('a second run with the same inputs writes nothing: no byte, mode or mtime changes', async () => {
    const opts = { dir: pki, mesh: 'corp', lans: ['alpha', 'beta', 'gamma'], pairs: [1, 2, 3] };
    const first = await ensurePki(opts);
    const before = treeSnapshot(pki);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = await ensurePki(opts);
    assert.deepEqual(second.created, []);
    assert.deepEqual(treeSnapshot(pki), before);
    assert.equal(second.material.caCert, first.material.caCert);
    assert.equal(second.material.crl, first.material.crl);
    assert.deepEqual(second.material.gateways, first.material.gateways);
    assert.deepEqual(second.material.tlsCrypt, first.material.tlsCrypt);
  });

  it('adding a LAN creates only its key, its certificate and the new pair keys', async () => {
    await ensurePki({ dir: pki, mesh: 'corp', lans: ['alpha', 'beta'], pairs: [1] });
    const before = treeSnapshot(pki);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const { created } = await ensurePki({
      dir: pki,
      mesh: 'corp',
      lans: ['alpha', 'beta', 'gamma'],
      pairs: [1, 2, 3],
    });
    assert.deepEqual(created, [
      'private/gamma.key',
      'issued/gamma.crt',
      'tls-crypt/pair-2.key',
      'tls-crypt/pair-3.key',
      'pki.json',
    ]);
    const after = treeSnapshot(pki);
    for (const [path, entry] of before) {
      // pki.json records the new serial, private/verified.json the new pair; the directories gained entries.
      // Every other file is untouched.
      if (path === 'pki.json' || path === 'private/verified.json' || entry.kind === 'dir') continue;
      assert.deepEqual(after.get(path), entry, path);
    }
    const state = JSON.parse(await readFile(join(pki, 'pki.json'), 'utf8'));
    assert.deepEqual(
      state.issued.map((i: { lan: string }) => i.lan),
      ['alpha', 'beta', 'gamma'],
    );
  });

  it('certifies a key left without its certificate by an interrupted run instead of replacing it', async () => {
    await ensurePki({ dir: pki, mesh: 'corp', lans: ['alpha'], pairs: [] });
    const key = await readFile(join(pki, 'private/alpha.key'), 'utf8');
    await rm(join(pki, 'issued/alpha.crt'));
    const { created, material } = await ensurePki({ dir: pki, mesh: 'corp', lans: ['alpha'], pairs: [] });
    assert.deepEqual(created, ['issued/alpha.crt', 'pki.json']);
    assert.equal(material.gateways.get('alpha')!.key, key);
  });

  it('a name or pair listed twice is issued once', async () => {
    const { created, material } = await ensurePki({
      dir: pki,
      mesh: 'corp',
      lans: ['alpha', 'alpha'],
      pairs: [1, 1],
    });
    assert.deepEqual(
      created.filter((path) => path.includes('alpha') || path.includes('pair')),
      ['private/alpha.key', 'issued/alpha.crt', 'tls-crypt/pair-1.key'],
    );
    assert.equal(material.gateways.size, 1);
  });

  it('honours `now` for validity: CA 20 years, gateway 10 years, backdated an hour for clock skew', async () => {
    const now = new Date('2030-06-01T12:00:00Z');
    await ensurePki({ dir: pki, mesh: 'corp', lans: ['alpha'], pairs: [], now });
    const ca = new x509.X509Certificate(await readFile(join(pki, 'ca.crt'), 'utf8'));
    const gw = new x509.X509Certificate(await readFile(join(pki, 'issued/alpha.crt'), 'utf8'));
    assert.equal(ca.notBefore.toISOString(), '2030-06-01T11:00:00.000Z');
    assert.equal(ca.notAfter.toISOString(), '2050-06-01T12:00:00.000Z');
    assert.equal(gw.notAfter.toISOString(), '2040-06-01T12:00:00.000Z');
    const crl = new x509.X509Crl(await readFile(join(pki, 'crl.pem'), 'utf8'));
    assert.equal(crl.thisUpdate.toISOString(), now.toISOString());
    assert.equal(crl.nextUpdate!.toISOString(), '2040-06-01T12:00:00.000Z');
  });

  it('renews a CRL whose next update is within 90 days, and only then', async () => {
    await ensurePki({
      dir: pki,
      mesh: 'corp',
      lans: ['alpha'],
      pairs: [],
      now: new Date('2020-01-01T00:00:00Z'),
    });
    const quiet = await ensurePki({
      dir: pki,
      mesh: 'corp',
      lans: ['alpha'],
      pairs: [],
      now: new Date('2029-09-01'),
    });
    assert.deepEqual(quiet.created, []);
    const renewed = await ensurePki({
      dir: pki,
      mesh: 'corp',
      lans: ['alpha'],
      pairs: [],
      now: new Date('2029-11-01'),
    });
    // pki.json takes the CRL number before the CRL carrying it is written
    assert.deepEqual(renewed.created, ['pki.json', 'crl.pem']);
  });
});
