import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { hierarchies, processesIn } from '../test/lab/cgroup.js';
import { buildRecord, ensureImage, ensureRepo } from '../test/lab/image.js';
import { Lab, type LabSpec, reapOrphans } from '../test/lab/lab.js';
import { prerequisiteProblems } from '../test/lab/prerequisites.js';
import { sleep } from '../test/lab/process.js';
import { isRelease, names, RELEASES } from '../test/lab/spec.js';

/**
 * Lab figures: per Debian release, the image's build time (cold with `--cold`: a throw-away cache, packages
 * downloaded again; otherwise as recorded when the cached image was built), its size, the size of its variant
 * without OpenVPN and of its local package folder, and the time one gateway of it takes to boot; then the time to
 * bring up 3, 6 and 12 gateways (until every sshd answers), teardown time, and memory per gateway.
 * Run as root: `npm run build && node dist/bench/lab.js [--cold] [--releases bullseye,sid] [--sizes 3,6,12]`.
 */

const args = process.argv.slice(2);
function listArg(flag: string): string[] | undefined {
  const value = args[args.indexOf(flag) + 1];
  return args.includes(flag) && value ? value.split(',') : undefined;
}
const sizes = listArg('--sizes')?.map(Number) ?? [3, 6, 12];
const releases = (listArg('--releases') ?? [...RELEASES]).map((r) => {
  if (!isRelease(r)) throw new Error(`--releases: '${r}' is not one of ${RELEASES.join(', ')}`);
  return r;
});

/** Disk usage of a folder (du: shared hard links counted once), in MiB. */
function sizeMiB(path: string): number {
  const du = spawnSync('du', ['-s', '-x', '-B1', path], { encoding: 'utf8' });
  if (du.status !== 0) throw new Error(`du ${path}: ${du.stderr}`);
  return Number(du.stdout.split(/\s/)[0]) / 2 ** 20;
}

/** `OpenVPN 2.6.14, systemd 252` as installed in an image (dpkg's database, read with dpkg-query --admindir). */
function versionsIn(image: string): string {
  const query = spawnSync(
    'dpkg-query',
    [
      `--admindir=${join(image, 'var/lib/dpkg')}`,
      '-W',
      '-f',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format, not a JS template
      '${Package} ${Version}\n',
      'openvpn',
      'systemd',
    ],
    { encoding: 'utf8' },
  );
  const version = (pkg: string) => new RegExp(`^${pkg} (\\S+)`, 'm').exec(query.stdout)?.[1] ?? '?';
  return `OpenVPN ${version('openvpn')}, systemd ${version('systemd')}`;
}

function memAvailableMiB(): number {
  const kib = Number(/^MemAvailable:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))![1]);
  return kib / 1024;
}

/** Proportional set size of every process in a gateway's cgroup (shared libraries counted once across them). */
function pssMiB(pids: number[]): number {
  let kib = 0;
  for (const pid of pids) {
    try {
      kib += Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
    } catch {
      // exited meanwhile
    }
  }
  return kib / 1024;
}

function specOf(n: number): LabSpec {
  return {
    name: `bench${n}`,
    gateways: Array.from({ length: n }, (_, i) => ({
      name: `gw${i + 1}`,
      id: i + 1,
      // a mix of LAN sizes, as in real inventories
      subnets: [[`10.${i + 1}.0.0/16`, `10.200.${i + 1}.0/24`, `192.168.${i + 1}.0/27`][i % 3]!],
    })),
  };
}

async function main(): Promise<void> {
  const problems = prerequisiteProblems();
  if (problems.length > 0) throw new Error(`cannot run the lab bench:\n  ${problems.join('\n  ')}`);
  await reapOrphans();
  const rows: [string, string][] = [];

  if (args.includes('--cold')) {
    for (const release of releases) {
      // a fresh cache folder in a child process: nothing downloaded or built before
      const cache = mkdtempSync('/var/tmp/meshctl-lab-bench-');
      try {
        const started = performance.now();
        const child = spawnSync(
          process.execPath,
          [
            '--input-type=module',
            '-e',
            `import { ensureImage } from ${JSON.stringify(new URL('../test/lab/image.js', import.meta.url).href)};
             const image = await ensureImage({ openvpn: true, release: ${JSON.stringify(release)} });
             console.log(image.path);`,
          ],
          {
            env: { ...process.env, MESHCTL_LAB_CACHE: cache },
            stdio: ['ignore', 'pipe', 'inherit'],
            encoding: 'utf8',
          },
        );
        if (child.status !== 0) throw new Error(`the cold ${release} image build failed`);
        rows.push([
          `image build, cold, ${release} (download + debootstrap + tweaks)`,
          `${((performance.now() - started) / 1000).toFixed(1)} s, ${sizeMiB(child.stdout.trim()).toFixed(0)} MiB`,
        ]);
      } finally {
        rmSync(cache, { recursive: true, force: true, maxRetries: 2 });
      }
    }
  }

  for (const release of releases) {
    const full = await ensureImage({ openvpn: true, release });
    const bare = await ensureImage({ openvpn: false, release });
    const repo = await ensureRepo(release);
    const record = buildRecord({ openvpn: true, release });
    const built = record
      ? `built in ${record.seconds.toFixed(1)} s (${record.at.slice(0, 10)})`
      : 'build time not recorded';
    rows.push([
      `image ${release}: ${versionsIn(full.path)}`,
      `${sizeMiB(full.path).toFixed(0)} MiB, ${built}`,
    ]);
    rows.push([
      `image ${release} without OpenVPN / its package folder`,
      `${sizeMiB(bare.path).toFixed(0)} MiB / ${sizeMiB(repo.path).toFixed(1)} MiB`,
    ]);
  }
  const cached = await ensureImage({ openvpn: true });
  rows.push(['image, cached (lookup)', `${(cached.seconds * 1000).toFixed(2)} ms`]);

  // one gateway per release: until its sshd answers, and systemd's own start-up time inside
  for (const [i, release] of releases.entries()) {
    const spec: LabSpec = {
      name: `brel${i + 1}`,
      gateways: [{ name: 'gw', id: 1, subnets: ['10.1.0.0/24'], release }],
    };
    const started = performance.now();
    const lab = await Lab.up(spec);
    const upSeconds = (performance.now() - started) / 1000;
    try {
      await lab.exec('gw', ['systemctl', 'is-system-running', '--wait']);
      const analyze = await lab.exec('gw', ['systemd-analyze']);
      const userspace = /in ([\d.]+m?s) \(userspace\)/.exec(analyze.stdout)?.[1] ?? '?';
      rows.push([
        `boot, 1 ${release} gateway (sshd reachable / systemd start-up)`,
        `${upSeconds.toFixed(2)} s / ${userspace}`,
      ]);
    } finally {
      await lab.down();
    }
  }
  if (releases.length > 1) {
    const spec: LabSpec = {
      name: 'brelmix',
      gateways: releases.map((release, i) => ({
        name: release,
        id: i + 1,
        subnets: [`10.${i + 1}.0.0/24`],
        release,
      })),
    };
    const started = performance.now();
    const lab = await Lab.up(spec);
    rows.push([
      `up, ${releases.length} gateways, one per release`,
      `${((performance.now() - started) / 1000).toFixed(2)} s`,
    ]);
    await lab.down();
  }

  for (const n of sizes) {
    const spec = specOf(n);
    const before = memAvailableMiB();
    const started = performance.now();
    const lab = await Lab.up(spec);
    const upSeconds = (performance.now() - started) / 1000;
    try {
      // let systemd finish its start-up jobs before measuring memory
      await Promise.all(
        lab.gateways.map((g) => lab.exec(g.name, ['systemctl', 'is-system-running', '--wait'])),
      );
      await sleep(2000);
      const used = before - memAvailableMiB();
      const pss = lab.gateways.map((g) =>
        pssMiB(processesIn(join(hierarchies().at(-1)!, names.cgroup(spec.name), g.name))),
      );
      rows.push([`up, ${n} gateways (every sshd reachable)`, `${upSeconds.toFixed(2)} s`]);
      rows.push([`memory per gateway, ${n} up (MemAvailable drop / ${n})`, `${(used / n).toFixed(1)} MiB`]);
      rows.push([
        `memory per gateway, ${n} up (PSS of its processes, mean)`,
        `${(pss.reduce((a, b) => a + b, 0) / n).toFixed(1)} MiB`,
      ]);
    } finally {
      const downStarted = performance.now();
      await lab.down();
      rows.push([`teardown, ${n} gateways`, `${((performance.now() - downStarted) / 1000).toFixed(2)} s`]);
    }
  }

  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`lab figures (${(await import('node:os')).cpus().length} CPUs)`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
