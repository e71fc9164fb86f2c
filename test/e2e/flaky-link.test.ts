import assert from 'node:assert/strict';
import { Lab, type LabSpec, reapOrphans } from '../lab/lab.js';
import { run } from '../lab/run.js';
import { names } from '../lab/spec.js';
import { editMesh, LiveRun, meshctl, skipUnlessLabUsable, waitForFullMesh } from './interrupt-support.js';

/**
 * SPEC §6 on bad links: with latency and loss between the bastion and one gateway (rate limit and random loss on
 * its link, see degrade()), apply converges or fails that gateway alone with a timeout message — never
 * hangs; and when the link dies completely after connect, that gateway fails within the keepalive bound
 * (3 × 5 s) while the others converge and the run exits 1.
 */

/**
 * Degrades the link between the bastion (the ctl namespace) and one gateway. netem is missing from many minimal
 * kernels, so a slow link is a token bucket (tbf: a low rate and a deep queue, i.e. latency under load) on both
 * ends of the gateway's veth, and loss is a random DROP (iptables statistic) in the ctl namespace, both
 * directions, so tunnels between gateways (bridged, never seen by those rules) lose nothing. 100 % is a dead link.
 */
async function degrade(
  lab: Lab,
  gateway: string,
  how: { lossPercent?: number; rateKbit?: number },
): Promise<void> {
  const gw = lab.gateway(gateway);
  const address = lab.publicAddress(gateway);
  const ctl = (argv: string[]) => run(['ip', 'netns', 'exec', lab.ctlNamespace, ...argv]);
  if (how.rateKbit !== undefined) {
    const ends: [string, string][] = [
      [lab.ctlNamespace, names.bridgePort(gw.id)],
      [names.gateway(lab.name, gw.name), 'eth0'],
    ];
    for (const [ns, dev] of ends) {
      const tbf = ['tbf', 'rate', `${how.rateKbit}kbit`, 'burst', '4kb', 'latency', '2s'];
      const result = await run([
        'ip',
        'netns',
        'exec',
        ns,
        'tc',
        'qdisc',
        'replace',
        'dev',
        dev,
        'root',
        ...tbf,
      ]);
      assert.equal(result.code, 0, `tc on ${ns}/${dev}: ${result.stderr}`);
    }
  }
  if (how.lossPercent !== undefined) {
    const match = (dir: '-s' | '-d') =>
      how.lossPercent! >= 100
        ? [dir, address]
        : [
            dir,
            address,
            '-m',
            'statistic',
            '--mode',
            'random',
            '--probability',
            String(how.lossPercent! / 100),
          ];
    for (const [chain, dir] of [
      ['OUTPUT', '-d'],
      ['INPUT', '-s'],
    ] as const) {
      const result = await ctl(['iptables', '-w', '-I', chain, '1', ...match(dir), '-j', 'DROP']);
      assert.equal(result.code, 0, `iptables in ${lab.ctlNamespace}: ${result.stderr}`);
    }
  }
}

/** Undoes degrade(): the gateway's link is clean again. */
async function heal(lab: Lab, gateway: string): Promise<void> {
  const gw = lab.gateway(gateway);
  for (const [ns, dev] of [
    [lab.ctlNamespace, names.bridgePort(gw.id)],
    [names.gateway(lab.name, gw.name), 'eth0'],
  ] as const) {
    await run(['ip', 'netns', 'exec', ns, 'tc', 'qdisc', 'del', 'dev', dev, 'root']);
  }
  for (const chain of ['INPUT', 'OUTPUT']) {
    await run(['ip', 'netns', 'exec', lab.ctlNamespace, 'iptables', '-w', '-F', chain]);
  }
}

describe('slow, lossy and dead links between the bastion and one gateway (lab)', function () {
  this.timeout(300_000);
  const spec: LabSpec = {
    name: 'hsf',
    gateways: [
      { name: 'alpha', id: 1, subnets: ['10.47.0.0/24'] },
      { name: 'beta', id: 2, subnets: ['10.48.0.0/24'] },
      { name: 'gamma', id: 3, subnets: ['10.49.0.0/24'] },
    ],
  };
  let lab: Lab | undefined;
  const figures: string[] = [];

  before(async function () {
    skipUnlessLabUsable(this);
    await reapOrphans();
    lab = await Lab.up(spec);
  });

  after(async () => {
    if (figures.length > 0) console.log(`\n  flaky-link figures:\n    ${figures.join('\n    ')}`);
    await lab?.down();
  });

  it('256 kbit/s and 20 % loss each way to gamma: apply converges, or fails gamma alone on a timeout', async () => {
    await degrade(lab!, 'gamma', { rateKbit: 256, lossPercent: 20 });
    try {
      const apply = await meshctl(lab!, ['apply'], 280_000);
      const output = apply.stdout + apply.stderr;
      figures.push(
        `cold apply, 3 gateways, gamma behind 256 kbit/s + 20 % loss each way: exit ${apply.code} in ${apply.seconds.toFixed(1)} s`,
      );
      if (apply.code !== 0) {
        assert.equal(apply.code, 1, output);
        assert.match(
          output,
          /gamma\s+FAILED\s+.*(did not finish within|no answer to \d+ keepalives|timed? ?out|within \d+)/i,
        );
        assert.doesNotMatch(output, /(alpha|beta)\s+FAILED/);
      }
    } finally {
      await heal(lab!, 'gamma');
    }
    // whatever happened on the bad link, a re-run on a good one converges
    const rerun = await meshctl(lab!, ['apply']);
    assert.equal(rerun.code, 0, rerun.stdout + rerun.stderr);
    const mesh = await waitForFullMesh(lab!);
    assert.ok(mesh.ok, mesh.matrix);
  });

  it('link to gamma dies after connect: gamma fails within the keepalive bound, the others converge, exit 1', async () => {
    // a change on every gateway, so gamma has work left when its link dies
    editMesh(lab!, (mesh) => {
      mesh.port_base = 12000;
    });
    const live = new LiveRun(lab!, ['apply']);
    await live.waitForLine(/✔ gamma: debian/);
    await degrade(lab!, 'gamma', { lossPercent: 100 });
    const cut = performance.now();
    try {
      const failedLine = await live.waitForLine(/gamma.*(lost|did not finish)/, 120_000);
      const toFail = (performance.now() - cut) / 1000;
      const exit = await live.exited;
      const total = (performance.now() - cut) / 1000;
      const output = live.output;
      figures.push(
        `gamma blackholed after connect: failure reported ${toFail.toFixed(1)} s later ("${failedLine.trim().slice(0, 120)}"), run ended ${total.toFixed(1)} s after the cut, exit ${exit.code}`,
      );
      assert.equal(exit.code, 1, output);
      assert.match(output, /gamma\s+FAILED\s+.*no answer to 3 keepalives in 15 s/);
      assert.match(output, /alpha\s+changed/);
      assert.match(output, /beta\s+changed/);
      // keepalive 5 s × 3, plus a few seconds of slack for the command that was in flight
      assert.ok(toFail < 25, `gamma failed ${toFail.toFixed(1)} s after its link died`);
      assert.ok(total < 60, `the run ended ${total.toFixed(1)} s after the link died`);
    } finally {
      await heal(lab!, 'gamma');
    }
    assert.ok(await lab!.ping('alpha', 'beta'), 'alpha and beta converged on the new ports');
    const rerun = await meshctl(lab!, ['apply']);
    assert.equal(rerun.code, 0, rerun.stdout + rerun.stderr);
    const mesh = await waitForFullMesh(lab!);
    assert.ok(mesh.ok, mesh.matrix);
  });
});
