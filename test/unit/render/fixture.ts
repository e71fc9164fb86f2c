import { allocateMesh } from '../../../src/mesh/allocate.js';
import type { Inventory, Lan, Mesh, PkiMaterial, SshSettings } from '../../../src/types.js';

/**
 * A small fixed mesh for render tests: three LANs with ids 1, 2 and 4 (so pair indices 1, 4, 5 are not simply
 * 1..3), one LAN with two subnets, one with a DNS endpoint. PKI material is fake but fixed PEM-shaped text:
 * render only embeds it.
 */

const ssh: SshSettings = { user: 'root', port: 22, knownHosts: '/inventory/known_hosts', become: false };

function lan(name: string, id: number, subnets: string[], endpoint: string): Lan {
  return { name, id, subnets, endpoint, sshHost: endpoint, ssh, file: `/inventory/lans/${name}.yml` };
}

export function fixtureInventory(overrides: { extra?: string[] } = {}): Inventory {
  return {
    dir: '/inventory',
    meshFile: '/inventory/mesh.yml',
    mesh: {
      name: 'corp',
      transit: '172.19.0.0/16',
      portBase: 11000,
      retiredIds: [3],
      pkiDir: '/inventory/pki',
      ssh,
      openvpn: { keepalive: [10, 60], extra: overrides.extra ?? ['mute-replay-warnings'] },
    },
    lans: [
      lan('head-office', 1, ['10.1.0.0/16'], '203.0.113.10'),
      lan('branch', 2, ['10.2.0.0/16', '192.168.20.0/24'], '198.51.100.20'),
      lan('cloud', 4, ['10.4.0.0/16'], 'vpn.cloud.example.com'),
    ],
  };
}

export function fixtureMesh(overrides: { extra?: string[] } = {}): Mesh {
  return allocateMesh(fixtureInventory(overrides));
}

function fakePem(label: string, body: string): string {
  return `-----BEGIN ${label}-----\n${Buffer.from(body).toString('base64')}\n-----END ${label}-----\n`;
}

function fakeStaticKey(pairIndex: number): string {
  const lines = Array.from({ length: 16 }, (_, i) =>
    `${pairIndex.toString(16).padStart(2, '0')}${i.toString(16)}`.repeat(8).slice(0, 32),
  );
  return `-----BEGIN OpenVPN Static key V1-----\n${lines.join('\n')}\n-----END OpenVPN Static key V1-----\n`;
}

export function fixturePki(mesh: Mesh): PkiMaterial {
  return {
    caCert: fakePem('CERTIFICATE', 'fake mesh CA corp'),
    crl: fakePem('X509 CRL', 'fake CRL corp'),
    gateways: new Map(
      mesh.inventory.lans.map((l) => [
        l.name,
        {
          cert: fakePem('CERTIFICATE', `fake cert ${l.name}`),
          key: fakePem('PRIVATE KEY', `fake SECRET key ${l.name}`),
        },
      ]),
    ),
    tlsCrypt: new Map(mesh.pairs.map((p) => [p.index, fakeStaticKey(p.index)])),
  };
}
