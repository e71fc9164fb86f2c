import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pairIndex } from '../src/mesh/allocate.js';
import { Lab, type LabSpec, reapOrphans } from '../test/lab/lab.js';
import { prerequisiteProblems } from '../test/lab/prerequisites.js';

/**
 * How fast a bgp mesh heals (SPEC §7 failover promise, goal ≤ 5 s): a 4-LAN full mesh with `routing: bgp` on the
 * lab; the tunnel between the first two LANs is cut at one end (its UDP port dropped: the link stays up, so only
 * BFD can tell) while the first LAN's host pings the second's every 50 ms. The outage is the longest run of
 * missing replies; the tunnel is restored and traffic waits to be back on it before the next cut. Prints every
 * cut, the median, min and max, and the time back on the direct tunnel. Run as root:
 * `npm run build && node dist/bench/failover.js [--cuts 5] [--interval-ms 300] [--multiplier 3]`.
 */

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const cuts = option('--cuts', 5);
const intervalMs = option('--interval-ms', 300);
const multiplier = option('--multiplier', 3);
const PORT_BASE = 11000;
const PING_INTERVAL = 0.05;

const SPEC: LabSpec = {
  name: 'fob',
  portBase: PORT_BASE,
  gateways: [1, 2, 3, 4].map((id) => ({ name: `fo${id}`, id, subnets: [`10.161.${id}.0/24`] })),
};

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function devOf(lab: Lab, gateway: string, subnet: string): Promise<string> {
  const shown = await lab.exec(gateway, ['ip', '-4', 'route', 'show', 'exact', subnet]);
  return /\bdev (\S+)/.exec(shown.stdout)?.[1] ?? '';
}

async function main(): Promise<void> {
  const problems = prerequisiteProblems();
  if (problems.length > 0) throw new Error(`the lab cannot run here:\n${problems.join('\n')}`);
  await reapOrphans();
  const lab = await Lab.up(SPEC);
  try {
    const meshFile = join(lab.inventoryDir, 'mesh.yml');
    writeFileSync(
      meshFile,
      `${readFileSync(meshFile, 'utf8')}routing: bgp\nbgp: { bfd: { interval_ms: ${intervalMs}, multiplier: ${multiplier} } }\n`,
    );
    const apply = await lab.meshctl(['apply', '--accept-new', '--no-color']);
    if (apply.code !== 0) throw new Error(`apply failed:\n${apply.stdout}\n${apply.stderr}`);
    const direct = `mtun${pairIndex(1, 2)}`;
    const port = String(PORT_BASE + pairIndex(1, 2));
    const target = lab.lanHostAddress('fo2');
    const rule = ['-p', 'udp', '--dport', port, '-j', 'DROP'];
    const outages: number[] = [];
    const returns: number[] = [];
    for (let cut = 1; cut <= cuts; cut++) {
      const seconds = 8;
      const ping = lab.execLan(
        'fo1',
        ['ping', '-n', '-i', String(PING_INTERVAL), '-W', '1', '-w', String(seconds), target],
        0,
        { timeoutMs: (seconds + 10) * 1000 },
      );
      await new Promise((r) => setTimeout(r, 1000));
      await lab.exec('fo1', ['iptables', '-w', '-I', 'INPUT', '1', ...rule]);
      const result = await ping;
      const seen = new Set([...result.stdout.matchAll(/icmp_seq=(\d+)/g)].map((m) => Number(m[1])));
      const sent = Number(/(\d+) packets transmitted/.exec(result.stdout)?.[1] ?? 0);
      let longest = 0;
      let gap = 0;
      for (let seq = 1; seq <= sent; seq++) {
        gap = seen.has(seq) ? 0 : gap + 1;
        longest = Math.max(longest, gap);
      }
      const outage = longest * PING_INTERVAL;
      await lab.exec('fo1', ['iptables', '-w', '-D', 'INPUT', ...rule]);
      const healed = performance.now();
      while ((await devOf(lab, 'fo1', '10.161.2.0/24')) !== direct) {
        if (performance.now() - healed > 120_000)
          throw new Error('traffic did not return to the direct tunnel');
        await new Promise((r) => setTimeout(r, 100));
      }
      const back = (performance.now() - healed) / 1000;
      outages.push(outage);
      returns.push(back);
      console.log(
        `cut ${cut}: outage ${outage.toFixed(2)} s; back on the direct tunnel ${back.toFixed(1)} s after the repair`,
      );
    }
    console.log(
      `failover (BFD ${intervalMs} ms x ${multiplier}, ${cuts} cuts): outage median ${median(outages).toFixed(2)} s, ` +
        `min ${Math.min(...outages).toFixed(2)} s, max ${Math.max(...outages).toFixed(2)} s (goal <= 5 s); ` +
        `back on the direct tunnel median ${median(returns).toFixed(1)} s`,
    );
  } finally {
    await lab.down();
  }
}

await main();
