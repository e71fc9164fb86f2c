import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { computeTopology, topologyProblems } from '../../../src/topology/topology.js';
import type { TopologyInput } from '../../../src/topology/types.js';
import { packageRoot } from '../../../src/version.js';

/**
 * Data fixtures (pyinfra's tests/operations style): a topology in, the tunnels, the route of every gateway to every
 * remote subnet, the source check and transit of every tunnel, and one path per LAN pair out — or the problems.
 * The expected values were checked by hand against SPEC §7; a change that moves any of them fails here.
 */

interface Fixture {
  input: TopologyInput;
  expected:
    | { problems: unknown[] }
    | {
        tunnels: string[];
        routes: Record<string, string[]>;
        admits: Record<string, Record<string, string[]>>;
        transit: Record<string, Record<string, string[]>>;
        paths: string[];
      };
}

const dir = join(packageRoot(), 'test', 'fixtures', 'topology');

describe('topology fixtures (SPEC §7)', () => {
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    it(file.replace(/\.json$/, ''), () => {
      const { input, expected } = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Fixture;
      const problems = topologyProblems(input);
      if ('problems' in expected) {
        assert.deepEqual(problems, expected.problems);
        return;
      }
      assert.deepEqual(problems, []);
      const t = computeTopology(input);
      const record = <T>(map: Map<string, T>) => Object.fromEntries(map);
      assert.deepEqual(
        t.tunnels.map((x) => `${x.low}-${x.high}${x.kind === 'leaf' ? ' (leaf)' : ''}`),
        expected.tunnels,
      );
      assert.deepEqual(
        Object.fromEntries(
          [...t.routing].map(([g, r]) => [g, r.routes.map((x) => `${x.subnet} via ${x.via}`)]),
        ),
        expected.routes,
      );
      assert.deepEqual(
        Object.fromEntries([...t.routing].map(([g, r]) => [g, record(r.admits)])),
        expected.admits,
      );
      assert.deepEqual(
        Object.fromEntries(
          [...t.routing].filter(([, r]) => r.transit.size > 0).map(([g, r]) => [g, record(r.transit)]),
        ),
        expected.transit,
      );
      assert.deepEqual(
        t.paths.map((p) => `${p.from} → ${p.to}: ${p.gateways.join(' > ')}`),
        expected.paths,
      );
    });
  }
});

describe('topology invariants', () => {
  /** A hub-and-spoke and a full mesh + leaf of `n` LANs, for properties that must hold at any size. */
  function meshPlusLeaf(cores: number, leaves: number): TopologyInput {
    const lans = [];
    for (let id = 1; id <= cores + leaves; id++) {
      const name = `l${id}`;
      const via = id <= cores ? [] : [`l${((id - 1) % cores) + 1}`, `l${(id % cores) + 1}`];
      lans.push({
        name,
        via: [...new Set(via)],
        gateways: [{ name, id, lan: name, subnets: [`10.${id}.0.0/16`] }],
      });
    }
    return { lans };
  }

  it('every gateway has exactly one route per remote subnet, and following next hops always ends at the owner', () => {
    const input = meshPlusLeaf(5, 20);
    assert.deepEqual(topologyProblems(input), []);
    const t = computeTopology(input);
    for (const [name, routing] of t.routing) {
      assert.equal(routing.routes.length, 24, name);
      for (const route of routing.routes) {
        let at = name;
        for (let step = 0; at !== route.owner; step++) {
          assert.ok(step < 10, `loop from ${name} to ${route.subnet}`);
          at = t.routing.get(at)!.routes.find((r) => r.subnet === route.subnet)!.via;
        }
      }
    }
  });

  it('a leaf is never transit, and the source check admits on each tunnel what routing delivers over it', () => {
    const t = computeTopology(meshPlusLeaf(3, 6));
    for (const [name, routing] of t.routing) {
      if (Number(name.slice(1)) > 3) assert.equal(routing.transit.size, 0, `${name} is a leaf`);
    }
    // every route's traffic is admitted at the next hop, from this gateway, with this gateway's subnet as source
    for (const [name, routing] of t.routing) {
      const own = `10.${name.slice(1)}.0.0/16`;
      for (const route of routing.routes) {
        assert.ok(
          t.routing.get(route.via)!.admits.get(name)?.includes(own),
          `${route.via} admits ${own} from ${name}`,
        );
      }
    }
  });
});
