import { unknownNetwork } from '../../../src/facts/network.js';
import { osFamily } from '../../../src/facts/os.js';
import type { Facts, FileFact, UnitFact } from '../../../src/facts/types.js';
import { pairIndex, pairTransit } from '../../../src/mesh/allocate.js';
import type { DesiredFile, DesiredState, DesiredUnit, Manifest } from '../../../src/types.js';
import { sha256 } from '../../helpers/hash.js';
import { buildLan } from '../../helpers/inventory.js';

/**
 * Builds the two inputs of planHosts from a plan fixture's compact description (test/fixtures/plan/*.json):
 *
 *   desired: { mesh, lans: { name: id }, content?: { "lan:/path" | "*:/path": text } }
 *     → a DesiredState per LAN laid out as render lays it out (SPEC §3): tunnel configs, their unit drop-ins,
 *       keys, sysctl, firewall files and unit, with modes, secret flags and `notifies`.
 *   facts: { lan: { base: "converged" | "fresh", …overrides } }
 *     converged: what an earlier apply left: the layout of `desired` (or the `lans`/`mesh`/`content` given here,
 *     to model an older inventory) without desired's content overrides — so a `content` override in desired is
 *     a change the gateway does not have yet; fresh: a Debian 12 machine without OpenVPN or any meshctl file.
 */

export interface DesiredSpec {
  mesh: string;
  lans: Record<string, number>;
  content?: Record<string, string>;
}

export interface FactsSpec {
  base: 'converged' | 'fresh';
  /** converged against another mesh layout (an older inventory). */
  lans?: Record<string, number>;
  mesh?: string;
  /** converged with other content (as in DesiredSpec.content). */
  content?: Record<string, string>;
  os?: { id: string; idLike?: string[]; versionId?: string };
  packageManager?: Facts['packageManager'];
  openvpn?: string | null;
  /** systemd on the gateway (default: running, version 252). */
  systemd?: Facts['systemd'];
  /** null: absent; content: different content; mode ("0640") / owner: metadata drift. */
  files?: Record<string, null | { content?: string; mode?: string; owner?: string }>;
  units?: Record<string, null | Partial<UnitFact>>;
  /** null: no manifest; "corrupt": the probe found an unusable one. */
  manifest?: null | 'corrupt';
  /** Extra entries in the converged manifest (a hand edit, another tool, a bug); its files exist on disk. */
  manifestAlso?: { files?: string[]; units?: string[] };
  ipForward?: boolean | null;
  firewall?: Partial<Facts['firewall']>;
  /** Pre-flight facts (addresses, routes, sockets, clock…); unknown (every check skipped) unless given. */
  network?: Partial<Facts['network']>;
}

export const MESHCTL_VERSION = '0.1.0';
const FIREWALL_UNIT = 'meshctl-firewall.service';
const KEYS = '/etc/openvpn/server/meshctl';

/** A fake PEM whose body is deterministic and unlike any other text in a plan. */
export function fakePem(label: string, seed: string): string {
  let body = '';
  for (let i = 0; body.length < 192; i++) body += sha256(`${seed}#${i}`, 'base64');
  const lines = body.slice(0, 192).match(/.{1,64}/g)!;
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function buildState(
  mesh: string,
  lans: Record<string, number>,
  self: string,
  content: Record<string, string>,
): DesiredState {
  const id = lans[self]!;
  const peers = Object.entries(lans)
    .filter(([name]) => name !== self)
    .sort((a, b) => a[1] - b[1]);
  const tunnelUnits = peers.map(([peer]) => `openvpn-server@mesh-${peer}.service`);
  const text = (path: string, fallback: string) =>
    content[`${self}:${path}`] ?? content[`*:${path}`] ?? fallback;
  const file = (
    path: string,
    body: string,
    mode: number,
    notifies: string[],
    secret = false,
  ): DesiredFile => ({
    path,
    content: text(path, body),
    mode,
    owner: 'root',
    secret,
    notifies,
  });

  const files: DesiredFile[] = [];
  const units: DesiredUnit[] = [];
  for (const [peer, peerId] of peers) {
    const k = pairIndex(id, peerId);
    const transit = pairTransit('172.19.0.0/16', k);
    const [local, remote] = id < peerId ? [transit.low, transit.high] : [transit.high, transit.low];
    const unit = `openvpn-server@mesh-${peer}.service`;
    files.push(
      file(
        `/etc/openvpn/server/mesh-${peer}.conf`,
        `# managed by meshctl\n# mesh ${mesh}: tunnel ${self} <-> ${peer}, pair ${k}\ndev mtun${k}\n` +
          `remote 198.51.100.${peerId} ${11000 + k}\nifconfig ${local} ${remote}\nroute 10.${peerId}.0.0 255.255.0.0\n` +
          `tls-crypt ${KEYS}/pair-${k}.key\n`,
        0o644,
        [unit],
      ),
      file(`${KEYS}/pair-${k}.key`, fakePem('OpenVPN Static key V1', `pair-${k}`), 0o600, [unit], true),
      // ordering only: a daemon-reload applies it, the tunnel does not restart
      file(
        `/etc/systemd/system/${unit}.d/meshctl.conf`,
        `# managed by meshctl\n[Unit]\nAfter=${FIREWALL_UNIT}\nBindsTo=${FIREWALL_UNIT}\n`,
        0o644,
        [],
      ),
    );
    units.push({
      name: unit,
      enabled: true,
      running: true,
      tunnel: { pairIndex: k, peer, peerAddress: remote },
    });
  }
  files.push(
    file(`${KEYS}/ca.crt`, fakePem('CERTIFICATE', `${mesh}-ca`), 0o644, tunnelUnits),
    file(`${KEYS}/crl.pem`, fakePem('X509 CRL', `${mesh}-crl`), 0o644, []),
    file(`${KEYS}/${self}.crt`, fakePem('CERTIFICATE', `${self}-cert`), 0o644, tunnelUnits),
    file(`${KEYS}/${self}.key`, fakePem('PRIVATE KEY', `${self}-key`), 0o600, tunnelUnits, true),
    file('/etc/sysctl.d/99-meshctl.conf', '# managed by meshctl\nnet.ipv4.ip_forward = 1\n', 0o644, [
      FIREWALL_UNIT,
    ]),
    file(
      '/etc/meshctl/iptables.rules',
      `# managed by meshctl\n# peers: ${peers.map(([peer]) => peer).join(' ')}\n*filter\n:MESHCTL-INPUT - [0:0]\nCOMMIT\n`,
      0o644,
      [FIREWALL_UNIT],
    ),
    file('/etc/meshctl/firewall.sh', '#!/bin/sh\n# managed by meshctl\n', 0o755, [FIREWALL_UNIT]),
    file('/etc/systemd/system/meshctl-firewall.service', '# managed by meshctl\n[Unit]\n', 0o644, [
      FIREWALL_UNIT,
    ]),
  );
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  units.push({ name: FIREWALL_UNIT, enabled: true, running: true });
  const manifest: Manifest = {
    mesh,
    version: MESHCTL_VERSION,
    lan: self,
    files: Object.fromEntries(files.map((f) => [f.path, sha256(f.content)])),
    units: units.map((u) => u.name).sort(),
  };
  return {
    gateway: buildLan({ name: self, id }).gateways[0]!,
    files,
    units,
    manifest,
    manifestPath: '/etc/meshctl/manifest.json',
    firewall: { chainPrefix: 'MESHCTL' },
  };
}

export function buildDesired(spec: DesiredSpec): Map<string, DesiredState> {
  const states = new Map<string, DesiredState>();
  const names = Object.keys(spec.lans).sort((a, b) => spec.lans[a]! - spec.lans[b]!);
  for (const name of names) states.set(name, buildState(spec.mesh, spec.lans, name, spec.content ?? {}));
  return states;
}

const running = (pid: number): UnitFact => ({
  load: 'loaded',
  active: 'active',
  sub: 'running',
  enabled: 'enabled',
  mainPid: pid,
  statusText: 'Initialization Sequence Completed',
});

export function buildFacts(lan: string, spec: FactsSpec, desired: DesiredSpec): Facts {
  const facts: Facts = {
    os: { id: 'debian', idLike: [], versionId: '12', codename: 'bookworm', family: 'debian' },
    systemd: { state: 'running', version: 252 },
    packageManager: 'apt-get',
    openvpnVersion: null,
    hasServerTemplate: false,
    frr: { version: null, reload: false, config: {} },
    files: {},
    units: {},
    manifest: null,
    ipForward: false,
    firewall: { readable: true, chains: false, jumps: false },
    network: { ...unknownNetwork(), ...spec.network },
    warnings: [],
  };
  const layout = {
    ...desired,
    ...(spec.lans ? { lans: spec.lans } : {}),
    ...(spec.mesh ? { mesh: spec.mesh } : {}),
  };
  const base = buildState(layout.mesh, layout.lans, lan, spec.content ?? {});
  if (spec.base === 'converged') {
    facts.openvpnVersion = '2.6.14';
    facts.hasServerTemplate = true;
    for (const file of base.files) {
      facts.files[file.path] = { sha256: sha256(file.content), mode: file.mode, owner: 'root' };
    }
    base.units.forEach((unit, i) => {
      facts.units[unit.name] = unit.tunnel
        ? running(1200 + i)
        : { ...running(0), sub: 'exited', statusText: '' };
    });
    facts.manifest = base.manifest;
    facts.ipForward = true;
    facts.firewall = { readable: true, chains: true, jumps: true };
  } else {
    // a fresh gateway: the probe was asked about every desired path and found none
    for (const file of buildState(desired.mesh, desired.lans, lan, {}).files) facts.files[file.path] = null;
    facts.units[FIREWALL_UNIT] = {
      load: 'not-found',
      active: 'inactive',
      sub: 'dead',
      enabled: '',
      mainPid: 0,
      statusText: '',
    };
  }
  if (spec.os) {
    const idLike = spec.os.idLike ?? [];
    facts.os = {
      id: spec.os.id,
      idLike,
      versionId: spec.os.versionId ?? '',
      codename: '',
      family: osFamily(spec.os.id, idLike),
    };
  }
  if (spec.systemd !== undefined) facts.systemd = spec.systemd;
  if (spec.packageManager !== undefined) facts.packageManager = spec.packageManager;
  if (spec.openvpn !== undefined) facts.openvpnVersion = spec.openvpn;
  for (const [path, override] of Object.entries(spec.files ?? {})) {
    if (override === null) {
      facts.files[path] = null;
      continue;
    }
    const current: FileFact = facts.files[path] ?? { sha256: '', mode: 0o644, owner: 'root' };
    facts.files[path] = {
      sha256: override.content !== undefined ? sha256(override.content) : current.sha256,
      mode: override.mode !== undefined ? Number.parseInt(override.mode, 8) : current.mode,
      owner: override.owner ?? current.owner,
    };
  }
  for (const [unit, override] of Object.entries(spec.units ?? {})) {
    if (override === null) delete facts.units[unit];
    else facts.units[unit] = { ...(facts.units[unit] ?? running(0)), ...override };
  }
  if (spec.manifestAlso && facts.manifest) {
    const extra = '# not rendered by meshctl\n';
    for (const path of spec.manifestAlso.files ?? []) {
      facts.manifest.files[path] = sha256(extra);
      facts.files[path] = { sha256: sha256(extra), mode: 0o644, owner: 'root' };
    }
    facts.manifest.units.push(...(spec.manifestAlso.units ?? []));
  }
  if (spec.manifest === null) facts.manifest = null;
  if (spec.manifest === 'corrupt') {
    facts.manifest = null;
    facts.warnings.push('/etc/meshctl/manifest.json is unusable: it is not valid JSON');
  }
  if (spec.ipForward !== undefined) facts.ipForward = spec.ipForward;
  if (spec.firewall) facts.firewall = { ...facts.firewall, ...spec.firewall };
  return facts;
}
