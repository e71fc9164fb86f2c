import { allocateMesh } from '../../../src/mesh/allocate.js';
import type { Inventory, Mesh, PkiMaterial } from '../../../src/types.js';
import { buildInventory } from '../../helpers/inventory.js';

/**
 * A small fixed mesh for render tests: three LANs with ids 1, 2 and 4 (so pair indices 1, 4, 5 are not simply
 * 1..3), one LAN with two subnets, one with a DNS endpoint. PKI material is fake but fixed PEM-shaped text:
 * render only embeds it.
 */

export function fixtureInventory(overrides: { extra?: string[] } = {}): Inventory {
  return buildInventory(
    [
      { name: 'head-office', id: 1, subnets: ['10.1.0.0/16'], endpoint: '203.0.113.10' },
      { name: 'branch', id: 2, subnets: ['10.2.0.0/16', '192.168.20.0/24'], endpoint: '198.51.100.20' },
      { name: 'cloud', id: 4, subnets: ['10.4.0.0/16'], endpoint: 'vpn.cloud.example.com' },
    ],
    {
      name: 'corp',
      retiredIds: [3],
      knownHosts: '/inventory/known_hosts',
      openvpn: { keepalive: [10, 60], extra: overrides.extra ?? ['mute-replay-warnings'] },
    },
  );
}

export function fixtureMesh(overrides: { extra?: string[] } = {}): Mesh {
  return allocateMesh(fixtureInventory(overrides));
}

/**
 * A mesh for `routing: bgp` render tests (SPEC §7): two core LANs (dc with two subnets), a LAN split over two
 * gateways (eu-a owns 10.5.0.0/20 and backs up eu-b's 10.5.16.0/20) and a leaf (shop, via hq and dc). The
 * bgp: settings are not the defaults, so a value that reaches frr.conf can only have come from them. With
 * `routing: 'static'` the same LANs without the backup subnet (a bgp-only setting).
 */
export function bgpFixtureInventory(routing: 'bgp' | 'static' = 'bgp'): Inventory {
  return buildInventory(
    [
      { name: 'hq', id: 1, subnets: ['10.1.0.0/16'], endpoint: '203.0.113.10' },
      { name: 'dc', id: 2, subnets: ['10.2.0.0/16', '192.168.20.0/24'], endpoint: '198.51.100.20' },
      {
        name: 'eu',
        id: 5,
        subnets: ['10.5.0.0/20', '10.5.16.0/20'],
        gateways: [
          {
            name: 'eu-a',
            id: 5,
            subnets: ['10.5.0.0/20'],
            ...(routing === 'bgp' ? { backupSubnets: ['10.5.16.0/20'] } : {}),
          },
          { name: 'eu-b', id: 6, subnets: ['10.5.16.0/20'] },
        ],
      },
      { name: 'shop', id: 7, subnets: ['10.7.0.0/16'], via: ['hq', 'dc'] },
    ],
    {
      name: 'corp',
      routing,
      bgp: { asnBase: 4210000000, bfd: { intervalMs: 200, multiplier: 4 } },
    },
  );
}

export function bgpFixtureMesh(routing: 'bgp' | 'static' = 'bgp'): Mesh {
  return allocateMesh(bgpFixtureInventory(routing));
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
    // one certificate per gateway (a LAN with several gateways has one per gateway, none of its own)
    gateways: new Map(
      mesh.inventory.gateways.map((l) => [
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
