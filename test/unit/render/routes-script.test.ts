import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatewayPaths } from '../../../src/gateway/layout.js';
import { allocateMesh } from '../../../src/mesh/allocate.js';
import { renderMesh } from '../../../src/render/render.js';
import { loadRoles } from '../../../src/render/roles.js';
import { buildInventory } from '../../helpers/inventory.js';
import { fixturePki } from './fixture.js';

/**
 * routes.sh (roles/routing) as rendered for a spoke, run by the local /bin/sh against a stand-in `ip` that records
 * its calls and reports the devices and meshctl routes a test gives it: the shell logic itself, not a copy of it.
 */

function spokeScript(): string {
  const inventory = buildInventory([
    { name: 'hub', id: 1 },
    { name: 'sa', id: 2, via: ['hub'] },
    { name: 'sb', id: 3, via: ['hub'] },
    { name: 'sc', id: 4, via: ['hub'] },
  ]);
  const mesh = allocateMesh(inventory);
  const states = renderMesh(mesh, fixturePki(mesh), loadRoles(), { version: 'x' });
  return states.get('sa')!.files.find((f) => f.path === gatewayPaths.routesScript)!.content;
}

/** Runs the script with `args`; `devices` exist, `installed` are meshctl's routes `ip route show proto` prints. */
function run(args: string[], devices: string[], installed: string[]): { code: number; calls: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'meshctl-routes-'));
  try {
    const log = join(dir, 'calls');
    writeFileSync(log, '');
    const fakeIp = `#!/bin/sh
echo "$*" >> ${log}
case "$*" in
  "link show dev "*) for d in ${devices.join(' ')}; do [ "$4" = "$d" ] && exit 0; done; exit 1 ;;
  "-4 route show proto "*) printf '%s\\n' ${installed.map((r) => `'${r}'`).join(' ')} ;;
esac
exit 0
`;
    writeFileSync(join(dir, 'ip'), fakeIp);
    chmodSync(join(dir, 'ip'), 0o755);
    const script = spokeScript().replace(/^PATH=.*$/m, `PATH=${dir}:/usr/bin:/bin`);
    writeFileSync(join(dir, 'routes.sh'), script);
    const result = spawnSync('/bin/sh', [join(dir, 'routes.sh'), ...args], { encoding: 'utf8' });
    return { code: result.status ?? -1, calls: readFileSync(log, 'utf8').trim().split('\n').filter(Boolean) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('routes.sh (routes through a peer)', () => {
  it('renders one line per route through the hub, on the tunnel to the hub', () => {
    const script = spokeScript();
    assert.match(script, /^10\.3\.0\.0\/16 mtun1 172\.19\.0\.5 hub$/m);
    assert.match(script, /^10\.4\.0\.0\/16 mtun1 172\.19\.0\.5 hub$/m);
    assert.doesNotMatch(script, /^10\.1\.0\.0\/16 /m, "the hub's own subnet is in the tunnel config instead");
  });

  it('sync installs every route whose device exists, and removes only meshctl routes no longer wanted', () => {
    const { code, calls } = run(
      ['sync'],
      ['mtun1'],
      [
        '10.3.0.0/16 via 172.19.0.5 dev mtun1 proto 199',
        '10.9.0.0/16 via 172.19.0.5 dev mtun1 proto 199',
        '10.9.9.9 via 172.19.0.5 dev mtun1 proto 199',
      ],
    );
    assert.equal(code, 0);
    assert.ok(calls.includes('route replace 10.3.0.0/16 via 172.19.0.5 dev mtun1 proto 199'));
    assert.ok(calls.includes('route replace 10.4.0.0/16 via 172.19.0.5 dev mtun1 proto 199'));
    assert.ok(calls.includes('route del 10.9.0.0/16 proto 199'), 'a stale route of meshctl goes');
    assert.ok(calls.includes('route del 10.9.9.9/32 proto 199'), 'a /32 as ip prints it (no prefix)');
    assert.ok(!calls.some((c) => c.startsWith('route del 10.3.0.0/16')), 'a wanted route stays');
  });

  it('sync skips a tunnel whose device does not exist yet (its unit re-runs it when it starts)', () => {
    const { code, calls } = run(['sync'], [], []);
    assert.equal(code, 0);
    assert.ok(!calls.some((c) => c.startsWith('route replace')));
  });

  it('clear removes every meshctl route and nothing else', () => {
    const { calls } = run(['clear'], ['mtun1'], ['10.3.0.0/16 via 172.19.0.5 dev mtun1 proto 199']);
    assert.deepEqual(
      calls.filter((c) => c.startsWith('route del')),
      ['route del 10.3.0.0/16 proto 199'],
    );
  });

  it('refuses an unknown verb', () => {
    assert.equal(run(['bogus'], [], []).code, 2);
  });
});
