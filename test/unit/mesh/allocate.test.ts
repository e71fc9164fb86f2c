import assert from 'node:assert/strict';
import {
  allocateMesh,
  deviceName,
  highestPairIndex,
  maxIdForTransit,
  maxPairIndexForTransit,
  pairIndex,
  pairTransit,
} from '../../../src/mesh/allocate.js';
import { buildInventory } from '../../helpers/inventory.js';

describe('allocation (SPEC §2)', () => {
  it('numbers pairs k = (b-1)(b-2)/2 + a, densely from 1', () => {
    const expected: [number, number, number][] = [
      [1, 2, 1],
      [1, 3, 2],
      [2, 3, 3],
      [1, 4, 4],
      [2, 4, 5],
      [3, 4, 6],
      [1, 5, 7],
      [4, 5, 10],
      [149, 150, 11175],
    ];
    for (const [a, b, k] of expected) {
      assert.equal(pairIndex(a, b), k, `pair (${a},${b})`);
      assert.equal(pairIndex(b, a), k, 'order of the ids does not matter');
    }
    // ids 1..n use exactly indices 1..n(n-1)/2
    const seen = new Set<number>();
    for (let b = 2; b <= 60; b++) for (let a = 1; a < b; a++) seen.add(pairIndex(a, b));
    assert.equal(seen.size, (60 * 59) / 2);
    assert.equal(Math.min(...seen), 1);
    assert.equal(Math.max(...seen), (60 * 59) / 2);
  });

  it('refuses equal, zero or non-integer ids', () => {
    assert.throws(() => pairIndex(3, 3), RangeError);
    assert.throws(() => pairIndex(0, 2), RangeError);
    assert.throws(() => pairIndex(1.5, 2), RangeError);
  });

  it('gives pair k the /30 at transit + 4k, lower id first', () => {
    assert.deepEqual(pairTransit('172.19.0.0/16', 1), {
      network: '172.19.0.4/30',
      low: '172.19.0.5',
      high: '172.19.0.6',
    });
    assert.deepEqual(pairTransit('172.19.0.0/16', 64), {
      network: '172.19.1.0/30',
      low: '172.19.1.1',
      high: '172.19.1.2',
    });
    assert.deepEqual(pairTransit('10.200.0.0/24', 63), {
      network: '10.200.0.252/30',
      low: '10.200.0.253',
      high: '10.200.0.254',
    });
  });

  it('knows the limits of a transit network', () => {
    assert.equal(maxPairIndexForTransit('10.200.0.0/24'), 63);
    assert.throws(() => pairTransit('10.200.0.0/24', 64), /does not fit/);
    assert.equal(maxPairIndexForTransit('172.19.0.0/16'), 16383);
    // largest id b with b(b-1)/2 <= limit
    assert.equal(maxIdForTransit('10.200.0.0/24'), 11); // 11*10/2 = 55 <= 63 < 66
    assert.equal(maxIdForTransit('172.19.0.0/16'), 181); // 181*180/2 = 16290 <= 16383 < 16471
    assert.equal(maxIdForTransit('10.0.0.0/30'), 1);
    assert.equal(highestPairIndex([1, 2, 3, 9]), pairIndex(3, 9));
    assert.equal(highestPairIndex([5]), 0);
  });

  it('computes the whole mesh: ports, addresses, roles and devices', () => {
    const mesh = allocateMesh(
      buildInventory([
        { name: 'hq', id: 1 },
        { name: 'branch', id: 2 },
        { name: 'dc', id: 4 },
      ]),
    );
    assert.deepEqual(
      mesh.pairs.map((p) => [
        p.index,
        p.low.name,
        p.high.name,
        p.port,
        p.lowAddress,
        p.highAddress,
        p.device,
      ]),
      [
        [1, 'hq', 'branch', 11001, '172.19.0.5', '172.19.0.6', 'mtun1'],
        [4, 'hq', 'dc', 11004, '172.19.0.17', '172.19.0.18', 'mtun4'],
        [5, 'branch', 'dc', 11005, '172.19.0.21', '172.19.0.22', 'mtun5'],
      ],
    );
    const branch = mesh.tunnels.get('branch')!;
    assert.deepEqual(
      branch.map((t) => [t.peer.name, t.role, t.localAddress, t.peerAddress, t.name]),
      [
        ['hq', 'client', '172.19.0.6', '172.19.0.5', 'mesh-hq'],
        ['dc', 'server', '172.19.0.21', '172.19.0.22', 'mesh-dc'],
      ],
    );
  });

  it('never moves an existing pair when a LAN is added or removed', () => {
    const before = allocateMesh(
      buildInventory([
        { name: 'a', id: 1 },
        { name: 'b', id: 2 },
        { name: 'c', id: 3 },
        { name: 'd', id: 4 },
      ]),
    );
    const grown = allocateMesh(
      buildInventory([
        { name: 'a', id: 1 },
        { name: 'b', id: 2 },
        { name: 'c', id: 3 },
        { name: 'd', id: 4 },
        { name: 'e', id: 7 },
      ]),
    );
    const shrunk = allocateMesh(
      buildInventory([
        { name: 'a', id: 1 },
        { name: 'c', id: 3 },
        { name: 'd', id: 4 },
      ]),
    );
    const key = (p: { low: { name: string }; high: { name: string } }) => `${p.low.name}-${p.high.name}`;
    const numbers = (p: (typeof before.pairs)[number]) => [p.index, p.port, p.transitNetwork, p.device];
    for (const after of [grown, shrunk]) {
      for (const pair of after.pairs) {
        const old = before.pairs.find((p) => key(p) === key(pair));
        if (old) assert.deepEqual(numbers(pair), numbers(old), `pair ${key(pair)} moved`);
      }
    }
    assert.equal(grown.pairs.length, 10);
    assert.equal(shrunk.pairs.length, 3);
  });

  it('keeps device names within the 15 characters Linux allows', () => {
    assert.ok(deviceName(65535).length <= 15);
    assert.equal(deviceName(11175), 'mtun11175');
  });
});
