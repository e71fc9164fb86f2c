import { sshConnector } from '../src/connection/ssh.js';
import { connectOptions } from '../src/execute/gateway.js';
import { gatewayPaths, tunnelName, tunnelUnitOf } from '../src/gateway/layout.js';
import { loadInventoryOrThrow } from '../src/inventory/load.js';
import type { Lab } from '../test/lab/lab.js';

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
 * On the gateway: starts UNIT, then pings ADDRESS (the peer's end of the tunnel) until it answers and waits for the
 * unit to report the initialization completed. The echoes matter: OpenVPN 2.6 finishes its set-up when its event
 * loop wakes after a whole-second tick, and an idle tunnel sleeps up to a second past it; traffic into the tunnel
 * wakes it, as it does on any tunnel carrying something (and as meshctl's own check does).
 */
const PAIR_END = `deadline=$(($(date +%s) + 60))
systemctl start "$1" || exit 1
until ping -c 1 -w 1 -i 0.02 "$2" >/dev/null 2>&1; do
  if [ "$(date +%s)" -ge "$deadline" ]; then echo "$2 did not answer within 60 s" >&2; exit 1; fi
  sleep 0.01
done
until systemctl show -p StatusText --value "$1" | grep -q 'Initialization Sequence Completed'; do
  if [ "$(date +%s)" -ge "$deadline" ]; then echo "$1 did not complete within 60 s" >&2; exit 1; fi
  sleep 0.02
done`;

/** The peer's transit address in `gateway`'s tunnel config to `peer` (its `ifconfig LOCAL REMOTE` line). */
async function peerTransit(lab: Lab, gateway: string, peer: string): Promise<string> {
  const config = await lab.exec(gateway, ['cat', gatewayPaths.tunnelConfig(tunnelName(peer))]);
  const address = /^ifconfig \S+ (\S+)$/m.exec(config.stdout)?.[1];
  if (!address) throw new Error(`${gateway}: no ifconfig line in the tunnel config to ${peer}`);
  return address;
}

/**
 * The OpenVPN floor of the lab benchmarks: one pair coming up as fast as OpenVPN allows. Stops both ends of
 * `a` ↔ `b`, starts them at the same instant (nsenter, not SSH), and on each end pings the other through the
 * tunnel until it answers and the unit reports the initialization completed (PAIR_END). Returns the seconds from
 * the start until both ends are up.
 */
export async function pairUpSeconds(lab: Lab, a: string, b: string): Promise<number> {
  const ends: [string, string, string][] = [
    [a, tunnelUnitOf(tunnelName(b)), await peerTransit(lab, a, b)],
    [b, tunnelUnitOf(tunnelName(a)), await peerTransit(lab, b, a)],
  ];
  await Promise.all(ends.map(([gw, unit]) => lab.exec(gw, ['systemctl', 'stop', unit])));
  const started = performance.now();
  const results = await Promise.all(
    ends.map(([gw, unit, peer]) =>
      lab.exec(gw, ['sh', '-c', PAIR_END, 'pair-end', unit, peer], { timeoutMs: 90_000 }),
    ),
  );
  const failed = results.find((r) => r.code !== 0);
  if (failed)
    throw new Error(`the floor pair did not come up: ${failed.stderr.trim() || `exit ${failed.code}`}`);
  return (performance.now() - started) / 1000;
}
