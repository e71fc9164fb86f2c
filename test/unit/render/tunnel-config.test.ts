import assert from 'node:assert/strict';
import { renderMesh } from '../../../src/render/render.js';
import { loadRoles } from '../../../src/render/roles.js';
import type { DesiredFile, DesiredState, Tunnel } from '../../../src/types.js';
import { fixtureMesh, fixturePki } from './fixture.js';

/** Assertions that hold for EVERY tunnel config of the fixture mesh (SPEC §4). */

const mesh = fixtureMesh();
const states = renderMesh(mesh, fixturePki(mesh), loadRoles(), { version: '0.1.0-test' });

function directives(content: string): string[][] {
  return content
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#') && !line.startsWith(';'))
    .map((line) => line.split(/\s+/));
}

function values(config: string[][], name: string): string[][] {
  return config.filter((d) => d[0] === name).map((d) => d.slice(1));
}

function one(config: string[][], name: string): string[] {
  const found = values(config, name);
  assert.equal(found.length, 1, `expected exactly one \`${name}\`, found ${found.length}`);
  return found[0]!;
}

const AEAD = new Set(['AES-256-GCM', 'AES-128-GCM', 'CHACHA20-POLY1305']);
// removed or deprecated in OpenVPN 2.5/2.6/2.7, or weakening the tunnel
const FORBIDDEN = [
  'secret',
  'tls-remote',
  'comp-lzo',
  'compress',
  'ns-cert-type',
  'tls-auth',
  'ncp-ciphers',
  'ncp-disable',
  'key-method',
  'no-iv',
  'no-replay',
  'client-cert-not-required',
  'ifconfig-pool-linear',
  'max-routes',
  'keysize',
  'prng',
  'opt-verify',
];

const cases: { state: DesiredState; tunnel: Tunnel; file: DesiredFile }[] = [];
for (const [lan, state] of states) {
  for (const tunnel of mesh.tunnels.get(lan)!) {
    const file = state.files.find((f) => f.path === `/etc/openvpn/server/mesh-${tunnel.peer.name}.conf`);
    assert.ok(file, `${lan} has no config for its tunnel to ${tunnel.peer.name}`);
    cases.push({ state, tunnel, file });
  }
}

describe('render: every tunnel config', () => {
  it('covers both ends of every pair (3 LANs → 3 pairs → 6 configs)', () => {
    assert.equal(cases.length, 6);
    assert.deepEqual(
      [...new Set(cases.map((c) => c.tunnel.pair.index))].sort((a, b) => a - b),
      [1, 4, 5],
    );
  });

  for (const { state, tunnel, file } of cases) {
    const label = `${state.gateway.name} → ${tunnel.peer.name} (pair ${tunnel.pair.index}, ${tunnel.role})`;

    describe(label, () => {
      const config = directives(file.content);

      it('is TLS mode: tls-server on the lower id xor tls-client on the higher, dh none only on the server', () => {
        const server = values(config, 'tls-server').length;
        const client = values(config, 'tls-client').length;
        assert.equal(server + client, 1, 'exactly one of tls-server / tls-client');
        assert.equal(server === 1, tunnel.local.id < tunnel.peer.id);
        assert.equal(tunnel.role, server === 1 ? 'server' : 'client');
        if (server) assert.deepEqual(one(config, 'dh'), ['none']);
        else assert.equal(values(config, 'dh').length, 0);
      });

      it('pins the peer: verify-x509-name <peer> name and remote-cert-tls of the peer role', () => {
        assert.deepEqual(one(config, 'verify-x509-name'), [tunnel.peer.name, 'name']);
        assert.deepEqual(one(config, 'remote-cert-tls'), [tunnel.role === 'server' ? 'client' : 'server']);
      });

      it('uses this pair’s tls-crypt key, the gateway’s own cert/key, the CA and the CRL', () => {
        assert.deepEqual(one(config, 'tls-crypt'), [
          `/etc/openvpn/server/meshctl/pair-${tunnel.pair.index}.key`,
        ]);
        assert.deepEqual(one(config, 'crl-verify'), ['/etc/openvpn/server/meshctl/crl.pem']);
        assert.deepEqual(one(config, 'ca'), ['/etc/openvpn/server/meshctl/ca.crt']);
        assert.deepEqual(one(config, 'cert'), [`/etc/openvpn/server/meshctl/${state.gateway.name}.crt`]);
        assert.deepEqual(one(config, 'key'), [`/etc/openvpn/server/meshctl/${state.gateway.name}.key`]);
        // every referenced key file is part of the gateway's desired state
        for (const name of ['tls-crypt', 'crl-verify', 'ca', 'cert', 'key']) {
          const path = one(config, name)[0]!;
          assert.ok(
            state.files.some((f) => f.path === path),
            `${name} ${path} is not rendered`,
          );
        }
      });

      it('allows AEAD data ciphers only, with an AEAD `cipher` for OpenVPN 2.5', () => {
        const list = one(config, 'data-ciphers')[0]!.split(':');
        assert.ok(list.length > 0);
        for (const cipher of list) assert.ok(AEAD.has(cipher), `non-AEAD data cipher ${cipher}`);
        const [cipher] = one(config, 'cipher');
        assert.ok(
          AEAD.has(cipher!) && list.includes(cipher!),
          `cipher ${cipher} must be AEAD and in data-ciphers`,
        );
        assert.deepEqual(one(config, 'tls-version-min'), ['1.2']);
      });

      it('has none of the forbidden options', () => {
        for (const name of FORBIDDEN)
          assert.equal(values(config, name).length, 0, `forbidden option ${name}`);
      });

      it('wires the pair: device, port, remote, transit addresses and a route per peer subnet', () => {
        assert.deepEqual(one(config, 'dev'), [tunnel.device]);
        assert.deepEqual(one(config, 'dev-type'), ['tun']);
        assert.deepEqual(one(config, 'proto'), ['udp']);
        assert.deepEqual(one(config, 'port'), [String(tunnel.port)]);
        assert.deepEqual(one(config, 'remote'), [tunnel.peer.endpoint, String(tunnel.port)]);
        assert.deepEqual(one(config, 'ifconfig'), [tunnel.localAddress, tunnel.peerAddress]);
        const masks: Record<string, string> = { '16': '255.255.0.0', '24': '255.255.255.0' };
        assert.deepEqual(
          values(config, 'route'),
          tunnel.peer.subnets.map((cidr) => [cidr.split('/')[0]!, masks[cidr.split('/')[1]!]!]),
        );
      });

      it('keeps state across restarts and reports status', () => {
        assert.deepEqual(one(config, 'keepalive'), ['10', '60']);
        assert.deepEqual(one(config, 'persist-key'), []);
        assert.deepEqual(one(config, 'persist-tun'), []);
        assert.deepEqual(one(config, 'status'), [`/run/openvpn-server/status-${tunnel.name}.log`, '10']);
        assert.deepEqual(one(config, 'verb'), ['3']);
      });

      it('appends openvpn.extra last and carries the managed-by header', () => {
        assert.deepEqual(config[config.length - 1], ['mute-replay-warnings']);
        assert.match(file.content.split('\n')[0]!, /managed by meshctl/);
      });
    });
  }

  it('renders the two ends of a pair as mirror images', () => {
    for (const pair of mesh.pairs) {
      const low = directives(
        states.get(pair.low.name)!.files.find((f) => f.path.endsWith(`mesh-${pair.high.name}.conf`))!.content,
      );
      const high = directives(
        states.get(pair.high.name)!.files.find((f) => f.path.endsWith(`mesh-${pair.low.name}.conf`))!.content,
      );
      assert.deepEqual(one(low, 'ifconfig'), [...one(high, 'ifconfig')].reverse());
      assert.deepEqual(one(low, 'port'), one(high, 'port'));
      assert.deepEqual(one(low, 'tls-crypt'), one(high, 'tls-crypt'));
      assert.deepEqual(one(low, 'dev'), one(high, 'dev'));
    }
  });
});
