import assert from 'node:assert/strict';
import type { Connection, ExecResult } from '../../../src/connection/types.js';
import { newUnitFilesOnly, systemdSees } from '../../../src/execute/converge.js';
import { unitOfUnitFile } from '../../../src/gateway/layout.js';
import type { Action } from '../../../src/plan/types.js';

const DROP_IN = '/etc/systemd/system/openvpn-server@mesh-b.service.d/meshctl.conf';
const FIREWALL = '/etc/systemd/system/meshctl-firewall.service';

function write(path: string, change: 'create' | 'update' | 'mode-only'): Action {
  return { kind: 'write-file', change, path, mode: 0o644, owner: 'root', secret: false, reason: 'test' };
}

describe('the planned daemon-reload: when systemd may see the unit files by itself', () => {
  it('maps unit files and drop-ins to their unit, and nothing else', () => {
    assert.equal(unitOfUnitFile(DROP_IN), 'openvpn-server@mesh-b.service');
    assert.equal(unitOfUnitFile(FIREWALL), 'meshctl-firewall.service');
    assert.equal(unitOfUnitFile('/etc/openvpn/server/mesh-b.conf'), null);
    assert.equal(unitOfUnitFile('/etc/systemd/system/a/b/c.conf'), null);
  });

  it('only new unit files qualify; one updated or removed means a reload in any case', () => {
    assert.deepEqual(
      newUnitFilesOnly([write(DROP_IN, 'create'), write('/etc/openvpn/server/x.conf', 'update')]),
      [{ unit: 'openvpn-server@mesh-b.service', path: DROP_IN }],
    );
    assert.equal(newUnitFilesOnly([write(DROP_IN, 'create'), write(FIREWALL, 'update')]), null);
    assert.equal(
      newUnitFilesOnly([write(DROP_IN, 'create'), { kind: 'remove-file', path: FIREWALL, reason: 'test' }]),
      null,
    );
    assert.equal(newUnitFilesOnly([write(FIREWALL, 'mode-only')]), null, 'nothing new: nothing to look for');
  });

  /** A gateway whose `systemctl show` answers `result` (or fails with it). */
  function showing(result: ExecResult | Error): Connection {
    return {
      name: 'gw',
      host: '198.18.0.1',
      exec: async () => {
        if (result instanceof Error) throw result;
        return result;
      },
      close: async () => {},
    };
  }
  const UNIT = 'openvpn-server@mesh-b.service';
  const shown = (over: Record<string, string> = {}) => {
    const props = {
      Id: UNIT,
      NeedDaemonReload: 'no',
      FragmentPath: '/lib/systemd/system/openvpn-server@.service',
      DropInPaths: `/etc/systemd/system/other.conf ${DROP_IN}`,
      UnitFileState: 'enabled',
      ...over,
    };
    return {
      code: 0,
      stdout: `${Object.entries(props)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n')}\n`,
      stderr: '',
    };
  };
  const files = [{ unit: UNIT, path: DROP_IN }];

  it('systemd sees the new files only when it says so on every count', async () => {
    assert.equal(await systemdSees(showing(shown()), files, [UNIT]), true);
    assert.equal(await systemdSees(showing(shown({ NeedDaemonReload: 'yes' })), files, [UNIT]), false);
    assert.equal(
      await systemdSees(showing(shown({ DropInPaths: '' })), files, [UNIT]),
      false,
      'drop-in not loaded',
    );
    assert.equal(await systemdSees(showing(shown({ UnitFileState: 'disabled' })), files, [UNIT]), false);
    assert.equal(
      await systemdSees(showing(shown({ Id: 'other.service' })), files, [UNIT]),
      false,
      'not shown',
    );
    assert.equal(await systemdSees(showing({ code: 1, stdout: '', stderr: 'no bus' }), files, [UNIT]), false);
    assert.equal(await systemdSees(showing(new Error('link lost')), files, [UNIT]), false);
  });
});
