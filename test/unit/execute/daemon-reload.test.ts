import assert from 'node:assert/strict';
import { newUnitFilesOnly } from '../../../src/execute/converge.js';
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
});
