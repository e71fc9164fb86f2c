import assert from 'node:assert/strict';
import { gatewayPaths } from '../../../src/gateway/layout.js';
import { allocateMesh } from '../../../src/mesh/allocate.js';
import { renderGateway } from '../../../src/render/render.js';
import { loadRoles } from '../../../src/render/roles.js';
import { buildInventory, type LanSpec } from '../../helpers/inventory.js';
import { fixturePki } from './fixture.js';

/**
 * SPEC §7: firewall rule counts grow with tunnels and subnets, never with their product. A spoke of a large
 * hub-and-spoke mesh with several subnets of its own forwards every other LAN's subnets over one tunnel.
 */
describe('firewall rules of a topology stay linear in tunnels and subnets', () => {
  it('a spoke with 3 subnets among 60 LANs has about one rule per remote subnet, not one per pair of subnets', () => {
    const lans: LanSpec[] = [{ name: 'hub', id: 1 }];
    for (let id = 2; id <= 60; id++) {
      lans.push({
        name: `s${id}`,
        id,
        via: ['hub'],
        subnets: [`10.${id}.0.0/16`, `172.16.${id}.0/24`, `192.168.${id}.0/24`],
      });
    }
    const mesh = allocateMesh(buildInventory(lans));
    const state = renderGateway(mesh, 's2', fixturePki(mesh), loadRoles(), { version: 'x' });
    const rules = state.files.find((f) => f.path === gatewayPaths.iptablesRules)!.content.split('\n');
    const forward = rules.filter((l) => l.startsWith('-A MESHCTL-FORWARD ')).length;
    const source = rules.filter((l) => l.startsWith('-A MESHCTL-SRC-')).length;
    const remoteSubnets = 1 + 58 * 3;
    assert.ok(forward <= remoteSubnets + 10, `${forward} forward rules for ${remoteSubnets} remote subnets`);
    assert.ok(source <= remoteSubnets + 3, `${source} source-check rules`);
    assert.ok(forward < remoteSubnets * 3, 'not local subnets × remote subnets');
  });
});
