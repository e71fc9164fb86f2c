import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, type LabSpec, reapOrphans } from '../test/lab/lab.js';
import { prerequisiteProblems } from '../test/lab/prerequisites.js';

/**
 * How long growing the mesh takes: from the start of `meshctl add-lan` until every pair of LANs pings (LAN host
 * to LAN host, both directions), for 4 → 5 and 8 → 9 LANs on the lab. The first N gateways are applied first;
 * the last one is a machine not yet in the inventory. Run as root:
 * `npm run build && node dist/bench/add-lan.js [--sizes 4,8]`.
 */

const args = process.argv.slice(2);
const sizesArg = args[args.indexOf('--sizes') + 1];
const sizes = args.includes('--sizes') && sizesArg ? sizesArg.split(',').map(Number) : [4, 8];

function specOf(n: number): LabSpec {
  return {
    name: `alb${n}`,
    gateways: Array.from({ length: n + 1 }, (_, i) => ({
      name: `alb${i + 1}`,
      id: i + 1,
      subnets: [`10.151.${i + 1}.0/24`],
    })),
  };
}

async function allPairsPing(lab: Lab): Promise<number> {
  return (await lab.pingMatrix()).filter((r) => !r.ok).length;
}

async function measure(n: number): Promise<{ addLan: number; allPing: number; pairs: number }> {
  const spec = specOf(n);
  const lab = await Lab.up(spec);
  try {
    const added = spec.gateways[n]!;
    rmSync(join(lab.inventoryDir, 'lans', `${added.name}.yml`));
    const apply = await lab.meshctl(['apply', '--no-color']);
    if (apply.code !== 0) throw new Error(`apply of ${n} LANs failed:\n${apply.stdout}\n${apply.stderr}`);
    const started = performance.now();
    const add = await lab.meshctl([
      'add-lan',
      added.name,
      '--subnet',
      added.subnets[0]!,
      '--endpoint',
      lab.publicAddress(added.name),
      '--no-color',
    ]);
    const addLan = (performance.now() - started) / 1000;
    if (add.code !== 0) throw new Error(`add-lan failed:\n${add.stdout}\n${add.stderr}`);
    for (;;) {
      if ((await allPairsPing(lab)) === 0) break;
      if (performance.now() - started > 120_000) throw new Error(`not every pair pings 120 s after add-lan`);
    }
    return { addLan, allPing: (performance.now() - started) / 1000, pairs: (n + 1) * n };
  } finally {
    await lab.down();
  }
}

async function main(): Promise<void> {
  const problems = prerequisiteProblems();
  if (problems.length > 0) {
    console.error(`cannot run the lab benchmark:\n  - ${problems.join('\n  - ')}`);
    process.exitCode = 1;
    return;
  }
  await reapOrphans();
  console.log('LANs      add-lan exits   all pairs ping   (ordered LAN pairs)');
  for (const n of sizes) {
    const r = await measure(n);
    console.log(
      `${`${n} → ${n + 1}`.padEnd(8)}  ${`${r.addLan.toFixed(1)} s`.padStart(13)}   ${`${r.allPing.toFixed(1)} s`.padStart(14)}   (${r.pairs})`,
    );
  }
}

await main();
