import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCgroups, hierarchies } from './cgroup.js';
import { type BootOptions, bootContainer, leaderOf, stopContainer, waitForSshd } from './container.js';
import { ensureImage, ensureRepo, needsRepo, REPO_MOUNT } from './image.js';
import { ensureInotifyLimits } from './inotify.js';
import { writeInventory } from './inventory.js';
import { generateKey, knownHostsLine } from './keys.js';
import { createCtl, createLanHosts, netnsPath, unwireGateway, wireGateway } from './netns.js';
import { MESHCTL_CLI } from './paths.js';
import { formatPingMatrix, type PingResult } from './ping-matrix.js';
import { prerequisiteProblems } from './prerequisites.js';
import { identify, stillRunning } from './process.js';
import { LabError, type RunResult, run } from './run.js';
import { shellQuote } from './shell.js';
import {
  DEFAULT_RELEASE,
  type GatewaySpec,
  gatewayLanAddress,
  type LabSpec,
  lanHostAddress,
  names,
  publicAddress,
  RELEASES,
  specProblems,
} from './spec.js';
import { type LabState, labDir, readState, writeState } from './state.js';
import { reapOrphans, teardown } from './teardown.js';

export { labSpecFromInventory } from './inventory.js';
export { formatPingMatrix, type PingResult } from './ping-matrix.js';
export type { RunResult } from './run.js';
export type { GatewaySpec, LabSpec, Release } from './spec.js';
export { downAll, downByName, leftovers, reapOrphans } from './teardown.js';

type Log = (line: string) => void;

/** The environment of commands run inside a container (nothing leaks in from the caller's). */
const CONTAINER_ENV = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  LANG: 'C.UTF-8',
  TERM: 'dumb',
  DEBIAN_FRONTEND: 'noninteractive',
};

/** Creates the sudo user; idempotent, so it runs after every start (a non-persistent gateway forgets it). */
const SUDO_USER_SCRIPT = [
  'set -e',
  'u="$1"',
  'id "$u" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$u"',
  'install -d -m 700 -o "$u" -g "$u" "/home/$u/.ssh"',
  'install -m 600 -o "$u" -g "$u" /root/.ssh/authorized_keys "/home/$u/.ssh/authorized_keys"',
  `printf '%s ALL=(ALL) NOPASSWD:ALL\\n' "$u" > "/etc/sudoers.d/meshctl-lab-$u"`,
  'chmod 440 "/etc/sudoers.d/meshctl-lab-$u"',
].join('\n');

/** Labs owned by this process and not kept: torn down on SIGINT/SIGTERM. */
const ownedLabs = new Set<Lab>();

/**
 * A lab: N Debian gateways booted with systemd under systemd-nspawn, each in its own network namespace on a shared
 * bridge (the lab's "internet", 198.18.0.0/24 in namespace `<lab>-ctl`), each with one LAN host namespace per
 * subnet. Everything it creates is recorded in its state file and carries its name as prefix.
 */
export class Lab {
  /** Running `exec`/`ping` children, killed by down(). */
  private readonly children = new Set<ChildProcess>();
  private downed = false;
  /** Gateways being started: down() lets them settle first, so nothing is created after the teardown. */
  private readonly starting = new Set<Promise<void>>();

  private constructor(
    private readonly state: LabState,
    private readonly log: Log,
  ) {}

  /**
   * Builds (or reuses) the images, then creates the network, keys, inventory and every gateway, and waits until
   * each gateway's sshd listens. If anything fails half-way, what was made is torn down before the error is thrown.
   */
  static async up(spec: LabSpec, opts: { log?: Log } = {}): Promise<Lab> {
    const log = opts.log ?? (() => {});
    const problems = [...specProblems(spec), ...prerequisiteProblems()];
    if (problems.length > 0) throw new LabError(`cannot bring lab up:\n  - ${problems.join('\n  - ')}`);
    await reapOrphans(log);
    const existing = readState(spec.name);
    if (existing) {
      throw new LabError(
        `lab '${spec.name}' is already up (${existing.dir}): use another name, or tear it down with ` +
          `\`npm run lab -- down ${spec.name}\``,
      );
    }
    const started = performance.now();
    const images: Record<string, string> = {};
    const repos: Record<string, string> = {};
    // one image per (release, variant) in use, and a local package folder per release that has a gateway without
    // OpenVPN or without FRR
    for (const release of RELEASES) {
      for (const openvpn of [true, false]) {
        for (const frr of [true, false]) {
          const users = spec.gateways.filter(
            (gw) =>
              (gw.release ?? DEFAULT_RELEASE) === release &&
              (gw.openvpn ?? true) === openvpn &&
              (gw.frr ?? true) === frr,
          );
          if (users.length === 0) continue;
          const variant = { openvpn, frr, release };
          const image = await ensureImage(variant, log);
          const repo = needsRepo(variant) ? (await ensureRepo(release, log)).path : undefined;
          for (const gw of users) {
            images[gw.name] = image.path;
            if (repo) repos[gw.name] = repo;
          }
        }
      }
    }
    const owner = identify(process.pid)!;
    const state: LabState = {
      version: 1,
      name: spec.name,
      dir: labDir(spec.name),
      owner,
      spec,
      images,
      netns: [],
      cgroups: hierarchies().map((h) => join(h, names.cgroup(spec.name))),
      containers: {},
    };
    if (Object.keys(repos).length > 0) state.repos = repos;
    writeState(state);
    const lab = new Lab(state, log);
    ownedLabs.add(lab);
    try {
      await lab.prepareFiles();
      await createCtl(state);
      for (const gw of spec.gateways) await createLanHosts(state, gw);
      // a change to the machine's own settings is always said, even when the caller logs nothing else
      ensureInotifyLimits(spec.gateways.length, opts.log ?? ((line) => console.error(line)));
      // allSettled, not all: a teardown must not begin while other gateways are still being created
      const starts = await Promise.allSettled(spec.gateways.map((gw) => lab.start(gw.name)));
      const failed = starts.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
    } catch (error) {
      log(`lab '${spec.name}' failed to come up; tearing down what was made`);
      await lab.down().catch((teardownError: Error) => log(teardownError.message));
      throw error;
    }
    const seconds = (performance.now() - started) / 1000;
    log(`lab '${spec.name}' up: ${spec.gateways.length} gateway(s) in ${seconds.toFixed(1)} s`);
    return lab;
  }

  /** A lab brought up earlier (possibly by another process), from its state file. */
  static open(name: string, opts: { log?: Log } = {}): Lab {
    const state = readState(name);
    if (!state) {
      throw new LabError(
        `no lab named '${name}' is up (${labDir(name)}/state.json is missing): bring one up first`,
      );
    }
    return new Lab(state, opts.log ?? (() => {}));
  }

  get name(): string {
    return this.state.name;
  }

  /** Holds the SSH key, known_hosts, inventory/ and the state file. */
  get dir(): string {
    return this.state.dir;
  }

  get inventoryDir(): string {
    return join(this.state.dir, 'inventory');
  }

  get identityFile(): string {
    return join(this.state.dir, 'id_ed25519');
  }

  get knownHostsFile(): string {
    return join(this.state.dir, 'known_hosts');
  }

  get spec(): LabSpec {
    return this.state.spec;
  }

  get gateways(): GatewaySpec[] {
    return this.state.spec.gateways;
  }

  /** The namespace meshctl runs in: the bridge every gateway's eth0 is on. */
  get ctlNamespace(): string {
    return names.ctl(this.state.name);
  }

  gateway(name: string): GatewaySpec {
    const gw = this.gateways.find((g) => g.name === name);
    if (!gw) {
      throw new LabError(
        `gateway '${name}' is not in lab '${this.name}': use one of ${this.gateways.map((g) => g.name).join(', ')}`,
      );
    }
    return gw;
  }

  publicAddress(gateway: string): string {
    return publicAddress(this.gateway(gateway).id);
  }

  /** The gateway's own address in its LAN subnet `subnetIndex`. */
  gatewayLanAddress(gateway: string, subnetIndex = 0): string {
    return gatewayLanAddress(this.subnet(gateway, subnetIndex));
  }

  /** The LAN host's address in subnet `subnetIndex` of `gateway`. */
  lanHostAddress(gateway: string, subnetIndex = 0): string {
    return lanHostAddress(this.subnet(gateway, subnetIndex));
  }

  private subnet(gateway: string, index: number): string {
    const gw = this.gateway(gateway);
    const subnet = gw.subnets[index];
    if (subnet === undefined) {
      throw new LabError(
        `gateway '${gateway}' has no subnet #${index}: it has ${gw.subnets.length} (${gw.subnets})`,
      );
    }
    return subnet;
  }

  isRunning(gateway: string): boolean {
    const nspawn = this.state.containers[this.gateway(gateway).name];
    return nspawn !== undefined && stillRunning(nspawn);
  }

  /** Runs argv as root inside the gateway (nsenter into its PID 1's namespaces, not SSH). Never throws on exit codes. */
  async exec(
    gateway: string,
    argv: string[],
    opts: { stdin?: string; timeoutMs?: number } = {},
  ): Promise<RunResult> {
    const leader = this.leader(gateway);
    return run(['nsenter', '--target', String(leader), '--all', '--root', '--wd', '--', ...argv], {
      ...opts,
      env: CONTAINER_ENV,
      track: this.children,
    });
  }

  /** Runs argv in the LAN host namespace of subnet `subnetIndex` of `gateway` (the machine's own binaries). */
  async execLan(
    gateway: string,
    argv: string[],
    subnetIndex = 0,
    opts: { stdin?: string; timeoutMs?: number } = {},
  ): Promise<RunResult> {
    this.subnet(gateway, subnetIndex);
    return run(['ip', 'netns', 'exec', names.lan(this.name, gateway, subnetIndex), ...argv], {
      ...opts,
      track: this.children,
    });
  }

  /** Runs argv in the ctl namespace (where meshctl runs: it reaches every gateway's public address). */
  async execCtl(
    argv: string[],
    opts: { stdin?: string; timeoutMs?: number; cwd?: string } = {},
  ): Promise<RunResult> {
    return run(['ip', 'netns', 'exec', this.ctlNamespace, ...argv], { ...opts, track: this.children });
  }

  /**
   * The OpenSSH client from the ctl namespace, with host-key checking on (StrictHostKeyChecking=yes) against the
   * lab's known_hosts unless another file is given. Logs in as the gateway's SSH user unless `user` is given.
   */
  async ssh(
    gateway: string,
    argv: string[],
    opts: { user?: string; knownHosts?: string; timeoutMs?: number } = {},
  ): Promise<RunResult> {
    const gw = this.gateway(gateway);
    const user = opts.user ?? gw.sshUser ?? 'root';
    return this.execCtl(
      [
        'ssh',
        '-F',
        '/dev/null',
        '-i',
        this.identityFile,
        '-o',
        'IdentitiesOnly=yes',
        '-o',
        'BatchMode=yes',
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        `UserKnownHostsFile=${opts.knownHosts ?? this.knownHostsFile}`,
        '-o',
        'GlobalKnownHostsFile=/dev/null',
        '-o',
        'ConnectTimeout=5',
        '-o',
        'LogLevel=ERROR',
        `${user}@${publicAddress(gw.id)}`,
        '--',
        argv.map(shellQuote).join(' '),
      ],
      { timeoutMs: opts.timeoutMs ?? 20_000 },
    );
  }

  /** True when the LAN host of `from` gets an answer from the LAN host of `to` (subnet `subnetIndex` of `to`). */
  async ping(fromGateway: string, toGateway: string, subnetIndex = 0): Promise<boolean> {
    const target = this.lanHostAddress(toGateway, subnetIndex);
    // two probes 0.2 s apart: the first may be spent on ARP; any answer counts
    const result = await this.execLan(fromGateway, [
      'ping',
      '-n',
      '-q',
      '-c',
      '2',
      '-i',
      '0.2',
      '-W',
      '1',
      target,
    ]);
    return result.code === 0;
  }

  /** Every ordered pair of distinct LANs (first subnet of each), pinged in parallel. */
  async pingMatrix(): Promise<PingResult[]> {
    const pairs = this.gateways.flatMap((from) =>
      this.gateways.filter((to) => to !== from).map((to) => ({ from: from.name, to: to.name })),
    );
    const results: PingResult[] = new Array(pairs.length);
    let next = 0;
    const worker = async () => {
      while (next < pairs.length) {
        const i = next++;
        const pair = pairs[i]!;
        results[i] = { ...pair, ok: await this.ping(pair.from, pair.to) };
      }
    };
    await Promise.all(Array.from({ length: Math.min(16, pairs.length) }, worker));
    return results;
  }

  async printablePingMatrix(): Promise<string> {
    return formatPingMatrix(
      this.gateways.map((g) => g.name),
      await this.pingMatrix(),
    );
  }

  /**
   * Boots a stopped gateway in a fresh network namespace and waits for its sshd; then provisions what the image
   * cannot hold (the sudo user; apt's package lists for the image without OpenVPN).
   */
  async start(gateway: string): Promise<void> {
    const starting = this.startGateway(gateway);
    this.starting.add(starting);
    try {
      await starting;
    } finally {
      this.starting.delete(starting);
    }
  }

  private async startGateway(gateway: string): Promise<void> {
    const gw = this.gateway(gateway);
    if (this.downed) throw new LabError(`lab '${this.name}' is torn down: bring a new one up`);
    if (this.isRunning(gw.name)) throw new LabError(`gateway '${gw.name}' is already running: stop it first`);
    const state = this.state;
    const cgroups = hierarchies().map((h) => join(h, names.cgroup(state.name), gw.name));
    for (const dir of cgroups) if (!state.cgroups.includes(dir)) state.cgroups.push(dir);
    writeState(state);
    const ns = await wireGateway(state, gw);
    if (this.downed)
      throw new LabError(`lab '${this.name}' is being torn down: gateway ${gw.name} not started`);
    createCgroups(names.cgroup(state.name), gw.name);
    const host = join(state.dir, 'hosts', gw.name);
    const binds: [string, string][] = [
      [join(host, 'ssh_host_ed25519_key'), '/etc/ssh/ssh_host_ed25519_key'],
      [join(host, 'sshd.conf'), '/etc/ssh/sshd_config.d/meshctl-lab.conf'],
      [`${this.identityFile}.pub`, '/root/.ssh/authorized_keys'],
    ];
    if (state.repos?.[gw.name]) binds.push([state.repos[gw.name]!, REPO_MOUNT]);
    const boot: BootOptions = {
      machine: names.machine(state.name, gw.name),
      hostname: gw.name,
      image: state.images[gw.name]!,
      netnsPath: netnsPath(ns),
      cgroups,
      binds,
      consoleLog: join(host, 'console.log'),
    };
    if (gw.persistent) {
      boot.persistentUpper = join(host, 'upper');
      mkdirSync(boot.persistentUpper, { recursive: true });
    }
    const nspawn = bootContainer(boot);
    state.containers[gw.name] = nspawn;
    writeState(state);
    try {
      await waitForSshd(nspawn, boot, () => this.downed);
      await this.confirmSshReachable(gw);
      await this.provision(gw);
    } catch (error) {
      await this.stop(gw.name).catch(() => {});
      throw error;
    }
    this.log(`gateway ${gw.name} up at ${publicAddress(gw.id)}`);
  }

  /** Stops a gateway (systemd halts cleanly; its network namespace goes away, so it is unreachable). */
  async stop(gateway: string): Promise<void> {
    const gw = this.gateway(gateway);
    const cgroups = hierarchies().map((h) => join(h, names.cgroup(this.state.name), gw.name));
    await stopContainer(this.state.containers[gw.name], cgroups, 5000);
    delete this.state.containers[gw.name];
    writeState(this.state);
    await unwireGateway(this.state, gw);
  }

  /** A reboot: a persistent gateway keeps its files; any other starts again from the clean image. */
  async restart(gateway: string): Promise<void> {
    await this.stop(gateway);
    await this.start(gateway);
  }

  /** Runs meshctl's bin (`node dist/bin/meshctl.js ...args`) in the ctl namespace with cwd = the lab dir (so ./inventory is the lab's). */
  async meshctl(
    args: string[],
    opts: { stdin?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
  ): Promise<RunResult> {
    if (!existsSync(MESHCTL_CLI)) {
      throw new LabError(`meshctl is not built (${MESHCTL_CLI} is missing): run \`npm run build\``);
    }
    return run(['ip', 'netns', 'exec', this.ctlNamespace, process.execPath, MESHCTL_CLI, ...args], {
      cwd: this.dir,
      env: { ...process.env, ...opts.env },
      track: this.children,
      ...(opts.stdin === undefined ? {} : { stdin: opts.stdin }),
      ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
    });
  }

  /** Leaves the lab running after this process exits (until `npm run lab -- down NAME`). */
  keep(): void {
    if (this.downed)
      throw new LabError(`lab '${this.name}' was torn down (interrupted?) before it could be kept`);
    this.state.owner = null;
    writeState(this.state);
    ownedLabs.delete(this);
  }

  /** Tears everything down: kills only the processes this lab started, removes only what its state file lists. */
  async down(): Promise<void> {
    if (this.downed) return;
    this.downed = true;
    ownedLabs.delete(this);
    for (const child of this.children) child.kill('SIGKILL');
    await Promise.allSettled([...this.starting]);
    await teardown(this.state, this.log);
  }

  private leader(gateway: string): number {
    const gw = this.gateway(gateway);
    const nspawn = this.state.containers[gw.name];
    const leader = nspawn && stillRunning(nspawn) ? leaderOf(nspawn) : undefined;
    if (leader === undefined) {
      throw new LabError(`gateway '${gw.name}' of lab '${this.name}' is not running: start it first`);
    }
    return leader;
  }

  /** Keys, known_hosts, per-host sshd settings and the inventory. */
  private async prepareFiles(): Promise<void> {
    const { dir, spec } = this.state;
    await generateKey(this.identityFile, `meshctl-lab-${spec.name}`);
    const knownHosts: string[] = [];
    for (const gw of spec.gateways) {
      const host = join(dir, 'hosts', gw.name);
      mkdirSync(host, { recursive: true, mode: 0o700 });
      const hostKey = await generateKey(join(host, 'ssh_host_ed25519_key'), `${gw.name}@meshctl-lab`);
      knownHosts.push(knownHostsLine(publicAddress(gw.id), hostKey));
      const sshd = [
        'HostKey /etc/ssh/ssh_host_ed25519_key',
        `PermitRootLogin ${gw.sshUser ? 'no' : 'prohibit-password'}`,
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UseDNS no',
      ];
      writeFileSync(join(host, 'sshd.conf'), `${sshd.join('\n')}\n`, { mode: 0o644 });
    }
    writeFileSync(this.knownHostsFile, `${knownHosts.join('\n')}\n`, { mode: 0o644 });
    writeInventory(this.inventoryDir, spec, {
      identityFile: this.identityFile,
      knownHosts: this.knownHostsFile,
    });
  }

  /** sshd listens inside; make sure the bridge really reaches it, as meshctl will. */
  private async confirmSshReachable(gw: GatewaySpec): Promise<void> {
    const address = publicAddress(gw.id);
    for (let attempt = 0; ; attempt++) {
      const probe = await this.execCtl(['bash', '-c', '(exec 3<>"/dev/tcp/$1/22")', 'probe', address], {
        timeoutMs: 5000,
      });
      if (probe.code === 0) return;
      if (attempt >= 20) {
        throw new LabError(
          `gateway ${gw.name}: sshd listens but ${address}:22 is unreachable from ${this.ctlNamespace}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  private async provision(gw: GatewaySpec): Promise<void> {
    // the lab has no DNS: without its own name in /etc/hosts, sudo and others wait on lookups of the hostname
    const hosts = `grep -qw "$1" /etc/hosts || printf '127.0.1.1\\t%s\\n' "$1" >> /etc/hosts`;
    const must = async (argv: string[], what: string) => {
      const result = await this.exec(gw.name, argv);
      if (result.code !== 0) {
        throw new LabError(
          `gateway ${gw.name}: ${what} failed (exit ${result.code}): ${result.stderr.trim()}`,
        );
      }
    };
    await must(['sh', '-c', hosts, 'sh', gw.name], 'adding the hostname to /etc/hosts');
    if (gw.sshUser)
      await must(['sh', '-c', SUDO_USER_SCRIPT, 'sh', gw.sshUser], `creating sudo user ${gw.sshUser}`);
    if (this.state.repos?.[gw.name])
      await must(['apt-get', 'update', '-qq'], `apt-get update from ${REPO_MOUNT}`);
  }
}

/** Set once a signal started tearing down; the process exits when it settles. */
let signalTeardown: Promise<void> | undefined;

/**
 * Tears down this process's labs on Ctrl-C or SIGTERM, then exits (130 / 143). Call once from a CLI entry point;
 * before exiting on its own, that entry point awaits `signalTeardownDone()` so it never exits mid-teardown.
 */
export function installSignalTeardown(log: Log = (line) => console.error(line)): void {
  const handler = (signal: NodeJS.Signals) => {
    if (signalTeardown) return;
    log(`${signal}: tearing down ${ownedLabs.size} lab(s) started by this process`);
    signalTeardown = Promise.allSettled([...ownedLabs].map((lab) => lab.down())).then((results) => {
      for (const r of results) if (r.status === 'rejected') log((r.reason as Error).message);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

/** Resolves at once without a signal; after one, never (the teardown exits the process). */
export async function signalTeardownDone(): Promise<void> {
  // the teardown ends with process.exit: awaiting it does not return
  if (signalTeardown) await signalTeardown;
}
