import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { hierarchies, processesIn } from '../test/lab/cgroup.js';
import { ensureImage } from '../test/lab/image.js';
import { Lab, type LabSpec, reapOrphans } from '../test/lab/lab.js';
import { prerequisiteProblems } from '../test/lab/prerequisites.js';
import { sleep } from '../test/lab/process.js';
import { names } from '../test/lab/spec.js';

/**
 * Lab figures: image build time (cold with `--cold`: a throw-away cache, packages downloaded again; and cached),
 * time to bring up 3, 6 and 12 gateways (until every sshd answers), teardown time, and memory per gateway.
 * Run as root: `npm run build && node dist/bench/lab.js [--cold] [--sizes 3,6,12]`.
 */

const args = process.argv.slice(2);
const sizesArg = args[args.indexOf('--sizes') + 1];
const sizes = args.includes('--sizes') && sizesArg ? sizesArg.split(',').map(Number) : [3, 6, 12];

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
           await ensureImage({ openvpn: true });`,
        ],
        { env: { ...process.env, MESHCTL_LAB_CACHE: cache }, stdio: 'inherit' },
      );
      if (child.status !== 0) throw new Error('the cold image build failed');
      rows.push([
        'image build, cold (download + debootstrap + tweaks)',
        `${((performance.now() - started) / 1000).toFixed(1)} s`,
      ]);
    } finally {
      rmSync(cache, { recursive: true, force: true, maxRetries: 2 });
    }
  }
  await ensureImage({ openvpn: true });
  const cached = await ensureImage({ openvpn: true });
  rows.push(['image, cached (lookup)', `${(cached.seconds * 1000).toFixed(2)} ms`]);

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
