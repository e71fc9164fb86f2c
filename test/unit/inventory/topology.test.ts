import assert from 'node:assert/strict';
import { loadInventory } from '../../../src/inventory/load.js';
import { allocateMesh } from '../../../src/mesh/allocate.js';
import type { Diagnostic } from '../../../src/types.js';
import { lanText, removeInventory, writeInventory } from '../../helpers/inventory.js';

/**
 * Topologies in lans/NAME.yml (SPEC §1, §7): `via` makes a leaf, `gateways:` serves a LAN from several gateways.
 * Every bad topology is refused with its file, line, field, value and fix; a good one loads into gateways.
 */

const MESH = 'name: corp\n';
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) removeInventory(dir);
});

function load(lans: Record<string, string>) {
  const dir = writeInventory(MESH, lans);
  dirs.push(dir);
  return loadInventory(dir);
}

const leaf = (id: number, via: string) => `${lanText(id)}via: [${via}]\n`;
const AZ_LAN = `subnets: [10.5.0.0/20, 10.5.16.0/20]
gateways:
  - { name: eu-a, id: 5, endpoint: 198.51.100.5, subnets: [10.5.0.0/20] }
  - { name: eu-b, id: 6, endpoint: 198.51.100.6, subnets: [10.5.16.0/20] }
`;

function errors(diagnostics: Diagnostic[]): Diagnostic[] {
  return diagnostics.filter((d) => d.severity === 'error');
}

/** The one error on `field` of lans/`lan`.yml, asserting it names a line and a fix. */
function errorOn(diagnostics: Diagnostic[], lan: string, field: string, message: RegExp): Diagnostic {
  const found = errors(diagnostics).filter((d) => d.field === field && d.file.endsWith(`/${lan}.yml`));
  assert.equal(found.length, 1, `one error on ${field}: ${JSON.stringify(errors(diagnostics), null, 1)}`);
  const d = found[0]!;
  assert.match(d.message, message);
  assert.equal(typeof d.line, 'number', `${field} has a line`);
  assert.ok(d.fix.length > 10, 'with a fix');
  return d;
}

describe('inventory: leaves and several gateways per LAN', () => {
  it('loads a hub-and-spoke: no spoke↔spoke tunnel, every spoke routes the others via the hub', () => {
    const { inventory, diagnostics } = load({
      hub: lanText(1),
      s2: leaf(2, 'hub'),
      s3: leaf(3, 'hub'),
      s4: leaf(4, 'hub'),
    });
    assert.deepEqual(errors(diagnostics), []);
    assert.deepEqual(inventory!.lans.find((l) => l.name === 's2')!.via, ['hub']);
    const mesh = allocateMesh(inventory!);
    assert.deepEqual(
      mesh.pairs.map((p) => `${p.low.name}-${p.high.name} k${p.index}`),
      ['hub-s2 k1', 'hub-s3 k2', 'hub-s4 k4'],
      'pair numbers stay those of the ids (SPEC §2)',
    );
    const s2 = mesh.tunnels.get('s2')!;
    assert.deepEqual(
      s2.map((t) => t.peer.name),
      ['hub'],
    );
    assert.deepEqual(s2[0]!.routes, ['10.1.0.0/16', '10.3.0.0/16', '10.4.0.0/16']);
    const hubToS2 = mesh.tunnels.get('hub')!.find((t) => t.peer.name === 's2')!;
    assert.deepEqual(hubToS2.admits, ['10.2.0.0/16']);
    assert.deepEqual(hubToS2.transit, ['10.3.0.0/16', '10.4.0.0/16']);
  });

  it('loads a LAN with one gateway per AZ: each gateway owns its part, peers route each part to its owner', () => {
    const { inventory, diagnostics } = load({ hq: lanText(1), br: lanText(2), eu: AZ_LAN });
    assert.deepEqual(errors(diagnostics), []);
    const eu = inventory!.lans.find((l) => l.name === 'eu')!;
    assert.deepEqual(
      eu.gateways.map((g) => [g.name, g.id, g.lan, g.subnets]),
      [
        ['eu-a', 5, 'eu', ['10.5.0.0/20']],
        ['eu-b', 6, 'eu', ['10.5.16.0/20']],
      ],
    );
    assert.deepEqual(
      inventory!.gateways.map((g) => g.name),
      ['hq', 'br', 'eu-a', 'eu-b'],
    );
    const mesh = allocateMesh(inventory!);
    const hq = mesh.tunnels.get('hq')!;
    assert.deepEqual(
      hq.map((t) => [t.peer.name, t.routes]),
      [
        ['br', ['10.2.0.0/16']],
        ['eu-a', ['10.5.0.0/20']],
        ['eu-b', ['10.5.16.0/20']],
      ],
    );
    assert.ok(!mesh.pairs.some((p) => p.low.lan === 'eu' && p.high.lan === 'eu'), 'no tunnel inside a LAN');
  });

  it('refuses every bad via with its file, line and fix', () => {
    const { inventory, diagnostics } = load({
      hub: lanText(1),
      a: `${lanText(2)}via: [a]\n`,
      b: `${lanText(3)}via: [nosuch]\n`,
      c: `${lanText(4)}via: [a]\n`,
      d: `${lanText(5)}via: []\n`,
    });
    assert.equal(inventory, undefined);
    errorOn(diagnostics, 'a', 'via[0]', /cannot be reached via itself/);
    assert.match(errorOn(diagnostics, 'b', 'via[0]', /there is no LAN "nosuch"/).fix, /hub/);
    errorOn(diagnostics, 'c', 'via[0]', /"a" is itself a leaf/);
    errorOn(diagnostics, 'd', 'via', /the list is empty/);
  });

  it('refuses gateways whose subnets overlap, lie outside the LAN, or leave part of it to nobody', () => {
    const overlapping = AZ_LAN.replace('subnets: [10.5.16.0/20] }', 'subnets: [10.5.0.0/21] }');
    const outside = AZ_LAN.replace('subnets: [10.5.16.0/20] }', 'subnets: [10.6.0.0/20] }');
    for (const [text, field, message] of [
      [overlapping, 'gateways[1].subnets[0]', /overlaps 10\.5\.0\.0\/20 of gateway "eu-a"/],
      [outside, 'gateways[1].subnets[0]', /is not inside the LAN's subnets/],
    ] as const) {
      const { inventory, diagnostics } = load({ hq: lanText(1), eu: text });
      assert.equal(inventory, undefined);
      errorOn(diagnostics, 'eu', field, message);
    }
    const partial = AZ_LAN.replace('subnets: [10.5.16.0/20] }', 'subnets: [10.5.16.0/21] }');
    const { diagnostics } = load({ hq: lanText(1), eu: partial });
    errorOn(diagnostics, 'eu', 'subnets[1]', /not wholly served by the LAN's gateways/);
  });

  it('refuses a gateway name or id used twice, and a LAN with both gateway: and gateways:', () => {
    const twice = AZ_LAN.replace('name: eu-b, id: 6', 'name: hq, id: 1');
    const { diagnostics } = load({ hq: lanText(1), eu: twice });
    errorOn(diagnostics, 'eu', 'gateways[1].name', /also the name of LAN "hq"/);
    // files are read in name order: eu.yml first, so hq.yml's id is the second use
    errorOn(diagnostics, 'hq', 'id', /id 1 is already used by gateway "hq" of LAN "eu"/);
    const both = `${AZ_LAN}gateway:\n  endpoint: 198.51.100.9\n`;
    const second = load({ hq: lanText(1), eu: both });
    errorOn(second.diagnostics, 'eu', 'gateway', /either gateway: .* or gateways:/);
  });
});
