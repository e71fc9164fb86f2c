import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { loadInventory } from '../../src/inventory/load.js';
import { hierarchies } from '../lab/cgroup.js';
import { leaderOf } from '../lab/container.js';
import { imagePath, needsRepo, OPENVPN_PACKAGES, repoPackages, repoPath } from '../lab/image.js';
import { lanYaml, meshYaml } from '../lab/inventory.js';
import {
  formatPingMatrix,
  Lab,
  type LabSpec,
  labSpecFromInventory,
  leftovers,
  reapOrphans,
} from '../lab/lab.js';
import { parseDeb822, parseSourcesList, pickMirror } from '../lab/mirror.js';
import { mountsUnder } from '../lab/mounts.js';
import { stableMacs } from '../lab/netns.js';
import { EXAMPLE_INVENTORY, REPO_ROOT } from '../lab/paths.js';
import { isAlive, type ProcessIdentity, stillRunning, waitFor } from '../lab/process.js';
import { shellQuote } from '../lab/shell.js';
import {
  gatewayLanAddress,
  lanHostAddress,
  names,
  RELEASES,
  type Release,
  specProblems,
} from '../lab/spec.js';
import { labDir, readState } from '../lab/state.js';
import { skipUnlessLabUsable } from './helpers/skip.js';

/** Everything a lab left on the machine, beyond what leftovers() reports: also the PIDs given. */
function assertNothingLeft(name: string, pids: number[]): void {
  assert.deepEqual(leftovers(name), []);
  const namespaces = existsSync('/run/netns')
    ? readdirSync('/run/netns').filter((n) => n.startsWith(`${name}-`))
    : [];
  assert.deepEqual(namespaces, [], 'network namespaces with the lab prefix');
  for (const h of hierarchies())
    assert.equal(existsSync(join(h, names.cgroup(name))), false, `cgroup folder in ${h}`);
  assert.deepEqual(mountsUnder(labDir(name)), [], 'mounts under the lab folder');
  assert.equal(existsSync(labDir(name)), false, 'the lab folder');
  assert.deepEqual(
    pids.filter((pid) => isAlive(pid) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ')),
    [],
    'processes the lab started',
  );
}

/** The nspawn PIDs and container PID 1s of a lab, read from its state file. */
function labPids(name: string): number[] {
  const state = readState(name);
  if (!state) return [];
  return Object.values(state.containers).flatMap((nspawn: ProcessIdentity) => [
    nspawn.pid,
    ...(leaderOf(nspawn) === undefined ? [] : [leaderOf(nspawn)!]),
  ]);
}

describe('lab: addresses, spec, inventory and output (pure)', () => {
  it('gives the gateway the first host and the LAN host the tenth, or the last usable one in tiny subnets', () => {
    assert.equal(gatewayLanAddress('10.10.1.0/24'), '10.10.1.1');
    assert.equal(lanHostAddress('10.10.1.0/24'), '10.10.1.10');
    assert.equal(lanHostAddress('172.20.0.0/16'), '172.20.0.10');
    assert.equal(lanHostAddress('10.0.0.64/28'), '10.0.0.74');
    assert.equal(lanHostAddress('10.0.0.8/29'), '10.0.0.14');
    assert.equal(lanHostAddress('10.0.0.4/30'), '10.0.0.6');
  });

  it('accepts a good spec and reports every problem of a bad one, naming the value and the fix', () => {
    assert.deepEqual(
      specProblems({ name: 'ok1', gateways: [{ name: 'a', id: 1, subnets: ['10.1.0.0/16'] }] }),
      [],
    );
    const problems = specProblems({
      name: 'Too-Long-Name',
      gateways: [
        { name: 'a', id: 1, subnets: ['10.1.0.0/16'] },
        { name: 'a', id: 1, subnets: ['10.1.2.0/24', '10.9.0.1/24', '10.8.0.0/31'], sshUser: 'root' },
        { name: 'c', id: 254, subnets: ['198.18.0.0/25'] },
      ],
    });
    const expected = [
      /lab name "Too-Long-Name"/,
      /gateways\[1\] \(a\)\.name 'a' is used twice/,
      /gateways\[1\] \(a\)\.id 1 is used twice/,
      /10\.9\.0\.1\/24 has host bits set: write 10\.9\.0\.0\/24/,
      /10\.8\.0\.0\/31 is too small/,
      /sshUser "root" is invalid/,
      /id 254 is invalid/,
      /198\.18\.0\.0\/25 overlaps the lab's public network/,
      /10\.1\.2\.0\/24 overlaps gateways\[0\] \(a\)\.subnets\[0\] 10\.1\.0\.0\/16/,
    ];
    for (const pattern of expected)
      assert.ok(
        problems.some((p) => pattern.test(p)),
        `${pattern} in ${problems}`,
      );
    assert.equal(problems.length, expected.length, problems.join('\n'));
  });

  it('takes a release per gateway (default bookworm), each with its own cached image and package folder', () => {
    assert.deepEqual(
      specProblems({
        name: 'rel',
        gateways: RELEASES.map((release, i) => ({
          name: release,
          id: i + 1,
          subnets: [`10.${i}.0.0/24`],
          release,
        })),
      }),
      [],
    );
    const problems = specProblems({
      name: 'rel',
      gateways: [{ name: 'old', id: 1, subnets: ['10.1.0.0/24'], release: 'buster' as Release }],
    });
    assert.deepEqual(problems, [
      `gateways[0] (old).release "buster" is not a lab release: use one of bullseye, bookworm, trixie, sid`,
    ]);
    const paths = RELEASES.flatMap((release) => [
      imagePath({ openvpn: true, release }),
      imagePath({ openvpn: false, release }),
      imagePath({ openvpn: true, frr: false, release }),
      imagePath({ openvpn: false, frr: false, release }),
      repoPath(release),
    ]);
    assert.equal(new Set(paths).size, paths.length, 'one cache entry per release and variant');
    assert.equal(imagePath({ openvpn: true }), imagePath({ openvpn: true, release: 'bookworm' }));
    assert.equal(imagePath({ openvpn: true }), imagePath({ openvpn: true, frr: true }), 'FRR by default');
    assert.match(imagePath({ openvpn: true }), /\/images\/gateway-[0-9a-f]{16}$/, 'bookworm keeps its name');
    assert.match(
      imagePath({ openvpn: false, release: 'sid' }),
      /\/images\/gateway-sid-without-openvpn-[0-9a-f]{16}$/,
    );
    assert.match(imagePath({ openvpn: true, frr: false }), /\/images\/gateway-without-frr-[0-9a-f]{16}$/);
    assert.match(
      imagePath({ openvpn: false, frr: false, release: 'trixie' }),
      /\/images\/gateway-trixie-without-openvpn-without-frr-[0-9a-f]{16}$/,
    );
    assert.deepEqual(repoPackages('bullseye'), [...OPENVPN_PACKAGES.bullseye, 'frr', 'frr-pythontools']);
    assert.equal(needsRepo({ openvpn: true }), false);
    assert.equal(needsRepo({ openvpn: true, frr: false }), true);
  });

  it("picks the bootstrap mirror from the machine's apt sources, both formats", () => {
    const deb822 = parseDeb822(
      'Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n' +
        'Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\nComponents: main\n',
    );
    assert.equal(pickMirror(deb822, 'bookworm'), 'http://mirror.example/debian');
    const list = parseSourcesList(
      '# comment\ndeb [arch=amd64] http://other.example/debian trixie main contrib\ndeb-src http://x/ bookworm main\n',
    );
    assert.deepEqual(list, [
      { uri: 'http://other.example/debian', suites: ['trixie'], components: ['main', 'contrib'] },
    ]);
    assert.equal(pickMirror(list, 'bookworm'), 'http://other.example/debian');
    assert.equal(pickMirror(parseSourcesList('deb http://x/ bookworm contrib\n'), 'bookworm'), undefined);
  });

  it('writes an inventory (SPEC §1) with lab endpoints, lab SSH files and the sudo variant', () => {
    const spec: LabSpec = {
      name: 'inv',
      gateways: [
        { name: 'one', id: 1, subnets: ['10.1.0.0/16'] },
        { name: 'two', id: 7, subnets: ['10.2.0.0/26', '192.168.9.0/24'], sshUser: 'admin' },
      ],
    };
    const mesh = yaml.load(meshYaml(spec, { identityFile: '/k/id', knownHosts: '/k/kh' }));
    assert.deepEqual(mesh, {
      name: 'lab',
      ssh: { user: 'root', port: 22, identity_file: '/k/id', known_hosts: '/k/kh' },
    });
    assert.deepEqual(yaml.load(lanYaml(spec, spec.gateways[1]!)), {
      id: 7,
      subnets: ['10.2.0.0/26', '192.168.9.0/24'],
      gateway: { endpoint: '198.18.0.7', ssh: { user: 'admin', become: true } },
    });
  });

  it('writes routing: and bgp: to mesh.yml only when the spec sets them, only the keys it sets, in snake_case', () => {
    const files = { identityFile: '/k/id', knownHosts: '/k/kh' };
    const base: LabSpec = { name: 'bgp', gateways: [{ name: 'one', id: 1, subnets: ['10.1.0.0/16'] }] };
    const plain = yaml.load(meshYaml(base, files)) as Record<string, unknown>;
    assert.equal('routing' in plain || 'bgp' in plain, false);
    const bgp = yaml.load(
      meshYaml({ ...base, routing: 'bgp', bgp: { asn_base: 4200000100, bfd: { interval_ms: 100 } } }, files),
    ) as Record<string, unknown>;
    assert.equal(bgp.routing, 'bgp');
    assert.deepEqual(bgp.bgp, { asn_base: 4200000100, bfd: { interval_ms: 100 } });
    const routingOnly = yaml.load(meshYaml({ ...base, routing: 'static' }, files)) as Record<string, unknown>;
    assert.equal(routingOnly.routing, 'static');
    assert.equal('bgp' in routingOnly, false);
    assert.match(
      meshYaml({ ...base, routing: 'bgp', bgp: { bfd: { interval_ms: 300, multiplier: 3 } } }, files),
      /^routing: bgp\nbgp:\n {2}bfd:\n {4}interval_ms: 300\n {4}multiplier: 3\n/m,
    );
  });

  it('builds a lab spec from the example inventory: same names, ids and subnets', () => {
    const spec = labSpecFromInventory(EXAMPLE_INVENTORY, 'demo');
    const { inventory } = loadInventory(EXAMPLE_INVENTORY);
    assert.ok(inventory);
    assert.deepEqual(
      spec.gateways.map((g) => [g.name, g.id, g.subnets]),
      inventory.lans.map((l) => [l.name, l.id, l.subnets]),
    );
    assert.equal(spec.mesh, inventory.mesh.name);
    assert.deepEqual(specProblems(spec), []);
  });

  it('prints the ping matrix as a grid with a count', () => {
    const text = formatPingMatrix(
      ['a', 'bb'],
      [
        { from: 'a', to: 'bb', ok: true },
        { from: 'bb', to: 'a', ok: false },
      ],
    );
    assert.equal(
      text,
      'from \\ to  a   bb\na          ·   ok\nbb         --  ·\n1 of 2 LAN-to-LAN pings answered',
    );
  });

  it('quotes words for the remote shell and gives stable MACs', () => {
    assert.equal(shellQuote('ip'), 'ip');
    assert.equal(shellQuote("it's a b"), `'it'\\''s a b'`);
    assert.equal(stableMacs(200).public, '02:6c:00:00:00:c8');
    assert.equal(stableMacs(3).lanHost(1), '02:6c:02:03:01:0a');
  });
});

describe('lab: three gateways with different LAN sizes (root + systemd-nspawn)', function () {
  this.timeout(300_000);
  const spec: LabSpec = {
    name: 'lt3',
    gateways: [
      { name: 'alpha', id: 1, subnets: ['10.61.1.0/24'] },
      { name: 'beta', id: 2, subnets: ['10.62.0.0/26'] },
      { name: 'gamma', id: 3, subnets: ['10.63.0.0/16', '192.168.63.0/29'] },
    ],
  };
  let lab: Lab | undefined;

  before(async function () {
    skipUnlessLabUsable(this);
    await reapOrphans();
    lab = await Lab.up(spec);
  });

  after(async () => {
    await lab?.down();
  });

  it('reaches every gateway over SSH with StrictHostKeyChecking=yes against the generated known_hosts', async () => {
    for (const gw of spec.gateways) {
      const result = await lab!.ssh(gw.name, ['hostname']);
      assert.equal(result.code, 0, `${gw.name}: ${result.stderr}`);
      assert.equal(result.stdout.trim(), gw.name);
    }
  });

  it('refuses every gateway when known_hosts is empty (host-key checking is really on)', async () => {
    const empty = join(lab!.dir, 'empty_known_hosts');
    writeFileSync(empty, '');
    for (const gw of spec.gateways) {
      const result = await lab!.ssh(gw.name, ['true'], { knownHosts: empty });
      assert.equal(result.code, 255, gw.name);
      assert.match(result.stderr, /Host key verification failed/);
    }
  });

  it('lets each LAN host ping its own gateway, in every subnet', async () => {
    for (const gw of spec.gateways) {
      for (const [i] of gw.subnets.entries()) {
        const target = lab!.gatewayLanAddress(gw.name, i);
        const result = await lab!.execLan(gw.name, ['ping', '-c', '1', '-W', '2', target], i);
        assert.equal(result.code, 0, `${gw.name} subnet ${i} -> ${target}: ${result.stdout}${result.stderr}`);
      }
    }
  });

  it('lets no LAN host reach another LAN before any mesh exists', async () => {
    const matrix = await lab!.pingMatrix();
    assert.equal(matrix.length, 6);
    assert.deepEqual(
      matrix.filter((r) => r.ok),
      [],
    );
    // the second subnet of gamma is unreachable too
    assert.equal(await lab!.ping('alpha', 'gamma', 1), false);
  });

  it('runs commands as root inside a gateway with systemd running', async () => {
    const result = await lab!.exec('beta', [
      'sh',
      '-c',
      'id -u; systemctl is-system-running --wait; ip -4 -br addr',
    ]);
    assert.equal(result.code, 0, result.stderr);
    const [uid, systemState, ...addresses] = result.stdout.trim().split('\n');
    assert.equal(uid, '0');
    assert.equal(systemState, 'running');
    assert.match(addresses.join('\n'), /eth0\S*\s+UP\s+198\.18\.0\.2\/24/);
    assert.match(addresses.join('\n'), /eth1\S*\s+UP\s+10\.62\.0\.1\/26/);
  });

  it('writes an inventory meshctl loads: same LANs, lab endpoints, the lab key and known_hosts', () => {
    const { inventory, diagnostics } = loadInventory(lab!.inventoryDir);
    assert.ok(inventory, JSON.stringify(diagnostics));
    assert.deepEqual(
      inventory.gateways.map((l) => [l.name, l.id, l.subnets, l.endpoint]),
      spec.gateways.map((g) => [g.name, g.id, g.subnets, `198.18.0.${g.id}`]),
    );
    assert.equal(inventory.mesh.ssh.identityFile, lab!.identityFile);
    assert.equal(inventory.mesh.ssh.knownHosts, lab!.knownHostsFile);
  });

  it('leaves no namespace, mount, cgroup folder or process behind after down()', async () => {
    const pids = labPids(spec.name);
    assert.equal(pids.length, 6, 'three nspawn processes and three container PID 1s');
    await lab!.down();
    lab = undefined;
    assertNothingLeft(spec.name, pids);
  });
});

describe('lab: variants (root + systemd-nspawn)', function () {
  this.timeout(600_000);
  const spec: LabSpec = {
    name: 'ltv',
    gateways: [
      { name: 'bare', id: 11, subnets: ['10.71.0.0/24'], openvpn: false },
      { name: 'sudoer', id: 12, subnets: ['10.72.0.0/25'], sshUser: 'admin' },
      { name: 'keeper', id: 13, subnets: ['10.73.0.0/24'], persistent: true },
      { name: 'plain', id: 14, subnets: ['10.74.0.0/24'] },
      { name: 'nofrr', id: 15, subnets: ['10.75.0.0/24'], openvpn: false, frr: false },
    ],
  };
  let lab: Lab | undefined;

  before(async function () {
    skipUnlessLabUsable(this);
    await reapOrphans();
    lab = await Lab.up(spec);
  });

  after(async () => {
    const pids = labPids(spec.name);
    await lab?.down();
    if (lab) assertNothingLeft(spec.name, pids);
  });

  it('without OpenVPN: no openvpn binary, and `apt-get install -y openvpn` works from the local folder', async () => {
    const before = await lab!.exec('bare', ['sh', '-c', 'command -v openvpn']);
    assert.notEqual(before.code, 0, `openvpn is present: ${before.stdout}`);
    const install = await lab!.exec('bare', ['apt-get', 'install', '-y', 'openvpn'], { timeoutMs: 120_000 });
    assert.equal(install.code, 0, install.stderr);
    const version = await lab!.exec('bare', ['openvpn', '--version']);
    assert.match(version.stdout, /^OpenVPN 2\.\d+/);
    // and the gateways of the default image do ship it
    assert.equal((await lab!.exec('plain', ['sh', '-c', 'command -v openvpn'])).code, 0);
  });

  it('FRR: in the image with frr.service disabled and nothing running; without it, `apt-get install` works from the local folder', async () => {
    for (const gw of ['plain', 'bare']) {
      const state = await lab!.exec(gw, [
        'sh',
        '-c',
        'systemctl is-system-running --wait >/dev/null; systemctl is-enabled frr; systemctl is-active frr; ' +
          'pgrep -c zebra; command -v vtysh',
      ]);
      assert.deepEqual(state.stdout.trim().split('\n'), ['disabled', 'inactive', '0', '/usr/bin/vtysh'], gw);
    }
    const before = await lab!.exec('nofrr', ['sh', '-c', 'command -v vtysh || command -v openvpn']);
    assert.notEqual(before.code, 0, `nofrr has FRR or OpenVPN: ${before.stdout}`);
    const install = await lab!.exec(
      'nofrr',
      ['apt-get', 'install', '-y', 'frr', 'frr-pythontools', 'openvpn'],
      {
        timeoutMs: 120_000,
      },
    );
    assert.equal(install.code, 0, install.stderr);
    // only the packages themselves came from the folder: the image kept what they depend on
    assert.match(install.stdout, /^0 upgraded, 3 newly installed, 0 to remove/m, install.stdout);
    const after = await lab!.exec('nofrr', [
      'sh',
      '-c',
      'test -x /usr/lib/frr/frr-reload.py && /usr/lib/frr/bgpd --version | head -n 1; openvpn --version | head -n 1',
    ]);
    assert.equal(after.code, 0, after.stderr);
    assert.match(after.stdout, /^bgpd version 8\.4\.\d+\nOpenVPN 2\.6\./);
  });

  it('sudo user: `sudo -n true` over SSH works and root login is refused', async () => {
    const sudo = await lab!.ssh('sudoer', ['sudo', '-n', 'true']);
    assert.equal(sudo.code, 0, sudo.stderr);
    const who = await lab!.ssh('sudoer', ['id', '-un']);
    assert.equal(who.stdout.trim(), 'admin');
    const root = await lab!.ssh('sudoer', ['true'], { user: 'root' });
    assert.equal(root.code, 255);
    assert.match(root.stderr, /Permission denied/);
  });

  it('persistent gateway keeps a written file across restart; an ordinary one starts clean', async () => {
    for (const gw of ['keeper', 'plain']) {
      const write = await lab!.exec(gw, ['sh', '-c', 'echo survived > /root/marker && sync']);
      assert.equal(write.code, 0, write.stderr);
    }
    const leaderBefore = labPids(spec.name);
    await lab!.restart('keeper');
    await lab!.restart('plain');
    assert.notDeepEqual(labPids(spec.name), leaderBefore, 'the containers were really restarted');
    assert.equal((await lab!.exec('keeper', ['cat', '/root/marker'])).stdout, 'survived\n');
    assert.notEqual(
      (await lab!.exec('plain', ['cat', '/root/marker'])).code,
      0,
      'a volatile gateway forgets',
    );
    // SSH is back after the restart
    assert.equal((await lab!.ssh('keeper', ['true'])).code, 0);
  });

  it('stopped gateway is unreachable over SSH while the others are reachable, and comes back on start', async () => {
    await lab!.stop('plain');
    assert.equal(lab!.isRunning('plain'), false);
    const down = await lab!.ssh('plain', ['true']);
    assert.equal(down.code, 255, 'SSH to a stopped gateway must fail');
    for (const gw of ['bare', 'sudoer', 'keeper', 'nofrr']) {
      const up = await lab!.ssh(gw, ['true']);
      assert.equal(up.code, 0, `${gw}: ${up.stderr}`);
    }
    await assert.rejects(lab!.exec('plain', ['true']), /is not running: start it first/);
    await lab!.start('plain');
    const back = await lab!.ssh('plain', ['hostname']);
    assert.equal(back.code, 0, back.stderr);
    assert.equal(back.stdout.trim(), 'plain');
    const lan = await lab!.execLan('plain', ['ping', '-c', '1', '-W', '2', lab!.gatewayLanAddress('plain')]);
    assert.equal(lan.code, 0, 'the LAN is wired again');
  });
});

describe('lab: teardown after failures (root + systemd-nspawn)', function () {
  this.timeout(300_000);

  before(function () {
    skipUnlessLabUsable(this);
  });

  it('an up that fails half-way removes what it made and nothing else', async () => {
    // a namespace the lab did not make, with the name its second gateway needs
    const foreign = names.gateway('ltf', 'two');
    const add = spawn('ip', ['netns', 'add', foreign]);
    await new Promise((resolve) => add.on('close', resolve));
    try {
      await assert.rejects(
        Lab.up({
          name: 'ltf',
          gateways: [
            { name: 'one', id: 21, subnets: ['10.81.0.0/24'] },
            { name: 'two', id: 22, subnets: ['10.82.0.0/24'] },
          ],
        }),
        /network namespace ltf-gw-two already exists and is not lab 'ltf''s/,
      );
      assert.deepEqual(
        leftovers('ltf'),
        [`network namespace ${foreign}`],
        'only the foreign namespace is left',
      );
      assert.equal(existsSync(labDir('ltf')), false);
    } finally {
      const del = spawn('ip', ['netns', 'del', foreign]);
      await new Promise((resolve) => del.on('close', resolve));
    }
  });

  it('Ctrl-C during `lab up` tears down; the reaper removes a lab whose owner was killed', async () => {
    const specDir = mkdtempSync(join(tmpdir(), 'lab-spec-'));
    const specFile = join(specDir, 'spec.json');
    const gateways = [
      { name: 'one', id: 31, subnets: ['10.91.0.0/24'] },
      { name: 'two', id: 32, subnets: ['10.92.0.0/24'] },
    ];
    writeFileSync(specFile, JSON.stringify({ name: 'lts', gateways }));
    const cli = join(REPO_ROOT, 'dist/test/lab/cli.js');
    try {
      // Ctrl-C while gateways boot
      const up = spawn(process.execPath, [cli, 'up', '--spec', specFile], { stdio: 'ignore' });
      const exited = new Promise<number | null>((resolve) => up.on('exit', (code) => resolve(code)));
      assert.ok(
        await waitFor(() => Object.keys(readState('lts')?.containers ?? {}).length > 0, 60_000),
        'a gateway started booting',
      );
      const pids = labPids('lts');
      up.kill('SIGINT');
      assert.equal(await exited, 130);
      assertNothingLeft('lts', pids);

      // an owner killed outright cannot clean up: the next lab run reaps it
      const owner = spawn(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import { Lab } from ${JSON.stringify(join(REPO_ROOT, 'dist/test/lab/lab.js'))};
           await Lab.up(${JSON.stringify({ name: 'ltr', gateways })}); console.log('up'); setInterval(() => {}, 1000);`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      await new Promise<void>((resolve, reject) => {
        owner.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('up') && resolve());
        owner.on('exit', (code) => reject(new Error(`owner exited ${code} before the lab was up`)));
      });
      const orphanPids = labPids('ltr');
      const ownerIdentity = readState('ltr')!.owner!;
      owner.kill('SIGKILL');
      await waitFor(() => !stillRunning(ownerIdentity), 5000);
      assert.ok(orphanPids.every(isAlive), 'the orphaned gateways still run');
      assert.ok((await reapOrphans()).includes('ltr'));
      assertNothingLeft('ltr', orphanPids);
    } finally {
      rmSync(specDir, { recursive: true, force: true });
    }
  });
});
