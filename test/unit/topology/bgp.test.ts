import assert from 'node:assert/strict';
import { type BgpPolicy, bgpPolicies } from '../../../src/topology/bgp.js';
import { computeTopology, topologyProblems } from '../../../src/topology/topology.js';
import type { TopologyGateway, TopologyInput, TopologyLan } from '../../../src/topology/types.js';

/**
 * SPEC §7 `routing: bgp`: what each gateway's BGP speaker originates, and the exact prefixes it accepts from each
 * neighbour (what that neighbour may originate or carry under the topology, never the receiver's own LAN). The
 * expected sets below were worked out by hand from the tunnel graph of each case.
 */

/** A LAN with one gateway named and numbered like it. */
function lan(name: string, id: number, subnets: string[], via: string[] = []): TopologyLan {
  return { name, via, gateways: [{ name, id, lan: name, subnets }] };
}

/** A LAN with several gateways (one per AZ). */
function azLan(name: string, gateways: Omit<TopologyGateway, 'lan'>[], via: string[] = []): TopologyLan {
  return { name, via, gateways: gateways.map((g) => ({ ...g, lan: name })) };
}

function policies(input: TopologyInput): Map<string, BgpPolicy> {
  assert.deepEqual(topologyProblems(input), [], 'the case is a valid topology');
  return bgpPolicies(input, computeTopology(input));
}

/** The accepts of one gateway as a plain object: peer → prefixes. */
function accepts(all: Map<string, BgpPolicy>, gateway: string): Record<string, string[]> {
  return Object.fromEntries(all.get(gateway)!.accepts);
}

/** No gateway ever accepts a subnet of its own LAN, from anyone. */
function assertNeverOwnLan(input: TopologyInput, all: Map<string, BgpPolicy>): void {
  for (const l of input.lans) {
    const own = new Set(l.gateways.flatMap((g) => [...g.subnets, ...(g.backupSubnets ?? [])]));
    for (const g of l.gateways) {
      for (const [peer, prefixes] of all.get(g.name)!.accepts) {
        for (const prefix of prefixes) {
          assert.ok(!own.has(prefix), `${g.name} accepts ${prefix} of its own LAN ${l.name} from ${peer}`);
        }
      }
      for (const prefix of all.get(g.name)!.remote) assert.ok(!own.has(prefix), `${g.name} remote ${prefix}`);
    }
  }
}

describe('bgpPolicies (SPEC §7 routing: bgp)', () => {
  it('a 4-LAN full mesh: every neighbour may announce every other LAN, never the receiver’s own', () => {
    const input: TopologyInput = {
      lans: [
        lan('a', 1, ['10.1.0.0/16']),
        lan('b', 2, ['10.2.0.0/16', '192.168.2.0/24']),
        lan('c', 3, ['10.3.0.0/16']),
        lan('d', 4, ['172.16.4.0/24']),
      ],
    };
    const all = policies(input);
    const subnets: Record<string, string[]> = {
      a: ['10.1.0.0/16'],
      b: ['10.2.0.0/16', '192.168.2.0/24'],
      c: ['10.3.0.0/16'],
      d: ['172.16.4.0/24'],
    };
    // sorted by address, as FRR's prefix-lists list them
    const order = ['10.1.0.0/16', '10.2.0.0/16', '10.3.0.0/16', '172.16.4.0/24', '192.168.2.0/24'];
    for (const self of ['a', 'b', 'c', 'd']) {
      const expected = order.filter((s) => !subnets[self]!.includes(s));
      const policy = all.get(self)!;
      assert.equal(policy.stub, false, `${self} is a core gateway`);
      assert.deepEqual(
        policy.originates,
        subnets[self]!.map((subnet) => ({ subnet, backup: false })),
      );
      assert.deepEqual(policy.remote, expected, `${self}: remote`);
      assert.deepEqual(
        accepts(all, self),
        Object.fromEntries(
          ['a', 'b', 'c', 'd'].filter((peer) => peer !== self).map((peer) => [peer, expected]),
        ),
        `${self}: each of its 3 neighbours may carry every other LAN`,
      );
    }
    assertNeverOwnLan(input, all);
  });

  it('cores and a leaf via two cores: the leaf is a stub, and its prefixes travel around through the cores', () => {
    const input: TopologyInput = {
      lans: [
        lan('c1', 1, ['10.1.0.0/16']),
        lan('c2', 2, ['10.2.0.0/16']),
        lan('c3', 3, ['10.3.0.0/16']),
        lan('leaf', 4, ['10.4.0.0/16', '10.44.0.0/16'], ['c1', 'c2']),
      ],
    };
    const all = policies(input);
    const leaf = all.get('leaf')!;
    assert.equal(leaf.stub, true);
    assert.equal(all.get('c1')!.stub, false);
    // from the leaf only its own subnets, at both of its cores
    for (const core of ['c1', 'c2']) {
      assert.deepEqual(all.get(core)!.accepts.get('leaf'), ['10.4.0.0/16', '10.44.0.0/16'], core);
    }
    // the leaf accepts from each core everything reachable: every core LAN
    assert.deepEqual(accepts(all, 'leaf'), {
      c1: ['10.1.0.0/16', '10.2.0.0/16', '10.3.0.0/16'],
      c2: ['10.1.0.0/16', '10.2.0.0/16', '10.3.0.0/16'],
    });
    // c1 takes the leaf's subnets from c2 (the leaf's other core) and from c3 (c3 → c2 → leaf): the way around
    // a dead c1↔leaf tunnel
    assert.deepEqual(accepts(all, 'c1'), {
      c2: ['10.2.0.0/16', '10.3.0.0/16', '10.4.0.0/16', '10.44.0.0/16'],
      c3: ['10.2.0.0/16', '10.3.0.0/16', '10.4.0.0/16', '10.44.0.0/16'],
      leaf: ['10.4.0.0/16', '10.44.0.0/16'],
    });
    // c3 has no tunnel to the leaf, and takes its subnets from either core it hangs on
    assert.deepEqual(accepts(all, 'c3'), {
      c1: ['10.1.0.0/16', '10.2.0.0/16', '10.4.0.0/16', '10.44.0.0/16'],
      c2: ['10.1.0.0/16', '10.2.0.0/16', '10.4.0.0/16', '10.44.0.0/16'],
    });
    assertNeverOwnLan(input, all);
  });

  it('a leaf whose only core is the receiver: no other neighbour of the receiver may announce it', () => {
    const input: TopologyInput = {
      lans: [
        lan('c1', 1, ['10.1.0.0/16']),
        lan('c2', 2, ['10.2.0.0/16']),
        lan('c3', 3, ['10.3.0.0/16']),
        lan('only', 4, ['10.4.0.0/16'], ['c1']),
      ],
    };
    const all = policies(input);
    // every path to the leaf crosses c1: from c2 or c3 it would be a hijack (or a loop)
    assert.deepEqual(accepts(all, 'c1'), {
      c2: ['10.2.0.0/16', '10.3.0.0/16'],
      c3: ['10.2.0.0/16', '10.3.0.0/16'],
      only: ['10.4.0.0/16'],
    });
    // elsewhere the leaf comes through c1, straight or around (c2 → c3 → c1 → only)
    assert.deepEqual(accepts(all, 'c2'), {
      c1: ['10.1.0.0/16', '10.3.0.0/16', '10.4.0.0/16'],
      c3: ['10.1.0.0/16', '10.3.0.0/16', '10.4.0.0/16'],
    });
    assert.deepEqual(accepts(all, 'only'), { c1: ['10.1.0.0/16', '10.2.0.0/16', '10.3.0.0/16'] });
    assertNeverOwnLan(input, all);
  });

  it('a LAN with two gateways (AZs) and a backup subnet: originated as a backup, never accepted inside the LAN', () => {
    const input: TopologyInput = {
      lans: [
        lan('hq', 1, ['10.1.0.0/16']),
        lan('dc', 2, ['10.2.0.0/16']),
        azLan('eu', [
          { id: 5, name: 'eu-a', subnets: ['10.5.0.0/20'], backupSubnets: ['10.5.16.0/20'] },
          { id: 6, name: 'eu-b', subnets: ['10.5.16.0/20'] },
        ]),
      ],
    };
    const all = policies(input);
    assert.deepEqual(all.get('eu-a')!.originates, [
      { subnet: '10.5.0.0/20', backup: false },
      { subnet: '10.5.16.0/20', backup: true },
    ]);
    assert.deepEqual(all.get('eu-b')!.originates, [{ subnet: '10.5.16.0/20', backup: false }]);
    // neither AZ takes the other's (or its own) subnets from the mesh: the LAN reaches them itself
    for (const az of ['eu-a', 'eu-b']) {
      assert.deepEqual(accepts(all, az), {
        hq: ['10.1.0.0/16', '10.2.0.0/16'],
        dc: ['10.1.0.0/16', '10.2.0.0/16'],
      });
      assert.deepEqual(all.get(az)!.remote, ['10.1.0.0/16', '10.2.0.0/16']);
    }
    assert.ok(!all.get('eu-a')!.accepts.has('eu-b'), 'gateways of one LAN hold no session with each other');
    // outside the LAN the backup announcement is accepted from the backup gateway
    assert.ok(all.get('hq')!.accepts.get('eu-a')!.includes('10.5.16.0/20'));
    assert.ok(all.get('dc')!.accepts.get('eu-a')!.includes('10.5.16.0/20'));
    assert.deepEqual(all.get('hq')!.remote, ['10.2.0.0/16', '10.5.0.0/20', '10.5.16.0/20']);
    assertNeverOwnLan(input, all);
  });

  it('a core graph the receiver’s removal splits: each neighbour may carry only its own part', () => {
    // hub has two gateways (h1, h2), which never tunnel to each other; k is the other core. Without k the core
    // graph falls apart into {h1} and {h2}. Leaves: s via hub (h1 and h2), t via k, u via hub and k.
    const input: TopologyInput = {
      lans: [
        azLan('hub', [
          { id: 1, name: 'h1', subnets: ['10.1.0.0/17'] },
          { id: 2, name: 'h2', subnets: ['10.1.128.0/17'] },
        ]),
        lan('k', 3, ['10.3.0.0/16']),
        lan('s', 4, ['10.4.0.0/16'], ['hub']),
        lan('t', 5, ['10.5.0.0/16'], ['k']),
        lan('u', 6, ['10.6.0.0/16'], ['hub', 'k']),
      ],
    };
    const all = policies(input);
    // h1 reaches s and u itself, never h2's half of the hub (h1 filters its own LAN), and never t (only via k)
    assert.deepEqual(accepts(all, 'k'), {
      h1: ['10.1.0.0/17', '10.4.0.0/16', '10.6.0.0/16'],
      h2: ['10.1.128.0/17', '10.4.0.0/16', '10.6.0.0/16'],
      t: ['10.5.0.0/16'],
      u: ['10.6.0.0/16'],
    });
    // seen from h1 the rest of the core stays whole (h2–k): k carries t, and s and u around through h2
    assert.deepEqual(accepts(all, 'h1'), {
      k: ['10.3.0.0/16', '10.4.0.0/16', '10.5.0.0/16', '10.6.0.0/16'],
      s: ['10.4.0.0/16'],
      u: ['10.6.0.0/16'],
    });
    // a leaf of both cores: each neighbour carries every part that it is in
    assert.deepEqual(accepts(all, 'u'), {
      h1: ['10.1.0.0/17', '10.1.128.0/17', '10.3.0.0/16', '10.4.0.0/16', '10.5.0.0/16'],
      h2: ['10.1.0.0/17', '10.1.128.0/17', '10.3.0.0/16', '10.4.0.0/16', '10.5.0.0/16'],
      k: ['10.1.0.0/17', '10.1.128.0/17', '10.3.0.0/16', '10.4.0.0/16', '10.5.0.0/16'],
    });
    assert.deepEqual(
      [...all].filter(([, p]) => p.stub).map(([name]) => name),
      ['s', 't', 'u'],
    );
    assertNeverOwnLan(input, all);
  });

  it('a 150-LAN full mesh is computed quickly', () => {
    const lans = Array.from({ length: 150 }, (_, i) => lan(`l${i + 1}`, i + 1, [`10.${i + 1}.0.0/16`]));
    const input = { lans };
    const all = bgpPolicies(input, computeTopology(input));
    assert.equal(all.size, 150);
    assert.equal(all.get('l1')!.accepts.size, 149);
    assert.equal(all.get('l150')!.accepts.get('l1')!.length, 149);
  });
});
