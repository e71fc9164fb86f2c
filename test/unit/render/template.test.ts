import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderGateway } from '../../../src/render/render.js';
import { defaultRolesDir, loadRoles, RoleError, type Roles } from '../../../src/render/roles.js';
import { renderTemplate } from '../../../src/render/template.js';
import { fixtureMesh, fixturePki } from './fixture.js';

function rolesWith(
  role: string,
  template: string,
  text: string,
  defaults: Record<string, unknown> = {},
): Roles {
  return {
    dir: '/roles',
    roles: new Map([[role, { name: role, defaults, templates: new Map([[template, text]]) }]]),
  };
}

describe('render: role templates', () => {
  it('loads every shipped role with its defaults and templates', () => {
    const roles = loadRoles();
    assert.deepEqual([...roles.roles.keys()], ['firewall', 'forwarding', 'frr', 'openvpn-tunnel', 'routing']);
    assert.deepEqual(
      [...roles.roles.get('firewall')!.templates.keys()],
      [
        'firewall.sh.liquid',
        'iptables-bgp.rules.liquid',
        'iptables.rules.liquid',
        'meshctl-firewall.service.liquid',
        'tunnel-unit.conf.liquid',
      ],
    );
    assert.deepEqual([...roles.roles.get('frr')!.templates.keys()], ['daemons.liquid', 'frr.conf.liquid']);
    assert.equal(roles.roles.get('openvpn-tunnel')!.defaults.verb, 3);
  });

  it('throws on an undefined variable instead of rendering an empty value', () => {
    const roles = rolesWith('r', 't.liquid', 'remote {{ peer.endpont }} 1194\n');
    assert.throws(
      () => renderTemplate(roles, 'r', 't.liquid', { peer: { endpoint: '203.0.113.1' } }),
      (e: Error) =>
        e instanceof RoleError &&
        /\/roles\/r\/templates\/t\.liquid/.test(e.message) &&
        /endpont/.test(e.message),
    );
  });

  it('throws on an undefined filter', () => {
    const roles = rolesWith('r', 't.liquid', '{{ name | shout }}');
    assert.throws(() => renderTemplate(roles, 'r', 't.liquid', { name: 'x' }), RoleError);
  });

  it('names a missing role or template', () => {
    const roles = rolesWith('r', 't.liquid', 'x');
    assert.throws(() => renderTemplate(roles, 'other', 't.liquid', {}), /role other is missing/);
    assert.throws(
      () => renderTemplate(roles, 'r', 'gone.liquid', {}),
      /r\/templates\/gone\.liquid is missing/,
    );
  });

  it('reads defaults, and meshctl’s computed values win over them', () => {
    const roles = rolesWith('r', 't.liquid', '{{ verb }} {{ name }}', { verb: 4, name: 'from-defaults' });
    assert.equal(renderTemplate(roles, 'r', 't.liquid', { name: 'computed' }), '4 computed');
  });

  it('never reads partials from the file system', () => {
    const roles = rolesWith('r', 't.liquid', "{% render '/etc/hostname' %}");
    assert.throws(() => renderTemplate(roles, 'r', 't.liquid', {}), RoleError);
  });

  describe('an operator’s copy of the roles', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'meshctl-roles-'));
      await cp(defaultRolesDir(), dir, { recursive: true });
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('is used as given: a changed default lands in every tunnel config', async () => {
      const file = join(dir, 'openvpn-tunnel', 'defaults.yml');
      await writeFile(file, (await readFile(file, 'utf8')).replace('verb: 3', 'verb: 4'));
      const mesh = fixtureMesh();
      const state = renderGateway(mesh, 'branch', fixturePki(mesh), loadRoles(dir), { version: 'x' });
      for (const f of state.files.filter((f) => f.path.endsWith('.conf') && f.path.includes('/mesh-'))) {
        assert.match(f.content, /^verb 4$/m);
      }
    });

    it('a template using a variable nobody defines fails the render', async () => {
      const file = join(dir, 'forwarding', 'templates', '99-meshctl.conf.liquid');
      await writeFile(file, `${await readFile(file, 'utf8')}net.ipv4.conf.all.rp_filter = {{ rp_filter }}\n`);
      const mesh = fixtureMesh();
      assert.throws(
        () => renderGateway(mesh, 'branch', fixturePki(mesh), loadRoles(dir), { version: 'x' }),
        (e: Error) =>
          e instanceof RoleError &&
          /rp_filter/.test(e.message) &&
          /forwarding\/defaults\.yml/.test(e.message),
      );
    });

    it('invalid defaults.yml is reported with its path', async () => {
      await writeFile(join(dir, 'firewall', 'defaults.yml'), '- just\n- a list\n');
      assert.throws(
        () => loadRoles(dir),
        (e: Error) => e instanceof RoleError && /firewall\/defaults\.yml/.test(e.message),
      );
    });
  });

  it('a missing roles directory is reported', () => {
    assert.throws(() => loadRoles('/nonexistent-meshctl-roles'), /nonexistent-meshctl-roles does not exist/);
  });
});
