import { sshConnector } from '../src/connection/ssh.js';
import { connectOptions } from '../src/execute/gateway.js';
import { tunnelName, tunnelUnitOf } from '../src/gateway/layout.js';
import { loadInventoryOrThrow } from '../src/inventory/load.js';
import type { Lab } from '../test/lab/lab.js';
import { sleep } from '../test/lab/process.js';

/**
 * The SSH floor of the lab benchmarks: connect to every gateway of the inventory at once with meshctl's own
 * connector, run `true`, close. Returns the seconds it took (run it in the lab's namespace).
 */
export async function sshFloorSeconds(inventory: string): Promise<number> {
  const { inventory: inv } = loadInventoryOrThrow(inventory);
  const started = performance.now();
  await Promise.all(
    inv.gateways.map(async (gw) => {
      const conn = await sshConnector(connectOptions(gw, false));
      try {
        const result = await conn.exec(['true'], { timeoutMs: 30_000 });
        if (result.code !== 0) throw new Error(`${gw.name}: true exited ${result.code}`);
      } finally {
        await conn.close();
      }
    }),
  );
  return (performance.now() - started) / 1000;
}

/**
 * The OpenVPN floor of the lab benchmarks: one pair coming up. Stops both ends of `a` ↔ `b`, starts them at the
 * same instant (nsenter, not SSH) and polls both StatusTexts every 20 ms until both say the initialization
 * completed. Returns the seconds from the start.
 */
export async function pairUpSeconds(lab: Lab, a: string, b: string): Promise<number> {
  const ends: [string, string][] = [
    [a, tunnelUnitOf(tunnelName(b))],
    [b, tunnelUnitOf(tunnelName(a))],
  ];
  await Promise.all(ends.map(([gw, unit]) => lab.exec(gw, ['systemctl', 'stop', unit])));
  const started = performance.now();
  await Promise.all(ends.map(([gw, unit]) => lab.exec(gw, ['systemctl', 'start', unit])));
  const pending = new Set(ends);
  while (pending.size > 0) {
    for (const end of [...pending]) {
      const shown = await lab.exec(end[0], ['systemctl', 'show', '-p', 'StatusText', '--value', end[1]]);
      if (shown.stdout.includes('Initialization Sequence Completed')) pending.delete(end);
    }
    if (performance.now() - started > 60_000) throw new Error('the floor pair did not come up within 60 s');
    if (pending.size > 0) await sleep(20);
  }
  return (performance.now() - started) / 1000;
}
