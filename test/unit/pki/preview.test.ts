import assert from 'node:assert/strict';
import { access, cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PkiError } from '../../../src/errors.js';
import { ensurePki, placeholderOf, previewPki } from '../../../src/pki/index.js';
import type { PkiMaterial } from '../../../src/types.js';
import { treeSnapshot } from '../../helpers/snapshot.js';
import { tempRoot } from './helpers.js';

/** Every piece of material that is a placeholder, by the PKI file it stands for. */
function placeholders(material: PkiMaterial): string[] {
  const texts = [
    material.caCert,
    material.crl,
    ...[...material.gateways.values()].flatMap((g) => [g.cert, g.key]),
    ...material.tlsCrypt.values(),
  ];
  return texts.flatMap((text) => {
    const of = placeholderOf(text);
    return of ? [of.file.replace(/^pki_dir\//, '')] : [];
  });
}

describe('pki: previewPki (read-only, for diff)', () => {
  let root: string;
  let pki: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ root, pki, cleanup } = await tempRoot());
  });
  afterEach(() => cleanup());

  const request = (dir: string) => ({
    dir,
    mesh: 'corp',
    lans: ['alpha', 'beta', 'gamma'],
    pairs: [1, 2, 3],
  });

  it('on a new PKI: writes nothing, and lists exactly what ensurePki then creates', async () => {
    const preview = await previewPki(request(pki));
    await assert.rejects(access(pki), { code: 'ENOENT' }, 'no pki_dir, not even an empty one');
    const { created } = await ensurePki(request(join(root, 'real')));
    assert.deepEqual(preview.wouldCreate, created);
    assert.deepEqual(preview.wouldUpdate, []);
    // every key, certificate and the CRL gateways get is a marked placeholder (the CA key never leaves pki_dir)
    assert.deepEqual(
      placeholders(preview.material).sort(),
      created.filter((f) => !['pki.json', '.gitignore', 'private/ca.key'].includes(f)).sort(),
    );
    for (const [lan, { cert }] of preview.material.gateways) {
      assert.match(cert, new RegExp(`^# meshctl placeholder: pki_dir/issued/${lan}\\.crt would be created`));
      assert.doesNotMatch(cert, /BEGIN/);
    }
  });

  it('on a complete PKI: the very material ensurePki returns, nothing pending, no byte or mtime changed', async () => {
    const { material } = await ensurePki(request(pki));
    const before = treeSnapshot(pki);
    const preview = await previewPki(request(pki));
    assert.deepEqual(preview.material, material);
    assert.deepEqual([preview.wouldCreate, preview.wouldUpdate], [[], []]);
    assert.deepEqual(treeSnapshot(pki), before);
  });

  it('on a grown mesh: the new gateway and pair keys would be created, pki.json updated — as ensurePki does', async () => {
    await ensurePki({ dir: pki, mesh: 'corp', lans: ['alpha', 'beta'], pairs: [1] });
    const before = treeSnapshot(pki);
    const preview = await previewPki(request(pki));
    assert.deepEqual(treeSnapshot(pki), before);
    assert.deepEqual(preview.wouldCreate, [
      'private/gamma.key',
      'issued/gamma.crt',
      'tls-crypt/pair-2.key',
      'tls-crypt/pair-3.key',
    ]);
    assert.deepEqual(preview.wouldUpdate, ['pki.json']);
    assert.equal(
      placeholderOf(preview.material.gateways.get('alpha')!.cert),
      undefined,
      'existing material kept',
    );
    const copy = join(root, 'copy');
    await cp(pki, copy, { recursive: true });
    const { created } = await ensurePki(request(copy));
    assert.deepEqual(created.sort(), [...preview.wouldCreate, ...preview.wouldUpdate].sort());
  });

  it('a CRL due for renewal would be renewed (and pki.json updated), its content a placeholder', async () => {
    const opts = { dir: pki, mesh: 'corp', lans: ['alpha'], pairs: [] };
    await ensurePki({ ...opts, now: new Date('2020-01-01T00:00:00Z') });
    const preview = await previewPki({ ...opts, now: new Date('2029-11-01') });
    assert.deepEqual(preview.wouldCreate, []);
    assert.deepEqual(preview.wouldUpdate, ['pki.json', 'crl.pem']);
    assert.deepEqual(placeholderOf(preview.material.crl), {
      file: 'pki_dir/crl.pem',
      change: 'would be renewed',
    });
  });

  it('refuses what ensurePki refuses, still writing nothing', async () => {
    await mkdir(pki, { mode: 0o700 });
    await writeFile(join(pki, 'thesis.tex'), 'precious\n');
    const before = treeSnapshot(pki);
    await assert.rejects(
      previewPki(request(pki)),
      (e: unknown) => e instanceof PkiError && /not a meshctl PKI/.test(e.message),
    );
    assert.deepEqual(treeSnapshot(pki), before);
  });
});
