import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { computeDesired } from '../../src/commands/desired.js';
import { parseFacts, probeCommand } from '../../src/facts/index.js';
import { createOutput } from '../../src/output.js';
import { preflightFindings } from '../../src/plan/index.js';
import { Lab, type LabSpec, reapOrphans } from '../lab/lab.js';
import { meshctl, skipUnlessLabUsable, transcript, waitForFullMesh } from './helpers/gateways.js';

/**
 * The pre-flight checks on real gateways (README "What diff checks before apply"): each case creates the
 * condition on a lab gateway, shows that `meshctl diff` names the gateway, what it found and the fix, that
 * `apply` refuses that gateway before writing anything where the result would be broken, and then removes the
 * condition. One lab serves every case, in order: the first runs before the mesh exists.
 */

const spec: LabSpec = {
  name: 'pf',
  mesh: 'preflight',
  gateways: [
    { name: 'one', id: 1, subnets: ['10.71.0.0/24'] },
    { name: 'two', id: 2, subnets: ['10.72.0.0/25'] },
    { name: 'three', id: 3, subnets: ['10.73.0.0/24'] },
  ],
};
const MANIFEST = '/etc/meshctl/manifest.json';

describe('pre-flight checks on real gateways (lab)', function () {
  this.timeout(300_000);
  let lab: Lab | undefined;

  before(async function () {
    skipUnlessLabUsable(this, 'dist/test/e2e/preflight.test.js');
    await reapOrphans();
    lab = await Lab.up(spec);
  });

  after(async () => {
    await lab?.down();
  });

  /** Runs a shell command as root on a gateway, failing the test when it fails. */
  async function on(gateway: string, script: string): Promise<string> {
    const result = await lab!.exec(gateway, ['sh', '-c', script]);
    assert.equal(result.code, 0, `${gateway}: ${script}\n${result.stderr}`);
    return result.stdout;
  }

  /** `meshctl diff` (human output) with the exit code expected, stdout and stderr together. */
  async function diffText(code: number, ...args: string[]): Promise<string> {
    const result = await meshctl(lab!, ['diff', '--accept-new', ...args], code);
    return `${result.stdout}\n${result.stderr}`;
  }

  const manifestOf = (gateway: string) => on(gateway, `cat ${MANIFEST} 2>/dev/null || echo ABSENT`);

  it('a UDP port of a tunnel held by another process: diff names it, apply refuses that gateway only', async () => {
    // a process meshctl does not manage holds pair 1's port (one ↔ two) on one, before the mesh exists
    await on(
      'one',
      'systemd-run --unit=udp-squatter perl -MIO::Socket::INET -e \'my $s = IO::Socket::INET->new(LocalPort => 11001, Proto => "udp") or die "bind: $!"; sleep 3600\' && sleep 0.5 && ss -uanp | grep -q ":11001 "',
    );
    const text = await diffText(1);
    assert.match(
      text,
      /one \(198\.18\.0\.1\): UDP port 11001 of the tunnel to two is already bound by "perl" \(pid \d+\) on 0\.0\.0\.0, which meshctl does not manage: the tunnel could not start\. Fix: stop or reconfigure that process/,
      text,
    );
    const apply = await meshctl(lab!, ['apply'], 1);
    assert.match(`${apply.stdout}${apply.stderr}`, /one \(198\.18\.0\.1\): UDP port 11001/);
    assert.equal((await manifestOf('one')).trim(), 'ABSENT', 'nothing was written on one');
    assert.notEqual((await manifestOf('two')).trim(), 'ABSENT', 'two converged');
    await on('one', 'systemctl stop udp-squatter');

    await meshctl(lab!, ['apply'], 0);
    assert.deepEqual(await waitForFullMesh(lab!, 60_000), []);
    // the tunnels' own sockets and tun routes are the mesh's: a converged mesh passes every check
    const clean = await diffText(0);
    assert.doesNotMatch(clean, /pre-flight|collides|already bound/, clean);
  });

  it('the transit range on a Docker-like bridge, and a remote subnet routed elsewhere: both refused', async () => {
    await on('two', 'ip addr add 172.19.0.1/16 dev eth1');
    await on('three', 'ip route add 10.71.0.128/25 via 10.73.0.254');
    try {
      const text = await diffText(1);
      assert.match(
        text,
        /two \(198\.18\.0\.2\): transit 172\.19\.0\.4\/30 \(tunnel to one\), transit 172\.19\.0\.12\/30 \(tunnel to three\) collide with route "172\.19\.0\.0\/16 dev eth1 [^"]*" already on the gateway.*Fix: give mesh\.yml a transit range/,
        text,
      );
      assert.match(
        text,
        /three \(198\.18\.0\.3\): one's subnet 10\.71\.0\.0\/24 collides with route "10\.71\.0\.128\/25 via 10\.73\.0\.254 dev eth1[^"]*" already on the gateway.*Fix: a network is reached one way only/,
        text,
      );
    } finally {
      await on('two', 'ip addr del 172.19.0.1/16 dev eth1');
      await on('three', 'ip route del 10.71.0.128/25');
    }
    await diffText(0);
  });

  it("a gateway clock an hour behind the bastion's: refused, with the times and the fix", async () => {
    // containers share the machine's clock: the probe reads the time through `date`, found first in /usr/local/bin
    await on(
      'one',
      'printf \'#!/bin/sh\\nexec /bin/date -d "@$(( $(/bin/date +%%s) - 3600 ))" "$@"\\n\' > /usr/local/bin/date && chmod 755 /usr/local/bin/date',
    );
    try {
      const text = await diffText(1);
      assert.match(
        text,
        /one \(198\.18\.0\.1\): the gateway's clock is 60 min behind the bastion's \(gateway 20\S+, bastion 20\S+\).*Fix: set the clock and keep it synced/,
        text,
      );
      const before = await manifestOf('one');
      await meshctl(lab!, ['apply', '--limit', 'one'], 1);
      assert.equal(await manifestOf('one'), before, 'nothing was written');
    } finally {
      await on('one', 'rm -f /usr/local/bin/date');
    }
    await diffText(0);
  });

  it('a sysctl file read after 99-meshctl.conf that turns forwarding off: refused', async () => {
    await on('two', "printf 'net.ipv4.ip_forward = 0\\n' > /etc/sysctl.d/99-zz-local.conf");
    try {
      const text = await diffText(1);
      assert.match(
        text,
        /two \(198\.18\.0\.2\): \/etc\/sysctl\.d\/99-zz-local\.conf sets "net\.ipv4\.ip_forward = 0" and is read after \/etc\/sysctl\.d\/99-meshctl\.conf.*Fix: delete that line/,
        text,
      );
    } finally {
      await on('two', 'rm -f /etc/sysctl.d/99-zz-local.conf');
    }
    await diffText(0);
  });

  it("a DROP ahead of meshctl's FORWARD jump: refused; the DROP policy alone is fine once the jump is first", async () => {
    await on('three', 'iptables -w -P FORWARD DROP && iptables -w -I FORWARD 1 -j DROP');
    try {
      const text = await diffText(1);
      assert.match(
        text,
        /three \(198\.18\.0\.3\): rule 1 of the FORWARD chain, "-A FORWARD -j DROP", drops every forwarded packet before meshctl's chain MESHCTL-FORWARD \(rule 2\).*Fix: delete it \(iptables -D FORWARD 1\)/,
        text,
      );
      const before = await manifestOf('three');
      await meshctl(lab!, ['apply', '--limit', 'three'], 1);
      assert.equal(await manifestOf('three'), before, 'nothing was written');
      await on('three', 'iptables -w -D FORWARD 1');
      // policy DROP, meshctl's jump first: mesh traffic passes, nothing to report
      await diffText(0);
      assert.deepEqual(await waitForFullMesh(lab!, 30_000), []);
    } finally {
      await lab!.exec('three', ['sh', '-c', 'iptables -w -D FORWARD -j DROP; iptables -w -P FORWARD ACCEPT']);
    }
  });

  it('strict rp_filter: not reported for the full mesh; reported, with the fix, when the check is switched on', async () => {
    await on('one', 'sysctl -q -w net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1');
    try {
      const text = await diffText(0, '-v');
      assert.doesNotMatch(text, /rp_filter/, text);
      // the same gateway's real probe output, planned with the check on (as a topology with transit would)
      const quiet = createOutput({
        json: true,
        stderr: { write: () => true },
        stdout: { write: () => true },
      });
      const desired = await computeDesired({ inventory: lab!.inventoryDir }, quiet, 'preview');
      const state = desired.states.get('one')!;
      const argv = probeCommand([...state.files.map((f) => f.path), state.manifestPath], state.firewall);
      const probe = await lab!.exec('one', argv);
      assert.equal(probe.code, 0, probe.stderr);
      const facts = parseFacts(probe.stdout, 'one', state.firewall);
      const findings = preflightFindings(state, facts, desired.states, { asymmetricPaths: true });
      assert.deepEqual(
        findings.map((f) => f.check),
        ['rp-filter'],
      );
      assert.match(
        findings[0]!.message,
        /^one \(198\.18\.0\.1\): rp_filter is strict \(1\) on new tunnel devices \(default\), eth1, mtun1, mtun2.*Fix: loose mode/,
      );
    } finally {
      await on('one', 'sysctl -q -w net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0');
    }
  });

  it('a LAN subnet the gateway is not on (a typo in lans/NAME.yml): refused, and nothing written there', async () => {
    const file = join(lab!.inventoryDir, 'lans', 'three.yml');
    const original = readFileSync(file, 'utf8');
    assert.match(original, /10\.73\.0\.0\/24/);
    writeFileSync(file, original.replace('10.73.0.0/24', '10.37.0.0/24'));
    try {
      const text = await diffText(1);
      assert.match(
        text,
        /three \(198\.18\.0\.3\): no interface address or route of the gateway lies in its subnets 10\.37\.0\.0\/24 \(its addresses are .*10\.73\.0\.1\/24 \(eth1\)\).*Fix: correct subnets in lans\/three\.yml/,
        text,
      );
      const before = await manifestOf('three');
      const apply = await meshctl(lab!, ['apply', '--limit', 'three'], 1);
      assert.equal(await manifestOf('three'), before, `nothing was written\n${transcript(apply)}`);
    } finally {
      writeFileSync(file, original);
    }
    await diffText(0);
    assert.deepEqual(await waitForFullMesh(lab!, 30_000), []);
  });
});
