import { sshConnector } from '../src/connection/ssh.js';
import { connectOptions } from '../src/execute/gateway.js';
import { loadInventoryOrThrow } from '../src/inventory/load.js';

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
