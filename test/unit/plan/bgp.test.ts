import assert from 'node:assert/strict';
import { unknownNetwork } from '../../../src/facts/network.js';
import type { Facts, UnitFact } from '../../../src/facts/types.js';
import { FRR_UNIT, gatewayPaths } from '../../../src/gateway/layout.js';
import { allocateMesh } from '../../../src/mesh/allocate.js';
import { describeAction } from '../../../src/plan/actions.js';
import { HostPlanError } from '../../../src/plan/errors.js';
import { planHosts } from '../../../src/plan/plan.js';
import type { Action, HostPlan, InstallPackageAction, VerifyBgpAction } from '../../../src/plan/types.js';
import { renderMesh } from '../../../src/render/render.js';
import { loadRoles } from '../../../src/render/roles.js';
import type { DesiredState } from '../../../src/types.js';
import { sha256 } from '../../helpers/hash.js';
import { buildInventory, type LanSpec } from '../../helpers/inventory.js';
import { fixturePki } from '../render/fixture.js';

/**
 * Planning a `routing: bgp` gateway (SPEC §3, §7): FRR installed when missing (one package-manager run), refused
 * when too old or when its configuration is someone else's, frr.conf reloaded in place, a restart only for
 * `daemons`, and the BGP sessions to verify afterwards. Desired states come from the real renderer; facts are
 * written out as the probe would report them.
 */

const A = { name: 'a', id: 1 };
const B = { name: 'b', id: 2 };
const C = { name: 'c', id: 3 };
const D = { name: 'd', id: 4 };

function render(lans: LanSpec[]): Map<string, DesiredState> {
  const mesh = allocateMesh(buildInventory(lans, { routing: 'bgp' }));
  return renderMesh(mesh, fixturePki(mesh), loadRoles(), { version: '0.1.0-test' });
}

const THREE = render([A, B, C]);

const running = (pid: number, sub = 'running'): UnitFact => ({
  load: 'loaded',
  active: 'active',
  sub,
  enabled: 'enabled',
  mainPid: pid,
  statusText: sub === 'running' ? 'Initialization Sequence Completed' : '',
});

/** What the probe reports on a gateway where `state` was applied: files, manifest, units, FRR 8.4.4. */
function converged(state: DesiredState): Facts {
  const facts: Facts = {
    os: { id: 'debian', idLike: [], versionId: '12', codename: 'bookworm', family: 'debian' },
    systemd: { state: 'running', version: 252 },
    packageManager: 'apt-get',
    openvpnVersion: '2.6.14',
    hasServerTemplate: true,
    // meshctl's frr.conf and daemons are not what the package shipped
    frr: {
      version: '8.4.4',
      reload: true,
      config: { [gatewayPaths.frrConf]: 'changed', [gatewayPaths.frrDaemons]: 'changed' },
    },
    files: {},
    units: {},
    manifest: structuredClone(state.manifest),
    ipForward: true,
    firewall: { readable: true, chains: true, jumps: true },
    network: unknownNetwork(),
    warnings: [],
  };
  for (const f of state.files)
    facts.files[f.path] = { sha256: sha256(f.content), mode: f.mode, owner: 'root' };
  state.units.forEach((u, i) => {
    facts.units[u.name] = u.tunnel
      ? running(1000 + i)
      : u.name === FRR_UNIT
        ? running(900)
        : running(0, 'exited');
  });
  return facts;
}

/** The same gateway before meshctl came: OpenVPN installed, no meshctl file, no FRR. */
function withoutMeshctl(state: DesiredState): Facts {
  const facts = converged(state);
  for (const path of Object.keys(facts.files)) facts.files[path] = null;
  facts.files[state.manifestPath] = null;
  facts.manifest = null;
  facts.units = {
    'meshctl-firewall.service': {
      ...running(0),
      load: 'not-found',
      active: 'inactive',
      sub: 'dead',
      enabled: '',
    },
  };
  facts.frr = { version: null, reload: false, config: {} };
  facts.firewall = { readable: true, chains: false, jumps: false };
  facts.ipForward = false;
  return facts;
}

/** Plans every gateway of `desired` with the facts given (a converged gateway for any not given). */
function plan(
  desired: Map<string, DesiredState>,
  facts: Record<string, Facts> = {},
): Map<string, HostPlan | HostPlanError> {
  const all = new Map([...desired].map(([name, state]) => [name, facts[name] ?? converged(state)]));
  return planHosts(desired, all, { limit: [...desired.keys()] });
}

function planOf(plans: Map<string, HostPlan | HostPlanError>, name: string): HostPlan {
  const result = plans.get(name);
  assert.ok(
    result && !(result instanceof HostPlanError),
    `${name}: ${(result as Error | undefined)?.message}`,
  );
  return result;
}

function refusalOf(plans: Map<string, HostPlan | HostPlanError>, name: string): HostPlanError {
  const result = plans.get(name);
  assert.ok(result instanceof HostPlanError, `${name} is refused`);
  return result;
}

const lines = (p: HostPlan) => p.actions.map(describeAction);
const ofKind = <K extends Action['kind']>(p: HostPlan, kind: K) =>
  p.actions.filter((a): a is Extract<Action, { kind: K }> => a.kind === kind);
const verifyBgp = (p: HostPlan): VerifyBgpAction | undefined => ofKind(p, 'verify-bgp')[0];

describe('plan: routing bgp', () => {
  it('a bgp gateway without FRR: one FRR install (frr + frr-pythontools with apt-get), FRR restarted on meshctl’s config, every session verified', () => {
    const a = THREE.get('a')!;
    const p = planOf(plan(THREE, { a: withoutMeshctl(a) }), 'a');
    const installs = ofKind(p, 'install-package');
    assert.equal(installs.length, 1, 'OpenVPN is there: only FRR');
    assert.deepEqual(
      { package: installs[0]!.package, packages: installs[0]!.packages, manager: installs[0]!.manager },
      { package: 'frr', packages: ['frr', 'frr-pythontools'], manager: 'apt-get' },
    );
    assert.match(installs[0]!.reason, /routing: bgp needs FRR, which is not installed/);
    assert.ok(lines(p).includes('enable-unit frr.service'));
    const restart = p.actions.find((x) => x.kind === 'restart-unit' && x.unit === FRR_UNIT);
    assert.ok(restart, 'the package starts FRR on its defaults: restarted on meshctl’s');
    assert.match(restart.reason, /installed by this run/);
    assert.ok(!lines(p).includes('reload-frr frr.service'));
    assert.deepEqual(verifyBgp(p)?.neighbors, [
      { peer: 'b', address: '172.19.0.6', expects: ['10.2.0.0/16'] },
      { peer: 'c', address: '172.19.0.10', expects: ['10.3.0.0/16'] },
    ]);
    assert.equal(lines(p).at(-2), 'verify-bgp frr.service', 'after the tunnels, before the manifest');
    assert.ok(
      lines(p).indexOf('verify-tunnel openvpn-server@mesh-c.service') <
        lines(p).indexOf('verify-bgp frr.service'),
    );
    assert.equal(p.system.frr, null);

    // a gateway without OpenVPN either: both packages, each its own action (converge runs them as one command)
    const bare = withoutMeshctl(a);
    bare.openvpnVersion = null;
    const both = ofKind(planOf(plan(THREE, { a: bare }), 'a'), 'install-package');
    assert.deepEqual(
      both.map((i: InstallPackageAction) => [i.package, i.packages]),
      [
        ['openvpn', ['openvpn']],
        ['frr', ['frr', 'frr-pythontools']],
      ],
    );
    // dnf has FRR's reload tool in the frr package itself
    const rhel = withoutMeshctl(a);
    rhel.packageManager = 'dnf';
    rhel.os = {
      id: 'rocky',
      idLike: ['rhel', 'centos', 'fedora'],
      versionId: '9',
      codename: '',
      family: 'rhel',
    };
    assert.deepEqual(ofKind(planOf(plan(THREE, { a: rhel }), 'a'), 'install-package')[0]?.packages, ['frr']);
  });

  it('FRR installed without frr-reload: frr-pythontools installed, and a changed frr.conf is still reloaded in place', () => {
    const a = THREE.get('a')!;
    const facts = converged(a);
    facts.frr.reload = false;
    facts.files[gatewayPaths.frrConf] = {
      sha256: sha256('! an older meshctl frr.conf\n'),
      mode: 0o644,
      owner: 'root',
    };
    const p = planOf(plan(THREE, { a: facts }), 'a');
    const installs = ofKind(p, 'install-package');
    assert.deepEqual(
      installs.map((i) => [i.package, i.packages, i.manager]),
      [['frr', ['frr-pythontools'], 'apt-get']],
    );
    assert.match(installs[0]!.reason, /FRR 8\.4\.4 is installed without frr-reload\.py/);
    assert.ok(lines(p).includes('reload-frr frr.service'));
    assert.ok(!lines(p).includes('restart-unit frr.service'));

    // where nothing can install it (dnf: no frr-pythontools), a change restarts FRR, and a note says so
    facts.packageManager = 'dnf';
    const rhel = planOf(plan(THREE, { a: facts }), 'a');
    assert.equal(ofKind(rhel, 'install-package').length, 0);
    assert.ok(lines(rhel).includes('restart-unit frr.service'));
    assert.ok(!lines(rhel).includes('reload-frr frr.service'));
    assert.ok(rhel.notes.some((n) => n.includes('has no /usr/lib/frr/frr-reload.py')));
  });

  it('refuses an FRR older than 7.5 (old-frr), accepts 7.5', () => {
    const a = THREE.get('a')!;
    const old = converged(a);
    old.frr.version = '7.4';
    const refused = refusalOf(plan(THREE, { a: old }), 'a');
    assert.equal(refused.kind, 'old-frr');
    assert.match(
      refused.message,
      /FRR 7\.4 is installed, but meshctl's frr\.conf needs 7\.5 or later.*Fix: upgrade FRR/,
    );
    const ok = converged(a);
    ok.frr.version = '7.5';
    assert.deepEqual(lines(planOf(plan(THREE, { a: ok }), 'a')), []);
    // the other gateways are planned as usual
    assert.ok(planOf(plan(THREE, { a: old }), 'b'));
  });

  it('someone else’s frr.conf (not in the manifest, changed since the package) is refused, naming the path', () => {
    const a = THREE.get('a')!;
    const foreign = withoutMeshctl(a);
    foreign.frr = {
      version: '8.4.4',
      reload: true,
      config: { [gatewayPaths.frrConf]: 'changed', [gatewayPaths.frrDaemons]: 'pristine' },
    };
    foreign.files[gatewayPaths.frrConf] = { sha256: sha256('router bgp 65000\n'), mode: 0o640, owner: 'frr' };
    foreign.files[gatewayPaths.frrDaemons] = { sha256: sha256('bgpd=no\n'), mode: 0o640, owner: 'frr' };
    const refused = refusalOf(plan(THREE, { a: foreign }), 'a');
    assert.equal(refused.kind, 'foreign-frr-config');
    assert.match(refused.message, /\/etc\/frr\/frr\.conf is neither FRR's package default nor meshctl's/);
    assert.ok(
      refused.message.includes('`mv /etc/frr/frr.conf /etc/frr/frr.conf.before-meshctl`'),
      refused.message,
    );
    assert.doesNotMatch(refused.message, /daemons/, 'the pristine daemons file is not blamed');

    // the package's defaults: taken over (written over, FRR restarted for the new daemons)
    const pristine = structuredClone(foreign);
    pristine.frr.config[gatewayPaths.frrConf] = 'pristine';
    const taken = planOf(plan(THREE, { a: pristine }), 'a');
    assert.ok(lines(taken).includes('write-file /etc/frr/frr.conf (update)'));
    assert.ok(lines(taken).includes('write-file /etc/frr/daemons (update)'));
    assert.ok(lines(taken).includes('restart-unit frr.service'));

    // meshctl's own (its manifest lists it), even when dpkg says it changed: an ordinary update
    const owned = converged(a);
    owned.files[gatewayPaths.frrConf] = {
      sha256: sha256('! an older meshctl frr.conf\n'),
      mode: 0o644,
      owner: 'root',
    };
    assert.ok(
      lines(planOf(plan(THREE, { a: owned }), 'a')).includes('write-file /etc/frr/frr.conf (update)'),
    );

    // not in the manifest but already meshctl's content (a run that stopped before its manifest): accepted
    const interrupted = converged(a);
    interrupted.manifest = null;
    assert.ok(planOf(plan(THREE, { a: interrupted }), 'a'));

    // someone else's daemons file is refused as well
    const daemons = structuredClone(pristine);
    daemons.frr.config[gatewayPaths.frrDaemons] = 'changed';
    const both = refusalOf(plan(THREE, { a: daemons }), 'a');
    assert.match(both.message, /\/etc\/frr\/daemons is neither/);
  });

  it('a new LAN on a converged gateway: frr.conf reloaded in place (no FRR restart), the new tunnel started, every session verified', () => {
    const four = render([A, B, C, D]);
    const facts = Object.fromEntries([...THREE].map(([name, state]) => [name, converged(state)]));
    const plans = plan(four, { ...facts, d: withoutMeshctl(four.get('d')!) });
    const a = planOf(plans, 'a');
    assert.deepEqual(
      lines(a).filter((l) => !l.startsWith('write-file ')),
      [
        'daemon-reload systemd',
        'reload-firewall meshctl-firewall.service',
        'reload-frr frr.service',
        'enable-unit openvpn-server@mesh-d.service',
        'start-unit openvpn-server@mesh-d.service',
        'verify-tunnel openvpn-server@mesh-d.service',
        'verify-bgp frr.service',
        'write-manifest /etc/meshctl/manifest.json',
      ],
    );
    assert.ok(lines(a).includes('write-file /etc/frr/frr.conf (update)'));
    assert.ok(!lines(a).some((l) => l.startsWith('write-file /etc/frr/daemons')), 'which daemons run stays');
    assert.ok(!a.actions.some((x) => x.kind === 'restart-unit'), 'no restart: not FRR, not a tunnel');
    assert.match(
      ofKind(a, 'reload-frr')[0]!.reason,
      /\/etc\/frr\/frr\.conf changed: load it in place \(frr-reload\), without restarting bgpd/,
    );
    // a reload may touch every session, so all of them are verified, the new one included
    assert.deepEqual(
      verifyBgp(a)?.neighbors.map((n) => n.peer),
      ['b', 'c', 'd'],
    );
    assert.deepEqual(verifyBgp(a)?.neighbors.at(-1), {
      peer: 'd',
      address: '172.19.0.18',
      expects: ['10.4.0.0/16'],
    });
    // the new gateway installs FRR and starts it on meshctl's configuration
    const d = planOf(plans, 'd');
    assert.ok(lines(d).includes('install-package frr'));
    assert.ok(lines(d).includes('restart-unit frr.service'));
    assert.deepEqual(
      verifyBgp(d)?.neighbors.map((n) => n.peer),
      ['a', 'b', 'c'],
    );
  });

  it('a changed daemons file restarts FRR (no reload), even with frr.conf changed too', () => {
    const a = THREE.get('a')!;
    const facts = converged(a);
    facts.files[gatewayPaths.frrDaemons] = { sha256: sha256('bgpd=no\n'), mode: 0o644, owner: 'root' };
    const p = planOf(plan(THREE, { a: facts }), 'a');
    const restart = p.actions.find((x) => x.kind === 'restart-unit' && x.unit === FRR_UNIT);
    assert.ok(restart);
    assert.match(
      restart.reason,
      /\/etc\/frr\/daemons changed: the daemons FRR runs change, which takes a restart/,
    );
    assert.ok(!lines(p).includes('reload-frr frr.service'));
    assert.deepEqual(
      verifyBgp(p)?.neighbors.map((n) => n.peer),
      ['b', 'c'],
    );

    facts.files[gatewayPaths.frrConf] = { sha256: sha256('! older\n'), mode: 0o644, owner: 'root' };
    const both = planOf(plan(THREE, { a: facts }), 'a');
    assert.ok(lines(both).includes('restart-unit frr.service'));
    assert.ok(!lines(both).includes('reload-frr frr.service'), 'the restart loads frr.conf too');
  });

  it('FRR stopped: started (not restarted); a tunnel restart alone verifies only that session', () => {
    const a = THREE.get('a')!;
    const stopped = converged(a);
    stopped.units[FRR_UNIT] = { ...running(0), active: 'inactive', sub: 'dead' };
    const p = planOf(plan(THREE, { a: stopped }), 'a');
    assert.deepEqual(
      p.actions
        .filter((x) => x.kind.endsWith('-unit') && 'unit' in x && x.unit === FRR_UNIT)
        .map(describeAction),
      ['start-unit frr.service'],
    );
    assert.deepEqual(
      verifyBgp(p)?.neighbors.map((n) => n.peer),
      ['b', 'c'],
    );

    // a's config of the tunnel to c differs: that tunnel restarts at both ends, FRR is untouched
    const drift = converged(a);
    drift.files[gatewayPaths.tunnelConfig('mesh-c')] = {
      sha256: sha256('# older\n'),
      mode: 0o644,
      owner: 'root',
    };
    const plans = plan(THREE, { a: drift });
    const here = planOf(plans, 'a');
    assert.ok(lines(here).includes('restart-unit openvpn-server@mesh-c.service'));
    assert.ok(!here.actions.some((x) => 'unit' in x && x.unit === FRR_UNIT && x.kind !== 'verify-bgp'));
    assert.deepEqual(verifyBgp(here)?.neighbors, [
      { peer: 'c', address: '172.19.0.10', expects: ['10.3.0.0/16'] },
    ]);
    assert.deepEqual(
      verifyBgp(planOf(plans, 'c'))?.neighbors.map((n) => n.peer),
      ['a'],
    );
    assert.equal(verifyBgp(planOf(plans, 'b')), undefined, 'b is not touched');
  });

  it('a converged bgp gateway: nothing to do, and the no-ops say why', () => {
    const plans = plan(THREE);
    for (const name of THREE.keys()) {
      const p = planOf(plans, name);
      assert.deepEqual(lines(p), [], name);
      assert.ok(
        p.noops.some((n) => n.subject === FRR_UNIT && n.reason === 'frr running, no config change'),
        name,
      );
      assert.ok(
        p.noops.some((n) => n.subject === 'frr' && n.reason === 'FRR 8.4.4 already installed'),
        name,
      );
      assert.equal(p.system.frr, '8.4.4');
    }
  });
});
