import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describeSession, parseBgpRoutes, parseBgpSummary, sessionUp } from '../../../src/execute/bgp.js';
import { factsFixture } from '../facts/fixture-path.js';

/**
 * The BGP check after apply reads FRR's own JSON: real outputs of FRR 7.5, 8.4, 10.3 and 10.7 (the lab's gateways,
 * test/unit/facts/fixtures/frr/README.md). Gateway A (172.19.0.5) has one session, with B (172.19.0.6), which
 * originates 10.2.0.0/24.
 */

const RELEASES = ['bullseye', 'bookworm', 'trixie', 'sid'];
const read = (name: string) => readFileSync(factsFixture(`frr/${name}`), 'utf8');
const B = { peer: 'b', address: '172.19.0.6', expects: ['10.2.0.0/24'] };

describe('execute: BGP session checks on FRR 7.5 to 10.7 output', () => {
  for (const release of RELEASES) {
    it(`${release}: Established with B's subnet received from B is up; the same session down is not`, () => {
      const states = parseBgpSummary(read(`${release}-bgp-summary.txt`));
      const routes = parseBgpRoutes(read(`${release}-bgp-ipv4-unicast.txt`));
      assert.equal(states.get(B.address)?.state, 'Established');
      assert.ok(routes.get('10.2.0.0/24')?.has(B.address), 'the route to 10.2.0.0/24 came from B');
      assert.equal(sessionUp(B, states.get(B.address), routes), true);
      // the peer's own subnet must come from that peer: another prefix it sends does not do
      assert.equal(sessionUp({ ...B, expects: ['10.9.0.0/24'] }, states.get(B.address), routes), false);
      assert.match(
        describeSession({ ...B, expects: ['10.9.0.0/24'] }, states.get(B.address), routes),
        /^Established, but 10\.9\.0\.0\/24 not received from it$/,
      );
      const down = parseBgpSummary(read(`${release}-bgp-summary-peer-down.txt`));
      assert.notEqual(down.get(B.address)?.state, 'Established');
      assert.equal(sessionUp(B, down.get(B.address), routes), false);
    });
  }

  it('output that is not FRR JSON: a clear error for the summary, an empty table for the routes', () => {
    assert.throws(() => parseBgpSummary('% Unknown command'), /FRR's session table is not JSON/);
    assert.equal(parseBgpRoutes('% Unknown command').size, 0);
    assert.equal(parseBgpSummary('{}').size, 0);
    assert.equal(sessionUp(B, undefined, new Map()), false);
  });
});
