import assert from 'node:assert/strict';
import { InventoryError, PkiError, UsageError } from '../../../src/errors.js';
import { allocateMesh } from '../../../src/mesh/allocate.js';
import { manifestText, renderGateway, renderMesh } from '../../../src/render/render.js';
import { loadRoles } from '../../../src/render/roles.js';
import type { DesiredState } from '../../../src/types.js';
import { sha256 } from '../../helpers/hash.js';
import { fixtureInventory, fixtureMesh, fixturePki } from './fixture.js';

const roles = loadRoles();
const mesh = fixtureMesh();
const pki = fixturePki(mesh);
const states = renderMesh(mesh, pki, roles, { version: '0.1.0-test' });

function fileOf(state: DesiredState, path: string) {
  const found = state.files.find((f) => f.path === path);
  assert.ok(found, `${state.gateway.name}: ${path} is not rendered`);
  return found;
}

describe('render: desired state of each gateway', () => {
  it("records each file's sha256 on the file and in the manifest, both the content's", () => {
    for (const state of states.values()) {
      for (const f of state.files) {
        assert.equal(f.sha256, sha256(f.content), f.path);
        assert.equal(state.manifest.files[f.path], f.sha256, f.path);
      }
    }
  });

  it('renders one state per LAN, in id order', () => {
    assert.deepEqual([...states.keys()], ['head-office', 'branch', 'cloud']);
  });

  it('gives modes, secret flags and notifies as SPEC §3 says', () => {
    const branch = states.get('branch')!;
    const tunnels = ['openvpn-server@mesh-cloud.service', 'openvpn-server@mesh-head-office.service'];
    const expected: Record<string, { mode: number; secret: boolean; notifies: string[] }> = {
      '/etc/meshctl/firewall.sh': { mode: 0o755, secret: false, notifies: ['meshctl-firewall.service'] },
      '/etc/meshctl/iptables.rules': { mode: 0o644, secret: false, notifies: ['meshctl-firewall.service'] },
      '/etc/openvpn/server/mesh-cloud.conf': { mode: 0o644, secret: false, notifies: [tunnels[0]!] },
      '/etc/openvpn/server/mesh-head-office.conf': { mode: 0o644, secret: false, notifies: [tunnels[1]!] },
      '/etc/openvpn/server/meshctl/branch.crt': { mode: 0o644, secret: false, notifies: tunnels },
      '/etc/openvpn/server/meshctl/branch.key': { mode: 0o600, secret: true, notifies: tunnels },
      '/etc/openvpn/server/meshctl/ca.crt': { mode: 0o644, secret: false, notifies: tunnels },
      '/etc/openvpn/server/meshctl/crl.pem': { mode: 0o644, secret: false, notifies: [] },
      // every management interface's password: read by OpenVPN at start
      '/etc/openvpn/server/meshctl/management.pass': { mode: 0o600, secret: true, notifies: tunnels },
      // pair 1 = head-office (1) ↔ branch (2); pair 5 = branch (2) ↔ cloud (4)
      '/etc/openvpn/server/meshctl/pair-1.key': { mode: 0o600, secret: true, notifies: [tunnels[1]!] },
      '/etc/openvpn/server/meshctl/pair-5.key': { mode: 0o600, secret: true, notifies: [tunnels[0]!] },
      '/etc/sysctl.d/99-meshctl.conf': { mode: 0o644, secret: false, notifies: ['meshctl-firewall.service'] },
      '/etc/systemd/system/meshctl-firewall.service': {
        mode: 0o644,
        secret: false,
        notifies: ['meshctl-firewall.service'],
      },
      // ordering and binding only: a daemon-reload applies them, no tunnel restarts
      [`/etc/systemd/system/${tunnels[0]}.d/meshctl.conf`]: { mode: 0o644, secret: false, notifies: [] },
      [`/etc/systemd/system/${tunnels[1]}.d/meshctl.conf`]: { mode: 0o644, secret: false, notifies: [] },
    };
    assert.deepEqual(
      Object.fromEntries(
        branch.files.map((f) => [f.path, { mode: f.mode, secret: f.secret, notifies: f.notifies }]),
      ),
      expected,
    );
    for (const f of branch.files) assert.equal(f.owner, 'root');
  });

  it('embeds the PKI material: own cert and key, the CA, the CRL, each pair’s tls-crypt key', () => {
    for (const [name, state] of states) {
      assert.equal(fileOf(state, '/etc/openvpn/server/meshctl/ca.crt').content, pki.caCert);
      assert.equal(fileOf(state, '/etc/openvpn/server/meshctl/crl.pem').content, pki.crl);
      assert.equal(
        fileOf(state, `/etc/openvpn/server/meshctl/${name}.crt`).content,
        pki.gateways.get(name)!.cert,
      );
      assert.equal(
        fileOf(state, `/etc/openvpn/server/meshctl/${name}.key`).content,
        pki.gateways.get(name)!.key,
      );
      for (const t of mesh.tunnels.get(name)!) {
        const key = fileOf(state, `/etc/openvpn/server/meshctl/pair-${t.pair.index}.key`);
        assert.equal(key.content, pki.tlsCrypt.get(t.pair.index));
      }
      // another gateway's private key never lands here
      const otherKeys = state.files.filter(
        (f) =>
          /\/meshctl\/[a-z0-9-]+\.key$/.test(f.path) &&
          !f.path.endsWith(`/${name}.key`) &&
          !/pair-\d+\.key$/.test(f.path),
      );
      assert.deepEqual(otherKeys, []);
    }
  });

  it('marks exactly the private key, the tls-crypt keys and the management password secret, all 0600', () => {
    for (const [, state] of states) {
      for (const f of state.files) {
        const isKey = f.path.endsWith('.key') || f.path.endsWith('/management.pass');
        assert.equal(f.secret, isKey, f.path);
        if (isKey) assert.equal(f.mode, 0o600, f.path);
        else assert.notEqual(f.mode & 0o044, 0, `${f.path} should be world readable`);
      }
    }
  });

  it('wants the firewall unit and each tunnel unit enabled and running, with tunnel info', () => {
    const head = states.get('head-office')!;
    assert.deepEqual(head.units, [
      { name: 'meshctl-firewall.service', enabled: true, running: true },
      {
        name: 'openvpn-server@mesh-branch.service',
        enabled: true,
        running: true,
        tunnel: { pairIndex: 1, peer: 'branch', peerAddress: '172.19.0.6' },
      },
      {
        name: 'openvpn-server@mesh-cloud.service',
        enabled: true,
        running: true,
        tunnel: { pairIndex: 4, peer: 'cloud', peerAddress: '172.19.0.18' },
      },
    ]);
  });

  it('writes a manifest whose checksums are the sha256 of each file’s content', () => {
    for (const [name, state] of states) {
      assert.equal(state.manifestPath, '/etc/meshctl/manifest.json');
      assert.equal(state.manifest.mesh, 'corp');
      assert.equal(state.manifest.lan, name);
      assert.equal(state.manifest.version, '0.1.0-test');
      assert.deepEqual(
        state.manifest.units,
        state.units.map((u) => u.name),
      );
      assert.deepEqual(
        Object.keys(state.manifest.files),
        state.files.map((f) => f.path),
      );
      for (const f of state.files) {
        assert.equal(state.manifest.files[f.path], sha256(f.content), f.path);
      }
      assert.ok(!(state.manifestPath in state.manifest.files), 'the manifest does not list itself');
      assert.deepEqual(JSON.parse(manifestText(state.manifest)), state.manifest);
    }
  });

  it('sorts files by path and units by name', () => {
    for (const [, state] of states) {
      const paths = state.files.map((f) => f.path);
      assert.deepEqual(paths, [...paths].sort());
      const units = state.units.map((u) => u.name);
      assert.deepEqual(units, [...units].sort());
    }
  });

  it('is deterministic: rendering twice (even from a fresh roles load) gives identical output', () => {
    const again = renderMesh(fixtureMesh(), fixturePki(fixtureMesh()), loadRoles(), {
      version: '0.1.0-test',
    });
    assert.deepEqual(again, states);
    for (const [name, state] of states) {
      assert.equal(manifestText(again.get(name)!.manifest), manifestText(state.manifest));
    }
  });

  it('adds the trailing newline PEM text may lack, so checksums do not flap', () => {
    const trimmed = { ...pki, caCert: pki.caCert.trimEnd() };
    const state = renderGateway(mesh, 'cloud', trimmed, roles, { version: 'x' });
    assert.equal(fileOf(state, '/etc/openvpn/server/meshctl/ca.crt').content, pki.caCert);
  });

  it('a LAN alone in the mesh gets no tunnel, but forwarding and the firewall unit', () => {
    const inventory = fixtureInventory();
    inventory.lans = inventory.lans.slice(0, 1);
    const lone = allocateMesh(inventory);
    const state = renderGateway(lone, 'head-office', fixturePki(lone), roles, { version: 'x' });
    assert.deepEqual(
      state.units.map((u) => u.name),
      ['meshctl-firewall.service'],
    );
    assert.ok(!state.files.some((f) => f.path.endsWith('.conf') && f.path.includes('/openvpn/')));
  });
});

describe('render: refuses bad input with a message naming the value, where, and the fix', () => {
  it('an unknown LAN', () => {
    assert.throws(
      () => renderGateway(mesh, 'nowhere', pki, roles, { version: 'x' }),
      (e: Error) =>
        e instanceof UsageError &&
        /"nowhere"/.test(e.message) &&
        /head-office, branch, cloud/.test(e.message),
    );
  });

  it('a LAN name that would escape a path', () => {
    const inventory = fixtureInventory();
    const lan = inventory.lans[2]!;
    const gateway = { ...lan.gateways[0]!, name: '../../etc' };
    inventory.lans[2] = { ...lan, name: '../../etc', gateways: [gateway] };
    inventory.gateways = inventory.gateways.map((g) => (g.name === lan.name ? gateway : g));
    const bad = allocateMesh(inventory);
    assert.throws(
      () => renderGateway(bad, 'head-office', fixturePki(bad), roles, { version: 'x' }),
      (e: Error) =>
        e instanceof InventoryError &&
        e.message.includes('"../../etc"') &&
        e.diagnostics[0]!.field === 'name',
    );
  });

  it('an endpoint that would inject a second directive', () => {
    const inventory = fixtureInventory();
    const lan = inventory.lans[1]!;
    const gateway = { ...lan.gateways[0]!, endpoint: '198.51.100.20\nsecret /tmp/x' };
    inventory.lans[1] = { ...lan, gateways: [gateway] };
    inventory.gateways = inventory.gateways.map((g) => (g.name === gateway.name ? gateway : g));
    const bad = allocateMesh(inventory);
    assert.throws(
      () => renderGateway(bad, 'head-office', fixturePki(bad), roles, { version: 'x' }),
      (e: Error) => e instanceof InventoryError && e.diagnostics[0]!.field === 'gateway.endpoint',
    );
  });

  for (const line of [
    'secret /etc/static.key',
    'tls-auth ta.key 0',
    'cipher BF-CBC',
    'comp-lzo',
    'verb 3\nsecret x',
  ]) {
    it(`openvpn.extra ${JSON.stringify(line)}`, () => {
      const bad = fixtureMesh({ extra: [line] });
      assert.throws(
        () => renderGateway(bad, 'branch', fixturePki(bad), roles, { version: 'x' }),
        (e: Error) =>
          e instanceof InventoryError &&
          e.diagnostics[0]!.field === 'openvpn.extra[0]' &&
          e.diagnostics[0]!.file === '/inventory/mesh.yml',
      );
    });
  }

  it('a keepalive OpenVPN would refuse', () => {
    const inventory = fixtureInventory();
    inventory.mesh.openvpn.keepalive = [10, 15];
    const bad = allocateMesh(inventory);
    assert.throws(
      () => renderGateway(bad, 'branch', fixturePki(bad), roles, { version: 'x' }),
      (e: Error) =>
        e instanceof InventoryError &&
        /openvpn\.keepalive \[10,15\]/.test(e.message) &&
        /\[10, 60\]/.test(e.message),
    );
  });

  it('missing PKI material, without printing any key', () => {
    const noKey = { ...pki, tlsCrypt: new Map([...pki.tlsCrypt].filter(([k]) => k !== 5)) };
    assert.throws(
      () => renderGateway(mesh, 'cloud', noKey, roles, { version: 'x' }),
      (e: Error) =>
        e instanceof PkiError && /pair 5 \(branch <-> cloud\)/.test(e.message) && !/BEGIN/.test(e.message),
    );
    const noCert = { ...pki, gateways: new Map([...pki.gateways].filter(([n]) => n !== 'cloud')) };
    assert.throws(
      () => renderGateway(mesh, 'cloud', noCert, roles, { version: 'x' }),
      (e: Error) => e instanceof PkiError && /gateway cloud/.test(e.message),
    );
  });
});
