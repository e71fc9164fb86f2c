import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseFacts } from '../../../src/facts/parse.js';
import { PROBE_SCRIPT, probeCommand } from '../../../src/facts/probe.js';
import {
  FIREWALL_UNIT,
  MANIFEST_PATH,
  OPENVPN_SERVER_DIR,
  OWN_UNIT_PREFIX,
  TUNNEL_NAME_PREFIX,
  TUNNEL_UNIT_TEMPLATE,
} from '../../../src/gateway/layout.js';
import { sha256 } from '../../helpers/hash.js';
import { treeSnapshot } from '../../helpers/snapshot.js';

const run = promisify(execFile);

const FIREWALL = { chainPrefix: 'MESHCTL' };

/** The real probe command, with the manifest and the tunnel directory moved into the test's own directory. */
function relocatedProbe(root: string, paths: string[], firewall = FIREWALL): string[] {
  const argv = probeCommand(paths, firewall);
  assert.deepEqual(
    argv.slice(4, 6),
    [MANIFEST_PATH, OPENVPN_SERVER_DIR],
    'MANIFEST and TUNNEL_DIR come first',
  );
  argv.splice(4, 2, join(root, 'manifest.json'), join(root, 'server'));
  return argv;
}

describe('probe.sh run by the local /bin/sh', function () {
  this.timeout(20000);
  let root: string;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'meshctl-probe-'));
    mkdirSync(join(root, 'server'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('builds one argv: sh -c SCRIPT NAME LAYOUT… -- PATH…, the layout and the paths as separate arguments', () => {
    const argv = probeCommand(['/etc/a b', "/etc/it's"], { chainPrefix: 'ACME_1' });
    assert.deepEqual(argv.slice(0, 2), ['sh', '-c']);
    assert.equal(argv[2], PROBE_SCRIPT);
    assert.deepEqual(argv.slice(3), [
      'meshctl-probe',
      MANIFEST_PATH,
      OPENVPN_SERVER_DIR,
      TUNNEL_NAME_PREFIX,
      TUNNEL_UNIT_TEMPLATE,
      OWN_UNIT_PREFIX,
      FIREWALL_UNIT,
      'ACME_1',
      'frr.service',
      '--',
      '/etc/a b',
      "/etc/it's",
    ]);
    assert.throws(() => probeCommand(['relative/path'], FIREWALL), /must be absolute/);
    assert.throws(() => probeCommand(['/etc/a\nb'], FIREWALL), /free of TAB and newline/);
    assert.throws(() => probeCommand([], { chainPrefix: 'acme; reboot' }), /not checked by render/);
  });

  it('writes none of the layout itself: no gateway path, unit or chain name in the script', () => {
    for (const literal of [MANIFEST_PATH, OPENVPN_SERVER_DIR, FIREWALL_UNIT, 'mesh-*', 'MESHCTL']) {
      const code = PROBE_SCRIPT.split('\n').filter((line) => !line.trimStart().startsWith('#'));
      assert.ok(!code.some((line) => line.includes(literal)), `probe.sh hard-codes ${literal}`);
    }
  });

  it('refuses to run without its layout arguments', async () => {
    const result = await run('sh', ['-c', PROBE_SCRIPT, 'meshctl-probe', '/etc/x']).catch((e) => e);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /expected MANIFEST TUNNEL_DIR/);
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
    const before = treeSnapshot(root);

    const argv = relocatedProbe(root, [
      conf,
      key,
      missing,
      join(root, 'dangling'),
      join(root, 'a-directory'),
    ]);
    const { stdout } = await run(argv[0]!, argv.slice(1), { encoding: 'utf8' });
    const facts = parseFacts(stdout, 'local', FIREWALL);

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
    assert.deepEqual(treeSnapshot(root), before, 'the probe changed nothing');
  });

  it('checksums many files in one go, and file by file when a name or a file defeats that, with the same facts', async () => {
    const plain = Array.from({ length: 30 }, (_, i) => join(root, `file ${i}.conf`));
    for (const [i, path] of plain.entries()) writeFileSync(path, `content ${i}\n`);
    const probe = async (paths: string[]) => {
      const argv = relocatedProbe(root, paths);
      const { stdout } = await run(argv[0]!, argv.slice(1), { encoding: 'utf8' });
      return parseFacts(stdout, 'local', FIREWALL).files;
    };
    const batched = await probe(plain);
    for (const [i, path] of plain.entries()) assert.equal(batched[path]?.sha256, sha256(`content ${i}\n`));
    // sha256sum escapes a name with a backslash: the probe must not take its line for another file's
    const escaped = join(root, 'back\\slash.conf');
    writeFileSync(escaped, 'escaped\n');
    const mixed = await probe([...plain, escaped]);
    assert.equal(mixed[escaped]?.sha256, sha256('escaped\n'));
    for (const path of plain) assert.deepEqual(mixed[path], batched[path]);
  });

  it('still produces a parseable report with no manifest, no tunnel directory and a corrupt os field', async () => {
    rmSync(join(root, 'server'), { recursive: true });
    const argv = relocatedProbe(root, [join(root, 'x')]);
    const { stdout, stderr } = await run(argv[0]!, argv.slice(1), { encoding: 'utf8' });
    const facts = parseFacts(stdout, 'local', FIREWALL);
    assert.equal(facts.manifest, null);
    assert.deepEqual(facts.files, { [join(root, 'x')]: null });
    assert.equal(typeof facts.os.id, 'string');
    assert.ok(!stderr.includes('syntax error'), stderr);
  });

  it('reports the iptables rules of the chain prefix it is given, and no other chain', async function () {
    // The chains live in a network namespace of the test's own (unshare -rn: also works unprivileged where user
    // namespaces are allowed), so nothing touches this machine's firewall.
    const setup = [
      'PATH=/usr/sbin:/sbin:$PATH',
      'iptables -w -N ACME_2-INPUT',
      'iptables -w -N ACME_2-FORWARD',
      'iptables -w -N ACME_2-SRC-mtun1',
      'iptables -w -A INPUT -j ACME_2-INPUT',
      'iptables -w -A FORWARD -j ACME_2-FORWARD',
      'iptables -w -A ACME_2-INPUT -i mtun1 -j ACME_2-SRC-mtun1',
      // another tool's chains with the default prefix, or one that only starts like ours: not meshctl's here
      'iptables -w -N MESHCTL-INPUT',
      'iptables -w -A INPUT -j MESHCTL-INPUT',
      'iptables -w -N ACME_2X-INPUT',
    ].join(' && ');
    const probe = (prefix: string) => relocatedProbe(root, [], { chainPrefix: prefix });
    const inNamespace = (argv: string[]) =>
      run('unshare', ['-rn', 'sh', '-c', `${setup} && exec "$@"`, 'setup', ...argv], { encoding: 'utf8' });
    let stdout: string;
    try {
      ({ stdout } = await inNamespace(probe('ACME_2')));
    } catch (error) {
      const why = (error as { stderr?: string }).stderr?.trim() || (error as Error).message;
      console.warn(
        `\n${'!'.repeat(78)}\n!! SKIPPED: ${this.test?.title}\n!! no network namespace with iptables here: ${why}\n${'!'.repeat(78)}`,
      );
      this.skip();
    }
    const rules = stdout
      .split('\n')
      .filter((line) => line.startsWith('iptables\t'))
      .map((line) => line.slice('iptables\t'.length));
    assert.deepEqual(
      rules.sort(),
      [
        '-N ACME_2-INPUT',
        '-N ACME_2-FORWARD',
        '-N ACME_2-SRC-mtun1',
        '-A INPUT -j ACME_2-INPUT',
        '-A FORWARD -j ACME_2-FORWARD',
        '-A ACME_2-INPUT -i mtun1 -j ACME_2-SRC-mtun1',
      ].sort(),
    );
    const facts = parseFacts(stdout, 'local', { chainPrefix: 'ACME_2' });
    assert.deepEqual(facts.firewall, { readable: true, chains: true, jumps: true });

    // the same gateway probed for the default prefix finds only the other tool's half-made chains
    const other = await inNamespace(probe('MESHCTL'));
    const seen = parseFacts(other.stdout, 'local', FIREWALL);
    assert.deepEqual(seen.firewall, { readable: true, chains: true, jumps: false });
    // (forward-chain records list the FORWARD chain whole, every tool's rules, for the pre-flight checks)
    const meshctlRules = other.stdout.split('\n').filter((line) => line.startsWith('iptables\t'));
    assert.ok(!meshctlRules.join('\n').includes('ACME_2'), 'rules of another prefix are not reported');
    assert.ok(other.stdout.includes('forward-chain\t-A FORWARD -j ACME_2-FORWARD'));
  });

  it('runs with a corrupt manifest and reports it as unusable', async () => {
    writeFileSync(join(root, 'manifest.json'), '{"mesh": "corp", "files": {"/etc/x": ');
    const argv = relocatedProbe(root, []);
    const { stdout } = await run(argv[0]!, argv.slice(1), { encoding: 'utf8' });
    const facts = parseFacts(stdout, 'local', FIREWALL);
    assert.equal(facts.manifest, null);
    assert.ok(facts.warnings.some((w) => w.includes('manifest.json is unusable')));
    assert.ok('/etc/x' in facts.files, 'paths of a corrupt manifest are still probed');
  });
});
