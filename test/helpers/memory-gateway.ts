import { X509Certificate } from 'node:crypto';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import type {
  Connection,
  ConnectOptions,
  Connector,
  ExecOptions,
  ExecResult,
} from '../../src/connection/types.js';
import { ConnectError } from '../../src/errors.js';
import { BGP_ROUTES_COMMAND, BGP_SUMMARY_COMMAND } from '../../src/execute/bgp.js';
import { backupPath, SCRIPT_MARKER } from '../../src/execute/bundle.js';
import { WAIT_SCRIPT } from '../../src/execute/tunnels.js';
import { FETCH_OLD_SCRIPT } from '../../src/facts/old-contents.js';
import { PROBE_SCRIPT } from '../../src/facts/probe.js';
import {
  FIREWALL_UNIT,
  FRR_UNIT,
  gatewayPaths,
  isTunnelUnit,
  isUnitFile,
  OWN_UNIT_PREFIX,
  SYSTEMD_DIR,
  tunnelUnitOfConfig,
} from '../../src/gateway/layout.js';
import { STATUS_SCRIPT } from '../../src/status/script.js';
import { sha256 } from './hash.js';

/**
 * An in-memory gateway behind the real Connection interface (ARCHITECTURE "an in-memory connector"): files, units,
 * forwarding and firewall are data, and every command meshctl sends is interpreted against them — the probe
 * answers in the probe's format from that data, the file bundle's `meshctl_put` lines land files, `systemctl`
 * starts and stops units, and a tunnel is up when both ends run it with the same pair key and port. Unit tests of
 * apply, diff, add-lan and remove-lan drive the real engine through it, without root or a lab.
 *
 * A command it does not recognise fails the test (exit 127 and a message): a new remote command must be taught
 * here, so these tests never silently stop covering what the engine sends. `faults` let a test make any command
 * fail, hang (a timeout) or change the gateway first.
 *
 * FRR (routing: bgp) is modelled too: the frr package (installed with its default frr.conf and daemons, and
 * started, as apt does), frr-pythontools (frr-reload.py: what `systemctl reload frr` needs), frr.service (a reload
 * loads frr.conf again and keeps its PID; which daemons run is read at start only), and FRR's session table
 * (`vtysh -c 'show bgp ipv4 unicast summary json'`): see `bgpSessions`.
 */

/** What the frr package ships as /etc/frr/frr.conf and /etc/frr/daemons: "pristine" to the probe. */
export const FRR_PACKAGE_FILES: Readonly<Record<string, string>> = {
  [gatewayPaths.frrConf]:
    'frr version 8.4.4\nfrr defaults traditional\nhostname frr\nlog syslog informational\nservice integrated-vtysh-config\n!\n',
  [gatewayPaths.frrDaemons]:
    'bgpd=no\nospfd=no\nospf6d=no\nripd=no\nripngd=no\nisisd=no\npimd=no\nldpd=no\nnhrpd=no\neigrpd=no\n' +
    'babeld=no\nsharpd=no\npbrd=no\nbfdd=no\nfabricd=no\nvrrpd=no\npathd=no\n\nvtysh_enable=yes\n',
};

/** The FRR release the memory gateway installs. */
export const MEMORY_FRR_VERSION = '8.4.4';

/** What a running FRR loaded: frr.conf at start or at the last reload, daemons at start. */
interface FrrLoaded {
  conf: string;
  daemons: string;
}

/** The parts of an frr.conf the session model reads. */
interface FrrConfig {
  asn: number | null;
  neighbors: Map<string, { remoteAs: number; in?: string }>;
  networks: string[];
  /** route-map → its permit entries: the prefix-list and the as-path list each matches. */
  routeMaps: Map<string, { prefixList?: string; asPath?: string }[]>;
  prefixLists: Map<string, string[]>;
  /** as-path list → the origin AS its `_ASN$` entry permits. */
  asPaths: Map<string, number>;
}

/** Reads what the session model needs from an frr.conf: the AS, neighbours, `network` lines, filters. */
export function parseFrrConf(text: string): FrrConfig {
  const config: FrrConfig = {
    asn: null,
    neighbors: new Map(),
    networks: [],
    routeMaps: new Map(),
    prefixLists: new Map(),
    asPaths: new Map(),
  };
  let entry: { prefixList?: string; asPath?: string } | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const words = line.split(/\s+/);
    if (words[0] === 'router' && words[1] === 'bgp') config.asn = Number(words[2]);
    else if (words[0] === 'neighbor' && words[2] === 'remote-as') {
      config.neighbors.set(words[1]!, { remoteAs: Number(words[3]) });
    } else if (words[0] === 'neighbor' && words[2] === 'route-map' && words[4] === 'in') {
      const n = config.neighbors.get(words[1]!);
      if (n) n.in = words[3]!;
    } else if (words[0] === 'network') config.networks.push(words[1]!);
    else if (words[0] === 'route-map' && words[2] === 'permit') {
      entry = {};
      config.routeMaps.set(words[1]!, [...(config.routeMaps.get(words[1]!) ?? []), entry]);
    } else if (entry && line.startsWith('match ip address prefix-list ')) entry.prefixList = words[4]!;
    else if (entry && line.startsWith('match as-path ')) entry.asPath = words[2]!;
    else if (line.startsWith('bgp as-path access-list ') && words[4] === 'permit') {
      const origin = /^_(\d+)\$$/.exec(words[5] ?? '');
      if (origin) config.asPaths.set(words[3]!, Number(origin[1]));
    } else if (line.startsWith('ip prefix-list ') && words[5] === 'permit' && words.length === 7) {
      // exact prefixes only (`le`/`ge` would make more words): what meshctl renders
      const list = config.prefixLists.get(words[2]!) ?? [];
      list.push(words[6]!);
      config.prefixLists.set(words[2]!, list);
    } else if (line === 'exit' || line === '!') entry = null;
  }
  return config;
}

export interface MemoryFile {
  content: Buffer;
  mode: number;
  owner: string;
}

export interface MemoryUnit {
  enabled: boolean;
  active: 'active' | 'inactive' | 'failed';
  pid: number;
  /** sha256 of every file when the unit last started: what the running process loaded. */
  loaded: Map<string, string>;
}

export interface ExecRecord {
  argv: string[];
  stdin?: string;
  privileged: boolean;
}

/** Return a result to answer the command instead of the gateway, throw to fail it, or undefined to let it run. */
export type Fault = (record: ExecRecord, gateway: MemoryGateway) => ExecResult | undefined;

const TUNNEL_UNIT = /^openvpn-server@(mesh-[a-z0-9][a-z0-9-]*)\.service$/;
const MANIFEST = gatewayPaths.manifest;
const COMPLETED = 'Initialization Sequence Completed';

const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });
const failed = (code: number, stderr: string): ExecResult => ({ code, stdout: '', stderr });

/** `10.1.0.1`, 16 → `10.1.0.0`. */
function networkOf(ip: string, prefix: number): string {
  const value = ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
  const base = prefix === 0 ? 0 : value - (value % 2 ** (32 - prefix));
  return [24, 16, 8, 0].map((shift) => Math.floor(base / 2 ** shift) % 256).join('.');
}

/** `255.255.0.0` → 16. */
function maskBits(mask: string): number {
  return mask.split('.').reduce((n, octet) => n + (Number(octet).toString(2).match(/1/g)?.length ?? 0), 0);
}

/** Splits a line produced by src/connection/quote.ts back into words ('…' with '\'' escapes, or bare words). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (line[i] === ' ') i++;
    if (i >= line.length) break;
    let word = '';
    while (i < line.length && line[i] !== ' ') {
      if (line[i] === "'") {
        const end = line.indexOf("'", i + 1);
        word += line.slice(i + 1, end);
        i = end + 1;
      } else if (line[i] === '\\') {
        word += line[i + 1];
        i += 2;
      } else {
        word += line[i];
        i++;
      }
    }
    words.push(word);
  }
  return words;
}

/** A command's stdin, whole: a string, a Buffer or a stream read to its end. */
async function readAll(stdin: string | Buffer | Readable | undefined): Promise<string> {
  if (stdin === undefined) return '';
  if (typeof stdin === 'string' || Buffer.isBuffer(stdin)) return Buffer.from(stdin).toString('utf8');
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

/** vtysh's answer framed as status.sh frames it: TAG lines and TAG-end, or the unavailable record. */
function framed(result: ExecResult, tag: string, unavailable: string): string[] {
  if (result.code !== 0)
    return [`${unavailable}\t${(result.stderr || result.stdout).trim().replace(/\s+/g, ' ')}`];
  return [
    ...result.stdout
      .replace(/\n$/, '')
      .split('\n')
      .map((l) => `${tag}\t${l}`),
    `${tag}-end`,
  ];
}

/** A unit file or drop-in systemd reads: under its directory and not hidden (meshctl's backups start with a dot). */
function systemdReads(path: string): boolean {
  return isUnitFile(path) && !posix.basename(path).startsWith('.');
}

export class MemoryGateway {
  readonly files = new Map<string, MemoryFile>();
  readonly units = new Map<string, MemoryUnit>();
  readonly log: ExecRecord[] = [];
  /** Units reloaded in place (`reload-or-restart` of a running oneshot), in order. */
  readonly reloads: string[] = [];
  /** How many times `systemctl daemon-reload` ran. */
  daemonReloads = 0;
  /**
   * Unit files and drop-ins written since the last daemon-reload: true when the file was new. systemd (247, 252)
   * loads a unit it does not hold from disk, new files included: `systemctl show` of an inactive unit sees its new
   * files, while a running unit with a file written meanwhile says NeedDaemonReload=yes and keeps what it loaded.
   */
  readonly unitFilesSinceReload = new Map<string, boolean>();
  /**
   * true: like systemd 257, NeedDaemonReload=yes for every unit once units were enabled or disabled without a
   * reload (`enable --no-reload`), until the next daemon-reload.
   */
  reloadNeededAfterEnable = false;
  private enabledSinceReload = false;
  /**
   * Tunnel units whose BGP session waits on next-hop tracking (FRR's "Waiting for NHT": zebra missed the new
   * device's address): the session stays Active at both ends until the unit starts again. Set by a start listed
   * in `MemoryNetwork.nhtStuckOnStart`.
   */
  readonly nhtStuck = new Set<string>();
  faults: Fault[] = [];
  /** false: the machine is gone (no SSH, no tunnels). */
  reachable = true;
  /** true: SSH to it fails while it and its tunnels keep running (a management path cut). */
  sshDown = false;
  openvpnVersion: string | null = '2.6.14';
  os = { id: 'debian', versionId: '12', codename: 'bookworm', idLike: [] as string[] };
  systemd: 'running' | 'not-booted' | 'missing' = 'running';
  packageManager: 'apt-get' | 'dnf' | 'yum' | null = 'apt-get';
  ipForward = false;
  /** Lines of the iptables rules file loaded by the firewall unit; null when meshctl's chains are not loaded. */
  firewall: string[] | null = null;
  /** `ip -4 -o addr show` answers with these (CIDR form). */
  addresses: string[] = [];
  /** Pre-flight facts the probe reports (src/facts/probe.sh "pre-flight records"). */
  /** Seconds the gateway's clock is ahead of (negative: behind) the test's. */
  clockOffset = 0;
  /** Routes besides the connected ones of `addresses`, the default route and the running tunnels' own. */
  routes: string[] = [];
  /** UDP sockets besides the running tunnels' (`pid` 0: an owner ss cannot name). */
  udpSockets: { port: number; name: string; pid: number; address?: string }[] = [];
  /** The FORWARD policy, and the operator's rules ahead of meshctl's jump (`-A FORWARD …`). */
  forwardPolicy: 'ACCEPT' | 'DROP' = 'ACCEPT';
  forwardRulesAhead: string[] = [];
  /** `nft list chains` lines (table / chain / type); empty: nft is not installed. */
  nftChains: string[] = [];
  /** net.ipv4.conf.<iface>.rp_filter. */
  rpFilter: Record<string, number> = { all: 0, default: 0, eth0: 0 };
  /** Tunnel configs OpenVPN refuses to start (e.g. a directive this version does not know). */
  refuses: (config: string) => boolean = () => false;
  /** FRR's version (`bgpd --version`); null: the frr package is not installed. */
  frrVersion: string | null = null;
  /** frr-reload.py is installed (frr-pythontools on Debian; part of frr on the RHEL family). */
  frrReload = false;
  /**
   * `meshctl status` (status.sh): true makes every LAN probe from or to this gateway fail while its tunnels are up
   * (a LAN-side fault the tunnels cannot see: a host firewall, a wrong LAN address).
   */
  blockLan = false;
  /** Rewrites what status.sh prints, per phase (1: up to `ready`, 2: the rest), e.g. to make it malformed. */
  mangleStatus: ((text: string, phase: 1 | 2) => string) | null = null;
  /** What the running frr.service loaded; null while it does not run. */
  private frrLoaded: FrrLoaded | null = null;
  /** When each running unit started (unix seconds), and the bytes each tunnel received (grows while it is up). */
  private readonly startedAt = new Map<string, number>();
  private readonly received = new Map<string, number>();
  private nextPid = 100;

  constructor(
    readonly name: string,
    readonly host: string,
    readonly network: MemoryNetwork,
  ) {}

  // --- what tests read ---------------------------------------------------------------------------------------

  text(path: string): string | undefined {
    return this.files.get(path)?.content.toString('utf8');
  }

  manifest(): { files: Record<string, string>; units: string[]; mesh: string; lan: string } | undefined {
    const text = this.text(MANIFEST);
    return text === undefined ? undefined : JSON.parse(text);
  }

  pid(unit: string): number {
    return this.units.get(unit)?.pid ?? 0;
  }

  /** Commands sent, as `argv[0] argv[1]` or the script kind: a compact trace for assertions. */
  commands(): string[] {
    return this.log.map((r) => {
      const script = r.stdin?.startsWith(SCRIPT_MARKER)
        ? r.stdin.slice(SCRIPT_MARKER.length).split('\n')[0]
        : '';
      if (script) return `script ${script}`;
      if (r.argv[0] === 'sh' && r.argv[1] === '-c') return r.argv[3] ?? 'sh -c';
      return r.argv.slice(0, 2).join(' ');
    });
  }

  // --- the tunnel model --------------------------------------------------------------------------------------

  private tunnelConfigPath(unit: string): string | undefined {
    const match = TUNNEL_UNIT.exec(unit);
    return match ? gatewayPaths.tunnelConfig(match[1]!) : undefined;
  }

  /** The directive values of the config the running unit loaded (from the file's content at start). */
  private loadedConfig(unit: string): Map<string, string> | undefined {
    const state = this.units.get(unit);
    const path = this.tunnelConfigPath(unit);
    if (state?.active !== 'active' || !path) return undefined;
    const text = this.loadedText.get(unit);
    if (text === undefined) return undefined;
    const directives = new Map<string, string>();
    for (const line of text.split('\n')) {
      const [key, ...rest] = line.trim().split(/\s+/);
      if (key && !key.startsWith('#')) directives.set(key, rest.join(' '));
    }
    directives.set('#unit', unit);
    directives.set('#path', path);
    return directives;
  }

  private readonly loadedText = new Map<string, string>();

  /** Is this end's tunnel `unit` up: running here and at the peer, same port, same pair key loaded at both ends? */
  tunnelUp(unit: string): boolean {
    const here = this.loadedConfig(unit);
    if (!here || !this.reachable) return false;
    const peerName = TUNNEL_UNIT.exec(unit)![1]!.slice('mesh-'.length);
    const peer = this.network.byName(peerName);
    if (!peer?.reachable) return false;
    const peerUnit = `openvpn-server@mesh-${this.name}.service`;
    const there = peer.loadedConfig(peerUnit);
    if (!there) return false;
    if (this.network.cut.has(MemoryNetwork.pairKey(this.name, peerName))) return false;
    const keyHere = this.units.get(unit)!.loaded.get(here.get('tls-crypt') ?? '');
    const keyThere = peer.units.get(peerUnit)!.loaded.get(there.get('tls-crypt') ?? '');
    const sameKey = here.get('port') === there.get('port') && keyHere !== undefined && keyHere === keyThere;
    if (!sameKey || !this.network.verifiesCertificates) return sameKey;
    const trustHere = this.loadedTrust.get(unit);
    const trustThere = peer.loadedTrust.get(peerUnit);
    return (
      trustHere !== undefined &&
      trustThere !== undefined &&
      trusts(trustHere.ca, trustThere.cert) &&
      trusts(trustThere.ca, trustHere.cert)
    );
  }

  /** The CA bundle and certificate each running tunnel loaded at start (what OpenVPN holds in memory). */
  private readonly loadedTrust = new Map<string, { ca: string; cert: string }>();

  /** The peer transit address each running tunnel's `ifconfig` names → unit. */
  private peerAddresses(): Map<string, string> {
    const result = new Map<string, string>();
    for (const unit of this.units.keys()) {
      const ifconfig = this.loadedConfig(unit)?.get('ifconfig');
      if (ifconfig) result.set(ifconfig.split(' ')[1]!, unit);
    }
    return result;
  }

  // --- the connection ----------------------------------------------------------------------------------------

  exec(argv: string[], opts: ExecOptions = {}): ExecResult {
    // a streamed stdin (status's probes) is answered by the memory connection, which reads the stream first
    const stdin =
      typeof opts.stdin === 'string' || Buffer.isBuffer(opts.stdin)
        ? Buffer.from(opts.stdin).toString('utf8')
        : undefined;
    const record: ExecRecord = {
      argv: [...argv],
      ...(stdin === undefined ? {} : { stdin }),
      privileged: opts.privileged !== false,
    };
    this.log.push(record);
    if (!this.reachable) throw new ConnectError(this.host, `${this.name}: connection lost`);
    for (const fault of this.faults) {
      const answer = fault(record, this);
      if (answer) return answer;
    }
    return this.run(argv, stdin);
  }

  private run(argv: string[], stdin: string | undefined): ExecResult {
    if (argv[0] === 'sh' && argv[1] === '-s') return this.script(stdin ?? '');
    if (argv[0] === 'sh' && argv[1] === '-c') return this.namedScript(argv[2]!, argv[3] ?? '', argv.slice(4));
    if (argv[0] === 'systemctl') return this.systemctl(argv[1]!, argv.slice(2));
    if (argv[0] === 'sysctl' && argv[1] === '-p') {
      const text = this.text(argv[2]!);
      if (text === undefined)
        return failed(255, `sysctl: cannot open "${argv[2]}": No such file or directory`);
      if (/^net\.ipv4\.ip_forward\s*=\s*1\s*$/m.test(text)) this.ipForward = true;
      return ok('net.ipv4.ip_forward = 1\n');
    }
    if (argv[0] === 'dnf' || argv[0] === 'yum') {
      return argv[1] === 'install'
        ? this.install(
            argv.slice(2).filter((a) => !a.startsWith('-')),
            false,
          )
        : failed(1, '');
    }
    if (argv[0] === 'vtysh') return this.vtysh(argv.slice(1));
    return failed(127, `memory gateway ${this.name}: unknown command ${JSON.stringify(argv.slice(0, 3))}`);
  }

  private namedScript(script: string, name: string, args: string[]): ExecResult {
    if (script === PROBE_SCRIPT) return ok(this.probe(args));
    if (script === WAIT_SCRIPT) return this.waitTunnels(args);
    if (script === FETCH_OLD_SCRIPT) {
      const blocks = args.map((path) => {
        const file = this.files.get(path);
        if (!file) return `absent\t${path}\n`;
        return `content\t${path}\n${file.content.toString('base64')}\ncontent-end\n`;
      });
      return ok(`${blocks.join('')}end\n`);
    }
    switch (name) {
      case 'meshctl-install':
        return this.install(args, true);
      case 'meshctl-firewall':
        if (this.files.has(args[0]!)) this.firewall = null;
        return ok();
      case 'meshctl-rmdir':
        return ok();
      default:
        if (script.includes('ip -4 -o addr show')) {
          return ok(
            this.addresses.map((a, i) => `${i + 2}: eth${i}    inet ${a} scope global eth${i}\n`).join(''),
          );
        }
        return failed(
          127,
          `memory gateway ${this.name}: unknown script ${JSON.stringify(name || script.slice(0, 60))}`,
        );
    }
  }

  /**
   * wait-tunnels.sh (`CENTISECONDS INTERVAL COMPLETED -- UNIT ADDRESS …`): nothing here changes while a command
   * runs, so the wait ends at once: `up UNIT` for each tunnel up now (its StatusText says COMPLETED and its peer
   * address answers), then `end` when all are, else `deadline` (the gateway would have waited in vain).
   */
  private waitTunnels(args: string[]): ExecResult {
    if (args.length < 4 || args[3] !== '--' || !/^\d+$/.test(args[0]!) || (args.length - 4) % 2 !== 0) {
      return failed(
        2,
        'meshctl-wait-tunnels: expected CENTISECONDS INTERVAL COMPLETED -- UNIT ADDRESS ...\n',
      );
    }
    const answering = this.peerAddresses();
    const lines: string[] = [];
    let all = true;
    for (let i = 4; i < args.length; i += 2) {
      const [unit, address] = [args[i]!, args[i + 1]!];
      const completed = this.unitProperties(unit).StatusText.includes(args[2]!);
      const pings = answering.get(address) === unit && this.tunnelUp(unit);
      if (completed && pings) lines.push(`up ${unit}`);
      else all = false;
    }
    lines.push(all ? 'end' : 'deadline');
    return ok(`${lines.join('\n')}\n`);
  }

  /**
   * One package-manager run. apt (`apt`): frr-pythontools is a package of its own, and a freshly installed frr
   * is enabled and started on the package's defaults; dnf/yum: frr includes frr-reload.py and is left stopped.
   * A configuration file already there is kept (--force-confold; rpm's noreplace).
   */
  private install(packages: string[], apt: boolean): ExecResult {
    const known = apt ? ['openvpn', 'frr', 'frr-pythontools'] : ['openvpn', 'frr'];
    const unknown = packages.filter((p) => !known.includes(p));
    if (unknown.length > 0 || packages.length === 0) {
      return failed(100, `E: Unable to locate package ${unknown[0] ?? '(none given)'}`);
    }
    const said: string[] = [];
    if (packages.includes('openvpn')) {
      this.openvpnVersion = '2.6.14';
      said.push('Setting up openvpn (2.6.14) ...');
    }
    if (packages.includes('frr-pythontools') && this.frrVersion === null && !packages.includes('frr')) {
      return failed(100, 'E: frr-pythontools depends on frr, which is not going to be installed');
    }
    if (packages.includes('frr') && this.frrVersion === null) {
      this.frrVersion = MEMORY_FRR_VERSION;
      for (const [path, content] of Object.entries(FRR_PACKAGE_FILES)) {
        if (!this.files.has(path))
          this.files.set(path, { content: Buffer.from(content), mode: 0o640, owner: 'frr' });
      }
      if (!apt) this.frrReload = true;
      said.push(`Setting up frr (${MEMORY_FRR_VERSION}) ...`);
      if (apt) {
        this.unit(FRR_UNIT).enabled = true;
        this.start(FRR_UNIT);
      }
    }
    if (packages.includes('frr-pythontools')) {
      this.frrReload = true;
      said.push(`Setting up frr-pythontools (${MEMORY_FRR_VERSION}) ...`);
    }
    return ok(`${said.join('\n')}\n`);
  }

  // --- FRR ---------------------------------------------------------------------------------------------------

  /** A tunnel unit started (or restarted) made its device afresh: zebra sees it, unless told to miss it once. */
  private recreatedDevice(unit: string): void {
    this.nhtStuck.delete(unit);
    const key = `${this.name}|${unit}`;
    const times = this.network.nhtStuckOnStart.get(key) ?? 0;
    if (times === 0) return;
    if (times === 1) this.network.nhtStuckOnStart.delete(key);
    else this.network.nhtStuckOnStart.set(key, times - 1);
    this.nhtStuck.add(unit);
  }

  /** bgpd runs: frr.service is active and the daemons file it started with says bgpd=yes. */
  bgpdRunning(): boolean {
    return this.frrLoaded !== null && this.reachable && /^bgpd=yes$/m.test(this.frrLoaded.daemons);
  }

  /** The frr.conf the running FRR holds, parsed; null while bgpd does not run. */
  private frrConfig(): FrrConfig | null {
    return this.bgpdRunning() ? parseFrrConf(this.frrLoaded!.conf) : null;
  }

  /**
   * FRR's session table, per neighbour address of the running frr.conf. A session is Established when the tunnel
   * that carries it (the running tunnel whose peer transit address is the neighbour) is up, no cut is on the pair
   * (`MemoryNetwork.bgpCut`), and the peer's running bgpd names this end's transit address as a neighbour, each
   * side with the other's AS. pfxRcd: the peer's `network` lines that this end's inbound prefix-list for that
   * neighbour permits (via its route-map; none without one).
   */
  bgpSessions(): Map<string, { state: string; remoteAs: number; pfxRcd: number; prefixes: string[] }> {
    const here = this.frrConfig();
    const sessions = new Map<
      string,
      { state: string; remoteAs: number; pfxRcd: number; prefixes: string[] }
    >();
    if (!here) return sessions;
    const tunnels = this.peerAddresses();
    for (const [address, neighbor] of here.neighbors) {
      const state = { state: 'Active', remoteAs: neighbor.remoteAs, pfxRcd: 0, prefixes: [] as string[] };
      sessions.set(address, state);
      const unit = tunnels.get(address);
      if (!unit || !this.tunnelUp(unit) || this.nhtStuck.has(unit)) continue;
      const peerName = TUNNEL_UNIT.exec(unit)![1]!.slice('mesh-'.length);
      const peer = this.network.byName(peerName)!;
      if (this.network.bgpCut.has(MemoryNetwork.pairKey(this.name, peerName))) continue;
      if (peer.nhtStuck.has(`openvpn-server@mesh-${this.name}.service`)) continue;
      const localAddress = this.loadedConfig(unit)!.get('ifconfig')!.split(' ')[0]!;
      const there = peer.frrConfig();
      const back = there?.neighbors.get(localAddress);
      if (!there || !back || there.asn !== neighbor.remoteAs || back.remoteAs !== here.asn) continue;
      state.state = 'Established';
      // the peer originates its networks: accepted when an entry's prefix-list has it and its as-path list (if
      // any) permits the peer's AS as the origin
      const entries = neighbor.in ? (here.routeMaps.get(neighbor.in) ?? []) : [];
      const accepted = (n: string) =>
        entries.some(
          (e) =>
            e.prefixList !== undefined &&
            (here.prefixLists.get(e.prefixList) ?? []).includes(n) &&
            (e.asPath === undefined || here.asPaths.get(e.asPath) === there.asn),
        );
      state.prefixes = there.networks.filter(accepted);
      state.pfxRcd = state.prefixes.length;
    }
    return sessions;
  }

  /** `vtysh -c 'show bgp ipv4 unicast summary json'`, in FRR's shape: `{routerId, as, peers: {address: …}}`. */
  private vtysh(args: string[]): ExecResult {
    const routes = args.join(' ') === BGP_ROUTES_COMMAND.slice(1).join(' ');
    const neighbors = args.join(' ') === '-c show bgp neighbors json';
    if (!routes && !neighbors && args.join(' ') !== BGP_SUMMARY_COMMAND.slice(1).join(' ')) {
      return failed(127, `memory gateway ${this.name}: vtysh ${JSON.stringify(args)} is not modelled`);
    }
    if (this.units.get(FRR_UNIT)?.active !== 'active') {
      return failed(1, 'Exiting: failed to connect to any daemons.\n');
    }
    if (!this.bgpdRunning()) return failed(1, 'bgpd is not running\n');
    const config = this.frrConfig()!;
    if (config.asn === null) return ok('{}\n');
    if (neighbors) {
      // `show bgp neighbors json`, the fields meshctl reads: state and why the session last went down
      const tunnels = this.peerAddresses();
      const table = Object.fromEntries(
        [...this.bgpSessions()].map(([address, s]) => {
          const unit = tunnels.get(address);
          const stuck = unit !== undefined && this.nhtStuck.has(unit);
          return [address, { bgpState: s.state, ...(stuck ? { lastResetDueTo: 'Waiting for NHT' } : {}) }];
        }),
      );
      return ok(`${JSON.stringify(table, null, 2)}\n`);
    }
    if (routes) {
      // `show bgp ipv4 unicast json`: each prefix accepted from an Established neighbour, one path per neighbour
      // (FRR's shape: the first path received is the best one; its AS path is the neighbour's AS, which
      // originates it)
      const table: Record<string, { valid: boolean; bestpath?: boolean; peerId: string; path: string }[]> =
        {};
      for (const [address, s] of this.bgpSessions()) {
        if (s.state !== 'Established') continue;
        for (const prefix of s.prefixes) {
          const first = table[prefix] === undefined;
          table[prefix] = [
            ...(table[prefix] ?? []),
            { valid: true, ...(first ? { bestpath: true } : {}), peerId: address, path: String(s.remoteAs) },
          ];
        }
      }
      return ok(`${JSON.stringify({ routerId: '0.0.0.0', localAS: config.asn, routes: table }, null, 2)}\n`);
    }
    const peers = Object.fromEntries(
      [...this.bgpSessions()].map(([address, s]) => [
        address,
        {
          remoteAs: s.remoteAs,
          version: 4,
          state: s.state,
          peerState: s.state === 'Established' ? 'OK' : 'Policy',
          pfxRcd: s.pfxRcd,
          pfxSnt: config.networks.length,
        },
      ]),
    );
    return ok(
      `${JSON.stringify({ routerId: '0.0.0.0', as: config.asn, vrfName: 'default', peers }, null, 2)}\n`,
    );
  }

  // --- systemctl -----------------------------------------------------------------------------------------------

  private unitLoaded(unit: string): boolean {
    // meshctl's own units exist once their unit file does; tunnel units come with OpenVPN's template unit
    if (unit.startsWith(OWN_UNIT_PREFIX)) return this.files.has(`${SYSTEMD_DIR}/${unit}`);
    if (unit === FRR_UNIT) return this.frrVersion !== null;
    return isTunnelUnit(unit) && this.openvpnVersion !== null;
  }

  private unit(unit: string): MemoryUnit {
    let state = this.units.get(unit);
    if (!state) {
      state = { enabled: false, active: 'inactive', pid: 0, loaded: new Map() };
      this.units.set(unit, state);
    }
    return state;
  }

  private start(unit: string): string | null {
    if (!this.unitLoaded(unit)) return `Unit ${unit} not found.`;
    const state = this.unit(unit);
    if (state.active === 'active') return null;
    if (unit === FIREWALL_UNIT) {
      this.firewall = this.text(gatewayPaths.iptablesRules)?.split('\n') ?? [];
      if (/^net\.ipv4\.ip_forward\s*=\s*1\s*$/m.test(this.text(gatewayPaths.sysctl) ?? ''))
        this.ipForward = true;
    } else if (isTunnelUnit(unit)) {
      const config = this.text(this.tunnelConfigPath(unit)!);
      if (config === undefined || this.refuses(config)) {
        Object.assign(state, { active: 'failed', pid: 0 });
        return `Job for ${unit} failed because the control process exited with error code.`;
      }
      this.loadedText.set(unit, config);
      const file = (key: string) => {
        const path = new RegExp(`^${key}\\s+(\\S+)`, 'm').exec(config)?.[1];
        return path === undefined ? '' : (this.text(path) ?? '');
      };
      this.loadedTrust.set(unit, { ca: file('ca'), cert: file('cert') });
    } else if (unit === FRR_UNIT) {
      this.frrLoaded = {
        conf: this.text(gatewayPaths.frrConf) ?? '',
        daemons: this.text(gatewayPaths.frrDaemons) ?? '',
      };
    }
    state.loaded = new Map([...this.files].map(([p, f]) => [p, sha256(f.content)]));
    this.startedAt.set(unit, this.now());
    // oneshot units of meshctl's own (firewall, routes) keep no process
    Object.assign(state, {
      active: 'active',
      pid: isTunnelUnit(unit) || unit === FRR_UNIT ? this.nextPid++ : 0,
    });
    return null;
  }

  private stop(unit: string): void {
    const state = this.units.get(unit);
    if (!state) return;
    if (unit === FIREWALL_UNIT && state.active === 'active') this.firewall = null;
    if (unit === FRR_UNIT) this.frrLoaded = null;
    Object.assign(state, { active: 'inactive', pid: 0 });
  }

  private systemctl(verb: string, args: string[]): ExecResult {
    if (verb === 'daemon-reload') {
      this.daemonReloads++;
      this.unitFilesSinceReload.clear();
      this.enabledSinceReload = false;
      return ok();
    }
    if (verb === 'show') return ok(this.show(args));
    const errors: string[] = [];
    // `enable --no-reload`: the symlinks only (the daemon-reload meshctl runs next makes systemd see them)
    const units = verb === 'enable' || verb === 'disable' ? args.filter((a) => a !== '--no-reload') : args;
    if ((verb === 'enable' || verb === 'disable') && args.includes('--no-reload'))
      this.enabledSinceReload = true;
    for (const unit of units) {
      if (verb === 'enable' || verb === 'disable') {
        if (!this.unitLoaded(unit) && verb === 'enable') errors.push(`Unit file ${unit} does not exist.`);
        else this.unit(unit).enabled = verb === 'enable';
      } else if (verb === 'start') {
        const error = this.start(unit);
        this.recreatedDevice(unit);
        if (error) errors.push(error);
      } else if (verb === 'stop') this.stop(unit);
      else if (verb === 'reload' && unit === FRR_UNIT) {
        const error = this.reloadFrr();
        if (error) errors.push(error);
      } else if (verb === 'restart' || verb === 'reload-or-restart') {
        if (
          unit === FIREWALL_UNIT &&
          verb === 'reload-or-restart' &&
          this.units.get(unit)?.active === 'active'
        ) {
          this.firewall = this.text(gatewayPaths.iptablesRules)?.split('\n') ?? [];
          continue;
        }
        this.stop(unit);
        const error = this.start(unit);
        if (error) errors.push(error);
        this.recreatedDevice(unit);
      } else return failed(1, `memory gateway: systemctl ${verb} is not modelled`);
    }
    return errors.length > 0 ? failed(1, `${errors.join('\n')}\n`) : ok();
  }

  /**
   * `systemctl reload frr`: frrinit.sh runs frr-reload.py, which applies the new frr.conf to the running daemons
   * (same PID, sessions kept). Without frr-reload.py the reload fails and FRR keeps what it had loaded.
   */
  private reloadFrr(): string | null {
    const state = this.units.get(FRR_UNIT);
    if (!this.unitLoaded(FRR_UNIT)) return `Unit ${FRR_UNIT} not found.`;
    if (state?.active !== 'active' || !this.frrLoaded)
      return `Unit ${FRR_UNIT} cannot be reloaded because it is inactive.`;
    if (!this.frrReload) {
      return `Job for ${FRR_UNIT} failed because the control process exited with error code.`;
    }
    this.frrLoaded = { ...this.frrLoaded, conf: this.text(gatewayPaths.frrConf) ?? '' };
    this.reloads.push(FRR_UNIT);
    return null;
  }

  /**
   * What systemd shows of `unit`'s own files (see unitFilesSinceReload): its unit file and drop-ins on disk, less
   * those written since the last reload that it does not see, and whether it says it needs a reload.
   */
  private unitFilesShown(unit: string): { fragment: string; dropIns: string[]; needReload: boolean } {
    const own = `${SYSTEMD_DIR}/${unit}`;
    const mine = (path: string) => path === own || posix.dirname(path) === `${own}.d`;
    const written = [...this.unitFilesSinceReload].filter(([path]) => mine(path));
    const active = this.units.get(unit)?.active === 'active';
    const seen = written.length === 0 || (!active && written.every(([, created]) => created));
    const needReload = !seen || (this.reloadNeededAfterEnable && this.enabledSinceReload);
    const visible = (path: string) => this.files.has(path) && (seen || !written.some(([p]) => p === path));
    const template = isTunnelUnit(unit) ? '/lib/systemd/system/openvpn-server@.service' : '';
    const dropIns = [...this.files.keys()]
      .filter(
        (path) =>
          posix.dirname(path) === `${own}.d` && systemdReads(path) && path.endsWith('.conf') && visible(path),
      )
      .sort();
    return { fragment: visible(own) ? own : template, dropIns, needReload };
  }

  private unitProperties(unit: string): Record<string, string> {
    const state = this.units.get(unit);
    const loaded = this.unitLoaded(unit);
    const files = this.unitFilesShown(unit);
    const active = state?.active ?? 'inactive';
    const up = TUNNEL_UNIT.test(unit) && this.tunnelUp(unit);
    return {
      Id: unit,
      LoadState: loaded ? 'loaded' : 'not-found',
      ActiveState: active,
      SubState:
        active === 'active'
          ? isTunnelUnit(unit) || unit === FRR_UNIT
            ? 'running'
            : 'exited'
          : active === 'failed'
            ? 'failed'
            : 'dead',
      UnitFileState: loaded ? (state?.enabled ? 'enabled' : 'disabled') : '',
      NeedDaemonReload: files.needReload ? 'yes' : 'no',
      FragmentPath: loaded ? files.fragment : '',
      DropInPaths: files.dropIns.join(' '),
      MainPID: String(state?.pid ?? 0),
      StatusText:
        active === 'active' && isTunnelUnit(unit)
          ? up
            ? COMPLETED
            : 'Pre-connection initialization successful'
          : '',
    };
  }

  /** `systemctl show -p A -p B UNIT…` (or `--property=A,B`): one block per unit, blank-line separated. */
  private show(args: string[]): string {
    const props: string[] = [];
    const units: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const arg = args[i]!;
      if (arg === '-p') props.push(args[++i]!);
      else if (arg.startsWith('--property=')) props.push(...arg.slice('--property='.length).split(','));
      else if (!arg.startsWith('-')) units.push(arg);
    }
    return units
      .map((unit) => {
        const all = this.unitProperties(unit);
        return `${props.map((p) => `${p}=${all[p] ?? ''}`).join('\n')}\n`;
      })
      .join('\n');
  }

  // --- the probe -----------------------------------------------------------------------------------------------

  /** The probe's output (format 1, see src/facts/probe.sh) from this gateway's data. */
  private probe(args: string[]): string {
    const dashes = args.indexOf('--');
    const asked = dashes >= 0 ? args.slice(dashes + 1) : args;
    const lines: string[] = ['probe\t1'];
    lines.push(`os-release\tID=${this.os.id}`, `os-release\tVERSION_ID="${this.os.versionId}"`);
    if (this.os.idLike.length > 0) lines.push(`os-release\tID_LIKE="${this.os.idLike.join(' ')}"`);
    if (this.os.codename) lines.push(`os-release\tVERSION_CODENAME=${this.os.codename}`);
    if (this.systemd === 'missing') lines.push('systemd-missing');
    else
      lines.push(
        `${this.systemd === 'running' ? 'systemd' : 'systemd-not-booted'}\tsystemd 252 (252.39-1~deb12u1)`,
      );
    if (this.packageManager) lines.push(`package-manager\t${this.packageManager}`);
    lines.push(
      this.openvpnVersion ? `openvpn\tOpenVPN ${this.openvpnVersion} x86_64-pc-linux-gnu` : 'openvpn-missing',
    );
    lines.push(`server-template\t${this.openvpnVersion ? 'yes' : 'no'}`);
    lines.push(this.frrVersion ? `frr\tbgpd version ${this.frrVersion}` : 'frr-missing');
    lines.push(`frr-reload\t${this.frrReload ? 'yes' : 'no'}`);
    if (this.frrVersion) {
      // dpkg's view of the package's conffiles among the paths asked for
      for (const path of asked.filter((p) => p in FRR_PACKAGE_FILES)) {
        const text = this.text(path);
        if (text !== undefined)
          lines.push(`frr-config\t${path}\t${text === FRR_PACKAGE_FILES[path] ? 'pristine' : 'changed'}`);
      }
    }
    const manifestText = this.text(MANIFEST);
    const fromManifest = manifestText ? manifestText.split('"').filter((s) => s.startsWith('/')) : [];
    const configs = [...this.files.keys()].filter((p) =>
      /^\/etc\/openvpn\/server\/mesh-[^/]*\.conf$/.test(p),
    );
    for (const path of [...new Set([...asked, ...fromManifest, ...configs])].sort()) {
      const file = this.files.get(path);
      lines.push(
        file
          ? `file\t${path}\t${sha256(file.content)}\t${file.mode.toString(8)}\t${file.owner}`
          : `file-absent\t${path}`,
      );
    }
    if (manifestText !== undefined) {
      for (const line of manifestText.replace(/\n$/, '').split('\n')) lines.push(`manifest\t${line}`);
      lines.push('manifest-end');
    } else lines.push('manifest-absent');
    const units = new Set<string>([FIREWALL_UNIT, FRR_UNIT]);
    for (const path of [...asked, ...configs]) {
      const tunnel = tunnelUnitOfConfig(path);
      if (tunnel) units.add(tunnel);
    }
    for (const s of manifestText?.split('"') ?? []) if (s.endsWith('.service')) units.add(s);
    for (const unit of this.units.keys()) units.add(unit);
    for (const unit of [...units].sort()) {
      const props = this.unitProperties(unit);
      for (const [key, value] of Object.entries(props)) lines.push(`unit\t${key}=${value}`);
      lines.push('unit-end');
    }
    lines.push(`ip-forward\t${this.ipForward ? 1 : 0}`);
    const rules = this.iptablesRules();
    for (const rule of rules) lines.push(`iptables\t${rule}`);
    lines.push('iptables-read');
    lines.push(...this.preflightRecords(rules));
    lines.push('end');
    return `${lines.join('\n')}\n`;
  }

  /** The probe's pre-flight records: clock, addresses, routes, UDP sockets, sysctl files, FORWARD, rp_filter. */
  private preflightRecords(meshctlRules: string[]): string[] {
    const lines = [`time\t${Math.floor(Date.now() / 1000) + this.clockOffset}`];
    this.addresses.forEach((cidr, i) => {
      lines.push(`addr\t${i + 2}: eth${i}    inet ${cidr} scope global eth${i}\\       valid_lft forever`);
    });
    const routes = ['default via 198.51.100.254 dev eth0'];
    this.addresses.forEach((cidr, i) => {
      const [ip, prefix] = cidr.split('/');
      routes.push(
        `${networkOf(ip!, Number(prefix))}/${prefix} dev eth${i} proto kernel scope link src ${ip}`,
      );
    });
    const sockets = this.udpSockets.map((s) => {
      const users = s.pid > 0 ? ` users:(("${s.name}",pid=${s.pid},fd=3))` : '';
      return `UNCONN 0 0 ${s.address ?? '0.0.0.0'}:${s.port} 0.0.0.0:*${users}`;
    });
    for (const [unit, text] of this.loadedText) {
      const state = this.units.get(unit);
      if (state?.active !== 'active') continue;
      const directive = (key: string) =>
        text.split('\n').flatMap((l) => (l.startsWith(`${key} `) ? [l.slice(key.length + 1).trim()] : []));
      const dev = directive('dev')[0];
      const [local, peer] = (directive('ifconfig')[0] ?? '').split(' ');
      if (dev && peer) routes.push(`${peer} dev ${dev} proto kernel scope link src ${local}`);
      for (const route of directive('route')) {
        const [network, mask] = route.split(' ');
        routes.push(`${network}/${maskBits(mask!)} via ${peer} dev ${dev}`);
      }
      const port = directive('port')[0];
      if (port)
        sockets.push(`UNCONN 0 0 0.0.0.0:${port} 0.0.0.0:* users:(("openvpn",pid=${state.pid},fd=6))`);
    }
    lines.push(...[...routes, ...this.routes].map((r) => `route\t${r}`));
    lines.push('udp-ss\tState Recv-Q Send-Q Local Address:Port Peer Address:PortProcess');
    lines.push(...sockets.map((s) => `udp-ss\t${s}`));
    const sysctl = [...this.files.keys()].filter((p) =>
      /^\/etc\/sysctl\.d\/[^/]+\.conf$|^\/etc\/sysctl\.conf$/.test(p),
    );
    for (const path of sysctl.sort(
      (a, b) => Number(a === '/etc/sysctl.conf') - Number(b === '/etc/sysctl.conf'),
    )) {
      lines.push(`sysctl-file\t${path}`);
      for (const line of this.text(path)!.split('\n')) {
        if (/^\s*-?\s*net[./]ipv4[./](ip_forward|conf[./]all[./]forwarding)\s*=/.test(line))
          lines.push(`sysctl-forward\t${path}\t${line}`);
      }
    }
    lines.push(`forward-chain\t-P FORWARD ${this.forwardPolicy}`);
    for (const rule of this.forwardRulesAhead) lines.push(`forward-chain\t${rule}`);
    for (const rule of meshctlRules.filter((r) => r.startsWith('-A FORWARD ')))
      lines.push(`forward-chain\t${rule}`);
    lines.push(...this.nftChains.map((l) => `nft\t${l}`));
    for (const [iface, value] of Object.entries(this.rpFilter)) lines.push(`rp-filter\t${iface}\t${value}`);
    return lines;
  }

  /** What `iptables -S` shows of meshctl's chains: each chain declared by the loaded rules file, and the jumps. */
  private iptablesRules(): string[] {
    if (!this.firewall) return [];
    const chains = this.firewall.filter((l) => l.startsWith(':')).map((l) => l.slice(1).split(' ')[0]!);
    const rules = chains.map((c) => `-N ${c}`);
    for (const hook of ['INPUT', 'FORWARD']) {
      const chain = chains.find((c) => c.endsWith(`-${hook}`) && !c.includes('-SRC-'));
      if (chain) rules.push(`-A ${hook} -j ${chain}`);
    }
    return [...rules, ...this.firewall.filter((l) => l.startsWith('-A '))];
  }

  // --- status (src/status/status.sh) ----------------------------------------------------------------------------

  /** The gateway's clock, unix seconds. */
  private now(): number {
    return Math.floor(Date.now() / 1000) + this.clockOffset;
  }

  /**
   * Runs a command whose stdin may be a stream. status.sh prints phase 1 (ending `ready`) through `onStdout`
   * first, then reads its stdin to the end, then answers the probes; any other command runs as `exec` does.
   */
  async execStream(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    if (!(argv[0] === 'sh' && argv[1] === '-c' && argv[2] === STATUS_SCRIPT)) return this.exec(argv, opts);
    const record: ExecRecord = { argv: [...argv], privileged: opts.privileged !== false };
    this.log.push(record);
    if (!this.reachable) throw new ConnectError(this.host, `${this.name}: connection lost`);
    for (const fault of this.faults) {
      const answer = fault(record, this);
      if (answer) return answer;
    }
    const args = argv.slice(4);
    const tunnels: { unit: string; config: string; port: string; peerAddress: string }[] = [];
    for (let i = 4; i + 3 < args.length; i += 4) {
      tunnels.push({ unit: args[i]!, config: args[i + 1]!, port: args[i + 2]!, peerAddress: args[i + 3]! });
    }
    if (
      args.length < 4 ||
      args[3] !== '--' ||
      (args.length - 4) % 4 !== 0 ||
      !['0', '1'].includes(args[2]!)
    ) {
      return failed(
        2,
        'meshctl-status: expected PASSWORD_FILE CERT_FILE BGP -- UNIT CONFIG PORT PEER_ADDRESS ...\n',
      );
    }
    const [passwordFile, certFile, bgp] = [args[0]!, args[1]!, args[2] === '1'];
    const mangle = (text: string, phase: 1 | 2) =>
      this.mangleStatus ? this.mangleStatus(text, phase) : text;
    const phase1 = mangle(this.statusPhase1(passwordFile, certFile, bgp, tunnels), 1);
    opts.onStdout?.(Buffer.from(phase1));
    const input = await readAll(opts.stdin);
    record.stdin = input;
    const phase2 = mangle(this.statusPhase2(passwordFile, bgp, tunnels, input), 2);
    opts.onStdout?.(Buffer.from(phase2));
    return ok(phase1 + phase2);
  }

  /** The tun device and transit addresses of a running tunnel, from the config it loaded. */
  private runningTunnel(
    unit: string,
  ): { device: string; local: string; peer: string; config: Map<string, string> } | null {
    const config = this.loadedConfig(unit);
    const [local, peer] = (config?.get('ifconfig') ?? '').split(' ');
    const device = config?.get('dev');
    return config && device && local && peer ? { device, local, peer, config } : null;
  }

  private statusPhase1(
    passwordFile: string,
    certFile: string,
    bgp: boolean,
    tunnels: { unit: string; config: string; port: string; peerAddress: string }[],
  ): string {
    const lines = ['status\t1', `time\t${this.now()}`];
    this.addresses.forEach((cidr, i) => {
      lines.push(`addr\t${i + 2}: eth${i}    inet ${cidr} scope global eth${i}\\       valid_lft forever`);
    });
    let index = this.addresses.length + 2;
    for (const unit of this.units.keys()) {
      const t = this.runningTunnel(unit);
      if (t)
        lines.push(
          `addr\t${index++}: ${t.device}    inet ${t.local} peer ${t.peer}/32 scope global ${t.device}\\`,
        );
    }
    const cert = this.text(certFile);
    if (cert === undefined) lines.push('cert-unreadable');
    else
      lines.push(
        ...cert
          .replace(/\n$/, '')
          .split('\n')
          .map((l) => `cert\t${l}`),
        'cert-end',
      );
    for (const t of tunnels)
      lines.push(`config\t${t.unit}\t${this.files.has(t.config) ? 'present' : 'absent'}`);
    if (tunnels.length > 0) {
      for (const t of tunnels) {
        const props = this.unitProperties(t.unit);
        for (const key of ['Id', 'LoadState', 'ActiveState', 'SubState', 'MainPID', 'StatusText'])
          lines.push(`unit\t${key}=${props[key] ?? ''}`);
        lines.push('unit-end');
      }
    }
    lines.push(...this.management(tunnels, 'first', passwordFile));
    if (bgp)
      lines.push(...framed(this.vtysh(BGP_SUMMARY_COMMAND.slice(1)), 'bgp-summary', 'bgp-unavailable'));
    lines.push('ready');
    return `${lines.join('\n')}\n`;
  }

  private statusPhase2(
    passwordFile: string,
    bgp: boolean,
    tunnels: { unit: string; config: string; port: string; peerAddress: string }[],
    input: string,
  ): string {
    const lines: string[] = [];
    const probes: [string, string, string][] = [];
    for (const line of input.split('\n')) {
      if (line === 'go') break;
      const words = line.split(' ');
      const ipv4 = (w: string | undefined) => /^\d{1,3}(\.\d{1,3}){3}$/.test(w ?? '');
      if (
        words.length === 4 &&
        words[0] === 'probe' &&
        /^[a-z0-9][a-z0-9-]*$/.test(words[1]!) &&
        ipv4(words[2]) &&
        ipv4(words[3])
      ) {
        probes.push([words[1]!, words[2]!, words[3]!]);
      } else if (line !== '') lines.push(`probe-refused\t${line}`);
    }
    for (const [target, source, destination] of probes) {
      const route = this.probeRoute(target, source);
      const ping = route.ok ? 'rtt min/avg/max/mdev = 1.000/1.000/1.000/0.000 ms' : '';
      const received = route.ok ? 3 : 0;
      lines.push(
        `probe\t${target}\t${source}\t${destination}\t${route.ok ? 0 : 1}\t--- ${destination} ping statistics --- | ` +
          `3 packets transmitted, ${received} received, ${route.ok ? 0 : 100}% packet loss${ping ? ` | ${ping}` : ''}`,
      );
      lines.push(
        `route\t${target}\t${source}\t${destination}\t0\t${destination} from ${source} via ` +
          `${route.via ?? '198.51.100.254'} dev ${route.device ?? 'eth0'} uid 0  |     cache`,
      );
    }
    if (bgp && probes.length > 0) {
      lines.push(...framed(this.vtysh(BGP_ROUTES_COMMAND.slice(1)), 'bgp-routes', 'bgp-routes-unavailable'));
    }
    for (const t of tunnels) {
      const answers = this.peerAddresses().get(t.peerAddress) === t.unit && this.tunnelUp(t.unit);
      lines.push(
        `ping\t${t.unit}\t${t.peerAddress}\t${answers ? 0 : 1}\t--- ${t.peerAddress} ping statistics --- | ` +
          `5 packets transmitted, ${answers ? 5 : 0} received, ${answers ? 0 : 100}% packet loss` +
          (answers ? ' | rtt min/avg/max/mdev = 0.500/0.500/0.500/0.000 ms' : ''),
      );
    }
    lines.push(...this.management(tunnels, 'last', passwordFile), 'end');
    return `${lines.join('\n')}\n`;
  }

  /**
   * The management conversations of one round: OpenVPN answers when the unit runs a config with a `management`
   * line on this port whose password file is there. CONNECTED when the tunnel is up (both ends run it with the
   * same pair key), WAIT otherwise; the received-bytes counter grows on each read while it is up.
   */
  private management(
    tunnels: { unit: string; port: string }[],
    round: 'first' | 'last',
    passwordFile: string,
  ): string[] {
    const lines: string[] = [];
    for (const t of tunnels) {
      const running = this.runningTunnel(t.unit);
      const management = running?.config.get('management')?.split(' ');
      const listening = management?.[0] === '127.0.0.1' && management[1] === t.port;
      if (round === 'last' && !(listening && this.files.has(passwordFile))) continue;
      lines.push(`mgmt\t${t.unit}\t${round}\t${(performance.now() / 1000).toFixed(2)}`);
      if (!listening) {
        lines.push(`mgmt-failed\t${t.unit}\t${round}\tnothing listens on 127.0.0.1:${t.port}`);
        continue;
      }
      if (!this.files.has(passwordFile)) {
        lines.push(`mgmt-failed\t${t.unit}\t${round}\tcannot read ${passwordFile}`);
        continue;
      }
      const up = this.tunnelUp(t.unit);
      const received = (this.received.get(t.unit) ?? 0) + (up ? 1200 : 0);
      this.received.set(t.unit, received);
      const say = (text: string) => lines.push(`mgmt-line\t${t.unit}\t${round}\t${text}`);
      say(">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info");
      if (round === 'first') {
        const remote = (running!.config.get('remote') ?? '').split(' ');
        const since = this.startedAt.get(t.unit) ?? this.now();
        say(
          up
            ? `${since},CONNECTED,SUCCESS,${running!.local},${remote[0]},${remote[1]},,`
            : `${since},WAIT,,,,,,`,
        );
        say('END');
      }
      for (const text of [
        'OpenVPN STATISTICS',
        'Updated,2026-12-01 10:00:00',
        `TCP/UDP read bytes,${received}`,
        `TCP/UDP write bytes,${received}`,
        'END',
      ])
        say(text);
      lines.push(`mgmt-end\t${t.unit}\t${round}`);
    }
    return lines;
  }

  /**
   * The route of a LAN probe from this gateway to `target`'s LAN: the tunnel to the target when this gateway runs
   * one, else through a peer (a transit hub) that runs one to the target. It answers when every tunnel on it is
   * up and neither end blocks its LAN (`blockLan`), from one of this gateway's own addresses.
   */
  private probeRoute(
    target: string,
    source: string,
  ): { ok: boolean; device: string | null; via: string | null } {
    const to = this.network.byName(target);
    const own = this.addresses.some((cidr) => cidr.split('/')[0] === source);
    const direct = this.runningTunnel(`openvpn-server@mesh-${target}.service`);
    const lanOk = own && !this.blockLan && to !== undefined && !to.blockLan && to.reachable;
    if (direct) {
      const up = this.tunnelUp(`openvpn-server@mesh-${target}.service`);
      return { ok: lanOk && up, device: direct.device, via: direct.peer };
    }
    for (const unit of this.units.keys()) {
      const hop = this.runningTunnel(unit);
      const hub = TUNNEL_UNIT.exec(unit)?.[1]?.slice('mesh-'.length);
      const hubGateway = hub ? this.network.byName(hub) : undefined;
      if (!hop || !hubGateway?.runningTunnel(`openvpn-server@mesh-${target}.service`)) continue;
      const up = this.tunnelUp(unit) && hubGateway.tunnelUp(`openvpn-server@mesh-${target}.service`);
      return { ok: lanOk && up && !hubGateway.blockLan, device: hop.device, via: hop.peer };
    }
    return { ok: false, device: null, via: null };
  }

  // --- scripts on stdin (src/execute/bundle.ts) ---------------------------------------------------------------

  private script(text: string): ExecResult {
    if (!text.startsWith(SCRIPT_MARKER)) {
      return failed(127, `memory gateway ${this.name}: a script without a meshctl-script marker`);
    }
    const kind = text.slice(SCRIPT_MARKER.length, text.indexOf('\n'));
    const lines = text.split('\n');
    switch (kind) {
      case 'sequence': {
        // `sh -s <<'MESHCTL_SCRIPT_END'` … `MESHCTL_SCRIPT_END`, each run in order until one fails
        let last = ok();
        for (let i = 0; i < lines.length; i++) {
          if (lines[i] !== "sh -s <<'MESHCTL_SCRIPT_END'") continue;
          const end = lines.indexOf('MESHCTL_SCRIPT_END', i + 1);
          last = this.script(`${lines.slice(i + 1, end).join('\n')}\n`);
          if (last.code !== 0) return last;
          i = end;
        }
        return last;
      }
      case 'install':
        return this.installBundle(lines);
      case 'restore': {
        for (const line of lines) {
          const move = /^if \[ -e (.+) \]; then mv -f (.+) (.+) \|\| meshctl_failed=1; fi$/.exec(line);
          if (move) {
            const [prev, target] = [shellWords(move[2]!)[0]!, shellWords(move[3]!)[0]!];
            const file = this.files.get(prev);
            if (file) {
              this.files.set(target, file);
              this.files.delete(prev);
            }
          }
          const remove = /^rm -f (.+) \|\| meshctl_failed=1$/.exec(line);
          if (remove) this.files.delete(shellWords(remove[1]!)[0]!);
        }
        return ok();
      }
      case 'commit':
      case 'remove':
        for (const line of lines.filter((l) => l.startsWith('rm -f '))) {
          for (const path of shellWords(line.slice('rm -f '.length))) {
            if (systemdReads(path) && this.files.has(path)) this.unitFilesSinceReload.set(path, false);
            this.files.delete(path);
          }
        }
        return ok();
      case 'widen-rules': {
        const rulesPath = gatewayPaths.iptablesRules;
        const prev = this.files.get(backupPath(rulesPath));
        if (!prev) return failed(3, '');
        const both = [...this.text(rulesPath)!.split('\n'), ...prev.content.toString('utf8').split('\n')];
        const unique = (pick: (l: string) => boolean) => [...new Set(both.filter(pick))];
        const body = [
          '*filter',
          ...unique((l) => l.startsWith(':')),
          ...unique((l) => l.startsWith('-A') && !l.endsWith(' -j DROP')),
          ...unique((l) => l.startsWith('-A') && l.endsWith(' -j DROP')),
          'COMMIT',
        ];
        const mode = this.files.get(rulesPath)!.mode;
        this.files.set(rulesPath, { content: Buffer.from(`${body.join('\n')}\n`), mode, owner: 'root' });
        return ok();
      }
      default:
        return failed(127, `memory gateway ${this.name}: unknown script kind ${kind}`);
    }
  }

  /** `meshctl_put PATH MODE SIZE <<'MESHCTL_BASE64_END'` … : each file lands whole (its byte count checked). */
  private installBundle(lines: string[]): ExecResult {
    const landed: [string, MemoryFile][] = [];
    for (const line of lines) {
      const clean = /^rm -f (.+)\/\.meshctl-tmp\.\* (.+)\/\.meshctl-prev\.\*$/.exec(line);
      if (clean) {
        const dir = shellWords(clean[1]!)[0]!;
        for (const path of [...this.files.keys()]) {
          if (posix.dirname(path) === dir && posix.basename(path).startsWith('.meshctl-prev.'))
            this.files.delete(path);
        }
      }
    }
    for (let i = 0; i < lines.length; i++) {
      if (!lines[i]!.startsWith('meshctl_put ')) continue;
      const [path, mode, size] = shellWords(
        lines[i]!.slice('meshctl_put '.length).replace(/ <<'MESHCTL_BASE64_END'$/, ''),
      );
      const body: string[] = [];
      for (i++; lines[i] !== 'MESHCTL_BASE64_END'; i++) body.push(lines[i]!);
      const content = Buffer.from(body.join(''), 'base64');
      if (content.length !== Number(size)) {
        return failed(
          1,
          `meshctl: ${path}: received ${content.length} of ${size} bytes (transfer cut short); left unchanged\n`,
        );
      }
      landed.push([path!, { content, mode: Number.parseInt(mode!, 8), owner: 'root' }]);
    }
    for (const [path, file] of landed) {
      const previous = this.files.get(path);
      if (previous) this.files.set(backupPath(path), previous);
      this.files.set(path, file);
      if (systemdReads(path))
        this.unitFilesSinceReload.set(path, !previous && !this.unitFilesSinceReload.has(path));
    }
    return ok('meshctl-bundle-ok\n');
  }
}

/** The gateways of one test, reachable by ssh_host; `connector` is what the commands take as `deps.connector`. */
const trustCache = new Map<string, boolean>();

/** Whether a CA of the PEM bundle `ca` issued and signed the PEM certificate `cert`. */
function trusts(ca: string, cert: string): boolean {
  const key = sha256(Buffer.from(`${ca}\0${cert}`));
  const known = trustCache.get(key);
  if (known !== undefined) return known;
  let result = false;
  try {
    const leaf = new X509Certificate(cert);
    const blocks = ca.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    result = blocks.some((pem) => {
      const issuer = new X509Certificate(pem);
      return leaf.checkIssued(issuer) && leaf.verify(issuer.publicKey);
    });
  } catch {
    result = false;
  }
  trustCache.set(key, result);
  return result;
}

export class MemoryNetwork {
  readonly gateways = new Map<string, MemoryGateway>();
  /** Pairs (`a|b`, names sorted) whose traffic is dropped: their tunnel never comes up. */
  readonly cut = new Set<string>();
  /** Pairs whose BGP session never comes up although their tunnel is up (TCP 179 dropped between them). */
  readonly bgpCut = new Set<string>();
  /**
   * `gateway|unit` → n: the next n starts or restarts of that tunnel unit there each leave its BGP session waiting
   * on next-hop tracking until the unit is started again (`MemoryGateway.nhtStuck`).
   */
  readonly nhtStuckOnStart = new Map<string, number>();
  /**
   * Whether a tunnel also needs each end to trust the other's certificate: its loaded `ca` bundle must hold a CA
   * that signed the peer's loaded `cert` (node's X509 checks: issuer and signature). Off by default: most tests
   * do not change certificates, and it parses them on every check.
   */
  verifiesCertificates = false;
  /** Connections opened, by gateway name, for assertions. */
  readonly connections: string[] = [];

  static pairKey(a: string, b: string): string {
    return [a, b].sort().join('|');
  }

  add(name: string, host: string): MemoryGateway {
    const gateway = new MemoryGateway(name, host, this);
    this.gateways.set(host, gateway);
    return gateway;
  }

  byName(name: string): MemoryGateway | undefined {
    return [...this.gateways.values()].find((g) => g.name === name);
  }

  get(name: string): MemoryGateway {
    const gateway = this.byName(name);
    if (!gateway) throw new Error(`no memory gateway ${name}`);
    return gateway;
  }

  readonly connector: Connector = async (opts: ConnectOptions): Promise<Connection> => {
    const gateway = this.gateways.get(opts.host);
    if (!gateway?.reachable || gateway.sshDown)
      throw new ConnectError(opts.host, `${opts.name} (${opts.host}): connection refused`);
    this.connections.push(gateway.name);
    return {
      name: opts.name,
      host: opts.host,
      exec: async (argv, execOpts) => gateway.execStream(argv, execOpts),
      close: async () => {},
    };
  };
}
