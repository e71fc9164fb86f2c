import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, type LabSpec, reapOrphans } from '../test/lab/lab.js';
import { prerequisiteProblems } from '../test/lab/prerequisites.js';
import { sshFloorSeconds } from './floor.js';

/**
 * How long `meshctl status` takes (SPEC §8; goal ≤ 1.5 s at 12 gateways): a static full mesh of 12 gateways on the
 * lab, and `status` of its first 3, 6 and 12 LANs (the inventory cut down to them; the gateways outside are not
 * read). Each size is run `--runs` times after one warm-up; prints the median, min and max wall time of the whole
 * process, the cost per gateway, and two floors on the same lab and run: a bare SSH connect + `true` to each of
 * those gateways in parallel with meshctl's own connector (timed in-process), and the whole process of
 * `meshctl validate` (node start-up and the inventory). Run as root:
 * `npm run build && node dist/bench/status.js [--runs 5] [--sizes 3,6,12]`.
 */

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1]! : fallback;
};
const runs = Number(option('--runs', '5'));
const sizes = option('--sizes', '3,6,12').split(',').map(Number);
const largest = Math.max(...sizes);

const SPEC: LabSpec = {
  name: 'stb',
  portBase: 13000,
  gateways: Array.from({ length: largest }, (_, i) => ({
    name: `st${i + 1}`,
    id: i + 1,
    subnets: [`10.171.${i + 1}.0/24`],
  })),
};

/** A copy of the lab's inventory with only these LANs (same mesh.yml, same PKI directory). */
function subsetInventory(lab: Lab, names: string[]): string {
  const dir = join(lab.dir, `inventory-${names.length}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'lans'), { recursive: true });
  cpSync(join(lab.inventoryDir, 'mesh.yml'), join(dir, 'mesh.yml'));
  for (const name of names) {
    cpSync(join(lab.inventoryDir, 'lans', `${name}.yml`), join(dir, 'lans', `${name}.yml`));
  }
  return dir;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const seconds = (ms: number) => (ms / 1000).toFixed(2);

async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Worker mode (in the lab's namespace): the SSH floor of bench/floor.ts; prints seconds. */
async function floorWorker(inventory: string): Promise<void> {
  process.stdout.write(`${await sshFloorSeconds(inventory)}\n`);
}

async function main(): Promise<void> {
  if (args[0] === '--floor-worker') return floorWorker(args[1]!);
  const problems = prerequisiteProblems();
  if (problems.length > 0) throw new Error(`the lab cannot run here:\n${problems.join('\n')}`);
  await reapOrphans();
  const lab = await Lab.up(SPEC);
  try {
    const apply = await lab.meshctl(['apply', '--accept-new', '--no-color'], { timeoutMs: 600_000 });
    if (apply.code !== 0) throw new Error(`apply failed:\n${apply.stdout}\n${apply.stderr}`);
    console.log(
      `status of a static full mesh on the lab, ${runs} runs each after a warm-up (median, min–max)`,
    );
    console.log('ratio: status ÷ (SSH floor + start-up floor)');
    console.log(
      'gateways  status                per gateway  floor: ssh true, parallel  validate (start-up)  ratio  exit',
    );
    for (const size of sizes) {
      const names = SPEC.gateways.slice(0, size).map((g) => g.name);
      // the whole mesh is read: status of `size` gateways is a mesh of that many LANs
      const inventory = subsetInventory(lab, names);
      const statusArgs = ['status', '-i', inventory, '--no-color', '--forks', String(size)];
      let exit = 0;
      const once = async () => {
        const result = await lab.meshctl(statusArgs, { timeoutMs: 120_000 });
        exit = result.code;
      };
      await once();
      const times: number[] = [];
      for (let i = 0; i < runs; i++) times.push(await timed(once));
      const floors: number[] = [];
      const startups: number[] = [];
      for (let i = 0; i < runs; i++) {
        const worker = await lab.execCtl([
          process.execPath,
          fileURLToPath(import.meta.url),
          '--floor-worker',
          inventory,
        ]);
        if (worker.code !== 0) throw new Error(`the SSH floor failed:\n${worker.stderr}`);
        floors.push(Number(worker.stdout.trim()) * 1000);
        startups.push(await timed(() => lab.meshctl(['validate', '-i', inventory, '--no-color'])));
      }
      const m = median(times);
      const f = median(floors);
      const v = median(startups);
      console.log(
        `${String(size).padStart(8)}  ${seconds(m)} s (${seconds(Math.min(...times))}–${seconds(Math.max(...times))})` +
          `  ${(m / size).toFixed(0).padStart(5)} ms     ${seconds(f)} s                     ${seconds(v)} s` +
          `               ${(m / (f + v)).toFixed(1).padStart(4)}×  ${exit}`,
      );
    }
  } finally {
    await lab.down();
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
