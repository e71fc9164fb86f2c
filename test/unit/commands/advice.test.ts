import assert from 'node:assert/strict';
import {
  formatAdvice,
  gatewayAddressIn,
  parseIpv4Addresses,
  portsForNewLan,
  routesForNewLan,
} from '../../../src/commands/lan/advice.js';
import { planMesh } from '../../../src/mesh/allocate.js';
import { buildInventory } from '../../helpers/build-inventory.js';

const mesh = planMesh(
  buildInventory([
    { name: 'hq', id: 1, subnets: ['10.1.0.0/16', '192.168.1.0/24'] },
    { name: 'branch', id: 2, subnets: ['10.2.0.0/16'] },
    { name: 'cloud', id: 5, subnets: ['10.5.0.0/16', '10.55.0.0/16'] },
  ]),
);

const IP_ADDR = `1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
2: eth0    inet 198.51.100.1/24 scope global eth0\\       valid_lft forever preferred_lft forever
3: eth1    inet 10.1.0.1/16 scope global eth1\\       valid_lft forever preferred_lft forever
4: eth2    inet 192.168.1.254/24 brd 192.168.1.255 scope global eth2
5: mtun1    inet 172.19.0.5 peer 172.19.0.6/32 scope global mtun1\\       valid_lft forever preferred_lft forever
`;

describe('add-lan: routes and firewall ports to print', () => {
  it('reads every IPv4 address of `ip -4 -o addr show`, point-to-point ones included', () => {
    assert.deepEqual(parseIpv4Addresses(IP_ADDR), [
      '127.0.0.1',
      '198.51.100.1',
      '10.1.0.1',
      '192.168.1.254',
      '172.19.0.5',
    ]);
  });

  it("picks the gateway's address inside each subnet, else its ssh_host when that lies inside, else none", () => {
    const learned = parseIpv4Addresses(IP_ADDR);
    assert.equal(gatewayAddressIn('10.1.0.0/16', learned, '198.51.100.1'), '10.1.0.1');
    assert.equal(gatewayAddressIn('192.168.1.0/24', learned, '198.51.100.1'), '192.168.1.254');
    assert.equal(gatewayAddressIn('10.2.0.0/16', [], '10.2.0.7'), '10.2.0.7');
    assert.equal(gatewayAddressIn('10.2.0.0/16', [], 'gw.example.net'), undefined);
    assert.equal(gatewayAddressIn('10.2.0.0/16', [], '198.51.100.2'), undefined);
  });

  it('routes the new subnets in every other LAN via its gateway, and every other subnet in the new LAN', () => {
    const learned = new Map([
      ['hq', parseIpv4Addresses(IP_ADDR)],
      ['cloud', ['10.5.0.1', '10.55.0.1']],
    ]);
    const routes = routesForNewLan(mesh, 'cloud', learned);
    assert.deepEqual(
      routes.map((r) => `${r.lan} ${r.subnet}: ${r.destination} via ${r.via ?? '?'}`),
      [
        'hq 10.1.0.0/16: 10.5.0.0/16 via 10.1.0.1',
        'hq 10.1.0.0/16: 10.55.0.0/16 via 10.1.0.1',
        'hq 192.168.1.0/24: 10.5.0.0/16 via 192.168.1.254',
        'hq 192.168.1.0/24: 10.55.0.0/16 via 192.168.1.254',
        'branch 10.2.0.0/16: 10.5.0.0/16 via ?',
        'branch 10.2.0.0/16: 10.55.0.0/16 via ?',
        'cloud 10.5.0.0/16: 10.1.0.0/16 via 10.5.0.1',
        'cloud 10.5.0.0/16: 192.168.1.0/24 via 10.5.0.1',
        'cloud 10.5.0.0/16: 10.2.0.0/16 via 10.5.0.1',
        'cloud 10.55.0.0/16: 10.1.0.0/16 via 10.55.0.1',
        'cloud 10.55.0.0/16: 192.168.1.0/24 via 10.55.0.1',
        'cloud 10.55.0.0/16: 10.2.0.0/16 via 10.55.0.1',
      ],
    );
  });

  it("opens each pair's port at both ends, from the other end's endpoint (pair index from the two ids)", () => {
    const ports = portsForNewLan(mesh, 'cloud');
    // ids 1 and 5: k = (5-1)(5-2)/2 + 1 = 7; ids 2 and 5: k = 8
    assert.deepEqual(
      ports.map((p) => `${p.lan} ${p.endpoint} udp/${p.port} from ${p.from} (${p.fromLan}) k=${p.pairIndex}`),
      [
        'hq 198.51.100.1 udp/11007 from 198.51.100.5 (cloud) k=7',
        'branch 198.51.100.2 udp/11008 from 198.51.100.5 (cloud) k=8',
        'cloud 198.51.100.5 udp/11007 from 198.51.100.1 (hq) k=7',
        'cloud 198.51.100.5 udp/11008 from 198.51.100.2 (branch) k=8',
      ],
    );
  });

  it('prints one line per route and per rule, with a placeholder for a next hop it could not learn', () => {
    const text = formatAdvice(routesForNewLan(mesh, 'branch', new Map()), portsForNewLan(mesh, 'branch'));
    const lines = text.split('\n');
    assert.ok(
      lines.includes("  hq      route 10.2.0.0/16 via <hq's gateway address in 192.168.1.0/24>"),
      text,
    );
    assert.ok(
      lines.includes("  branch  route 10.55.0.0/16 via <branch's gateway address in 10.2.0.0/16>"),
      text,
    );
    assert.ok(lines.includes('  hq (198.51.100.1)      UDP 11001 from 198.51.100.2 (branch, pair 1)'), text);
    assert.ok(lines.includes('  branch (198.51.100.2)  UDP 11008 from 198.51.100.5 (cloud, pair 8)'), text);
    assert.equal(lines.filter((l) => l.includes(' route ')).length, 2 + 2 + 4);
    assert.equal(lines.filter((l) => l.startsWith('  ') && l.includes(' UDP ')).length, 4);
  });
});
