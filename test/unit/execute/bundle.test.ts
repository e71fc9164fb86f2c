import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  backupPath,
  commitScript,
  installScript,
  removeScript,
  restoreScript,
  sequenceScript,
  widenRulesScript,
} from '../../../src/execute/bundle.js';

/** Runs a bundle script with the real local sh, as the gateway does (`sh -s`, script on stdin). */
function runScript(script: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('sh', ['-s'], { input: script, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('file bundle (one round trip, atomic writes)', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'meshctl-bundle-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('a sequence runs its scripts in order in one shell round trip, and stops at the first that fails', () => {
    const a = join(root, 'etc/a.conf');
    const b = join(root, 'etc/b.conf');
    const nasty = `x $(touch ${root}/pwned) MESHCTL_SCRIPT_END\nMESHCTL_BASE64_END\n`;
    const ok = runScript(
      sequenceScript([installScript([{ path: a, content: nasty, mode: 0o640 }]), commitScript([a])]),
    );
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(readFileSync(a, 'utf8'), nasty);
    assert.equal(statSync(a).mode & 0o777, 0o640);
    assert.ok(!existsSync(join(root, 'pwned')), 'nothing in a file is run');
    // widen-rules exits 3 without a rollback copy: what comes after it never runs
    const stopped = runScript(
      sequenceScript([widenRulesScript(a), installScript([{ path: b, content: 'b\n', mode: 0o644 }])]),
    );
    assert.equal(stopped.code, 3);
    assert.ok(!existsSync(b));
    assert.throws(() => sequenceScript(['rm -rf /\n']), /not a script of bundle\.ts/);
  });

  it('writes every file with its mode, creating directories, and keeps no temporary file', () => {
    const nasty = `line with 'quotes' $(touch ${root}/pwned) \`id\` and\nMESHCTL_BASE64_END\n`;
    const binary = Buffer.from([0, 1, 2, 255, 10, 13]);
    const files = [
      { path: join(root, 'etc/openvpn/server/mesh-b.conf'), content: nasty, mode: 0o644 },
      { path: join(root, 'etc/openvpn/server/meshctl/a.key'), content: 'SECRET KEY\n', mode: 0o600 },
      { path: join(root, 'etc/meshctl/firewall.sh'), content: binary, mode: 0o755 },
      { path: join(root, 'dir with space/it$s.conf'), content: '', mode: 0o640 },
    ];
    const r = runScript(installScript(files, [join(root, 'etc/openvpn/server/meshctl')]));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /meshctl-bundle-ok/);
    assert.equal(readFileSync(files[0]!.path, 'utf8'), nasty);
    assert.equal(existsSync(join(root, 'pwned')), false, 'content was never interpreted by the shell');
    assert.deepEqual(readFileSync(files[2]!.path), binary);
    assert.equal(readFileSync(files[3]!.path, 'utf8'), '');
    for (const f of files) assert.equal(statSync(f.path).mode & 0o7777, f.mode, f.path);
    assert.equal(statSync(join(root, 'etc/openvpn/server/meshctl')).mode & 0o777, 0o700);
    assert.equal(statSync(join(root, 'etc/meshctl')).mode & 0o777, 0o755, 'a new public directory is 0755');
    const leftovers = readdirSync(join(root, 'etc/openvpn/server')).filter((n) => n.startsWith('.meshctl'));
    assert.deepEqual(leftovers, []);
  });

  it('keeps the previous version for rollback, restores it, or commits', () => {
    mkdirSync(join(root, 'etc/openvpn/server'), { recursive: true });
    const path = join(root, 'etc/openvpn/server/mesh-b.conf');
    writeFileSync(path, 'old\n');
    const created = join(root, 'etc/openvpn/server/mesh-new.conf');
    assert.equal(
      runScript(
        installScript([
          { path, content: 'new\n', mode: 0o644 },
          { path: created, content: 'created\n', mode: 0o644 },
        ]),
      ).code,
      0,
    );
    assert.equal(readFileSync(path, 'utf8'), 'new\n');
    assert.equal(readFileSync(backupPath(path), 'utf8'), 'old\n');

    assert.throws(() => restoreScript([path], [created]), /not one of meshctl's paths/);
    assert.equal(runScript(restoreScript([path], [created], { root })).code, 0);
    assert.equal(readFileSync(path, 'utf8'), 'old\n');
    assert.equal(existsSync(created), false);
    assert.equal(existsSync(backupPath(path)), false);

    runScript(installScript([{ path, content: 'newer\n', mode: 0o644 }]));
    assert.equal(runScript(commitScript([path])).code, 0);
    assert.equal(readFileSync(path, 'utf8'), 'newer\n');
    assert.equal(existsSync(backupPath(path)), false);
  });

  it('cleans temporary files and stale backups an interrupted run left behind', () => {
    const path = join(root, 'mesh-b.conf');
    writeFileSync(join(root, '.meshctl-tmp.AbCdEf'), 'half');
    writeFileSync(join(root, '.meshctl-prev.mesh-c.conf'), 'stale');
    writeFileSync(join(root, 'operator.conf'), 'not ours');
    assert.equal(runScript(installScript([{ path, content: 'x', mode: 0o644 }])).code, 0);
    assert.deepEqual(readdirSync(root).sort(), ['mesh-b.conf', 'operator.conf']);
  });

  it('fails before writing anything when a directory cannot be made, leaving no temporary file', () => {
    const path = join(root, 'mesh-b.conf');
    writeFileSync(path, 'old\n');
    // a directory where the file's parent should be makes mktemp fail
    const blocked = join(root, 'file-not-dir');
    writeFileSync(blocked, '');
    const r = runScript(
      installScript([
        { path, content: 'new\n', mode: 0o644 },
        { path: join(blocked, 'x.conf'), content: 'y', mode: 0o644 },
      ]),
    );
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stdout, /meshctl-bundle-ok/);
    assert.equal(readFileSync(path, 'utf8'), 'old\n', 'directories are made before any file is replaced');
    assert.deepEqual(
      readdirSync(root).filter((n) => n.startsWith('.meshctl-tmp')),
      [],
    );
  });

  it('removes files it owns with their backups, and refuses relative or escaping paths', () => {
    const dir = join(root, 'etc/openvpn/server');
    mkdirSync(dir, { recursive: true });
    const path = join(dir, 'mesh-gone.conf');
    writeFileSync(path, 'x');
    writeFileSync(backupPath(path), 'y');
    assert.equal(runScript(removeScript([path], { root })).code, 0);
    assert.deepEqual(readdirSync(dir), []);
    assert.throws(() => installScript([{ path: 'etc/x', content: '', mode: 0o644 }]), /non-absolute/);
    assert.throws(() => removeScript(['/etc/../root/x']), /escaping/);
  });

  it("removes only meshctl's own paths, whatever it is given, and a tunnel's drop-in directory once empty", () => {
    for (const foreign of [
      '/etc/passwd',
      '/etc/openvpn/server/operator.conf',
      '/etc/openvpn/server/meshctl/sub/x.key',
      '/etc/systemd/system/sshd.service',
      '/etc/systemd/system/openvpn-server@mesh-b.service.d/override.conf',
      '/etc/meshctl/.hidden',
    ]) {
      assert.throws(
        () => removeScript([foreign]),
        /refusing to remove .*not one of meshctl's paths/,
        foreign,
      );
      assert.throws(
        () => removeScript([join(root, foreign)], { root }),
        /not one of meshctl's paths/,
        foreign,
      );
    }
    const units = join(root, 'etc/systemd/system');
    const gone = join(units, 'openvpn-server@mesh-gone.service.d');
    const kept = join(units, 'openvpn-server@mesh-kept.service.d');
    mkdirSync(gone, { recursive: true });
    mkdirSync(kept, { recursive: true });
    writeFileSync(join(gone, 'meshctl.conf'), '[Unit]\n');
    writeFileSync(join(kept, 'meshctl.conf'), '[Unit]\n');
    writeFileSync(join(kept, 'operator.conf'), '[Service]\n');
    const r = runScript(removeScript([join(gone, 'meshctl.conf'), join(kept, 'meshctl.conf')], { root }));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readdirSync(units), ['openvpn-server@mesh-kept.service.d']);
    assert.deepEqual(readdirSync(kept), ['operator.conf'], "the operator's own drop-in stays");
  });
});
