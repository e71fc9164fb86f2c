import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { factsFixture } from './fixture-path.js';

/**
 * The FRR outputs captured from the lab gateways (fixtures/frr/README.md says how): each file holds what its name
 * says, so a parser tested against them is tested against FRR 7.5, 8.4, 10.3 and 10.7 as they really answer.
 */

const RELEASES = { bullseye: '7.5.1', bookworm: '8.4.4', trixie: '10.3', sid: '10.7.1' } as const;
const PEER = '172.19.0.6';

const read = (name: string) => readFileSync(factsFixture(`frr/${name}`), 'utf8');
const json = (name: string) => JSON.parse(read(name)) as Record<string, unknown>;

interface SummaryPeer {
  state: string;
  remoteAs: number;
  pfxRcd: number;
}

function summaryPeer(name: string): SummaryPeer {
  const summary = json(name) as { ipv4Unicast: { peers: Record<string, SummaryPeer> } };
  const peer = summary.ipv4Unicast.peers[PEER];
  assert.ok(peer, `${name}: no peer ${PEER}`);
  return peer;
}

function bfdPeer(name: string): { status: string; diagnostic: string } {
  const peers = JSON.parse(read(name)) as { peer: string; status: string; diagnostic: string }[];
  const peer = peers.find((p) => p.peer === PEER);
  assert.ok(peer, `${name}: no BFD peer ${PEER}`);
  return peer;
}

/** `systemctl show` output as a map (the property order differs between systemd versions). */
function properties(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .trim()
      .split('\n')
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

describe('FRR fixtures captured in the lab (one per release)', () => {
  for (const [release, version] of Object.entries(RELEASES)) {
    describe(`${release} (FRR ${version})`, () => {
      it('names the FRR version in bgpd --version and show version', () => {
        assert.equal(read(`${release}-bgpd-version.txt`), `bgpd version ${version}\n`);
        assert.match(
          read(`${release}-show-version.txt`),
          new RegExp(`^FRRouting ${version.replace(/\./g, '\\.')} `),
        );
      });

      it('ships frr.service disabled and stopped in the image', () => {
        assert.deepEqual(properties(read(`${release}-systemctl-show-disabled.txt`)), {
          Id: 'frr.service',
          LoadState: 'loaded',
          ActiveState: 'inactive',
          SubState: 'dead',
          UnitFileState: 'disabled',
          MainPID: '0',
        });
        const running = properties(read(`${release}-systemctl-show-enabled-running.txt`));
        assert.equal(running.UnitFileState, 'enabled');
        assert.equal(running.ActiveState, 'active');
      });

      it("records the package's md5 of frr.conf and daemons, and a pristine install matches it", () => {
        const conffiles = new Map(
          read(`${release}-conffiles.txt`)
            .trim()
            .split('\n')
            .map((line) => line.trim().split(/\s+/) as [string, string]),
        );
        const sums = read(`${release}-md5sum-pristine.txt`).trim().split('\n');
        assert.equal(sums.length, 2);
        for (const line of sums) {
          const [md5, path] = line.split(/\s+/) as [string, string];
          assert.equal(conffiles.get(path), md5, `${release} ${path}`);
        }
        assert.match(read(`${release}-md5sum-check-modified.txt`), /^\/etc\/frr\/daemons: FAILED$/m);
      });

      it('has the session Established with BFD up, the route learned and installed as proto bgp', () => {
        const peer = summaryPeer(`${release}-bgp-summary.txt`);
        assert.equal(peer.state, 'Established');
        assert.equal(peer.remoteAs, 4200000002);
        assert.equal(peer.pfxRcd, 1);
        assert.equal(bfdPeer(`${release}-bfd-peers.txt`).status, 'up');
        const routes = (json(`${release}-bgp-ipv4-unicast.txt`) as { routes: Record<string, unknown[]> })
          .routes;
        assert.deepEqual(Object.keys(routes).sort(), ['10.1.0.0/24', '10.1.1.0/24', '10.2.0.0/24']);
        assert.match(
          read(`${release}-ip-route.txt`),
          /^10\.2\.0\.0\/24 .*via 172\.19\.0\.6 dev p2p0 proto bgp /m,
        );
      });

      it('has the peer down (BFD detection) and the floating blackhole in its place', () => {
        assert.notEqual(summaryPeer(`${release}-bgp-summary-peer-down.txt`).state, 'Established');
        const bfd = bfdPeer(`${release}-bfd-peers-down.txt`);
        assert.equal(bfd.status, 'down');
        assert.equal(bfd.diagnostic, 'control detection time expired');
        assert.match(read(`${release}-ip-route-peer-down.txt`), /^blackhole 10\.2\.0\.0\/24 proto static /m);
      });

      it('kept every line of the portable frr.conf (running-config)', () => {
        const running = read(`${release}-running-config.txt`);
        for (const line of [
          'frr defaults traditional',
          ' neighbor 172.19.0.6 bfd',
          '  network 10.1.1.0/24 route-map MESHCTL-BACKUP',
          ' set as-path prepend 4200000001 4200000001 4200000001',
          ' peer 172.19.0.6 local-address 172.19.0.5',
        ]) {
          assert.ok(running.split('\n').includes(line), `${release}: ${JSON.stringify(line)} missing`);
        }
      });
    });
  }
});
