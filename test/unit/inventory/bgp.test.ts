import assert from 'node:assert/strict';
import path from 'node:path';
import { loadInventory, loadInventoryOrThrow } from '../../../src/inventory/load.js';
import type { Diagnostic } from '../../../src/types.js';
import { lanText, removeInventory, writeInventory } from '../../helpers/inventory.js';

/** `routing:` and `bgp:` of mesh.yml, and backup subnets of `gateways:` entries (SPEC §1, §7). */

/** A LAN with two gateways (ids 5 and 6), each owning half of 10.5.0.0/19; extra text after each one's subnets. */
function azLan(opts: { aSubnets?: string; bSubnets?: string } = {}): string {
  return [
    'subnets: [10.5.0.0/20, 10.5.16.0/20]',
    'gateways:',
    '  - name: eu-a',
    '    id: 5',
    '    endpoint: 198.51.100.5',
    `    subnets: ${opts.aSubnets ?? '[10.5.0.0/20]'}`,
    '  - name: eu-b',
    '    id: 6',
    '    endpoint: 198.51.100.6',
    `    subnets: ${opts.bSubnets ?? '[10.5.16.0/20]'}`,
    '',
  ].join('\n');
}

function errors(ds: Diagnostic[]): Diagnostic[] {
  return ds.filter((d) => d.severity === 'error');
}

/** [file relative to the inventory, line, field] of each error: where the operator must look. */
function where(dir: string, ds: Diagnostic[]): [string, number | undefined, string][] {
  return errors(ds).map((d) => [path.relative(dir, d.file), d.line, d.field]);
}

describe('mesh.yml routing: and bgp:', () => {
  const dirs: string[] = [];
  const temp = (mesh: string, lans: Record<string, string>) => {
    const dir = writeInventory(mesh, lans);
    dirs.push(dir);
    return dir;
  };
  after(() => {
    for (const dir of dirs) removeInventory(dir);
  });

  it('defaults to static routing and the SPEC bgp settings, with no backup subnets anywhere', () => {
    const { inventory, diagnostics } = loadInventory(temp('name: corp\n', { a: lanText(1), eu: azLan() }));
    assert.deepEqual(diagnostics, []);
    assert.equal(inventory!.mesh.routing, 'static');
    assert.deepEqual(inventory!.mesh.bgp, { asnBase: 4200000000, bfd: { intervalMs: 300, multiplier: 3 } });
    assert.deepEqual(
      inventory!.gateways.map((g) => g.backupSubnets),
      [[], [], []],
    );
  });

  it('reads routing: bgp and fills in every bgp key left out', () => {
    const dir = temp('name: corp\nrouting: bgp\nbgp:\n  bfd: { multiplier: 5 }\n', { a: lanText(1) });
    const { inventory } = loadInventoryOrThrow(dir);
    assert.equal(inventory.mesh.routing, 'bgp');
    assert.deepEqual(inventory.mesh.bgp, { asnBase: 4200000000, bfd: { intervalMs: 300, multiplier: 5 } });
    const empty = loadInventoryOrThrow(temp('name: corp\nrouting: bgp\nbgp: {}\n', { a: lanText(1) }));
    assert.deepEqual(empty.inventory.mesh.bgp, {
      asnBase: 4200000000,
      bfd: { intervalMs: 300, multiplier: 3 },
    });
  });

  it('accepts the BFD range ends FRR accepts, and refuses one past each with the range', () => {
    for (const [interval, multiplier] of [
      [10, 2],
      [60000, 255],
    ]) {
      const mesh = `name: corp\nrouting: bgp\nbgp:\n  bfd:\n    interval_ms: ${interval}\n    multiplier: ${multiplier}\n`;
      const { inventory, diagnostics } = loadInventory(temp(mesh, { a: lanText(1) }));
      assert.deepEqual(diagnostics, []);
      assert.deepEqual(inventory!.mesh.bgp.bfd, { intervalMs: interval, multiplier });
    }
    for (const [interval, multiplier] of [
      [9, 1],
      [60001, 256],
    ]) {
      const mesh = `name: corp\nrouting: bgp\nbgp:\n  bfd:\n    interval_ms: ${interval}\n    multiplier: ${multiplier}\n`;
      const dir = temp(mesh, { a: lanText(1) });
      const { inventory, diagnostics } = loadInventory(dir);
      assert.equal(inventory, undefined);
      assert.deepEqual(where(dir, diagnostics), [
        ['mesh.yml', 5, 'bgp.bfd.interval_ms'],
        ['mesh.yml', 6, 'bgp.bfd.multiplier'],
      ]);
      assert.match(diagnostics[0]!.fix, /from 10 to 60000/);
      assert.match(diagnostics[1]!.fix, /from 2 to 255/);
      assert.deepEqual(
        diagnostics.map((d) => d.value),
        [interval, multiplier],
      );
    }
  });

  it('refuses bfd values that are not whole numbers, and bgp or bfd that are not mappings', () => {
    const dir = temp('name: corp\nrouting: bgp\nbgp:\n  asn_base: 4.2e9\n  bfd: 300\n', { a: lanText(1) });
    const { diagnostics } = loadInventory(dir);
    assert.deepEqual(where(dir, diagnostics), [
      ['mesh.yml', 4, 'bgp.asn_base'],
      ['mesh.yml', 5, 'bgp.bfd'],
    ]);
    const list = temp('name: corp\nrouting: bgp\nbgp: [4200000000]\n', { a: lanText(1) });
    assert.deepEqual(where(list, loadInventory(list).diagnostics), [['mesh.yml', 3, 'bgp']]);
  });

  it('refuses unknown keys of bgp: and bgp.bfd: with a did-you-mean', () => {
    const dir = temp(
      'name: corp\nrouting: bgp\nbgp:\n  asn-base: 4200000000\n  bfd: { intervall_ms: 300 }\n',
      {
        a: lanText(1),
      },
    );
    const { diagnostics } = loadInventory(dir);
    assert.deepEqual(where(dir, diagnostics), [
      ['mesh.yml', 4, 'bgp.asn-base'],
      ['mesh.yml', 5, 'bgp.bfd.intervall_ms'],
    ]);
    assert.match(diagnostics[0]!.fix, /did you mean "asn_base"\?/);
    assert.match(diagnostics[1]!.fix, /did you mean "interval_ms"\?/);
  });

  it('refuses a routing mode that is not static or bgp, naming the choices', () => {
    for (const [value, shown, suggestion] of [
      ['BGP', 'BGP', /did you mean "bgp"\?/],
      ['ospf', 'ospf', /^routing is one of: static .*, bgp /],
      ['true', true, /^$/],
    ] as const) {
      const dir = temp(`name: corp\nrouting: ${value}\n`, { a: lanText(1) });
      const { inventory, diagnostics } = loadInventory(dir);
      assert.equal(inventory, undefined);
      assert.deepEqual(where(dir, diagnostics), [['mesh.yml', 2, 'routing']]);
      assert.equal(diagnostics[0]!.value, shown);
      if (typeof shown === 'string') {
        assert.match(diagnostics[0]!.message, new RegExp(`unknown routing mode "${shown}"`));
        assert.match(diagnostics[0]!.fix, suggestion);
        assert.match(diagnostics[0]!.fix, /static.*bgp/);
      } else assert.match(diagnostics[0]!.message, /must be a string/);
    }
  });

  describe('every gateway ASN (asn_base + id) is a private 4-byte ASN', () => {
    // gateways 1 (LAN a), 5 and 6 (the two gateways of LAN eu): 4294967294 − 6 is the largest asn_base that fits
    const lans = () => ({ a: lanText(1), eu: azLan() });

    it('accepts asn_base up to the one that puts the highest id on 4294967294', () => {
      const { inventory, diagnostics } = loadInventory(
        temp('name: corp\nrouting: bgp\nbgp: { asn_base: 4294967288 }\n', lans()),
      );
      assert.deepEqual(diagnostics, []);
      assert.equal(inventory!.mesh.bgp.asnBase, 4294967288);
      const low = loadInventory(temp('name: corp\nrouting: bgp\nbgp: { asn_base: 4199999999 }\n', lans()));
      assert.deepEqual(low.diagnostics, [], 'gateway 1 gets 4200000000, the first private 4-byte ASN');
    });

    it('refuses one more at bgp.asn_base, naming the gateway of a gateways: LAN that overflows and the fix', () => {
      const dir = temp('name: corp\nrouting: bgp\nbgp:\n  asn_base: 4294967289\n', lans());
      const { inventory, diagnostics } = loadInventory(dir);
      assert.equal(inventory, undefined);
      assert.deepEqual(where(dir, diagnostics), [['mesh.yml', 4, 'bgp.asn_base']]);
      const [d] = diagnostics;
      assert.equal(d!.value, 4294967289);
      assert.equal(
        d!.message,
        `bgp.asn_base 4294967289 + id 6 (gateway "eu-b" of LAN "eu", ${path.join(dir, 'lans', 'eu.yml')}:8) = 4294967295, past 4294967294, the last private 4-byte ASN (RFC 6996)`,
      );
      assert.equal(
        d!.fix,
        'lower asn_base to at most 4294967288 (the highest gateway id is 6), or keep every gateway id at most 5',
      );
    });

    it('counts every gateway that overflows, and gives only the asn_base fix when no id would fit', () => {
      const dir = temp('name: corp\nrouting: bgp\nbgp:\n  asn_base: 4294967294\n', lans());
      const [d] = errors(loadInventory(dir).diagnostics);
      assert.match(d!.message, /; 2 more gateway\(s\) overflow too$/);
      assert.equal(d!.fix, 'lower asn_base to at most 4294967288 (the highest gateway id is 6)');
    });

    it('refuses an asn_base below the private range, with the range of asn_base that fits', () => {
      const dir = temp('name: corp\nrouting: bgp\nbgp:\n  asn_base: 64512\n', lans());
      const { diagnostics } = loadInventory(dir);
      assert.deepEqual(where(dir, diagnostics), [['mesh.yml', 4, 'bgp.asn_base']]);
      assert.match(
        diagnostics[0]!.message,
        /^bgp\.asn_base 64512 \+ id 1 \(LAN "a", .*a\.yml:2\) = 64513, not a private 4-byte ASN \(4200000000\.\.4294967294, RFC 6996\); 2 more gateway\(s\) fall below it too$/,
      );
      assert.match(
        diagnostics[0]!.fix,
        /^use an asn_base from 4199999999 to 4294967288 .*e\.g\. asn_base: 4200000000$/,
      );
    });

    it('does not judge ASNs under static routing (bgp: is ignored there) or when bgp: itself was refused', () => {
      const statik = loadInventory(temp('name: corp\nbgp: { asn_base: 4294967294 }\n', lans()));
      assert.ok(statik.inventory);
      assert.deepEqual(
        statik.diagnostics.map((d) => [d.severity, d.field]),
        [['warning', 'bgp']],
      );
      const refused = temp(
        'name: corp\nrouting: bgp\nbgp: { asn_base: 4294967294, bfd: { multiplier: 0 } }\n',
        lans(),
      );
      assert.deepEqual(where(refused, loadInventory(refused).diagnostics), [
        ['mesh.yml', 3, 'bgp.bfd.multiplier'],
      ]);
    });
  });

  describe('a bgp: block without routing: bgp', () => {
    it('is a warning at its line, not an error, when routing is absent or static', () => {
      for (const [mesh, line, says] of [
        ['name: corp\nbgp:\n  asn_base: 4200000000\n', 2, /there is no routing: key, so routing is static/],
        [
          'name: corp\nrouting: static\nbgp: { bfd: { interval_ms: 100 } }\n',
          3,
          /routing is static, and only/,
        ],
      ] as const) {
        const { inventory, diagnostics } = loadInventory(temp(mesh, { a: lanText(1) }));
        assert.ok(inventory, 'a warning does not fail validation');
        assert.equal(inventory.mesh.routing, 'static');
        assert.deepEqual(
          diagnostics.map((d) => [d.severity, d.field, d.line]),
          [['warning', 'bgp', line]],
        );
        assert.match(diagnostics[0]!.message, /^the block is ignored: /);
        assert.match(diagnostics[0]!.message, says);
        assert.match(diagnostics[0]!.fix, /set routing: bgp .*, or remove the bgp: block/);
      }
    });

    it('is no warning with routing: bgp', () => {
      const { diagnostics } = loadInventory(temp('name: corp\nrouting: bgp\nbgp: {}\n', { a: lanText(1) }));
      assert.deepEqual(diagnostics, []);
    });

    it('is still checked key by key: a typo there is an error even while it is ignored', () => {
      const dir = temp('name: corp\nbgp: { asn_bas: 1 }\n', { a: lanText(1) });
      const { diagnostics } = loadInventory(dir);
      assert.deepEqual(
        diagnostics.map((d) => [d.severity, d.field]),
        [
          ['error', 'bgp.asn_bas'],
          ['warning', 'bgp'],
        ],
      );
    });
  });

  it('reports every problem at once: routing, bgp keys and a LAN file together', () => {
    const dir = temp('name: corp\nrouting: bpg\nbgp:\n  bfd: { interval_ms: 0, multiplier: "3" }\n', {
      a: lanText(1, '10.1.0.1/16'),
    });
    const { diagnostics } = loadInventory(dir);
    assert.deepEqual(where(dir, diagnostics), [
      ['mesh.yml', 2, 'routing'],
      ['mesh.yml', 4, 'bgp.bfd.interval_ms'],
      ['mesh.yml', 4, 'bgp.bfd.multiplier'],
      [path.join('lans', 'a.yml'), 3, 'subnets[0]'],
    ]);
  });
});

describe('backup subnets of gateways: entries', () => {
  const dirs: string[] = [];
  const temp = (mesh: string, lans: Record<string, string>) => {
    const dir = writeInventory(mesh, lans);
    dirs.push(dir);
    return dir;
  };
  after(() => {
    for (const dir of dirs) removeInventory(dir);
  });
  const BGP = 'name: corp\nrouting: bgp\n';

  it('go to Gateway.backupSubnets; the LAN and each gateway keep their own subnets, once each', () => {
    const eu = azLan({
      aSubnets: '[10.5.0.0/20, { cidr: 10.5.16.0/20, backup: true }]',
      bSubnets: '\n      - cidr: 10.5.16.0/20\n      - cidr: 10.5.0.0/20\n        backup: true',
    });
    const { inventory, diagnostics } = loadInventory(temp(BGP, { a: lanText(1), eu }));
    assert.deepEqual(diagnostics, []);
    const lan = inventory!.lans.find((l) => l.name === 'eu')!;
    assert.deepEqual(lan.subnets, ['10.5.0.0/20', '10.5.16.0/20']);
    assert.deepEqual(
      lan.gateways.map((g) => [g.name, g.subnets, g.backupSubnets]),
      [
        ['eu-a', ['10.5.0.0/20'], ['10.5.16.0/20']],
        ['eu-b', ['10.5.16.0/20'], ['10.5.0.0/20']],
      ],
    );
    assert.deepEqual(
      inventory!.gateways.find((g) => g.name === 'a')!.backupSubnets,
      [],
      'a LAN with one gateway has none',
    );
  });

  it('may make a gateway a standby that owns nothing and backs up a sibling', () => {
    const eu = azLan({
      aSubnets: '[10.5.0.0/20, 10.5.16.0/20]',
      bSubnets: '[{ cidr: 10.5.0.0/20, backup: true }, { cidr: 10.5.16.0/20, backup: true }]',
    });
    const { inventory, diagnostics } = loadInventory(temp(BGP, { a: lanText(1), eu }));
    assert.deepEqual(diagnostics, []);
    assert.deepEqual(
      inventory!.gateways.map((g) => [g.name, g.subnets, g.backupSubnets]),
      [
        ['a', ['10.1.0.0/16'], []],
        ['eu-a', ['10.5.0.0/20', '10.5.16.0/20'], []],
        ['eu-b', [], ['10.5.0.0/20', '10.5.16.0/20']],
      ],
    );
  });

  it('treats { cidr: X } and { cidr: X, backup: false } as the plain X, also under static routing', () => {
    const eu = azLan({
      aSubnets: '[{ cidr: 10.5.0.0/20 }]',
      bSubnets: '[{ cidr: 10.5.16.0/20, backup: false }]',
    });
    const { inventory, diagnostics } = loadInventory(temp('name: corp\n', { a: lanText(1), eu }));
    assert.deepEqual(diagnostics, []);
    assert.deepEqual(
      inventory!.gateways.map((g) => [g.name, g.subnets, g.backupSubnets]),
      [
        ['a', ['10.1.0.0/16'], []],
        ['eu-a', ['10.5.0.0/20'], []],
        ['eu-b', ['10.5.16.0/20'], []],
      ],
    );
  });

  it('need routing: bgp: refused at the backup: line, saying static cannot fail over', () => {
    const eu = azLan({ bSubnets: '\n      - 10.5.16.0/20\n      - cidr: 10.5.0.0/20\n        backup: true' });
    for (const [mesh, says] of [
      ['name: corp\n', /routing is static \(the default: .*mesh\.yml has no routing: key\)/],
      ['name: corp\nrouting: static\n', /routing is static \(.*mesh\.yml:2\)/],
    ] as const) {
      const dir = temp(mesh, { a: lanText(1), eu });
      const { inventory, diagnostics } = loadInventory(dir);
      assert.equal(inventory, undefined);
      assert.deepEqual(where(dir, diagnostics), [
        [path.join('lans', 'eu.yml'), 13, 'gateways[1].subnets[1].backup'],
      ]);
      assert.match(diagnostics[0]!.message, /^backup: true needs routing: bgp in mesh\.yml, but /);
      assert.match(diagnostics[0]!.message, says);
      assert.match(diagnostics[0]!.message, /no way to fail over/);
      assert.match(diagnostics[0]!.fix, /^set routing: bgp in mesh\.yml, or remove this backup entry/);
    }
  });

  it('are not judged against routing when routing: itself was refused', () => {
    const eu = azLan({ bSubnets: '[10.5.16.0/20, { cidr: 10.5.0.0/20, backup: true }]' });
    const dir = temp('name: corp\nrouting: ospf\n', { a: lanText(1), eu });
    assert.deepEqual(where(dir, loadInventory(dir).diagnostics), [['mesh.yml', 2, 'routing']]);
  });

  it('must be exactly a subnet another gateway of the same LAN owns', () => {
    const dir = temp(BGP, {
      a: lanText(1),
      eu: azLan({
        bSubnets:
          '\n      - 10.5.16.0/20\n      - { cidr: 10.5.0.0/21, backup: true }\n      - cidr: 10.5.32.0/20\n        backup: true',
      }),
    });
    const { diagnostics } = loadInventory(dir);
    assert.deepEqual(where(dir, diagnostics), [
      [path.join('lans', 'eu.yml'), 12, 'gateways[1].subnets[1].cidr'],
      [path.join('lans', 'eu.yml'), 13, 'gateways[1].subnets[2].cidr'],
    ]);
    const [inside, nobody] = diagnostics;
    assert.match(
      inside!.message,
      /^10\.5\.0\.0\/21 is marked backup, but it is not exactly a subnet of another gateway of LAN "eu": it overlaps 10\.5\.0\.0\/20 of gateway "eu-a" \(.*eu\.yml:6\)/,
    );
    assert.equal(inside!.fix, "a backup repeats another gateway's own subnet exactly: use 10.5.0.0/20");
    assert.match(
      nobody!.message,
      /10\.5\.32\.0\/20 is marked backup, but no other gateway of LAN "eu" owns it/,
    );
    assert.match(nobody!.fix, /use one of 10\.5\.0\.0\/20 of "eu-a"$/);
  });

  it("may not repeat the gateway's own subnet, nor be listed twice", () => {
    const dir = temp(BGP, {
      a: lanText(1),
      eu: azLan({
        aSubnets: '[10.5.0.0/20, { cidr: 10.5.0.0/20, backup: true }]',
        bSubnets:
          '[10.5.16.0/20, { cidr: 10.5.0.0/20, backup: true },\n      { cidr: 10.5.0.0/20, backup: true }]',
      }),
    });
    const { diagnostics } = loadInventory(dir);
    assert.deepEqual(where(dir, diagnostics), [
      [path.join('lans', 'eu.yml'), 6, 'gateways[0].subnets[1].cidr'],
      [path.join('lans', 'eu.yml'), 11, 'gateways[1].subnets[2].cidr'],
    ]);
    assert.match(
      diagnostics[0]!.message,
      /gateway "eu-a" lists 10\.5\.0\.0\/20 both as its own subnet \(.*eu\.yml:6\) and as a backup/,
    );
    assert.match(diagnostics[0]!.fix, /cannot back up its own subnet/);
    assert.match(
      diagnostics[1]!.message,
      /listed twice as a backup subnet of gateway "eu-b" \(first at .*eu\.yml:10\)/,
    );
  });

  it("are refused in a LAN's own subnets, with or without gateways:", () => {
    const single =
      'id: 1\nsubnets:\n  - 10.1.0.0/16\n  - cidr: 10.2.0.0/16\n    backup: true\ngateway:\n  endpoint: 203.0.113.1\n';
    const several = azLan().replace(
      'subnets: [10.5.0.0/20, 10.5.16.0/20]',
      'subnets: [10.5.0.0/20, { cidr: 10.5.16.0/20, backup: true }]',
    );
    const dir = temp(BGP, { a: single, eu: several });
    const { diagnostics } = loadInventory(dir);
    const found = errors(diagnostics);
    assert.deepEqual(
      found.slice(0, 2).map((d) => [path.relative(dir, d.file), d.line, d.field]),
      [
        [path.join('lans', 'a.yml'), 5, 'subnets[1].backup'],
        [path.join('lans', 'eu.yml'), 1, 'subnets[1].backup'],
      ],
    );
    assert.match(found[0]!.message, /only allowed in a LAN with several gateways \(gateways:\)/);
    assert.match(found[0]!.fix, /write 10\.2\.0\.0\/16 plainly/);
    assert.match(found[1]!.message, /only allowed in a gateway's own subnets \(an entry of gateways:\)/);
    assert.match(
      found[1]!.fix,
      /write \{ cidr: 10\.5\.16\.0\/20, backup: true \} in the subnets of the gateways: entry/,
    );
  });

  it('refuse a mapping entry without cidr, an unknown key and a backup that is not a boolean', () => {
    const dir = temp(BGP, {
      a: lanText(1),
      eu: azLan({
        bSubnets:
          '[10.5.16.0/20, { backup: true }, { cidr: 10.5.0.0/20, backpu: true }, { cidr: 10.5.0.0/20, backup: yes }]',
      }),
    });
    const { diagnostics } = loadInventory(dir);
    assert.deepEqual(
      errors(diagnostics).map((d) => d.field),
      [
        'gateways[1].subnets[1].cidr',
        'gateways[1].subnets[2].backpu',
        'gateways[1].subnets[3].backup',
        // { cidr: 10.5.0.0/20 } (the unknown key aside) is a plain subnet, so it overlaps eu-a's
        'gateways[1].subnets[2].cidr',
      ],
    );
    assert.match(diagnostics[1]!.fix, /did you mean "backup"\?/);
    assert.match(diagnostics[2]!.fix, /write backup: true/);
  });

  describe('overlap checks', () => {
    it('do not count a backup as overlapping the subnet it backs up', () => {
      const eu = azLan({
        aSubnets: '[10.5.0.0/20, { cidr: 10.5.16.0/20, backup: true }]',
        bSubnets: '[10.5.16.0/20, { cidr: 10.5.0.0/20, backup: true }]',
      });
      assert.deepEqual(loadInventory(temp(BGP, { a: lanText(1), eu })).diagnostics, []);
    });

    it('still refuse the same subnet owned by two gateways, pointing at backup: true', () => {
      const dir = temp(BGP, { a: lanText(1), eu: azLan({ bSubnets: '[10.5.16.0/20, 10.5.0.0/20]' }) });
      const { diagnostics } = loadInventory(dir);
      assert.deepEqual(where(dir, diagnostics), [
        [path.join('lans', 'eu.yml'), 10, 'gateways[1].subnets[1]'],
      ]);
      assert.match(diagnostics[0]!.message, /overlaps 10\.5\.0\.0\/20 of gateway "eu-a"/);
      assert.match(diagnostics[0]!.fix, /write \{ cidr: 10\.5\.0\.0\/20, backup: true \}$/);
    });

    it('catch a backup subnet overlapping another LAN or the transit', () => {
      const dir = temp(`${BGP}transit: 172.19.0.0/16\n`, {
        a: lanText(1),
        eu: azLan({
          bSubnets:
            '[10.5.16.0/20, { cidr: 10.1.0.0/17, backup: true }, { cidr: 172.19.4.0/24, backup: true }]',
        }),
      });
      const { diagnostics } = loadInventory(dir);
      const overlapping = errors(diagnostics).filter((d) => /overlaps/.test(d.message));
      assert.deepEqual(
        overlapping.map((d) => [path.relative(dir, d.file), d.line, d.field, d.value]),
        [
          [path.join('lans', 'eu.yml'), 10, 'gateways[1].subnets[1].cidr', '10.1.0.0/17'],
          [path.join('lans', 'eu.yml'), 10, 'gateways[1].subnets[2].cidr', '172.19.4.0/24'],
        ],
      );
      assert.match(
        overlapping[0]!.message,
        /^10\.1\.0\.0\/17, a backup subnet of gateway "eu-b" of LAN "eu", overlaps 10\.1\.0\.0\/16 of LAN "a" \(.*a\.yml:3\)$/,
      );
      assert.match(
        overlapping[1]!.message,
        /overlaps the transit network 172\.19\.0\.0\/16 \(.*mesh\.yml:3\)$/,
      );
      // and each is also no subnet of a sibling
      assert.equal(errors(diagnostics).length, 4);
    });
  });
});
