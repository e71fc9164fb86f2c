import assert from 'node:assert/strict';
import { formatAdvice, parseIpv4Addresses } from '../../../src/commands/lan/advice.js';
import { portsForNewLan, routesForNewLan } from '../../../src/mesh/advice.js';
import { adviceMesh as mesh } from '../mesh/advice-mesh.js';

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
