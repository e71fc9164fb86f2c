import assert from 'node:assert/strict';
import { loadInventory } from '../../../src/inventory/load.js';
import { lanFileText, type NewLanFile } from '../../../src/inventory/write.js';
import { removeInventory, writeInventory } from '../../helpers/inventory.js';

/** Writes mesh.yml + the generated lans/NAME.yml and loads them back. */
function roundTrip(name: string, lan: NewLanFile) {
  const dir = writeInventory('name: corp\nssh:\n  user: deploy\n', { [name]: lanFileText(lan) });
  try {
    return loadInventory(dir, { homedir: '/home/operator' });
  } finally {
    removeInventory(dir);
  }
}

describe('lanFileText', () => {
  it('writes a commented LAN file that loads back to the same LAN', () => {
    const text = lanFileText({
      id: 7,
      subnets: ['10.7.0.0/16', '192.168.7.0/24'],
      endpoint: 'gw7.example.net',
    });
    assert.match(text, /^# /m, 'commented');
    const { inventory, diagnostics } = roundTrip('branch-7', {
      id: 7,
      subnets: ['10.7.0.0/16', '192.168.7.0/24'],
      endpoint: 'gw7.example.net',
    });
    assert.deepEqual(diagnostics, []);
    const [lan] = inventory!.gateways;
    assert.equal(lan!.name, 'branch-7');
    assert.equal(lan!.id, 7);
    assert.deepEqual(lan!.subnets, ['10.7.0.0/16', '192.168.7.0/24']);
    assert.equal(lan!.endpoint, 'gw7.example.net');
    assert.equal(lan!.sshHost, 'gw7.example.net');
    assert.equal(lan!.ssh.user, 'deploy', 'no ssh block: mesh defaults apply');
  });

  it('writes ssh_host and ssh overrides when given', () => {
    const lan: NewLanFile = {
      id: 3,
      subnets: ['10.3.0.0/20'],
      endpoint: '203.0.113.3',
      sshHost: '10.3.0.1',
      ssh: { user: 'admin', port: 2222, become: true },
    };
    const { inventory, diagnostics } = roundTrip('vpc', lan);
    assert.deepEqual(diagnostics, []);
    const [loaded] = inventory!.gateways;
    assert.equal(loaded!.sshHost, '10.3.0.1');
    assert.equal(loaded!.ssh.user, 'admin');
    assert.equal(loaded!.ssh.port, 2222);
    assert.equal(loaded!.ssh.become, true);
  });

  it('omits ssh_host when it equals the endpoint', () => {
    assert.doesNotMatch(
      lanFileText({ id: 1, subnets: ['10.1.0.0/16'], endpoint: '203.0.113.1', sshHost: '203.0.113.1' }),
      /ssh_host/,
    );
  });
});
