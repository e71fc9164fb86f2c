import assert from 'node:assert/strict';
import type { Connection } from '../../../src/connection/types.js';
import { systemctl } from '../../../src/execute/remote.js';

describe("remote: systemctl names only meshctl's units", () => {
  it('refuses any other unit before running anything', async () => {
    const ran: string[][] = [];
    const conn = {
      name: 'hq',
      exec: async (argv: string[]) => {
        ran.push(argv);
        return { code: 0, stdout: '', stderr: '' };
      },
    } as unknown as Connection;
    await assert.rejects(
      systemctl(conn, 'stop', ['openvpn-server@mesh-b.service', 'ssh.service']),
      /hq: refusing to run systemctl stop on "ssh.service": not one of meshctl's units/,
    );
    assert.deepEqual(ran, []);
    await systemctl(conn, 'stop', ['openvpn-server@mesh-b.service', 'meshctl-firewall.service']);
    assert.deepEqual(ran, [
      ['systemctl', 'stop', 'openvpn-server@mesh-b.service', 'meshctl-firewall.service'],
    ]);
  });
});
