import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePki } from '../../../src/pki/index.js';
import { findSecrets, keyBody, readPki, SHARED, secretWindows, WIDTH } from '../../e2e/secrets-scan.js';

/** The scanner the secrets e2e test relies on: it must find every kind of leak, and only leaks. */
describe('hostile: secret scanner', () => {
  let dir: string;
  let windows: Map<string, string>;
  let publicText: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshctl-scan-'));
    await ensurePki({ dir: join(dir, 'pki'), mesh: 'corp', lans: ['a', 'b', 'c'], pairs: [1, 2, 3] });
    const pki = readPki(join(dir, 'pki'));
    publicText = pki.publicText;
    windows = secretWindows(pki.secrets, pki.publicText);
    assert.deepEqual(
      pki.secrets.map((s) => s.name),
      [
        'private/a.key',
        'private/b.key',
        'private/c.key',
        'private/ca.key',
        'tls-crypt/pair-1.key',
        'tls-crypt/pair-2.key',
        'tls-crypt/pair-3.key',
      ],
    );
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  const pem = (name: string) => readFileSync(join(dir, 'pki', name), 'utf8');

  it('finds a whole private key and a whole tls-crypt key, naming the file', () => {
    const text = `log line\n${pem('private/b.key')}\nmore\n${pem('tls-crypt/pair-2.key')}`;
    const hits = findSecrets('sample', text, windows);
    assert.deepEqual(
      hits.map((h) => h.secret).sort(),
      [SHARED, 'private/b.key', 'tls-crypt/pair-2.key'].sort(),
    );
  });

  it(`finds any ${WIDTH}-character piece, re-wrapped or cut, but not a shorter one`, () => {
    const hex = keyBody(pem('tls-crypt/pair-3.key'));
    const piece = hex.slice(100, 100 + WIDTH);
    assert.equal(findSecrets('piece', `x=${piece};`, windows)[0]?.secret, 'tls-crypt/pair-3.key');
    // a line break in the middle of a leak still leaves whole windows on each side when long enough
    const b64 = keyBody(pem('private/ca.key'));
    const rewrapped = `${b64.slice(40, 40 + WIDTH + 3)}\n${b64.slice(40 + WIDTH + 3, 40 + 2 * WIDTH + 6)}`;
    assert.equal(findSecrets('rewrapped', rewrapped, windows)[0]?.secret, 'private/ca.key');
    assert.deepEqual(findSecrets('short', `x=${piece.slice(0, WIDTH - 1)};`, windows), []);
  });

  it('does not count public material: certificates, the CRL, key file names', () => {
    const text = `${pem('ca.crt')}\n${pem('issued/a.crt')}\n${pem('crl.pem')}\n/etc/openvpn/server/meshctl/a.key`;
    assert.deepEqual(findSecrets('public', text, windows), []);
    assert.ok(publicText.length > 0);
  });

  it('never puts key bytes in what it reports', () => {
    const [hit] = findSecrets('report', pem('private/a.key'), windows);
    assert.ok(hit);
    const body = keyBody(pem('private/a.key'));
    for (let i = 0; i + WIDTH <= body.length; i += WIDTH)
      assert.ok(!JSON.stringify(hit).includes(body.slice(i, i + WIDTH)));
  });
});
