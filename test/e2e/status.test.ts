import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PAIR_COLOURS } from '../../src/status/format/html.js';
import { openOffline, skipUnlessBrowser, whyNoBrowser } from '../helpers/browser.js';
import { Lab, type LabSpec, reapOrphans } from '../lab/lab.js';
import type { RunResult } from '../lab/run.js';
import {
  meshctl,
  parseJson,
  type StatusJson,
  skipUnlessLabUsable,
  transcript,
  tunnelUnit,
  statusUntil as until,
} from './helpers/gateways.js';

type TunnelJson = StatusJson['tunnels'][number];
type LanPairJson = StatusJson['lanPairs'][number];

/** What the browser test reads off the status page. */
interface PageFacts {
  rows: number;
  svg: { width: number; height: number } | null;
  stroke: string | null;
  downCells: number;
  upEdges: number;
  cellColor: string | null;
  /** How far the page is wider than the window (0: no sideways scrolling of the page itself). */
  overflow: number;
}

/**
 * `meshctl status` on real gateways (SPEC §8): one lab, a static full mesh of four LANs. All up → exit 0 and every
 * pair up in every format; one tunnel's unit stopped at one end → exit 2, that pair down and that end named, the
 * others up; a LAN blocked from the mesh on its gateway → its tunnels stay up but the LAN-to-LAN probes to it
 * fail; a gateway that cannot be reached over SSH → exit 1, its row unknown, the rest read. Nothing is written on
 * any gateway by any of it.
 */

const SPEC: LabSpec = {
  name: 'status',
  portBase: 12000,
  gateways: [
    { name: 'sa', id: 1, subnets: ['10.91.0.0/24'] },
    { name: 'sb', id: 2, subnets: ['10.92.0.0/24'] },
    { name: 'sc', id: 3, subnets: ['10.93.0.0/24'] },
    { name: 'sd', id: 4, subnets: ['10.94.0.0/24'] },
  ],
};
const NAMES = SPEC.gateways.map((g) => g.name);

describe('meshctl status on the lab: matrix, JSON, Prometheus, HTML (root + systemd-nspawn)', function () {
  this.timeout(600_000);
  let lab: Lab | undefined;
  let downPage = '';
  let downPair: number | undefined;

  async function status(args: string[], expected: number): Promise<{ json: StatusJson; run: RunResult }> {
    const run = await meshctl(lab!, ['status', '--json', ...args], expected);
    const json = parseJson<StatusJson>(run);
    assert.equal(json.command, 'status');
    assert.equal(json.exitCode, expected, `the JSON's exitCode matches the exit status\n${transcript(run)}`);
    return { json, run };
  }

  function tunnel(json: StatusJson, a: string, b: string): TunnelJson {
    const found = json.tunnels.find((t) => (t.low === a && t.high === b) || (t.low === b && t.high === a));
    assert.ok(found, `tunnel ${a}-${b} in the report`);
    return found;
  }

  function lanPair(json: StatusJson, a: string, b: string): LanPairJson {
    const found = json.lanPairs.find((p) => (p.a === a && p.b === b) || (p.a === b && p.b === a));
    assert.ok(found, `LAN pair ${a}-${b} in the report`);
    return found;
  }

  const statusUntil = (code: number, timeoutMs: number) => until(lab!, code, timeoutMs);

  /** Files changed on a gateway since `marker` in the places a status read could write to. */
  async function writtenSince(gateway: string, marker: string): Promise<string[]> {
    const found = await lab!.exec(gateway, [
      'find',
      '/etc',
      '/tmp',
      '/var/tmp',
      '/root',
      '/run/openvpn-server',
      '-xdev',
      '-newer',
      marker,
      '(',
      '-type',
      'f',
      '-o',
      '-type',
      's',
      ')',
      '!',
      '-path',
      '/run/openvpn-server/status-*',
    ]);
    return found.stdout.split('\n').filter((line) => line && line !== marker);
  }

  before(async function () {
    skipUnlessLabUsable(this, 'dist/test/e2e/status.test.js');
    await reapOrphans();
    lab = await Lab.up(SPEC);
    downPage = join(lab.dir, 'status-down.html');
    await meshctl(lab, ['apply', '--accept-new'], 0);
  });

  after(async () => {
    await lab?.down();
  });

  it('all up: exit 0, every tunnel up at both ends and every LAN pair reaching the other, in every format; nothing written on a gateway', async () => {
    const marker = '/dev/shm/meshctl-status-marker';
    for (const gw of NAMES) await lab!.exec(gw, ['touch', marker]);
    // a tunnel started by apply a moment ago may still be coming up at one end
    await statusUntil(0, 30_000);
    const prom = join(lab!.dir, 'status.prom');
    const html = join(lab!.dir, 'status.html');
    rmSync(prom, { force: true });
    rmSync(html, { force: true });
    const { json } = await status(['--prometheus', prom, '--html', html], 0);
    assert.equal(json.ok, true);
    assert.equal(json.health, 'healthy');
    assert.equal(json.tunnels.length, 6);
    for (const t of json.tunnels) {
      assert.equal(t.state, 'up', `${t.low}-${t.high}: ${JSON.stringify(t)}`);
      for (const end of t.ends) {
        const peer = end.gateway === t.low ? t.high : t.low;
        assert.equal(end.state, 'up');
        assert.equal(
          end.peerAddress,
          `${lab!.publicAddress(peer)}:${12000 + t.pair}`,
          'the peer address in use',
        );
        assert.ok((end.bytesIn ?? 0) > 0 && (end.bytesOut ?? 0) > 0, `bytes counted: ${JSON.stringify(end)}`);
        assert.ok(end.rttMs !== null && end.rttMs < 100, `an RTT: ${end.rttMs}`);
        assert.equal(end.lossPercent, 0);
        assert.ok(
          (end.peerCertificateDaysLeft ?? 0) > 300,
          `peer certificate days: ${end.peerCertificateDaysLeft}`,
        );
        assert.ok(end.since && Date.parse(end.since) <= Date.now(), `since: ${end.since}`);
        assert.ok(end.lastReceived && 'within' in end.lastReceived, `last received: ${JSON.stringify(end)}`);
      }
    }
    assert.equal(json.lanPairs.length, 6);
    for (const p of json.lanPairs) {
      assert.equal(p.state, 'up', `${p.a}-${p.b}: ${JSON.stringify(p)}`);
      for (const probe of p.probes)
        assert.deepEqual(probe.path, [probe.to], 'a full mesh: the direct tunnel');
    }
    for (const g of json.gateways) {
      assert.equal(g.read, true);
      assert.equal(g.lanAddress, lab!.gatewayLanAddress(g.name));
    }

    // the text matrix
    const text = await meshctl(lab!, ['status'], 0);
    for (const name of NAMES) assert.ok(text.stdout.includes(name), `the matrix names ${name}`);
    assert.match(text.stdout, /healthy/);
    assert.ok(!text.stdout.includes('\u001b['), 'off a TTY: no colour codes');

    // Prometheus textfile
    const metrics = readFileSync(prom, 'utf8');
    const up = metrics.split('\n').filter((l) => l.startsWith('meshctl_tunnel_up{'));
    assert.equal(up.length, 12, `one meshctl_tunnel_up per tunnel end:\n${metrics}`);
    assert.ok(
      up.every((l) => l.endsWith(' 1')),
      `every end up:\n${up.join('\n')}`,
    );
    // the page
    const page = readFileSync(html, 'utf8');
    assert.match(page, /<svg/);
    assert.ok(!/(src|href)=["']?(https?:)?\/\//i.test(page), 'the page fetches nothing');

    for (const gw of NAMES) {
      assert.deepEqual(await writtenSince(gw, marker), [], `${gw}: status wrote nothing`);
    }
  });

  it("one tunnel's unit stopped at one end: exit 2, that pair down with the stopped end named, the others up", async () => {
    await lab!.exec('sa', ['systemctl', 'stop', tunnelUnit('sb')]);
    try {
      const { json, run } = await status([], 2);
      assert.equal(json.health, 'degraded');
      const broken = tunnel(json, 'sa', 'sb');
      assert.notEqual(broken.state, 'up');
      const sa = broken.ends.find((e) => e.gateway === 'sa')!;
      assert.equal(sa.state, 'not-running', JSON.stringify(broken));
      assert.equal(
        broken.blame ?? broken.disagreeing,
        'sa',
        `the stopped end is named: ${JSON.stringify(broken)}`,
      );
      for (const t of json.tunnels.filter((t) => t !== broken))
        assert.equal(t.state, 'up', `${t.low}-${t.high}`);
      const text = await meshctl(lab!, ['status'], 2);
      assert.match(text.stdout, /sa/);
      assert.match(text.stdout, /degraded/);
      assert.ok(run.stdout.length > 0);
      // the page of this state, kept for the browser test below
      rmSync(downPage, { force: true });
      await meshctl(lab!, ['status', '--html', downPage], 2);
      assert.ok(existsSync(downPage));
      downPair = broken.pair;
    } finally {
      await lab!.exec('sa', ['systemctl', 'start', tunnelUnit('sb')]);
    }
    await statusUntil(0, 60_000);
  });

  it('the page of that state in headless Chromium, offline: the matrix and the SVG render, the stopped tunnel is red', async function () {
    if (whyNoBrowser() !== undefined) skipUnlessBrowser(this);
    assert.ok(downPair !== undefined && existsSync(downPage), 'the test above wrote the page');
    for (const viewport of [
      { name: 'wall', width: 1920, height: 1080 },
      { name: 'phone', width: 390, height: 844 },
    ]) {
      const browser = await openOffline(downPage, viewport);
      try {
        const seen: PageFacts = await browser.page.evaluate((pair: number): PageFacts => {
          const edge = document.querySelector(`svg g.edge#tunnel-${pair} path`);
          const box = document.querySelector('#topology svg')?.getBoundingClientRect();
          const bad = document.querySelector('#matrix td.state-down, #matrix td.state-disagree');
          return {
            rows: document.querySelectorAll('#matrix tr').length,
            svg: box ? { width: box.width, height: box.height } : null,
            stroke: edge?.getAttribute('stroke') ?? null,
            downCells: document.querySelectorAll('#matrix td.state-down, #matrix td.state-disagree').length,
            upEdges: document.querySelectorAll('svg g.edge.state-up').length,
            cellColor: bad ? getComputedStyle(bad).backgroundColor : null,
            overflow: document.documentElement.scrollWidth - window.innerWidth,
          };
        }, downPair!);
        const shot = await browser.screenshot(`status-down-${viewport.name}`);
        console.log(`      artifact: ${shot}`);
        assert.ok(seen.rows >= 5, `the matrix has a header and a row per LAN: ${JSON.stringify(seen)}`);
        assert.ok(seen.svg && seen.svg.width > 0 && seen.svg.height > 0, 'the SVG is laid out');
        assert.equal(
          seen.stroke,
          PAIR_COLOURS.down,
          "the stopped tunnel's edge is drawn in the down colour (red)",
        );
        assert.ok(seen.downCells >= 2, 'its cells in the matrix (both triangles) say so');
        assert.equal(seen.upEdges, 5, 'the five other tunnels are drawn up');
        assert.deepEqual(browser.requests, [], 'the page fetched nothing');
        assert.ok(
          seen.overflow <= 1,
          `${viewport.name}: the page does not scroll sideways (${seen.overflow} px)`,
        );
      } finally {
        await browser.close();
      }
    }
  });

  it('a LAN blocked from the mesh on its gateway: its tunnels stay up, the LAN-to-LAN probes to it fail', async () => {
    const subnet = SPEC.gateways.find((g) => g.name === 'sd')!.subnets[0]!;
    const rules = [
      ['INPUT', '-i', 'mtun+', '-d', subnet, '-j', 'DROP'],
      ['FORWARD', '-i', 'mtun+', '-d', subnet, '-j', 'DROP'],
    ];
    for (const rule of rules) await lab!.exec('sd', ['iptables', '-I', rule[0]!, '1', ...rule.slice(1)]);
    try {
      // what the probe claims is what LAN hosts live through
      assert.equal(await lab!.ping('sa', 'sd'), false, 'a host of sa no longer reaches a host of sd');
      const { json } = await status([], 2);
      for (const t of json.tunnels) assert.equal(t.state, 'up', `${t.low}-${t.high}: the tunnels are up`);
      for (const other of ['sa', 'sb', 'sc']) {
        const pair = lanPair(json, other, 'sd');
        assert.equal(pair.state, 'down', JSON.stringify(pair));
        assert.ok(pair.probes.every((p) => p.ok === false));
      }
      assert.equal(lanPair(json, 'sa', 'sb').state, 'up');
      assert.equal(lanPair(json, 'sb', 'sc').state, 'up');
    } finally {
      for (const rule of rules) await lab!.exec('sd', ['iptables', '-D', rule[0]!, ...rule.slice(1)]);
    }
  });

  it('a gateway unreachable over SSH: exit 1, its row unknown, the other gateways read', async () => {
    const rule = ['INPUT', '-p', 'tcp', '--dport', '22', '-j', 'DROP'];
    await lab!.exec('sc', ['iptables', '-I', rule[0]!, '1', ...rule.slice(1)]);
    try {
      const { json } = await status([], 1);
      assert.equal(json.health, 'error');
      const sc = json.gateways.find((g) => g.name === 'sc')!;
      assert.equal(sc.read, false);
      assert.ok(sc.error, 'why it could not be read');
      for (const g of json.gateways.filter((g) => g.name !== 'sc')) assert.equal(g.read, true, g.name);
      const scTunnel = tunnel(json, 'sa', 'sc');
      assert.equal(scTunnel.ends.find((e) => e.gateway === 'sc')!.state, 'unknown');
      assert.equal(scTunnel.ends.find((e) => e.gateway === 'sa')!.state, 'up', 'sa still sees its end up');
      assert.equal(tunnel(json, 'sa', 'sb').state, 'up');
      assert.equal(lanPair(json, 'sa', 'sb').state, 'up');
    } finally {
      await lab!.exec('sc', ['iptables', '-D', rule[0]!, ...rule.slice(1)]);
    }
    assert.ok(existsSync(lab!.dir));
  });
});
