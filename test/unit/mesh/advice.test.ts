import assert from 'node:assert/strict';
import { gatewayAddressIn, portsForNewLan, routesForNewLan } from '../../../src/mesh/advice.js';
import { adviceMesh as mesh } from './advice-mesh.js';

/** What hq's gateway reports in `ip -4 -o addr show` (parsed in test/unit/commands/advice.test.ts). */
const HQ_ADDRESSES = ['127.0.0.1', '198.51.100.1', '10.1.0.1', '192.168.1.254', '172.19.0.5'];

describe('add-lan: routes and firewall ports to advise', () => {
  it("picks the gateway's address inside each subnet, else its ssh_host when that lies inside, else none", () => {
    const learned = HQ_ADDRESSES;
    assert.equal(gatewayAddressIn('10.1.0.0/16', learned, '198.51.100.1'), '10.1.0.1');
    assert.equal(gatewayAddressIn('192.168.1.0/24', learned, '198.51.100.1'), '192.168.1.254');
    assert.equal(gatewayAddressIn('10.2.0.0/16', [], '10.2.0.7'), '10.2.0.7');
    assert.equal(gatewayAddressIn('10.2.0.0/16', [], 'gw.example.net'), undefined);
    assert.equal(gatewayAddressIn('10.2.0.0/16', [], '198.51.100.2'), undefined);
  });

  it('routes the new subnets in every other LAN via its gateway, and every other subnet in the new LAN', () => {
    const learned = new Map([
      ['hq', HQ_ADDRESSES],
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
});
