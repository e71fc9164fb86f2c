import assert from 'node:assert/strict';
import { chmod, copyFile, mkdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PkiError } from '../../../src/errors.js';
import { beginCaRotation, reissueUnderNewCa } from '../../../src/pki/ca-rotation.js';
import { ensurePki, loadPkiReadOnly, previewPki } from '../../../src/pki/index.js';
import { inspectPki } from '../../../src/pki/inspect.js';
import { readVerified, serializeVerified } from '../../../src/pki/verified.js';
import { treeSnapshot } from '../../helpers/snapshot.js';
import { secretLines, tempRoot } from './helpers.js';

/**
 * private/verified.json (src/pki/verified.ts): a re-check skips the signature and key checks of a gateway pair
 * only when the exact bytes were verified before against this CA; anything else is checked in full.
 */
describe('pki: the record of verified gateway pairs (private/verified.json)', () => {
  let root: string;
  let pki: string;
  let record: string;
  let cleanup: () => Promise<void>;
  const request = () => ({ dir: pki, mesh: 'corp', lans: ['alpha', 'beta'], pairs: [1] });
  const read = (relative: string) => readFile(join(pki, relative), 'utf8');
  const pairsOf = async () =>
    JSON.parse(await readFile(record, 'utf8')).gateways as Record<string, { serial: string; tag: string }>;
  const serialOf = async (lan: string) =>
    JSON.parse(await read('pki.json')).issued.find((i: { lan: string }) => i.lan === lan).serial as string;
  /** The record's view of this PKI, as inspectPki builds it. */
  const verifiedNow = async () => readVerified(pki, await read('ca.crt'), await read('private/ca.key'));

  beforeEach(async () => {
    ({ root, pki, cleanup } = await tempRoot());
    record = join(pki, 'private/verified.json');
    await ensurePki(request());
  });
  afterEach(() => cleanup());

  async function expectRefused(action: () => Promise<unknown>, fragment: string): Promise<void> {
    await assert.rejects(action(), (error: unknown) => {
      assert.ok(error instanceof PkiError, `expected PkiError, got ${error}`);
      assert.ok(error.message.includes(fragment), `missing "${fragment}" in:\n${error.message}`);
      return true;
    });
  }

  /** Rewrites a file with `content`, then puts its size-independent identity back: the same mtime and atime. */
  async function tamper(relative: string, content: string): Promise<void> {
    const file = join(pki, relative);
    const before = await stat(file);
    await writeFile(file, content);
    await utimes(file, before.atime, before.mtime);
  }

  it('is written by the run that issues the pairs: one tag per gateway, 0600, no key material in it', async () => {
    const text = await readFile(record, 'utf8');
    assert.equal((await stat(record)).mode & 0o777, 0o600);
    const pairs = await pairsOf();
    assert.deepEqual(Object.keys(pairs), ['alpha', 'beta']);
    for (const [lan, { serial, tag }] of Object.entries(pairs)) {
      assert.equal(serial, await serialOf(lan));
      assert.match(tag, /^[A-Za-z0-9_-]{43}$/);
    }
    for (const line of await secretLines(pki)) {
      if (!line.includes('"')) assert.ok(!text.includes(line), 'verified.json holds key material');
    }
    for (const relative of ['ca.crt', 'issued/alpha.crt', 'private/alpha.key', 'tls-crypt/pair-1.key']) {
      for (const line of (await read(relative)).split('\n').filter((l) => l.length >= 16)) {
        assert.ok(!text.includes(line), `verified.json quotes ${relative}`);
      }
    }
  });

  it('an unchanged PKI: every pair is a hit (neither certificate nor key parsed), and the record is not rewritten', async () => {
    const before = treeSnapshot(pki);
    const { snapshot, problems } = await inspectPki(request(), 'use');
    assert.deepEqual(problems, []);
    const pairs = await pairsOf();
    for (const lan of ['alpha', 'beta']) {
      const gateway = snapshot.gateways.get(lan)!;
      assert.equal(gateway.verified, pairs[lan]!.tag);
      assert.equal(gateway.serial, pairs[lan]!.serial);
      // the hit path: both are parsed on first use only (a full check parses both to match them)
      assert.equal(typeof Object.getOwnPropertyDescriptor(gateway, 'key')?.get, 'function', lan);
      assert.equal(typeof Object.getOwnPropertyDescriptor(gateway, 'cert')?.get, 'function', lan);
      assert.equal(gateway.key?.asymmetricKeyType, 'ec', 'and it is still there when asked for');
      assert.equal(gateway.cert?.subject, `CN=${lan}`);
    }
    const { created } = await ensurePki(request());
    assert.deepEqual(created, []);
    assert.deepEqual(treeSnapshot(pki), before);
  });

  it('a recorded tag is what skips the checks: the CA key can vouch for a pair, nothing else can', async () => {
    // beta's certificate and key under alpha's name: refused by the full check (CN), ...
    const cert = await read('issued/beta.crt');
    const key = await read('private/beta.key');
    await writeFile(join(pki, 'issued/alpha.crt'), cert);
    await writeFile(join(pki, 'private/alpha.key'), key, { mode: 0o600 });
    await expectRefused(() => ensurePki(request()), 'has CN "beta" but its file names LAN "alpha"');
    // ... and by a tag made with any key but the CA's (here: another PKI's CA) ...
    const other = join(root, 'other');
    await ensurePki({ dir: other, mesh: 'corp', lans: [], pairs: [] });
    const foreign = readVerified(
      pki,
      await read('ca.crt'),
      await readFile(join(other, 'private/ca.key'), 'utf8'),
    );
    const pairs = new Map(Object.entries(await pairsOf()));
    const serial = await serialOf('beta');
    const forged = { serial, tag: foreign.tag('alpha', cert, key, serial) };
    await writeFile(record, serializeVerified(pairs.set('alpha', forged)));
    await expectRefused(() => ensurePki(request()), 'has CN "beta" but its file names LAN "alpha"');
    // ... while a tag made with this CA's key is trusted: the checks it vouches for are skipped (so the record
    // is exactly as trustworthy as private/ca.key, which can sign any certificate anyway)
    await writeFile(
      record,
      serializeVerified(
        pairs.set('alpha', { serial, tag: (await verifiedNow()).tag('alpha', cert, key, serial) }),
      ),
    );
    const { material } = await ensurePki(request());
    assert.equal(material.gateways.get('alpha')!.cert, cert);
  });

  it('a tampered certificate is checked again and refused, even with its size and mtime restored', async () => {
    const cert = await read('issued/alpha.crt');
    // one base64 character of the signature (the second-to-last line of base64) changed: same size
    const lines = cert.split('\n');
    const at = lines.length - 4;
    lines[at] = `${lines[at]!.slice(0, 10)}${lines[at]![10] === 'A' ? 'B' : 'A'}${lines[at]!.slice(11)}`;
    await tamper('issued/alpha.crt', lines.join('\n'));
    assert.equal((await stat(join(pki, 'issued/alpha.crt'))).size, cert.length);
    await expectRefused(() => ensurePki(request()), join(pki, 'issued/alpha.crt'));
    await expectRefused(() => loadPkiReadOnly(request()), join(pki, 'issued/alpha.crt'));
    await expectRefused(() => previewPki(request()), join(pki, 'issued/alpha.crt'));
  });

  it("a key swapped for another gateway's, mtime restored: checked again and refused", async () => {
    await tamper('private/alpha.key', await read('private/beta.key'));
    await expectRefused(() => ensurePki(request()), `does not belong to ${join(pki, 'issued/alpha.crt')}`);
  });

  it('a changed file that is still good is verified in full, accepted, and its new tag recorded', async () => {
    const { createPrivateKey } = await import('node:crypto');
    const pkcs8 = await read('private/alpha.key');
    // the same key in SEC1 form: other bytes, same key
    const sec1 = createPrivateKey(pkcs8).export({ type: 'sec1', format: 'pem' }).toString();
    assert.notEqual(sec1, pkcs8);
    const before = await pairsOf();
    await tamper('private/alpha.key', sec1);
    const { snapshot } = await inspectPki(request(), 'use');
    const alpha = snapshot.gateways.get('alpha')!;
    assert.equal(Object.getOwnPropertyDescriptor(alpha, 'key')?.get, undefined, 'checked in full');
    assert.notEqual(alpha.verified, before.alpha!.tag);
    const { material } = await ensurePki(request());
    assert.equal(material.gateways.get('alpha')!.key, sec1);
    const after = await pairsOf();
    assert.deepEqual(after.alpha, { serial: before.alpha!.serial, tag: alpha.verified });
    assert.deepEqual(after.beta, before.beta);
  });

  it('a revoked serial is refused on a hit too (revocation is judged on every run)', async () => {
    const state = JSON.parse(await read('pki.json'));
    const serial = await serialOf('alpha');
    state.revoked.push({ lan: 'alpha', serial, revokedAt: new Date().toISOString() });
    await writeFile(join(pki, 'pki.json'), `${JSON.stringify(state, null, 2)}\n`);
    await expectRefused(() => ensurePki(request()), `serial ${serial} is revoked`);
    // another serial written into the record to dodge it: the tag no longer matches, the certificate is read
    const pairs = new Map(Object.entries(await pairsOf()));
    await writeFile(
      record,
      serializeVerified(pairs.set('alpha', { ...pairs.get('alpha')!, serial: '1234' })),
    );
    const { snapshot } = await inspectPki(request(), 'use');
    assert.equal(snapshot.gateways.get('alpha')!.serial, serial);
    await expectRefused(() => ensurePki(request()), `serial ${serial} is revoked`);
  });

  it('file and directory modes are checked on a hit too', async () => {
    await chmod(join(pki, 'private/alpha.key'), 0o640);
    await expectRefused(() => ensurePki(request()), `chmod 600 ${join(pki, 'private/alpha.key')}`);
    await chmod(join(pki, 'private/alpha.key'), 0o600);
    await chmod(join(pki, 'private'), 0o750);
    await expectRefused(() => ensurePki(request()), `chmod 700 ${join(pki, 'private')}`);
    await chmod(join(pki, 'private'), 0o700);
    await chmod(join(pki, 'tls-crypt'), 0o705);
    await expectRefused(() => loadPkiReadOnly(request()), `chmod 700 ${join(pki, 'tls-crypt')}`);
  });

  for (const [what, damage] of [
    ['missing', () => rm(record)],
    ['not JSON', () => writeFile(record, '{"format": 1, "gateways": {"alpha": ')],
    [
      'of another format',
      async () => writeFile(record, (await readFile(record, 'utf8')).replace('"format": 1', '"format": 9')),
    ],
    [
      'with the wrong tags',
      async () =>
        writeFile(
          record,
          serializeVerified(new Map([['alpha', { serial: await serialOf('alpha'), tag: 'A'.repeat(43) }]])),
        ),
    ],
    [
      'of the old shape (a bare tag per gateway)',
      async () => {
        const pairs = await pairsOf();
        const bare = Object.fromEntries(Object.entries(pairs).map(([lan, p]) => [lan, p.tag]));
        await writeFile(record, JSON.stringify({ format: 1, gateways: bare }));
      },
    ],
    [
      'a directory',
      async () => {
        await rm(record);
        await mkdir(record);
      },
    ],
    [
      'a symlink to a good copy',
      async () => {
        await copyFile(record, join(root, 'copy.json'));
        await rm(record);
        await symlink(join(root, 'copy.json'), record);
      },
    ],
  ] as const) {
    it(`a record that is ${what} is ignored: everything is checked in full, a bad pair still refused`, async () => {
      await damage();
      const { snapshot } = await inspectPki(request(), 'use');
      for (const gateway of snapshot.gateways.values()) {
        assert.equal(Object.getOwnPropertyDescriptor(gateway, 'key')?.get, undefined, 'checked in full');
      }
      const good = await read('private/alpha.key');
      await writeFile(join(pki, 'private/alpha.key'), await read('private/beta.key'), { mode: 0o600 });
      await expectRefused(() => ensurePki(request()), `does not belong to ${join(pki, 'issued/alpha.crt')}`);
      await writeFile(join(pki, 'private/alpha.key'), good, { mode: 0o600 });
      // a good PKI is accepted; the record is rewritten where it can be (not over a directory or a symlink's
      // target: the run succeeds all the same)
      const { created } = await ensurePki(request());
      assert.deepEqual(created, []);
      if (what === 'a directory') {
        assert.ok((await stat(record)).isDirectory());
      } else {
        assert.deepEqual(Object.keys(await pairsOf()), ['alpha', 'beta']);
        assert.ok((await stat(record)).isFile());
        assert.equal((await stat(record)).mode & 0o777, 0o600);
      }
    });
  }

  it('read-only commands use the record but never write it', async () => {
    await rm(record);
    const before = treeSnapshot(pki);
    await loadPkiReadOnly(request());
    await previewPki(request());
    assert.deepEqual(treeSnapshot(pki), before);
  });

  it('a record written for another CA matches nothing', async () => {
    const other = join(root, 'other');
    await ensurePki({ dir: other, mesh: 'corp', lans: ['alpha', 'beta'], pairs: [] });
    await copyFile(join(other, 'private/verified.json'), record);
    const { snapshot } = await inspectPki(request(), 'use');
    assert.equal(Object.getOwnPropertyDescriptor(snapshot.gateways.get('alpha')!, 'key')?.get, undefined);
  });

  it('while a CA rotation runs, every pair is checked in full and nothing is recorded', async () => {
    const recorded = await readFile(record, 'utf8');
    await beginCaRotation({ dir: pki, mesh: 'corp', gateways: ['alpha', 'beta'] });
    assert.equal(await reissueUnderNewCa({ dir: pki, mesh: 'corp', gateway: 'beta' }), true);
    const { snapshot, problems } = await inspectPki(request(), 'use');
    assert.deepEqual(problems, []);
    assert.equal(snapshot.verified, undefined);
    for (const gateway of snapshot.gateways.values()) {
      assert.equal(Object.getOwnPropertyDescriptor(gateway, 'key')?.get, undefined, 'checked in full');
    }
    assert.equal(snapshot.gateways.get('beta')!.byNewCa, true);
    await ensurePki(request());
    assert.equal(await readFile(record, 'utf8'), recorded, 'not rewritten during the rotation');
    // the rotation's record gone (as if abandoned): beta's certificate of the new CA is not vouched for by any tag
    await rm(join(pki, 'rotation.json'));
    await expectRefused(
      () => ensurePki(request()),
      `${join(pki, 'issued/beta.crt')}: is not signed by this PKI's CA`,
    );
  });
});
