import { existsSync } from 'node:fs';
import { LabError, run, runOk } from './run.js';
import {
  BRIDGE_ADDRESS,
  type GatewaySpec,
  gatewayLanAddress,
  lanHostAddress,
  names,
  PUBLIC_PREFIX,
  prefixOf,
  publicAddress,
} from './spec.js';
import { type LabState, writeState } from './state.js';

/**
 * The lab's network, all inside namespaces it creates: nothing is added to the machine's own namespace.
 * ctl holds the bridge (the lab's "internet"); each gateway namespace has eth0 on that bridge and eth1.. into its
 * LAN hosts' namespaces.
 */

export const netnsPath = (name: string) => `/run/netns/${name}`;

const ip = (...args: string[]) => runOk(['ip', ...args], { fix: 'is iproute2 installed and are you root?' });

/** Records the namespace in the state file first, then creates it (a crash in between leaves nothing unrecorded). */
async function addNamespace(state: LabState, name: string): Promise<void> {
  // someone else's namespace is never recorded, so a teardown can never remove it
  if (existsSync(netnsPath(name))) {
    throw new LabError(
      `network namespace ${name} already exists and is not lab '${state.name}''s: ` +
        `if it is a stale lab's, run \`npm run lab -- down --all\`; otherwise pick another lab name`,
    );
  }
  if (!state.netns.includes(name)) {
    state.netns.push(name);
    writeState(state);
  }
  await ip('netns', 'add', name);
  await ip('-n', name, 'link', 'set', 'lo', 'up');
}

export async function deleteNamespace(name: string): Promise<void> {
  if (existsSync(netnsPath(name))) await run(['ip', 'netns', 'del', name]);
}

export async function createCtl(state: LabState): Promise<void> {
  const ctl = names.ctl(state.name);
  await addNamespace(state, ctl);
  await ip('-n', ctl, 'link', 'add', 'br0', 'type', 'bridge');
  await ip('-n', ctl, 'addr', 'add', `${BRIDGE_ADDRESS}/${PUBLIC_PREFIX}`, 'dev', 'br0');
  await ip('-n', ctl, 'link', 'set', 'br0', 'up');
}

/** One namespace per LAN host; their eth0 appears when the gateway is wired. */
export async function createLanHosts(state: LabState, gw: GatewaySpec): Promise<void> {
  for (let i = 0; i < gw.subnets.length; i++) await addNamespace(state, names.lan(state.name, gw.name, i));
}

/**
 * A fresh gateway namespace wired to the bridge and its LAN hosts. Called at every start, so a restarted gateway
 * comes up with a clean network stack (no firewall rules, routes or sysctls left from before), like a reboot.
 */
export async function wireGateway(state: LabState, gw: GatewaySpec): Promise<string> {
  const ctl = names.ctl(state.name);
  const ns = names.gateway(state.name, gw.name);
  await addNamespace(state, ns);
  const port = names.bridgePort(gw.id);
  const mac = stableMacs(gw.id);
  const link = (...a: string[]) => ip('-n', ...a);
  await link(
    ctl,
    'link',
    'add',
    port,
    'type',
    'veth',
    'peer',
    'name',
    'eth0',
    'address',
    mac.public,
    'netns',
    ns,
  );
  await ip('-n', ctl, 'link', 'set', port, 'master', 'br0', 'up');
  await ip('-n', ns, 'addr', 'add', `${publicAddress(gw.id)}/${PUBLIC_PREFIX}`, 'dev', 'eth0');
  await ip('-n', ns, 'link', 'set', 'eth0', 'up');
  await ip('-n', ns, 'route', 'add', 'default', 'via', BRIDGE_ADDRESS);
  for (const [i, subnet] of gw.subnets.entries()) {
    const lan = names.lan(state.name, gw.name, i);
    const dev = `eth${i + 1}`;
    await link(
      ns,
      'link',
      'add',
      dev,
      'address',
      mac.gatewayLan(i),
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'address',
      mac.lanHost(i),
      'netns',
      lan,
    );
    await ip('-n', ns, 'addr', 'add', `${gatewayLanAddress(subnet)}/${prefixOf(subnet)}`, 'dev', dev);
    await ip('-n', ns, 'link', 'set', dev, 'up');
    await ip('-n', lan, 'addr', 'add', `${lanHostAddress(subnet)}/${prefixOf(subnet)}`, 'dev', 'eth0');
    await ip('-n', lan, 'link', 'set', 'eth0', 'up');
    await ip('-n', lan, 'route', 'add', 'default', 'via', gatewayLanAddress(subnet));
  }
  return ns;
}

/**
 * Fixed MAC addresses per gateway id: a restarted gateway gets new veths, and with new random MACs its neighbours'
 * ARP caches would point at the old ones for many seconds (a real machine keeps its MAC across a reboot).
 */
export function stableMacs(id: number) {
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  return {
    public: `02:6c:00:00:00:${hex(id)}`,
    gatewayLan: (subnet: number) => `02:6c:01:${hex(id)}:${hex(subnet)}:01`,
    lanHost: (subnet: number) => `02:6c:02:${hex(id)}:${hex(subnet)}:0a`,
  };
}

/**
 * Removing the gateway namespace also removes its veths, whose other ends sit on the bridge and in the LANs. The
 * kernel does that after `ip netns del` returns (later still when several namespaces go at once): wait until the
 * other ends are gone, so that wiring the gateway again does not meet them ("File exists").
 */
export async function unwireGateway(state: LabState, gw: GatewaySpec): Promise<void> {
  await deleteNamespace(names.gateway(state.name, gw.name));
  const ends: [string, string][] = [
    [names.ctl(state.name), names.bridgePort(gw.id)],
    ...gw.subnets.map((_, i): [string, string] => [names.lan(state.name, gw.name, i), 'eth0']),
  ];
  // a veth pair goes when either end is deleted: delete the far ends now rather than wait for the kernel to free
  // the namespace, which an orphaned TCP socket (a BGP session that was up) keeps alive for minutes
  for (const [ns, dev] of ends) {
    if (existsSync(netnsPath(ns))) await run(['ip', '-n', ns, 'link', 'del', 'dev', dev]);
  }
  const deadline = performance.now() + 30_000;
  for (const [ns, dev] of ends) {
    while (
      existsSync(netnsPath(ns)) &&
      (await run(['ip', '-n', ns, 'link', 'show', 'dev', dev])).code === 0
    ) {
      if (performance.now() > deadline) {
        throw new LabError(`${dev} in namespace ${ns} outlived gateway ${gw.name}'s namespace by 30 s`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
