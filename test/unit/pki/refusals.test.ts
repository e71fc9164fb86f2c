import assert from 'node:assert/strict';
import {
  chmod,
  copyFile,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { PkiError } from '../../../src/errors.js';
import { ensurePki, loadPkiReadOnly, revokeGateway } from '../../../src/pki/index.js';
import { treeSnapshot } from '../../helpers/snapshot.js';
import { run, secretLines, tempRoot } from './helpers.js';

describe('pki: refusals', () => {
  let root: string;
  let pki: string;
  let cleanup: () => Promise<void>;
  // Every refused run also asks for a new LAN and a new pair, to prove a refusal writes nothing at all.
  const grow = () =>
    ensurePki({ dir: pki, mesh: 'corp', lans: ['alpha', 'beta', 'gamma'], pairs: [1, 2, 3] });

  beforeEach(async () => {
    ({ root, pki, cleanup } = await tempRoot());
    await ensurePki({ dir: pki, mesh: 'corp', lans: ['alpha', 'beta'], pairs: [1] });
  });
  afterEach(() => cleanup());

  /** Runs `action`, expects a PkiError containing every fragment, and checks nothing under pki/ changed. */
  async function expectRefused(action: () => Promise<unknown>, fragments: string[]): Promise<string> {
    const before = treeSnapshot(pki);
    const secrets = await secretLines(pki);
    let message = '';
    await assert.rejects(action(), (error: unknown) => {
      assert.ok(error instanceof PkiError, `expected PkiError, got ${error}`);
      message = error.message;
      return true;
    });
    for (const fragment of fragments)
      assert.ok(message.includes(fragment), `missing "${fragment}" in:\n${message}`);
    for (const line of secrets) assert.ok(!message.includes(line), 'the message quotes key material');
    assert.deepEqual(treeSnapshot(pki), before, 'a refused run changed the PKI directory');
    return message;
  }

  it('a pki_dir that already holds foreign files is neither taken over nor chmod-ed', async () => {
    const foreign = join(root, 'etc-like');
    await mkdir(foreign, { mode: 0o755 });
    await writeFile(join(foreign, 'passwd'), 'not a PKI\n');
    await assert.rejects(
      ensurePki({ dir: foreign, mesh: 'corp', lans: ['alpha'], pairs: [] }),
      (error: unknown) =>
        error instanceof PkiError &&
        error.message.includes('is not a meshctl PKI') &&
        error.message.includes('new or empty directory') &&
        !error.message.includes('chmod'),
    );
    assert.deepEqual(await readdir(foreign), ['passwd']);
    assert.equal((await stat(foreign)).mode & 0o777, 0o755);
  });

  it('a private key readable by others, with the chmod fix', async () => {
    const key = join(pki, 'private/alpha.key');
    await chmod(key, 0o644);
    await expectRefused(grow, [key, 'mode 0644', `chmod 600 ${key}`]);
  });

  it('the CA key readable by the group', async () => {
    const key = join(pki, 'private/ca.key');
    await chmod(key, 0o640);
    await expectRefused(grow, [key, `chmod 600 ${key}`]);
  });

  it('a tls-crypt key readable by others', async () => {
    const key = join(pki, 'tls-crypt/pair-1.key');
    await chmod(key, 0o604);
    await expectRefused(grow, [key, `chmod 600 ${key}`]);
  });

  it('a PKI directory accessible by the group, and a private/ directory accessible by others', async () => {
    await chmod(pki, 0o750);
    await chmod(join(pki, 'private'), 0o701);
    const message = await expectRefused(grow, [
      pki,
      `chmod 700 ${pki}`,
      `chmod 700 ${join(pki, 'private')}`,
      '2 problems',
    ]);
    assert.match(message, /mode 0750/);
  });

  it('a private/rotation/ directory (kept-aside keys of a rotation) accessible by the group, or not a directory', async () => {
    const rotation = join(pki, 'private/rotation');
    await mkdir(rotation, { mode: 0o700 });
    await writeFile(
      join(rotation, 'previous-pair-1.key'),
      await readFile(join(pki, 'tls-crypt/pair-1.key')),
      {
        mode: 0o600,
      },
    );
    await chmod(rotation, 0o750);
    const message = await expectRefused(grow, [rotation, 'mode 0750', `chmod 700 ${rotation}`]);
    assert.match(message, /^PKI refused:\n/, 'one problem: private/ itself is fine');
    await expectRefused(
      () => loadPkiReadOnly({ dir: pki, mesh: 'corp', lans: [], pairs: [] }),
      [`chmod 700 ${rotation}`],
    );
    await chmod(rotation, 0o700);
    await grow();
    await rm(rotation, { recursive: true });
    await writeFile(rotation, 'not a directory\n');
    await expectRefused(grow, [`${rotation}: is not a directory`, `move ${rotation} away`]);
  });

  it('a pki.json naming another mesh', async () => {
    await expectRefused(
      () => ensurePki({ dir: pki, mesh: 'lab', lans: ['alpha'], pairs: [] }),
      [
        join(pki, 'pki.json'),
        'pki_dir belongs to mesh "corp", inventory is mesh "lab"',
        'set pki_dir in mesh.yml',
      ],
    );
  });

  it("a CA certificate of another mesh next to this mesh's pki.json", async () => {
    const other = join(root, 'other');
    await ensurePki({ dir: other, mesh: 'lab', lans: [], pairs: [] });
    await copyFile(join(other, 'ca.crt'), join(pki, 'ca.crt'));
    await copyFile(join(other, 'private/ca.key'), join(pki, 'private/ca.key'));
    await expectRefused(grow, [join(pki, 'ca.crt'), 'is the CA "lab meshctl CA", not the CA of mesh "corp"']);
  });

  it('a lost pki.json next to an existing CA (rebuilding it would un-revoke gateways)', async () => {
    await rm(join(pki, 'pki.json'));
    await expectRefused(grow, [join(pki, 'pki.json'), 'un-revoke', 'restore']);
  });

  it('an unreadable pki.json', async () => {
    await writeFile(join(pki, 'pki.json'), '{ "format": 1, ');
    await expectRefused(grow, [join(pki, 'pki.json'), 'not valid JSON', 'restore']);
  });

  it('a missing private key next to an existing certificate (never silently regenerated)', async () => {
    const key = join(pki, 'private/beta.key');
    await rm(key);
    await expectRefused(grow, [
      key,
      `missing next to the existing certificate ${join(pki, 'issued/beta.crt')}`,
    ]);
    await expectRefused(() => loadPkiReadOnly({ dir: pki, mesh: 'corp', lans: ['beta'], pairs: [] }), [key]);
  });

  it('a missing CA key next to the CA certificate', async () => {
    const key = join(pki, 'private/ca.key');
    await rm(key);
    await expectRefused(grow, [key, 'never replaces it on its own', 'restore']);
  });

  it('a certificate whose CN does not match its file', async () => {
    await copyFile(join(pki, 'issued/alpha.crt'), join(pki, 'issued/beta.crt'));
    await copyFile(join(pki, 'private/alpha.key'), join(pki, 'private/beta.key'));
    await expectRefused(grow, [join(pki, 'issued/beta.crt'), 'has CN "alpha" but its file names LAN "beta"']);
  });

  it('a certificate not signed by this CA', async () => {
    const foreign = join(root, 'foreign');
    await ensurePki({ dir: foreign, mesh: 'corp', lans: ['beta'], pairs: [] });
    await copyFile(join(foreign, 'issued/beta.crt'), join(pki, 'issued/beta.crt'));
    await copyFile(join(foreign, 'private/beta.key'), join(pki, 'private/beta.key'));
    await expectRefused(grow, [join(pki, 'issued/beta.crt'), "is not signed by this PKI's CA"]);
  });

  it('a private key that does not belong to its certificate', async () => {
    await copyFile(join(pki, 'private/alpha.key'), join(pki, 'private/beta.key'));
    await expectRefused(grow, [
      join(pki, 'private/beta.key'),
      `does not belong to ${join(pki, 'issued/beta.crt')}`,
    ]);
  });

  it('a symlinked key, a damaged tls-crypt key and a .gitignore that would let keys into git', async () => {
    const key = join(pki, 'private/alpha.key');
    await rename(key, join(root, 'elsewhere.key'));
    await symlink(join(root, 'elsewhere.key'), key);
    const pairKey = join(pki, 'tls-crypt/pair-1.key');
    await writeFile(pairKey, (await readFile(pairKey, 'utf8')).replace(/\n[0-9a-f]{32}\n/, '\n'));
    await writeFile(join(pki, '.gitignore'), 'private/\n');
    await expectRefused(grow, [
      `${key}: is not a regular file`,
      `${pairKey}: does not hold exactly 16 lines`,
      `add the line(s) "tls-crypt/" to ${join(pki, '.gitignore')}`,
    ]);
  });

  it('a FIFO or a directory in place of a key: refused at once, never waited on', async () => {
    const pairKey = join(pki, 'tls-crypt/pair-1.key');
    await rm(pairKey);
    assert.equal(run('mkfifo', ['-m', '600', pairKey]).status, 0);
    const key = join(pki, 'private/beta.key');
    await rm(key);
    await mkdir(key, { mode: 0o700 });
    await expectRefused(grow, [`${pairKey}: is not a regular file`, `${key}: is not a regular file`]);
  });

  it('names that cannot be file names', async () => {
    await expectRefused(() => ensurePki({ dir: pki, mesh: 'corp', lans: ['../x'], pairs: [] }), ['"../x"']);
    await expectRefused(() => revokeGateway({ dir: pki, mesh: 'corp', lan: 'Alpha' }), ['"Alpha"']);
  });
});
