import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { Lab, type LabSpec, reapOrphans } from '../lab/lab.js';
import { MESHCTL_CLI } from '../lab/paths.js';
import {
  gatewayState,
  journalCursor,
  skipUnlessLabUsable,
  spawnMeshctl,
  sshdSince,
  waitUntil,
} from './hostile-support.js';

/**
 * SPEC §6 on real gateways: SSH host keys (unknown → refused with the command that adds it, --accept-new records
 * it, changed → always refused), one run per inventory (a second run is refused naming the holder; a stale lock
 * after a crash is explained, and a re-run converges), and a gateway of another mesh is refused, untouched.
 */

const ENV = { NO_COLOR: '1', SSH_AUTH_SOCK: '' };

describe('safety: host keys, the inventory lock, a foreign mesh (root + systemd-nspawn)', function () {
  this.timeout(300_000);
  const spec: LabSpec = {
    name: 'hbsafe',
    mesh: 'lab',
    gateways: [
      { name: 'a', id: 1, subnets: ['10.11.0.0/24'] },
      { name: 'b', id: 2, subnets: ['10.12.0.0/24'] },
    ],
  };
  let lab: Lab | undefined;
  let testKnownHosts: string;
  let lockFile: string;

  /** Per-gateway failures are in the summary on stdout, refusals before any gateway on stderr: both count. */
  const meshctl = async (args: string[]) => {
    const result = await lab!.meshctl(args, { env: ENV, timeoutMs: 180_000 });
    return { ...result, output: `${result.stdout}\n${result.stderr}` };
  };

  /** Points mesh.yml's known_hosts at another file (everything else as the lab wrote it). */
  function useKnownHosts(file: string): void {
    const meshFile = join(lab!.inventoryDir, 'mesh.yml');
    const mesh = yaml.load(readFileSync(meshFile, 'utf8')) as { ssh: Record<string, unknown> };
    mesh.ssh.known_hosts = file;
    writeFileSync(meshFile, yaml.dump(mesh));
  }

  /** Drops the tunnel traffic between the two gateways (raw table: before meshctl's own filter chains). */
  async function blockTunnels(op: '-I' | '-D'): Promise<void> {
    for (const [gw, peer] of [
      ['a', '198.18.0.2'],
      ['b', '198.18.0.1'],
    ] as const) {
      const result = await lab!.exec(gw, [
        'iptables',
        '-t',
        'raw',
        op,
        'PREROUTING',
        '-s',
        peer,
        '-p',
        'udp',
        '-j',
        'DROP',
      ]);
      assert.equal(result.code, 0, `${gw}: ${result.stderr}`);
    }
  }

  before(async function () {
    skipUnlessLabUsable(this, 'dist/test/e2e/safety.test.js');
    await reapOrphans();
    lab = await Lab.up(spec);
    testKnownHosts = join(lab.dir, 'known_hosts.test');
    lockFile = join(lab.inventoryDir, '.meshctl.lock');
  });

  after(async () => {
    await lab?.down();
  });

  describe('host keys', () => {
    it('unknown: refused with the command that adds it; known_hosts, gateways and sshd sessions untouched', async () => {
      writeFileSync(testKnownHosts, '');
      useKnownHosts(testKnownHosts);
      const before = await gatewayState(lab!, 'a');
      const cursor = await journalCursor(lab!, 'a');
      for (const command of ['diff', 'apply']) {
        const result = await meshctl([command]);
        assert.equal(result.code, 1, `${command}: ${result.output}`);
        assert.match(
          result.output,
          /a: host key of 198\.18\.0\.1 port 22 is not known: ssh-ed25519 SHA256:\S+/,
        );
        assert.match(
          result.output,
          /re-run with --accept-new, or add it with `ssh-keyscan -p 22 -t ed25519 198\.18\.0\.1 >> \S+known_hosts\.test`/,
        );
      }
      assert.equal(readFileSync(testKnownHosts, 'utf8'), '', 'known_hosts was written without --accept-new');
      assert.equal(await gatewayState(lab!, 'a'), before);
      const sshd = await sshdSince(lab!, 'a', cursor);
      assert.deepEqual(
        sshd.filter((l) => /Accepted|session opened/.test(l)),
        [],
        'no login happened',
      );
    });

    it('--accept-new records the key it was shown, and the next run trusts it without the flag', async () => {
      writeFileSync(testKnownHosts, '');
      useKnownHosts(testKnownHosts);
      const accepted = await meshctl(['diff', '--accept-new']);
      assert.equal(accepted.code, 2, `diff of fresh gateways exits 2 (changes): ${accepted.output}`);
      const labKeys = readFileSync(lab!.knownHostsFile, 'utf8');
      const recorded = readFileSync(testKnownHosts, 'utf8');
      for (const gw of spec.gateways) {
        const address = `198.18.0.${gw.id}`;
        const real = labKeys.split('\n').find((l) => l.startsWith(`${address} `))!;
        const blob = real.split(' ')[2]!;
        assert.ok(
          recorded.split('\n').some((l) => l.includes(address) && l.includes(blob)),
          `${gw.name}'s key was not recorded: ${recorded}`,
        );
      }
      const again = await meshctl(['diff']);
      assert.equal(again.code, 2, again.output);
      assert.doesNotMatch(again.output, /not known/);
    });

    it('changed: always refused, even with --accept-new and in a hashed known_hosts; the file is not rewritten', async () => {
      const fake = join(lab!.dir, 'impostor');
      rmSync(fake, { force: true });
      rmSync(`${fake}.pub`, { force: true });
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'impostor', '-f', fake]);
      const impostor = readFileSync(`${fake}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
      const real = readFileSync(lab!.knownHostsFile, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('198.18.0.2 '));
      const before = await gatewayState(lab!, 'a');
      try {
        for (const hashed of [false, true]) {
          writeFileSync(testKnownHosts, [`198.18.0.1 ${impostor}`, ...real, ''].join('\n'));
          if (hashed) execFileSync('ssh-keygen', ['-q', '-H', '-f', testKnownHosts]);
          useKnownHosts(testKnownHosts);
          const content = readFileSync(testKnownHosts, 'utf8');
          for (const args of [['diff'], ['diff', '--accept-new'], ['apply', '--accept-new']]) {
            const result = await meshctl(args);
            assert.equal(result.code, 1, `${args.join(' ')}: ${result.output}`);
            assert.match(
              result.output,
              /a: host key of 198\.18\.0\.1 port 22 CHANGED: expected ssh-ed25519 SHA256:\S+ \(\S+known_hosts\.test:1\), the server presented ssh-ed25519 SHA256:\S+\. .*it is refused, even with --accept-new\. Fix: verify the new fingerprint out of band, then remove the old entry with `ssh-keygen -R 198\.18\.0\.1 -f \S+known_hosts\.test`/,
            );
            assert.doesNotMatch(result.output, /^\s*b +FAILED/m, 'the other gateway went on');
            assert.equal(
              readFileSync(testKnownHosts, 'utf8'),
              content,
              `${args.join(' ')} rewrote known_hosts`,
            );
          }
        }
        assert.equal(await gatewayState(lab!, 'a'), before, 'the gateway with the changed key was touched');
      } finally {
        useKnownHosts(lab!.knownHostsFile);
      }
    });
  });

  describe('one run per inventory', () => {
    it('a second meshctl refuses while the first runs, naming the holder; the lock goes with the first', async () => {
      // the tunnel cannot come up, so the first apply waits for it (and then rolls it back): a run of known length
      await blockTunnels('-I');
      try {
        const first = spawnMeshctl(lab!, MESHCTL_CLI, ['apply', '--tunnel-timeout', '15'], ENV);
        let firstDone = false;
        void first.done.then(() => {
          firstDone = true;
        });
        assert.ok(await waitUntil(() => existsSync(lockFile), 60_000), 'the first apply never took the lock');
        const holder = JSON.parse(readFileSync(lockFile, 'utf8')) as { pid: number; command: string };
        assert.equal(holder.pid, first.pid);
        assert.equal(holder.command, 'meshctl apply');
        for (const command of ['diff', 'apply']) {
          const second = await meshctl([command]);
          assert.equal(second.code, 1, `${command}: ${second.output}`);
          assert.match(
            second.output,
            new RegExp(
              `another meshctl run holds the inventory \\S+: "meshctl apply" \\(pid ${first.pid} on \\S+, since \\S+\\)\\. Wait for it to finish`,
            ),
          );
        }
        assert.equal(firstDone, false, 'the first apply ended before the second runs were refused');
        const result = await first.done;
        assert.equal(result.code, 1, `a tunnel that cannot come up fails the first apply: ${result.stderr}`);
        assert.equal(existsSync(lockFile), false, 'the first apply left its lock');
      } finally {
        await blockTunnels('-D');
      }
    });

    it('a stale lock after a crash is detected and explained, never taken over; removing it and re-running converges', async () => {
      // the tunnel cannot come up meanwhile, so the run cannot have finished when it is killed 1.5 s after taking
      // the lock (it would wait up to 15 s for the tunnel), however fast the rest of it is
      await blockTunnels('-I');
      let killed: Awaited<ReturnType<typeof spawnMeshctl>['done']>;
      const crashed = spawnMeshctl(lab!, MESHCTL_CLI, ['apply', '--tunnel-timeout', '15'], ENV);
      try {
        assert.ok(await waitUntil(() => existsSync(lockFile), 60_000), 'apply never took the lock');
        await new Promise((resolve) => setTimeout(resolve, 1500));
        process.kill(crashed.pid, 'SIGKILL');
        killed = await crashed.done;
      } finally {
        await blockTunnels('-D');
      }
      assert.equal(killed.signal, 'SIGKILL');
      assert.ok(existsSync(lockFile), 'a killed run cannot remove its lock');

      const refused = await meshctl(['diff']);
      assert.equal(refused.code, 1, refused.output);
      assert.match(
        refused.output,
        new RegExp(
          `stale lock: \\S+\\.meshctl\\.lock was taken by "meshctl apply" \\(pid ${crashed.pid} on \\S+, since \\S+\\), which is no longer running`,
        ),
      );
      assert.match(refused.output, /remove the lock \(rm \S+\.meshctl\.lock\) and re-run apply/);
      assert.ok(existsSync(lockFile), 'the stale lock was taken over silently');

      rmSync(lockFile);
      const apply = await meshctl(['apply']);
      assert.equal(apply.code, 0, apply.output);
      const diff = await meshctl(['diff']);
      assert.equal(diff.code, 0, `after the re-run nothing is left to do: ${diff.output}`);
      for (const gw of spec.gateways) {
        const leftovers = await lab!.exec(gw.name, ['find', '/etc', '-name', '.meshctl-tmp.*']);
        assert.equal(leftovers.stdout, '', `${gw.name}: half-written files left`);
      }
      assert.equal(await lab!.ping('a', 'b'), true, 'the mesh works after the re-run');
    });
  });

  describe('another mesh', () => {
    it('a gateway of another mesh (its manifest names another mesh) is refused and left untouched', async () => {
      // gateway b belongs to mesh "lab" now; an inventory of mesh "other" points at it
      const other = join(lab!.dir, 'other-inventory');
      mkdirSync(join(other, 'lans'), { recursive: true });
      const mesh = yaml.load(readFileSync(join(lab!.inventoryDir, 'mesh.yml'), 'utf8')) as Record<
        string,
        unknown
      >;
      writeFileSync(join(other, 'mesh.yml'), yaml.dump({ ...mesh, name: 'other' }));
      writeFileSync(
        join(other, 'lans', 'b.yml'),
        'id: 2\nsubnets: [10.12.0.0/24]\ngateway:\n  endpoint: 198.18.0.2\n',
      );
      writeFileSync(
        join(other, 'lans', 'c.yml'),
        'id: 3\nsubnets: [10.13.0.0/24]\ngateway:\n  endpoint: 198.18.0.3\n',
      );
      const before = await gatewayState(lab!, 'b');
      for (const command of ['diff', 'apply']) {
        const result = await meshctl([command, '-i', other, '--limit', 'b']);
        assert.equal(result.code, 1, `${command}: ${result.output}`);
        assert.match(
          result.output,
          /\/etc\/meshctl\/manifest\.json says this gateway belongs to mesh "lab" \(as LAN "b"\), not "other"; meshctl never touches another mesh's gateway\. Fix: /,
        );
      }
      assert.equal(await gatewayState(lab!, 'b'), before, 'the foreign gateway was changed');
      const own = await meshctl(['diff']);
      assert.equal(own.code, 0, `its own mesh still sees it converged: ${own.output}`);
    });
  });
});
