import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { FRR_UNIT, gatewayPaths, ROUTES_UNIT } from '../../../src/gateway/layout.js';
import { allocateMesh } from '../../../src/mesh/allocate.js';
import { renderGateway, renderMesh } from '../../../src/render/render.js';
import { loadRoles, type Roles } from '../../../src/render/roles.js';
import { compareSubnets } from '../../../src/topology/topology.js';
import type { DesiredState } from '../../../src/types.js';
import { buildInventory, type LanSpec } from '../../helpers/inventory.js';
import { bgpFixtureMesh, fixturePki } from './fixture.js';

/**
 * `routing: bgp` in render (SPEC §3, §7): FRR's frr.conf and daemons per gateway, tunnel configs without `route`
 * lines, no routes script, the address-based firewall (loaded for real by iptables-restore in a network namespace
 * of the test's own), loose rp_filter. Expected values are written out for the fixture's gateways: hq (a core
 * with a leaf), eu-a (one AZ of a LAN, backing up the other) and shop (the leaf).
 */

const roles = loadRoles();
const mesh = bgpFixtureMesh();
const states = renderMesh(mesh, fixturePki(mesh), roles, { version: '0.1.0-test' });
const staticMesh = bgpFixtureMesh('static');
const staticStates = renderMesh(staticMesh, fixturePki(staticMesh), roles, { version: '0.1.0-test' });

const ASN = (id: number) => 4210000000 + id;

function text(state: DesiredState, path: string): string {
  const found = state.files.find((f) => f.path === path);
  assert.ok(found, `${state.gateway.name}: ${path} is not rendered`);
  return found.content;
}

function frrConf(gateway: string, from = states): string[] {
  return text(from.get(gateway)!, gatewayPaths.frrConf).split('\n');
}

/** `ip prefix-list NAME seq N permit P` lines: NAME → prefixes, checking the sequence numbers run 5, 10, … */
function prefixLists(conf: string[]): Record<string, string[]> {
  const lists: Record<string, string[]> = {};
  for (const line of conf.filter((l) => l.startsWith('ip prefix-list '))) {
    const match = /^ip prefix-list (\S+) seq (\d+) permit (\d+\.\d+\.\d+\.\d+\/\d+)$/.exec(line);
    assert.ok(match, `an exact permit of one prefix, nothing else (no le/ge, no deny): ${line}`);
    const [, name, seq, prefix] = match;
    const list = lists[name!] ?? [];
    lists[name!] = list;
    list.push(prefix!);
    assert.equal(Number(seq), 5 * list.length, line);
  }
  return lists;
}

interface Neighbor {
  remoteAs?: number;
  description?: string;
  bfd?: boolean;
  in?: string;
  out?: string;
  maxPrefix?: number;
  activate?: boolean;
}

/** The `neighbor ADDRESS …` lines of `router bgp`, by address. */
function neighbors(conf: string[]): Record<string, Neighbor> {
  const result: Record<string, Neighbor> = {};
  for (const line of conf) {
    const match = /^ {1,2}neighbor (\S+) (.+)$/.exec(line);
    if (!match) continue;
    const n: Neighbor = result[match[1]!] ?? {};
    result[match[1]!] = n;
    const words = match[2]!.split(' ');
    if (words[0] === 'remote-as') n.remoteAs = Number(words[1]);
    else if (words[0] === 'description') n.description = words[1]!;
    else if (words[0] === 'bfd') n.bfd = true;
    else if (words[0] === 'activate') n.activate = true;
    else if (words[0] === 'maximum-prefix') {
      // a ceiling with a restart after a minute: never the exact count (a reload that shrinks the set must not
      // tear the session down while the old prefixes are still counted)
      assert.deepEqual(words.slice(2), ['restart', '1'], line);
      n.maxPrefix = Number(words[1]);
    } else if (words[0] === 'route-map' && words[2] === 'in') n.in = words[1]!;
    else if (words[0] === 'route-map' && words[2] === 'out') n.out = words[1]!;
  }
  return result;
}

/** The route-maps that match exactly one prefix-list, of the same name. */
/** route-map → its permit entries in order: the prefix-list and the as-path list each one matches. */
function routeMaps(conf: string[]): Record<string, { prefixList: string; asPath?: string }[]> {
  const maps: Record<string, { prefixList: string; asPath?: string }[]> = {};
  conf.forEach((line, i) => {
    const match = /^route-map (\S+) permit (\d+)$/.exec(line);
    const list = /^ match ip address prefix-list (\S+)$/.exec(conf[i + 1] ?? '');
    if (!match || !list) return;
    const path = /^ match as-path (\S+)$/.exec(conf[i + 2] ?? '');
    const entries = maps[match[1]!] ?? [];
    maps[match[1]!] = entries;
    assert.equal(Number(match[2]), 10 * (entries.length + 1), line);
    entries.push({ prefixList: list[1]!, ...(path ? { asPath: path[1]! } : {}) });
  });
  return maps;
}

/** as-path list → the origin AS it permits (`permit _ASN$`, the only form meshctl writes). */
function asPathLists(conf: string[]): Record<string, number> {
  const lists: Record<string, number> = {};
  for (const line of conf.filter((l) => l.startsWith('bgp as-path access-list '))) {
    const match = /^bgp as-path access-list (\S+) permit _(\d+)\$$/.exec(line);
    assert.ok(match, `one origin AS per list: ${line}`);
    lists[match[1]!] = Number(match[2]);
  }
  return lists;
}

/** What a route-map accepts: the union of its entries' prefix-lists, sorted as render sorts subnets. */
function acceptedBy(conf: string[], map: string): string[] {
  const lists = prefixLists(conf);
  const all = (routeMaps(conf)[map] ?? []).flatMap((e) => lists[e.prefixList] ?? []);
  return [...new Set(all)].sort(compareSubnets);
}

const HQ_REMOTE = ['10.2.0.0/16', '10.5.0.0/20', '10.5.16.0/20', '10.7.0.0/16', '192.168.20.0/24'];

describe('render: routing bgp, FRR configuration', () => {
  it('frr.conf of a core gateway: its AS and router id, one eBGP session with BFD per tunnel, the peer’s AS', () => {
    const conf = frrConf('hq');
    assert.ok(conf.includes('router bgp 4210000001'), 'asn_base + the gateway id');
    assert.ok(conf.includes(' bgp router-id 0.0.0.1'));
    assert.equal(conf.filter((l) => l.startsWith('router bgp ')).length, 1);
    const n = neighbors(conf);
    // hq is the lower id of each of its pairs: peers hold the pair's second address (dc: pair 1, eu-a: 7,
    // eu-b: 11, shop: 16)
    assert.deepEqual(n, {
      '172.19.0.6': {
        remoteAs: ASN(2),
        description: 'mesh-dc',
        bfd: true,
        in: 'MESHCTL-IN-MESH',
        out: 'MESHCTL-OUT',
        maxPrefix: 2 * 5 + 16,
      },
      '172.19.0.30': {
        remoteAs: ASN(5),
        description: 'mesh-eu-a',
        bfd: true,
        in: 'MESHCTL-IN-MESH',
        out: 'MESHCTL-OUT',
        maxPrefix: 2 * 5 + 16,
      },
      '172.19.0.46': {
        remoteAs: ASN(6),
        description: 'mesh-eu-b',
        bfd: true,
        in: 'MESHCTL-IN-MESH',
        out: 'MESHCTL-OUT',
        maxPrefix: 2 * 5 + 16,
      },
      '172.19.0.66': {
        remoteAs: ASN(7),
        description: 'mesh-shop',
        bfd: true,
        in: 'MESHCTL-IN-shop',
        out: 'MESHCTL-OUT',
        maxPrefix: 2 * 1 + 16,
      },
    });
    // the same sessions, seen from the leaf: its higher id takes the second address of each pair
    assert.deepEqual(
      Object.entries(neighbors(frrConf('shop'))).map(([address, x]) => [
        address,
        x.remoteAs,
        x.in,
        x.maxPrefix,
      ]),
      [
        ['172.19.0.65', ASN(1), 'MESHCTL-IN-MESH', 2 * 5 + 16],
        ['172.19.0.69', ASN(2), 'MESHCTL-IN-MESH', 2 * 5 + 16],
      ],
    );
    // every gateway: exactly one session per tunnel
    for (const [name, state] of states) {
      const tunnels = mesh.tunnels.get(name)!;
      assert.deepEqual(
        Object.keys(neighbors(text(state, gatewayPaths.frrConf).split('\n'))).sort(),
        tunnels.map((t) => t.peerAddress).sort(),
        name,
      );
    }
  });

  it('BFD peers with the timers of mesh.yml (bgp.bfd), one per session, from this end’s transit address', () => {
    const conf = frrConf('eu-a');
    // the block runs from `bfd` to the first top-level `!` (FRR 7.5's frr-reload misreads top-level `exit`)
    const start = conf.indexOf('bfd');
    const end = conf.indexOf('!', start);
    assert.ok(start >= 0 && end > start, 'a bfd block');
    const block = conf.slice(start, end).filter((l) => l.trim() !== '!');
    assert.deepEqual(block, [
      'bfd',
      ' peer 172.19.0.29 local-address 172.19.0.30',
      '  detect-multiplier 4',
      '  receive-interval 200',
      '  transmit-interval 200',
      '  no shutdown',
      ' peer 172.19.0.33 local-address 172.19.0.34',
      '  detect-multiplier 4',
      '  receive-interval 200',
      '  transmit-interval 200',
      '  no shutdown',
    ]);
    assert.ok(!conf.some((l) => l.trim() === 'exit'), 'no exit line anywhere');
  });

  it('inbound filters: exact prefix-lists, a shared MESHCTL-IN-MESH, one per leaf, max-prefix a ceiling above the accepted count', () => {
    const hq = frrConf('hq');
    const lists = prefixLists(hq);
    // one prefix-list per gateway that may originate what hq accepts: that gateway's own (and backup) subnets
    assert.deepEqual(lists, {
      'MESHCTL-FROM-dc': ['10.2.0.0/16', '192.168.20.0/24'],
      'MESHCTL-FROM-eu-a': ['10.5.0.0/20', '10.5.16.0/20'],
      'MESHCTL-FROM-eu-b': ['10.5.16.0/20'],
      'MESHCTL-FROM-shop': ['10.7.0.0/16'],
      'MESHCTL-OUT': ['10.1.0.0/16', ...HQ_REMOTE],
    });
    // each entry: that gateway's subnets, with that gateway's AS as the origin of the path (a peer may carry
    // another LAN's subnet, never originate it)
    const origins = asPathLists(hq);
    for (const [name, entries] of Object.entries(routeMaps(hq))) {
      if (name === 'MESHCTL-OUT') continue;
      for (const e of entries) {
        assert.equal(e.asPath, e.prefixList, `${name}: the as-path list of the same gateway`);
        const gateway = e.prefixList.slice('MESHCTL-FROM-'.length);
        const id = mesh.inventory.gateways.find((g) => g.name === gateway)!.id;
        assert.equal(origins[e.asPath!], ASN(id), `${name}: ${gateway}'s AS is the origin`);
      }
    }
    assert.deepEqual(acceptedBy(hq, 'MESHCTL-IN-MESH'), HQ_REMOTE);
    assert.deepEqual(acceptedBy(hq, 'MESHCTL-IN-shop'), ['10.7.0.0/16']);
    assert.ok(!hq.some((l) => /\b(le|ge) \d+/.test(l)), 'no more-specifics');
    assert.ok(!hq.some((l) => l.includes('0.0.0.0/0')), 'no default route');
    // on every gateway each session's maximum-prefix leaves room above the list its route-map matches
    for (const [name, state] of states) {
      const conf = text(state, gatewayPaths.frrConf).split('\n');
      const policy = mesh.bgp!.get(name)!;
      for (const t of mesh.tunnels.get(name)!) {
        const n = neighbors(conf)[t.peerAddress]!;
        const accepted = acceptedBy(conf, n.in!);
        assert.deepEqual(accepted, policy.accepts.get(t.peer.name), `${name} from ${t.peer.name}`);
        assert.equal(n.maxPrefix, 2 * accepted.length + 16, `${name} from ${t.peer.name}`);
      }
    }
    // an AZ never takes its own LAN's subnets from the mesh
    assert.deepEqual(acceptedBy(frrConf('eu-b'), 'MESHCTL-IN-MESH'), [
      '10.1.0.0/16',
      '10.2.0.0/16',
      '10.7.0.0/16',
      '192.168.20.0/24',
    ]);
  });

  it('originates its own subnets; a backup subnet goes through MESHCTL-BACKUP with the prepend count of the role', () => {
    const networks = (conf: string[]) => conf.filter((l) => l.startsWith('  network '));
    assert.deepEqual(networks(frrConf('hq')), ['  network 10.1.0.0/16']);
    assert.deepEqual(networks(frrConf('dc')), ['  network 10.2.0.0/16', '  network 192.168.20.0/24']);
    assert.deepEqual(networks(frrConf('eu-a')), [
      '  network 10.5.0.0/20',
      '  network 10.5.16.0/20 route-map MESHCTL-BACKUP',
    ]);
    assert.deepEqual(networks(frrConf('eu-b')), ['  network 10.5.16.0/20']);
    const prepend = roles.roles.get('frr')!.defaults.backup_prepend;
    assert.equal(prepend, 3, 'roles/frr/defaults.yml');
    const euA = frrConf('eu-a');
    const backup = euA.indexOf('route-map MESHCTL-BACKUP permit 10');
    assert.equal(euA[backup + 1], ` set as-path prepend ${Array(3).fill(ASN(5)).join(' ')}`);
    // the count comes from the role: an operator's override changes it
    const five = withFrrDefault('backup_prepend', 5);
    const overridden = renderGateway(mesh, 'eu-a', fixturePki(mesh), five, { version: 'x' });
    assert.match(
      text(overridden, gatewayPaths.frrConf),
      new RegExp(`^ set as-path prepend( ${ASN(5)}){5}$`, 'm'),
    );
  });

  it('a blackhole route for every remote subnet (never its own), at the role’s distance', () => {
    assert.equal(roles.roles.get('frr')!.defaults.blackhole_distance, 250, 'roles/frr/defaults.yml');
    for (const [name, state] of states) {
      const conf = text(state, gatewayPaths.frrConf).split('\n');
      assert.deepEqual(
        conf.filter((l) => l.startsWith('ip route ')),
        mesh.bgp!.get(name)!.remote.map((s) => `ip route ${s} blackhole 250`),
        name,
      );
    }
    assert.deepEqual(
      frrConf('hq').filter((l) => l.startsWith('ip route ')),
      HQ_REMOTE.map((s) => `ip route ${s} blackhole 250`),
    );
  });

  it('a leaf announces only its own subnets; a core announces what it originates and every remote subnet', () => {
    assert.deepEqual(prefixLists(frrConf('shop'))['MESHCTL-OUT'], ['10.7.0.0/16']);
    assert.deepEqual(prefixLists(frrConf('eu-a'))['MESHCTL-OUT'], [
      '10.5.0.0/20',
      '10.5.16.0/20',
      '10.1.0.0/16',
      '10.2.0.0/16',
      '10.7.0.0/16',
      '192.168.20.0/24',
    ]);
    for (const n of Object.values(neighbors(frrConf('shop')))) assert.equal(n.out, 'MESHCTL-OUT');
  });

  it('daemons runs bgpd, bfdd and staticd and nothing else FRR offers', () => {
    for (const [name, state] of states) {
      const lines = text(state, gatewayPaths.frrDaemons).split('\n');
      const on = lines.filter((l) => /^[a-z0-9]+d=yes$/.test(l));
      assert.deepEqual(on.sort(), ['bfdd=yes', 'bgpd=yes', 'staticd=yes'], name);
      for (const off of ['ospfd=no', 'ripd=no', 'isisd=no', 'ldpd=no'])
        assert.ok(lines.includes(off), `${name}: ${off}`);
    }
  });

  it('the FRR files notify frr.service, which is a unit of every bgp gateway and of no static one', () => {
    for (const [name, state] of states) {
      for (const path of [gatewayPaths.frrConf, gatewayPaths.frrDaemons]) {
        assert.deepEqual(state.files.find((f) => f.path === path)?.notifies, [FRR_UNIT], `${name} ${path}`);
        assert.ok(state.manifest.files[path], `${name}: ${path} in the manifest`);
      }
      assert.deepEqual(
        state.units.find((u) => u.name === FRR_UNIT),
        { name: FRR_UNIT, enabled: true, running: true },
      );
      assert.ok(state.manifest.units.includes(FRR_UNIT));
      assert.deepEqual(
        state.bgp?.neighbors.map((n) => n.peer),
        mesh.tunnels.get(name)!.map((t) => t.peer.name),
      );
    }
    assert.deepEqual(states.get('hq')!.bgp?.asn, ASN(1));
    assert.deepEqual(
      states.get('hq')!.bgp?.neighbors.find((n) => n.peer === 'eu-a'),
      { peer: 'eu-a', address: '172.19.0.30', asn: ASN(5), expects: ['10.5.0.0/20', '10.5.16.0/20'] },
    );
    for (const [name, state] of staticStates) {
      assert.equal(
        state.units.find((u) => u.name === FRR_UNIT),
        undefined,
        name,
      );
      assert.ok(!state.files.some((f) => f.path.startsWith('/etc/frr/')), name);
      assert.equal(state.bgp, undefined);
    }
  });
});

describe('render: routing bgp, tunnels and routes', () => {
  it('tunnel configs have no route line with bgp, and still have them with static routing', () => {
    for (const [name, state] of states) {
      for (const t of mesh.tunnels.get(name)!) {
        const conf = text(state, gatewayPaths.tunnelConfig(t.name));
        assert.doesNotMatch(conf, /^route /m, `${name} → ${t.peer.name}`);
        assert.match(conf, /routes to other LANs come from BGP/);
      }
    }
    const hqToDc = text(staticStates.get('hq')!, gatewayPaths.tunnelConfig('mesh-dc'));
    assert.match(hqToDc, /^route 10\.2\.0\.0 255\.255\.0\.0$/m);
    assert.match(hqToDc, /^route 192\.168\.20\.0 255\.255\.255\.0$/m);
    assert.doesNotMatch(hqToDc, /come from BGP/);
  });

  it('no routes script or routes unit with bgp, even where static routing needs them (a leaf)', () => {
    // the same LANs with static routing: shop reaches eu through hq or dc, a route outside the tunnel configs
    const shopStatic = staticStates.get('shop')!;
    assert.ok(
      shopStatic.files.some((f) => f.path === gatewayPaths.routesScript),
      'static: routes.sh',
    );
    assert.ok(shopStatic.units.some((u) => u.name === ROUTES_UNIT));
    for (const [name, state] of states) {
      const paths = state.files.map((f) => f.path);
      assert.ok(!paths.includes(gatewayPaths.routesScript), `${name}: no routes.sh`);
      assert.ok(!paths.includes(gatewayPaths.routesUnit), `${name}: no routes unit`);
      assert.ok(!state.units.some((u) => u.name === ROUTES_UNIT), name);
      for (const t of mesh.tunnels.get(name)!) {
        assert.doesNotMatch(text(state, gatewayPaths.tunnelDropIn(t.name)), /routes\.sh/, `${name} drop-in`);
      }
    }
  });

  it('loose rp_filter (2) in the sysctl file with bgp only', () => {
    for (const [name, state] of states) {
      const sysctl = text(state, gatewayPaths.sysctl);
      assert.match(sysctl, /^net\.ipv4\.ip_forward = 1$/m);
      assert.match(sysctl, /^net\.ipv4\.conf\.all\.rp_filter = 2$/m, name);
      assert.match(sysctl, /^net\.ipv4\.conf\.default\.rp_filter = 2$/m, name);
    }
    for (const [name, state] of staticStates)
      assert.doesNotMatch(text(state, gatewayPaths.sysctl), /rp_filter/, name);
  });
});

/** The rules file's `-A` lines and declared chains. */
function ruleLines(state: DesiredState): { chains: string[]; rules: string[] } {
  const lines = text(state, gatewayPaths.iptablesRules).split('\n');
  return {
    chains: lines.filter((l) => l.startsWith(':')).map((l) => l.slice(1).split(' ')[0]!),
    rules: lines.filter((l) => l.startsWith('-A ')),
  };
}

/**
 * Loads `rules` with iptables-restore --noflush (as firewall.sh does) in a network namespace of this test's own,
 * and returns `iptables -S` there; undefined when this machine offers no namespace with iptables.
 */
function loadForReal(rules: string): { listed: string[] } | { unavailable: string } {
  try {
    // root: a plain network namespace; otherwise one inside a user namespace (unshare -r), where the kernel's
    // socket limits stop nf_tables batches of a few thousand rules ("Message too long")
    const namespace = process.getuid?.() === 0 ? ['-n'] : ['-rn'];
    const listed = execFileSync(
      'unshare',
      [
        ...namespace,
        'sh',
        '-c',
        'PATH=/usr/sbin:/sbin:$PATH; iptables-restore -w --noflush && iptables -w -S',
      ],
      { input: rules, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] },
    );
    return { listed: listed.split('\n').filter((l) => l !== '') };
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    const said = e.stderr?.trim() || e.message;
    // iptables-restore rejecting the file is a failure of the test, not a missing tool
    if (
      /iptables-restore/.test(said) &&
      /line \d+ failed|Error occurred/.test(said) &&
      !/Message too long/.test(said)
    )
      throw error;
    return { unavailable: said };
  }
}

function skipWithBanner(context: Mocha.Context, why: string): void {
  console.warn(
    `\n${'!'.repeat(78)}\n!! SKIPPED: ${context.test?.title}\n!! no network namespace with iptables here: ${why}\n${'!'.repeat(78)}`,
  );
  context.skip();
}

describe('render: routing bgp, firewall', () => {
  it('the rules of every gateway load in iptables-restore, chain for chain and rule for rule', function () {
    for (const [name, state] of states) {
      const result = loadForReal(text(state, gatewayPaths.iptablesRules));
      if ('unavailable' in result) return skipWithBanner(this, result.unavailable);
      const { chains, rules } = ruleLines(state);
      assert.deepEqual(
        result.listed
          .filter((l) => l.startsWith('-N '))
          .map((l) => l.slice(3))
          .sort(),
        [...chains].sort(),
        `${name}: the chains declared`,
      );
      assert.equal(
        result.listed.filter((l) => l.startsWith('-A MESHCTL-')).length,
        rules.length,
        `${name}: every rule loaded`,
      );
      assert.ok(!result.listed.some((l) => /^-P \S+ DROP/.test(l)), 'no policy touched');
    }
  });

  it('source checks by address: a core’s tunnel admits every mesh subnet but the own LAN, a leaf’s only its own', () => {
    const hq = ruleLines(states.get('hq')!).rules;
    // dc: pair 1 (mtun1); shop: pair 16 (mtun16)
    assert.deepEqual(
      hq.filter((l) => l.startsWith('-A MESHCTL-SRC-mtun1 ')),
      [
        '-A MESHCTL-SRC-mtun1 -s 172.19.0.6/32 -j RETURN',
        '-A MESHCTL-SRC-mtun1 -s 10.1.0.0/16 -j DROP',
        '-A MESHCTL-SRC-mtun1 -j MESHCTL-MESHSRC',
      ],
    );
    assert.deepEqual(
      hq.filter((l) => l.startsWith('-A MESHCTL-SRC-mtun16 ')),
      [
        '-A MESHCTL-SRC-mtun16 -s 172.19.0.66/32 -j RETURN',
        '-A MESHCTL-SRC-mtun16 -s 10.7.0.0/16 -j RETURN',
        '-A MESHCTL-SRC-mtun16 -j DROP',
      ],
    );
    assert.deepEqual(
      hq.filter((l) => l.startsWith('-A MESHCTL-MESHSRC ')),
      [...HQ_REMOTE.map((s) => `-A MESHCTL-MESHSRC -s ${s} -j RETURN`), '-A MESHCTL-MESHSRC -j DROP'],
    );
    // an AZ's gateway drops the whole LAN's subnets (its own and the other AZ's) coming from the mesh
    const euA = ruleLines(states.get('eu-a')!).rules;
    assert.deepEqual(
      euA.filter((l) => l.startsWith('-A MESHCTL-SRC-mtun7 ') && l.endsWith('-j DROP')),
      ['-A MESHCTL-SRC-mtun7 -s 10.5.0.0/20 -j DROP', '-A MESHCTL-SRC-mtun7 -s 10.5.16.0/20 -j DROP'],
    );
    // BGP and BFD over each tunnel only, from the peer's transit address to this end's
    assert.ok(
      hq.includes('-A MESHCTL-INPUT -i mtun1 -p tcp -s 172.19.0.6/32 -d 172.19.0.5/32 --dport 179 -j ACCEPT'),
    );
    assert.ok(
      hq.includes(
        '-A MESHCTL-INPUT -i mtun1 -p udp -s 172.19.0.6/32 -d 172.19.0.5/32 --dport 3784 -j ACCEPT',
      ),
    );
  });

  it('a leaf forwards no transit; a core does, to remote mesh subnets only', () => {
    const shop = ruleLines(states.get('shop')!);
    assert.ok(!shop.chains.includes('MESHCTL-TRANSIT'));
    assert.ok(!shop.rules.some((l) => l.includes('TRANSIT')));
    const hq = ruleLines(states.get('hq')!);
    assert.deepEqual(
      hq.rules.filter((l) => l.startsWith('-A MESHCTL-TRANSIT ')),
      HQ_REMOTE.map((s) => `-A MESHCTL-TRANSIT -d ${s} -j ACCEPT`),
    );
    assert.equal(
      hq.rules.filter((l) => l.endsWith('-o mtun+ -j MESHCTL-TRANSIT')).length,
      4,
      'one per tunnel',
    );
  });

  it('a 60-LAN full mesh: rules grow with tunnels and subnets, not their product, and still load', function () {
    const lans: LanSpec[] = [];
    for (let id = 1; id <= 60; id++) {
      lans.push({
        name: `l${id}`,
        id,
        subnets: [`10.${id}.0.0/16`, `172.16.${id}.0/24`, `192.168.${id}.0/24`],
      });
    }
    const big = allocateMesh(buildInventory(lans, { routing: 'bgp' }));
    const pki = fixturePki(big);
    const tunnels = 59;
    const subnets = 60 * 3;
    for (const name of ['l1', 'l30', 'l60']) {
      const state = renderGateway(big, name, pki, roles, { version: 'x' });
      const { rules } = ruleLines(state);
      assert.ok(rules.length < 20 * tunnels + 10 * subnets, `${name}: ${rules.length} rules`);
      assert.ok(rules.length < (tunnels * subnets) / 4, `${name}: not tunnels × subnets`);
      // each remote subnet once in the source check, once towards the mesh and once as transit
      assert.equal(rules.filter((l) => l.startsWith('-A MESHCTL-MESHSRC ')).length, subnets - 3 + 1);
      if (name === 'l1') {
        const result = loadForReal(text(state, gatewayPaths.iptablesRules));
        if ('unavailable' in result) return skipWithBanner(this, result.unavailable);
        assert.equal(result.listed.filter((l) => l.startsWith('-A MESHCTL-')).length, rules.length);
      }
    }
  });
});

/** The shipped roles with one default of the frr role changed, as an operator's roles directory would give. */
function withFrrDefault(key: string, value: unknown): Roles {
  const copy = new Map(roles.roles);
  const frr = copy.get('frr')!;
  copy.set('frr', { ...frr, defaults: { ...frr.defaults, [key]: value } });
  return { dir: '/srv/meshctl-roles', roles: copy };
}
