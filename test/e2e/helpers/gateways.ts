import assert from 'node:assert/strict';
import type { Lab, RunResult } from '../../lab/lab.js';

/**
 * What the end-to-end tests read off a lab after meshctl ran: tunnel process ids, reachability between LAN
 * hosts, and meshctl's own results. Everything here looks at the real gateways (nsenter or the LAN host
 * namespaces); nothing stands in for them.
 */
export { skipUnlessLabUsable } from './skip.js';

/** The systemd unit of the tunnel from `gateway` to `peer`. */
export function tunnelUnit(peer: string): string {
  return `openvpn-server@mesh-${peer}.service`;
}

/**
 * MainPID of every tunnel unit of every running gateway, keyed `gateway/unit` (0 when the unit is not running).
 * `skip` leaves out gateways that are stopped.
 */
export async function tunnelPids(lab: Lab, skip: string[] = []): Promise<Map<string, number>> {
  const names = lab.gateways.map((g) => g.name);
  const pids = new Map<string, number>();
  await Promise.all(
    names
      .filter((gw) => !skip.includes(gw))
      .map(async (gw) => {
        const units = names.filter((peer) => peer !== gw).map(tunnelUnit);
        const show = await lab.exec(gw, ['systemctl', 'show', '-p', 'Id', '-p', 'MainPID', ...units]);
        assert.equal(show.code, 0, `${gw}: systemctl show failed: ${show.stderr}`);
        for (const block of show.stdout.trim().split(/\n\s*\n/)) {
          const id = /^Id=(.*)$/m.exec(block)?.[1];
          const pid = /^MainPID=(\d+)$/m.exec(block)?.[1];
          assert.ok(id && pid, `${gw}: unexpected systemctl show output: ${block}`);
          pids.set(`${gw}/${id}`, Number(pid));
        }
      }),
  );
  return new Map([...pids].sort(([a], [b]) => a.localeCompare(b)));
}

/** The keys whose PID differs between two readings, sorted. */
export function changedPids(before: Map<string, number>, after: Map<string, number>): string[] {
  return [...before.keys()].filter((key) => before.get(key) !== after.get(key)).sort();
}

/** The keys of tunnels that are not running (MainPID 0). */
export function deadTunnels(pids: Map<string, number>): string[] {
  return [...pids].filter(([, pid]) => pid === 0).map(([key]) => key);
}

export interface LanHost {
  gateway: string;
  subnet: number;
}

/** Every LAN host of the lab: one per subnet of each gateway. */
export function lanHosts(lab: Lab): LanHost[] {
  return lab.gateways.flatMap((gw) => gw.subnets.map((_, subnet) => ({ gateway: gw.name, subnet })));
}

function describeHost(lab: Lab, h: LanHost): string {
  return `${h.gateway}#${h.subnet} (${lab.lanHostAddress(h.gateway, h.subnet)})`;
}

/**
 * Pings from every LAN host to every LAN host of every other LAN (all subnets, both directions), in parallel.
 * Returns the pairs that got no answer, e.g. `hq#0 (10.1.0.10) -> multi#1 (192.168.4.10)`.
 */
export async function unansweredPings(lab: Lab): Promise<string[]> {
  const hosts = lanHosts(lab);
  const pairs = hosts.flatMap((from) =>
    hosts.filter((to) => to.gateway !== from.gateway).map((to) => ({ from, to })),
  );
  const failed: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < pairs.length) {
      const { from, to } = pairs[next++]!;
      const target = lab.lanHostAddress(to.gateway, to.subnet);
      // two probes 0.2 s apart: the first may be spent on ARP; any answer counts
      const ping = await lab.execLan(
        from.gateway,
        ['ping', '-n', '-q', '-c', '2', '-i', '0.2', '-W', '1', target],
        from.subnet,
      );
      if (ping.code !== 0) failed.push(`${describeHost(lab, from)} -> ${describeHost(lab, to)}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(12, pairs.length) }, worker));
  return failed.sort();
}

/** Polls unansweredPings until none is left or `timeoutMs` passes; returns what still fails. */
export async function waitForFullMesh(lab: Lab, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const failed = await unansweredPings(lab);
    if (failed.length === 0 || Date.now() >= deadline) return failed;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/** A meshctl run's output, for assertion messages. */
export function transcript(result: RunResult): string {
  return `exit ${result.code}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
}

/** Parses `--json` output (one JSON document on stdout), failing with the whole transcript when it does not parse. */
export function parseJson<T = Record<string, unknown>>(result: RunResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch (error) {
    assert.fail(`--json output does not parse (${(error as Error).message}):\n${transcript(result)}`);
  }
}

/** Runs meshctl in the lab and asserts its exit code, showing the whole transcript when it differs. */
export async function meshctl(lab: Lab, args: string[], expectedCode: number): Promise<RunResult> {
  const result = await lab.meshctl(args, { timeoutMs: 240_000 });
  assert.equal(result.code, expectedCode, `meshctl ${args.join(' ')}: ${transcript(result)}`);
  return result;
}

/** Text that only key material contains: none of it may appear in meshctl's output. */
export function assertNoKeyMaterial(text: string, where: string): void {
  for (const marker of ['PRIVATE KEY', 'OpenVPN Static key']) {
    assert.ok(!text.includes(marker), `${where} shows key material ("${marker}")`);
  }
}

/** The parts of `meshctl status --json` the end-to-end tests read (docs/status.md has them all). */
export interface StatusJson {
  ok: boolean;
  command: string;
  health: string;
  exitCode: number;
  gateways: { name: string; read: boolean; error: string | null; lanAddress: string | null }[];
  tunnels: {
    pair: number;
    low: string;
    high: string;
    state: string;
    disagreeing: string | null;
    blame: string | null;
    ends: {
      gateway: string;
      state: string;
      since: string | null;
      peerAddress: string | null;
      bytesIn: number | null;
      bytesOut: number | null;
      rttMs: number | null;
      lossPercent: number | null;
      peerCertificateDaysLeft: number | null;
      lastReceived: { within?: number; over?: number } | null;
      bgp: { state: string; prefixesReceived: number } | null;
      problem: string | null;
    }[];
  }[];
  lanPairs: {
    a: string;
    b: string;
    state: string;
    probes: { from: string; to: string; ok: boolean | null; path: string[] | null; problem: string | null }[];
  }[];
}

/**
 * Runs `meshctl status --json` until it exits `code` (a tunnel or session just started takes a moment to be up at
 * both ends), at most `timeoutMs`; fails with the last transcript.
 */
export async function statusUntil(
  lab: Lab,
  code: number,
  timeoutMs: number,
  args: string[] = [],
): Promise<StatusJson> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await lab.meshctl(['status', '--json', ...args], { timeoutMs: 120_000 });
    if (result.code === code) return parseJson<StatusJson>(result);
    if (Date.now() > deadline) assert.fail(`meshctl status never exited ${code}:\n${transcript(result)}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
