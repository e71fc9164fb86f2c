import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseFacts } from '../../../src/facts/parse.js';
import { PROBE_SCRIPT, probeCommand } from '../../../src/facts/probe.js';

const run = promisify(execFile);
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The real probe, with its two fixed locations moved into the test's own directory. */
function relocatedProbe(root: string): string {
  const manifestLine = 'MANIFEST=/etc/meshctl/manifest.json\n';
  const tunnelLine = 'TUNNEL_DIR=/etc/openvpn/server\n';
  assert.equal(PROBE_SCRIPT.split(manifestLine).length, 2, 'probe.sh sets MANIFEST exactly once');
  assert.equal(PROBE_SCRIPT.split(tunnelLine).length, 2, 'probe.sh sets TUNNEL_DIR exactly once');
  return PROBE_SCRIPT.replace(manifestLine, `MANIFEST=${root}/manifest.json\n`).replace(
    tunnelLine,
    `TUNNEL_DIR=${root}/server\n`,
  );
}

/** Every entry under dir with its mode, size and mtime: a probe that writes anything changes this. */
function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .sort()
    .map((name) => {
      const st = lstatSync(join(dir, name), { bigint: true });
      return `${name} ${st.mode} ${st.size} ${st.mtimeNs}`;
    });
}

describe('probe.sh run by the local /bin/sh', function () {
  this.timeout(20000);
  let root: string;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'meshctl-probe-'));
    mkdirSync(join(root, 'server'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('builds one argv: sh -c SCRIPT NAME PATH…, paths as separate arguments', () => {
    const argv = probeCommand(['/etc/a b', "/etc/it's"]);
    assert.deepEqual(argv.slice(0, 2), ['sh', '-c']);
    assert.equal(argv[2], PROBE_SCRIPT);
    assert.deepEqual(argv.slice(3), ['meshctl-probe', '/etc/a b', "/etc/it's"]);
    assert.throws(() => probeCommand(['relative/path']), /must be absolute/);
    assert.throws(() => probeCommand(['/etc/a\nb']), /free of TAB and newline/);
  });

  it('reports checksum, mode and owner of present files, absent ones, and the manifest with its paths', async () => {
    const conf = join(root, 'server', 'mesh-branch.conf');
    const stale = join(root, 'server', 'mesh-old.conf');
    const key = join(root, 'it\'s a "key" $(id).key');
    const listedOnlyInManifest = join(root, 'firewall.sh');
    const missing = join(root, 'missing.conf');
    writeFileSync(conf, 'remote branch\n');
    writeFileSync(stale, 'remote old\n');
    writeFileSync(key, 'not really a key\n');
    chmodSync(key, 0o600);
    writeFileSync(listedOnlyInManifest, '#!/bin/sh\n');
    chmodSync(listedOnlyInManifest, 0o755);
    symlinkSync(join(root, 'nowhere'), join(root, 'dangling'));
    mkdirSync(join(root, 'a-directory'));
    const manifest = {
      mesh: 'corp',
      version: '0.1.0',
      lan: 'hq',
      files: { [listedOnlyInManifest]: sha256('#!/bin/sh\n'), [stale]: sha256('remote old\n') },
      units: ['meshctl-firewall.service', 'openvpn-server@mesh-old.service'],
    };
    // no trailing newline: the probe must still report the last line
    writeFileSync(join(root, 'manifest.json'), JSON.stringify(manifest, null, 2));
    const before = snapshot(root);

    const argv = probeCommand([conf, key, missing, join(root, 'dangling'), join(root, 'a-directory')]);
    argv[2] = relocatedProbe(root);
    const { stdout } = await run(argv[0]!, argv.slice(1), { encoding: 'utf8' });
    const facts = parseFacts(stdout, 'local');

    const owner = userInfo().username;
    assert.deepEqual(facts.files[conf], {
      sha256: sha256('remote branch\n'),
      mode: 0o644 & ~process.umask(),
      owner,
    });
    assert.deepEqual(facts.files[key], { sha256: sha256('not really a key\n'), mode: 0o600, owner });
    assert.deepEqual(facts.files[listedOnlyInManifest], {
      sha256: sha256('#!/bin/sh\n'),
      mode: 0o755,
      owner,
    });
    assert.ok(facts.files[stale], 'a tunnel config on disk is probed although nobody asked for it');
    assert.equal(facts.files[missing], null);
    assert.equal(facts.files[join(root, 'dangling')], null);
    assert.equal(facts.files[join(root, 'a-directory')], null);
    assert.ok(facts.warnings.some((w) => w.includes('a-directory exists but is not a regular file')));
    assert.deepEqual(facts.manifest, manifest);
    assert.ok(facts.openvpnVersion === null || /^\d+\.\d+/.test(facts.openvpnVersion));
    // systemd and iptables may be missing or refuse here: the probe still ends and says why
    const unitsKnown = Object.keys(facts.units).length > 0;
    assert.ok(
      unitsKnown || facts.warnings.some((w) => w.includes('systemctl')),
      'units or a systemctl warning',
    );
    if (unitsKnown) {
      assert.ok(facts.units['meshctl-firewall.service'], 'the firewall unit is always shown');
      assert.ok(facts.units['openvpn-server@mesh-old.service'], 'a unit named by the manifest is shown');
      assert.ok(facts.units['openvpn-server@mesh-branch.service'], 'the unit of a config asked for is shown');
    }
    assert.deepEqual(snapshot(root), before, 'the probe changed nothing');
  });

  it('still produces a parseable report with no manifest, no tunnel directory and a corrupt os field', async () => {
    rmSync(join(root, 'server'), { recursive: true });
    const argv = probeCommand([join(root, 'x')]);
    argv[2] = relocatedProbe(root);
    const { stdout, stderr } = await run(argv[0]!, argv.slice(1), { encoding: 'utf8' });
    const facts = parseFacts(stdout, 'local');
    assert.equal(facts.manifest, null);
    assert.deepEqual(facts.files, { [join(root, 'x')]: null });
    assert.equal(typeof facts.os.id, 'string');
    assert.ok(!stderr.includes('syntax error'), stderr);
  });

  it('runs with a corrupt manifest and reports it as unusable', async () => {
    writeFileSync(join(root, 'manifest.json'), '{"mesh": "corp", "files": {"/etc/x": ');
    const argv = probeCommand([]);
    argv[2] = relocatedProbe(root);
    const { stdout } = await run(argv[0]!, argv.slice(1), { encoding: 'utf8' });
    const facts = parseFacts(stdout, 'local');
    assert.equal(facts.manifest, null);
    assert.ok(facts.warnings.some((w) => w.includes('manifest.json is unusable')));
    assert.ok('/etc/x' in facts.files, 'paths of a corrupt manifest are still probed');
  });
});
