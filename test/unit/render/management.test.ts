import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { gatewayPaths, MODES, tunnelUnitOf } from '../../../src/gateway/layout.js';
import { managementPassword } from '../../../src/pki/management-password.js';
import { renderMesh } from '../../../src/render/render.js';
import { loadRoles } from '../../../src/render/roles.js';
import type { DesiredState, PkiMaterial } from '../../../src/types.js';
import { fixtureMesh, fixturePki } from './fixture.js';

/**
 * Each tunnel's OpenVPN management interface (read by `meshctl status`): TCP on localhost at the tunnel's port,
 * behind one password per gateway derived from its private key (no new PKI state).
 */

const mesh = fixtureMesh();
const pki = fixturePki(mesh);
const roles = loadRoles();
const states = renderMesh(mesh, pki, roles, { version: '0.1.0-test' });

function passwordFile(state: DesiredState) {
  const found = state.files.find((f) => f.path === gatewayPaths.managementPassword);
  assert.ok(found, `${state.gateway.name}: no management password file`);
  return found;
}

function withKey(material: PkiMaterial, gateway: string, key: string): PkiMaterial {
  const gateways = new Map(material.gateways);
  gateways.set(gateway, { ...gateways.get(gateway)!, key });
  return { ...material, gateways };
}

describe('render: the management interface of every tunnel', () => {
  it('puts one password file per gateway: 0600, root, secret, notifying every tunnel unit', () => {
    for (const [name, state] of states) {
      const file = passwordFile(state);
      assert.equal(file.path, '/etc/openvpn/server/meshctl/management.pass');
      assert.equal(file.mode, MODES.secret);
      assert.equal(file.owner, 'root');
      assert.equal(file.secret, true);
      const units = mesh.tunnels
        .get(name)!
        .map((t) => tunnelUnitOf(t.name))
        .sort();
      assert.deepEqual(file.notifies, units);
      assert.match(file.content, /^[0-9a-f]{64}\n$/, 'one line of hex');
    }
  });

  it('derives it from the private key: HMAC-SHA256 of a fixed message naming the gateway', () => {
    const key = pki.gateways.get('branch')!.key;
    const expected = createHmac('sha256', key).update('meshctl management password branch').digest('hex');
    assert.equal(passwordFile(states.get('branch')!).content, `${expected}\n`);
    assert.equal(managementPassword(key, 'branch'), expected);
    // the key itself never appears in it
    assert.ok(!passwordFile(states.get('branch')!).content.includes('PRIVATE KEY'));
  });

  it('gives the same password for the same key, another for another key or another gateway', () => {
    const again = renderMesh(mesh, fixturePki(mesh), roles, { version: '0.1.0-test' });
    for (const [name, state] of states) {
      assert.equal(passwordFile(again.get(name)!).content, passwordFile(state).content);
    }
    const rekeyed = renderMesh(
      mesh,
      withKey(pki, 'branch', '-----BEGIN PRIVATE KEY-----\nnew\n-----END…'),
      roles,
      {
        version: '0.1.0-test',
      },
    );
    assert.notEqual(
      passwordFile(rekeyed.get('branch')!).content,
      passwordFile(states.get('branch')!).content,
    );
    assert.equal(
      passwordFile(rekeyed.get('cloud')!).content,
      passwordFile(states.get('cloud')!).content,
      "another gateway's key change leaves cloud's password alone",
    );
    const contents = [...states.values()].map((s) => passwordFile(s).content);
    assert.equal(new Set(contents).size, contents.length, 'every gateway has its own password');
    assert.notEqual(managementPassword('same key', 'a'), managementPassword('same key', 'b'));
  });

  it('names it in every tunnel config: `management 127.0.0.1 <the tunnel port> <password file>`, once', () => {
    for (const [name, state] of states) {
      for (const t of mesh.tunnels.get(name)!) {
        const config = state.files.find((f) => f.path === gatewayPaths.tunnelConfig(t.name))!;
        const lines = config.content.split('\n').filter((l) => l.startsWith('management'));
        assert.deepEqual(lines, [`management 127.0.0.1 ${t.port} ${gatewayPaths.managementPassword}`]);
      }
    }
  });
});
