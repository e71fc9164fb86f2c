import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Desired, renderDesired } from '../../../src/commands/desired.js';
import { UsageError } from '../../../src/errors.js';
import { manifestText, renderMesh } from '../../../src/render/render.js';
import { loadRoles } from '../../../src/render/roles.js';
import { openRenderTree, RENDER_MARKER, writeRenderTree } from '../../../src/render/tree.js';
import type { DesiredState } from '../../../src/types.js';
import { meshctlVersion } from '../../../src/version.js';
import { fixtureMesh, fixturePki } from './fixture.js';

const mesh = fixtureMesh();
const states = renderMesh(mesh, fixturePki(mesh), loadRoles(), { version: '0.1.0-test' });

describe('render: writeRenderTree', () => {
  let base: string;
  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'meshctl-tree-'));
  });
  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('one gateway at a time (render --out): the same states as renderMesh, the same tree as writeRenderTree', async () => {
    const pki = fixturePki(mesh);
    // as the command renders: with this meshctl's version in the manifest
    const states = renderMesh(mesh, pki, loadRoles(), { version: meshctlVersion() });
    const names = [...states.keys()];
    const desired = { mesh, pki } as unknown as Desired;
    const one = join(base, 'one');
    const tree = await openRenderTree(one, names);
    const written: string[] = [];
    for (const [name, state] of renderDesired(desired, names)) {
      const whole = states.get(name)!;
      assert.deepEqual(
        state.files.map((f) => [f.path, f.mode, f.content]),
        whole.files.map((f) => [f.path, f.mode, f.content]),
      );
      assert.deepEqual(state.manifest, whole.manifest);
      written.push(...tree.write(name, state));
    }
    // nothing is in place before the commit
    await assert.rejects(stat(written[0]!));
    await tree.commit();
    const all = join(base, 'all');
    const expected = await writeRenderTree(all, states);
    assert.deepEqual(
      written.map((p) => p.slice(one.length)).sort(),
      expected.map((p) => p.slice(all.length)).sort(),
    );
    for (const path of written) {
      const twin = join(all, path.slice(one.length));
      assert.equal(await readFile(path, 'utf8'), await readFile(twin, 'utf8'));
      assert.equal((await stat(path)).mode, (await stat(twin)).mode);
    }
    // a render that fails half-way leaves the previous output whole, and no staging behind
    const again = await openRenderTree(one, names);
    again.write(names[0]!, states.get(names[0]!)!);
    await again.abort();
    assert.deepEqual((await readdir(one)).sort(), [RENDER_MARKER, ...names].sort());
    for (const path of written)
      assert.equal(await readFile(path, 'utf8'), await readFile(join(all, path.slice(one.length)), 'utf8'));
    // a name that is not a LAN's is refused before the directory is claimed
    await assert.rejects(openRenderTree(join(base, 'bad'), ['../x']), UsageError);
    await assert.rejects(stat(join(base, 'bad')));
  });

  it('writes every file under <out>/<lan>/ with its mode, plus the manifest, and returns the paths', async () => {
    const out = join(base, 'out');
    const written = await writeRenderTree(out, states);
    // per gateway: 14 files plus one unit drop-in per tunnel (two each)
    assert.equal(written.length, 3 * 16);
    for (const [name, state] of states) {
      assert.equal((await stat(join(out, name))).mode & 0o777, 0o700, `${name}/ holds keys: 0700`);
      for (const f of state.files) {
        const target = join(out, name, f.path);
        assert.ok(written.includes(target));
        assert.equal(await readFile(target, 'utf8'), f.content);
        assert.equal((await stat(target)).mode & 0o777, f.mode, target);
      }
      const manifest = join(out, name, 'etc/meshctl/manifest.json');
      assert.equal(await readFile(manifest, 'utf8'), manifestText(state.manifest));
    }
    assert.ok((await readdir(out)).includes(RENDER_MARKER));
  });

  it('refuses a non-empty directory it did not create, and leaves it untouched', async () => {
    await writeFile(join(base, 'precious.txt'), 'keep me');
    await assert.rejects(
      writeRenderTree(base, states),
      (e: Error) => e instanceof UsageError && e.message.includes(base) && e.message.includes(RENDER_MARKER),
    );
    assert.deepEqual(await readdir(base), ['precious.txt']);
  });

  it('refuses a path that is a file', async () => {
    await writeFile(join(base, 'file'), 'x');
    await assert.rejects(writeRenderTree(join(base, 'file'), states), UsageError);
  });

  it('writes into an existing empty directory', async () => {
    await writeRenderTree(base, states);
    assert.deepEqual((await readdir(base)).sort(), [RENDER_MARKER, 'branch', 'cloud', 'head-office']);
  });

  it('replaces its own previous output cleanly: nothing of a removed LAN or tunnel lingers', async () => {
    const out = join(base, 'out');
    await writeRenderTree(out, states);
    await writeFile(join(out, 'cloud', 'stray'), 'x');
    const onlyBranch = new Map([['branch', states.get('branch')!]]);
    const written = await writeRenderTree(out, onlyBranch);
    assert.deepEqual((await readdir(out)).sort(), [RENDER_MARKER, 'branch']);
    assert.equal(written.length, 16);
  });

  it('refuses a state whose LAN name would escape the output directory', async () => {
    const evil: DesiredState = {
      ...states.get('branch')!,
      gateway: { ...states.get('branch')!.gateway, name: '..' },
    };
    await assert.rejects(writeRenderTree(join(base, 'out'), new Map([['..', evil]])), UsageError);
    const escaping: DesiredState = {
      ...states.get('branch')!,
      files: [{ ...states.get('branch')!.files[0]!, path: '/etc/../../x' }],
    };
    await assert.rejects(
      writeRenderTree(join(base, 'out'), new Map([['branch', escaping]])),
      /absolute and normalized/,
    );
    await mkdir(join(base, 'out'), { recursive: true });
    assert.deepEqual(await readdir(join(base, 'out')), []);
  });
});
