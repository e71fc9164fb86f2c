import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseFacts } from '../../../src/facts/parse.js';
import { probeCommand } from '../../../src/facts/probe.js';
import { MANIFEST_PATH, OPENVPN_SERVER_DIR } from '../../../src/gateway/layout.js';

/**
 * FRR in the facts (routing: bgp): the probe's `frr`, `frr-missing`, `frr-reload` and `frr-config` records, parsed;
 * and probe.sh itself under the local /bin/sh, once on this machine as it is and once in a mount namespace of the
 * test's own where FRR's directory and the package tools are fakes the test wrote.
 */

const run = promisify(execFile);
const FIREWALL = { chainPrefix: 'MESHCTL' };

/** A probe report with the given records between the header and `end` (the parser needs nothing else). */
function report(...records: string[]): string {
  return ['probe\t1', 'os-release\tID=debian', 'package-manager\tapt-get', ...records, 'end', ''].join('\n');
}

describe('parseFacts: FRR records', () => {
  it('reads the version of bgpd, frr-reload and the package state of each configuration file asked for', () => {
    const facts = parseFacts(
      report(
        'frr\tbgpd version 8.4.4',
        'frr-reload\tyes',
        'frr-config\t/etc/frr/frr.conf\tpristine',
        'frr-config\t/etc/frr/daemons\tchanged',
      ),
      'hq',
      FIREWALL,
    );
    assert.deepEqual(facts.frr, {
      version: '8.4.4',
      reload: true,
      config: { '/etc/frr/frr.conf': 'pristine', '/etc/frr/daemons': 'changed' },
    });
    assert.deepEqual(facts.warnings, []);
  });

  it('frr-missing: no version; frr-reload no', () => {
    const facts = parseFacts(report('frr-missing', 'frr-reload\tno'), 'hq', FIREWALL);
    assert.deepEqual(facts.frr, { version: null, reload: false, config: {} });
  });

  it('the same when the probe says nothing about FRR (an older probe): not installed, no reload', () => {
    assert.deepEqual(parseFacts(report(), 'hq', FIREWALL).frr, { version: null, reload: false, config: {} });
  });

  it('reads the versions FRR releases print, and warns about a line it cannot read', () => {
    const version = (line: string) => parseFacts(report(`frr\t${line}`), 'hq', FIREWALL);
    assert.equal(version('bgpd version 10.1.1').frr.version, '10.1.1');
    assert.equal(version('bgpd version 7.5').frr.version, '7.5');
    assert.equal(version('bgpd version 8.5.4-dev_git').frr.version, '8.5.4-dev_git');
    const odd = version('bgpd: unrecognized option');
    assert.equal(odd.frr.version, 'unknown', 'installed, version unknown (not "missing")');
    assert.ok(odd.warnings.some((w) => w.includes('bgpd --version') && w.includes('unrecognized option')));
  });

  it('ignores a frr-config record with a state it does not know', () => {
    const facts = parseFacts(report('frr-config\t/etc/frr/frr.conf\tmaybe'), 'hq', FIREWALL);
    assert.deepEqual(facts.frr.config, {});
  });
});

/** The real probe command, with the manifest and the tunnel directory moved into the test's own directory. */
function relocatedProbe(root: string, paths: string[]): string[] {
  const argv = probeCommand(paths, FIREWALL);
  assert.deepEqual(argv.slice(4, 6), [MANIFEST_PATH, OPENVPN_SERVER_DIR]);
  argv.splice(4, 2, join(root, 'manifest.json'), join(root, 'server'));
  return argv;
}

const md5 = (text: string) => createHash('md5').update(text).digest('hex');

describe('probe.sh FRR records, run by the local /bin/sh', function () {
  this.timeout(20_000);
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'meshctl-probe-frr-'));
    mkdirSync(join(root, 'server'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('on this machine: FRR reported as it is installed here', async () => {
    const argv = relocatedProbe(root, [join(root, 'frr.conf')]);
    const { stdout } = await run(argv[0]!, argv.slice(1), { encoding: 'utf8' });
    const frr = stdout.split('\n').filter((l) => /^frr(-missing|-reload|-config)?(\t|$)/.test(l));
    const installed = ['/usr/lib/frr/bgpd', '/usr/libexec/frr/bgpd'].some((p) => existsSync(p));
    if (!installed) {
      assert.deepEqual(frr, ['frr-missing', 'frr-reload\tno']);
      assert.deepEqual(parseFacts(stdout, 'local', FIREWALL).frr, {
        version: null,
        reload: false,
        config: {},
      });
    } else {
      assert.match(frr[0]!, /^frr\t.*version \d+\.\d+/);
    }
  });

  /**
   * Runs the probe in a mount namespace where /usr/libexec (the RHEL family's FRR directory) and /usr/local/sbin
   * (first on the probe's PATH) are empty tmpfs directories holding only what `files` gives: FRR's daemons and
   * package tools as fakes. Nothing outside the namespace changes.
   */
  async function probeWithFakes(
    context: Mocha.Context,
    files: Record<string, string>,
    paths: string[],
  ): Promise<string> {
    const setup = [
      'set -e',
      'mount -t tmpfs meshctl-test /usr/libexec',
      'mount -t tmpfs meshctl-test /usr/local/sbin',
      ...Object.entries(files).map(
        ([path, body]) =>
          `mkdir -p "$(dirname ${path})" && printf '%s' '${body.replace(/'/g, `'\\''`)}' > ${path} && chmod 755 ${path}`,
      ),
    ].join('\n');
    const argv = relocatedProbe(root, paths);
    const namespace = process.getuid?.() === 0 ? '-m' : '-rm';
    try {
      const { stdout } = await run(
        'unshare',
        [namespace, 'sh', '-c', `${setup}\nexec "$@"`, 'setup', ...argv],
        { encoding: 'utf8' },
      );
      return stdout;
    } catch (error) {
      const why = (error as { stderr?: string }).stderr?.trim() || (error as Error).message;
      console.warn(
        `\n${'!'.repeat(78)}\n!! SKIPPED: ${context.test?.title}\n!! no mount namespace here: ${why}\n${'!'.repeat(78)}`,
      );
      context.skip();
    }
  }

  it('FRR in /usr/libexec/frr (RHEL family): its version and frr-reload; dpkg says which configs are pristine', async function () {
    const conf = join(root, 'frr.conf');
    const daemons = join(root, 'daemons');
    const vtysh = join(root, 'vtysh.conf');
    const notAConffile = join(root, 'other.conf');
    writeFileSync(conf, 'frr defaults traditional\nhostname frr\n');
    writeFileSync(daemons, 'bgpd=yes\n');
    writeFileSync(notAConffile, 'x\n');
    const dpkgQuery = [
      '#!/bin/sh',
      // `dpkg-query -W -f='${Conffiles}\n' frr`: one line per conffile, its md5 as shipped
      `[ "$1" = -W ] && [ "$3" = frr ] || exit 1`,
      `echo ' ${conf} ${md5('frr defaults traditional\nhostname frr\n')}'`,
      `echo ' ${daemons} ${md5('bgpd=no\n')}'`,
      // a conffile that is not on disk: nothing to say about it
      `echo ' ${vtysh} ${md5('service integrated-vtysh-config\n')}'`,
      '',
    ].join('\n');
    const stdout = await probeWithFakes(
      this,
      {
        '/usr/libexec/frr/bgpd':
          "#!/bin/sh\nprintf 'bgpd version 8.4.4\\nCopyright 1996-2005 Kunihiro Ishiguro, et al.\\n'\n",
        '/usr/libexec/frr/frr-reload.py': '#!/usr/bin/python3\n',
        '/usr/local/sbin/dpkg-query': dpkgQuery,
      },
      [conf, daemons, vtysh, notAConffile],
    );
    const facts = parseFacts(stdout, 'local', FIREWALL);
    assert.deepEqual(facts.frr, {
      version: '8.4.4',
      reload: true,
      config: { [conf]: 'pristine', [daemons]: 'changed' },
    });
    // the files themselves are probed as always
    assert.ok(facts.files[conf] && facts.files[daemons]);
  });

  it('rpm: `rpm -V` marks the changed configuration files; without frr-reload.py, no reload', async function () {
    const conf = join(root, 'frr.conf');
    const daemons = join(root, 'daemons');
    writeFileSync(conf, 'hostname frr\n');
    writeFileSync(daemons, 'bgpd=yes\n');
    const stdout = await probeWithFakes(
      this,
      {
        '/usr/libexec/frr/bgpd': "#!/bin/sh\necho 'bgpd version 7.5.1'\n",
        // no dpkg here (a RHEL gateway): dpkg-query knows no package
        '/usr/local/sbin/dpkg-query':
          "#!/bin/sh\necho 'dpkg-query: no packages found matching frr' >&2\nexit 1\n",
        '/usr/local/sbin/rpm': [
          '#!/bin/sh',
          `if [ "$1" = -qc ]; then printf '%s\\n' /etc/frr/vtysh.conf ${conf} ${daemons}; exit 0; fi`,
          `if [ "$1" = -V ]; then printf 'S.5....T.  c %s\\n' ${daemons}; printf '.M.......  c %s\\n' ${conf}; exit 1; fi`,
          'exit 1',
          '',
        ].join('\n'),
      },
      [conf, daemons],
    );
    assert.deepEqual(parseFacts(stdout, 'local', FIREWALL).frr, {
      version: '7.5.1',
      reload: false,
      // a mode change alone (M) leaves the content as shipped
      config: { [conf]: 'pristine', [daemons]: 'changed' },
    });
  });
});
