import assert from 'node:assert/strict';
import { RoleError } from '../../../src/errors.js';
import { parseFacts } from '../../../src/facts/parse.js';
import { probeCommand } from '../../../src/facts/probe.js';
import { describeAction } from '../../../src/plan/actions.js';
import { HostPlanError } from '../../../src/plan/errors.js';
import { planHosts } from '../../../src/plan/plan.js';
import type { HostPlan } from '../../../src/plan/types.js';
import { manifestText, renderMesh, sha256 } from '../../../src/render/render.js';
import { loadRoles, type Roles } from '../../../src/render/roles.js';
import type { DesiredState } from '../../../src/types.js';
import { fixtureMesh, fixturePki } from '../render/fixture.js';

/**
 * An operator who overrides `chain_prefix` in roles/firewall/defaults.yml gets chains with that prefix on every
 * gateway; the probe must look for those chains and the planner must find them, or every apply reloads the
 * firewall and diff never exits 0.
 */

/** The shipped roles with one firewall default changed, as a copied roles directory would give. */
function rolesWithPrefix(prefix: unknown): Roles {
  const shipped = loadRoles();
  const roles = new Map(shipped.roles);
  const firewall = roles.get('firewall')!;
  roles.set('firewall', { ...firewall, defaults: { ...firewall.defaults, chain_prefix: prefix } });
  return { dir: '/srv/meshctl-roles', roles };
}

/** `iptables -S` after firewall.sh loaded `rules` (an iptables-restore file) and added its two jumps. */
function loadedRules(rules: string, prefix: string): string[] {
  const lines = rules.split('\n');
  return [
    ...lines.filter((line) => line.startsWith(':')).map((line) => `-N ${line.slice(1).split(' ')[0]}`),
    `-A INPUT -j ${prefix}-INPUT`,
    `-A FORWARD -j ${prefix}-FORWARD`,
    ...lines.filter((line) => line.startsWith('-A ')),
  ];
}

/** What probe.sh prints on a gateway where `state` was applied and the firewall loaded with `prefix`. */
function convergedProbeOutput(state: DesiredState, prefix: string): string {
  const rules = state.files.find((f) => f.path.endsWith('/iptables.rules'))!.content;
  const record = (...fields: string[]) => fields.join('\t');
  const units = state.units.flatMap((unit, i) => [
    record('unit', `Id=${unit.name}`),
    record('unit', 'LoadState=loaded'),
    record('unit', 'ActiveState=active'),
    record('unit', `SubState=${unit.tunnel ? 'running' : 'exited'}`),
    record('unit', 'UnitFileState=enabled'),
    record('unit', `MainPID=${unit.tunnel ? 700 + i : 0}`),
    record('unit', 'StatusText='),
    'unit-end',
  ]);
  const manifest = manifestText(state.manifest);
  return [
    record('probe', '1'),
    record('os-release', 'ID=debian'),
    record('os-release', 'VERSION_ID="12"'),
    record('package-manager', 'apt-get'),
    record('openvpn', 'OpenVPN 2.6.14 x86_64-pc-linux-gnu'),
    record('server-template', 'yes'),
    ...state.files.map((f) => record('file', f.path, sha256(f.content), f.mode.toString(8), 'root')),
    record('file', state.manifestPath, sha256(manifest), '644', 'root'),
    ...manifest
      .trimEnd()
      .split('\n')
      .map((line) => record('manifest', line)),
    'manifest-end',
    ...units,
    record('ip-forward', '1'),
    ...loadedRules(rules, prefix).map((rule) => record('iptables', rule)),
    'iptables-read',
    'end',
    '',
  ].join('\n');
}

function planAll(states: Map<string, DesiredState>, probedPrefix: string): Map<string, HostPlan> {
  const facts = new Map(
    [...states].map(([lan, state]) => [
      lan,
      parseFacts(convergedProbeOutput(state, probedPrefix), lan, state.firewall),
    ]),
  );
  const plans = planHosts(states, facts, { limit: [...states.keys()] });
  return new Map(
    [...plans].map(([lan, plan]) => {
      assert.ok(!(plan instanceof HostPlanError), `${lan}: ${(plan as Error).message}`);
      return [lan, plan];
    }),
  );
}

describe('plan: an overridden chain_prefix', () => {
  const mesh = fixtureMesh();
  const pki = fixturePki(mesh);
  const states = renderMesh(mesh, pki, rolesWithPrefix('ACME_1'), { version: '0.1.0-test' });

  it('renders chains with the prefix and carries it in each desired state', () => {
    for (const state of states.values()) {
      assert.deepEqual(state.firewall, { chainPrefix: 'ACME_1' });
      const rules = state.files.find((f) => f.path.endsWith('/iptables.rules'))!.content;
      assert.match(rules, /^:ACME_1-INPUT - \[0:0\]$/m);
      assert.doesNotMatch(rules, /MESHCTL-/);
      const script = state.files.find((f) => f.path.endsWith('/firewall.sh'))!.content;
      assert.doesNotMatch(script, /MESHCTL/);
    }
  });

  it('the probe command carries the prefix, among the layout arguments before the paths', () => {
    const state = states.get('branch')!;
    const argv = probeCommand(
      state.files.map((f) => f.path),
      state.firewall,
    );
    const dashes = argv.indexOf('--');
    assert.equal(argv[dashes - 2], 'ACME_1');
    assert.ok(!argv.includes('MESHCTL'));
  });

  it('a converged gateway whose chains carry the prefix plans nothing: no firewall reload, diff exits 0', () => {
    for (const [lan, plan] of planAll(states, 'ACME_1')) {
      assert.deepEqual(plan.actions.map(describeAction), [], lan);
      assert.ok(
        plan.noops.some((noop) =>
          noop.reason.startsWith("firewall loaded: meshctl's chains and jumps present"),
        ),
        lan,
      );
    }
  });

  it("chains of another prefix are not meshctl's: the firewall is reloaded", () => {
    for (const [lan, plan] of planAll(states, 'MESHCTL')) {
      assert.deepEqual(
        plan.actions.map(describeAction),
        ['reload-firewall meshctl-firewall.service', 'write-manifest /etc/meshctl/manifest.json'],
        lan,
      );
    }
  });

  it('refuses an invalid prefix, naming roles/firewall/defaults.yml and the rule', () => {
    for (const bad of ['acme', 'A-B', 'ABCDEFGHIJKLM', '', 7, undefined]) {
      assert.throws(
        () => renderMesh(mesh, pki, rolesWithPrefix(bad), { version: '0.1.0-test' }),
        (error: Error) =>
          error instanceof RoleError &&
          error.message.startsWith('/srv/meshctl-roles/firewall/defaults.yml: chain_prefix') &&
          error.message.includes('1 to 12 characters') &&
          error.message.includes('28'),
        JSON.stringify(bad),
      );
    }
  });
});
