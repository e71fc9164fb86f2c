import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Lab, type LabSpec, reapOrphans } from '../lab/lab.js';
import {
  assertNoHalfWrittenFile,
  assertRunningMatchesRendered,
  editMesh,
  LiveRun,
  leftoverTemporaries,
  meshctl,
  type RenderedTree,
  renderTree,
  skipUnlessLabUsable,
  waitForFullMesh,
} from './interrupt-support.js';

/**
 * SPEC §6 "an interrupted run leaves no half-written file" and "re-running converges", on real gateways: meshctl
 * is killed (SIGINT and SIGKILL) at each phase of a cold apply on fresh gateways and of a change apply that
 * touches every tunnel config and the firewall (port_base moves every port). After each kill every managed path
 * is absent, the old or the new content; the lock is released (SIGINT) or reported stale with its fix (SIGKILL);
 * a re-run converges: apply exits 0, diff exits 0, every LAN pings every other, and what runs (ports, loaded
 * firewall) is what the files say.
 */

/**
 * A reboot onto the clean image. The bridge end of the old veth can outlive the gateway's namespace for a moment
 * ("File exists" when wiring again): wait and retry once.
 */
async function restartFresh(lab: Lab, gateway: string): Promise<void> {
  await lab.stop(gateway);
  try {
    await lab.start(gateway);
  } catch (error) {
    if (!/File exists/.test((error as Error).message)) throw error;
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await lab.start(gateway);
  }
}

interface InterruptPoint {
  title: string;
  /** cold: fresh gateways, nothing of meshctl on them; change: a converged mesh whose port_base moves. */
  kind: 'cold' | 'change';
  signal: 'SIGINT' | 'SIGKILL';
  /** The progress line (line renderer: stdout is not a TTY) at which meshctl is killed. */
  at: RegExp;
  /** The mesh.yml edit of a change run. */
  edit?: (mesh: Record<string, unknown>) => void;
}

const POINTS: InterruptPoint[] = [
  {
    title: 'cold apply, SIGINT during connect/facts',
    kind: 'cold',
    signal: 'SIGINT',
    at: /Connect and gather facts/,
  },
  {
    title: 'cold apply, SIGKILL during the file bundle',
    kind: 'cold',
    signal: 'SIGKILL',
    at: /write \d+ files/,
  },
  { title: 'cold apply, SIGINT during verify', kind: 'cold', signal: 'SIGINT', at: /Verify tunnels/ },
  {
    title: 'change apply, SIGKILL during the file bundle',
    kind: 'change',
    signal: 'SIGKILL',
    at: /write \d+ files/,
    edit: (mesh) => {
      mesh.port_base = 12000;
    },
  },
  {
    title: 'change apply, SIGINT between converge and start',
    kind: 'change',
    signal: 'SIGINT',
    at: /✔ Converge$/,
    edit: (mesh) => {
      mesh.port_base = 13000;
      mesh.openvpn = { keepalive: [5, 30] };
    },
  },
  {
    title: 'change apply, SIGKILL during verify',
    kind: 'change',
    signal: 'SIGKILL',
    at: /Verify tunnels/,
    edit: (mesh) => {
      mesh.port_base = 14000;
      mesh.openvpn = { keepalive: [7, 42] };
    },
  },
];

describe('interrupted apply: no half-written file, lock handled, re-run converges (lab)', function () {
  this.timeout(300_000);
  const spec: LabSpec = {
    name: 'hsi',
    gateways: [
      { name: 'alpha', id: 1, subnets: ['10.41.0.0/24'] },
      { name: 'beta', id: 2, subnets: ['10.42.0.0/24'] },
      { name: 'gamma', id: 3, subnets: ['10.43.0.0/24'] },
    ],
  };
  let lab: Lab | undefined;
  let scratch: string;
  let renders = 0;
  /** The files of the last converged state; null while the gateways are fresh. */
  let converged: RenderedTree | null = null;
  const figures: string[] = [];

  before(async function () {
    skipUnlessLabUsable(this);
    await reapOrphans();
    lab = await Lab.up(spec);
    scratch = mkdtempSync(join(tmpdir(), 'meshctl-interrupt-'));
  });

  after(async () => {
    if (figures.length > 0) console.log(`\n  interrupt figures:\n    ${figures.join('\n    ')}`);
    await lab?.down();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  afterEach(function () {
    // a failed case may leave its killed run's lock: the next case must not fail for that reason too
    if (this.currentTest?.state === 'failed' && lab) rmSync(lockPath(), { force: true });
  });

  const lockPath = () => join(lab!.inventoryDir, '.meshctl.lock');

  for (const point of POINTS) {
    it(point.title, async () => {
      if (point.kind === 'cold') {
        // a non-persistent gateway starts again from the clean image: no OpenVPN config, no meshctl file
        for (const gw of spec.gateways) await restartFresh(lab!, gw.name);
        converged = null;
      } else if (converged === null) {
        const setup = await meshctl(lab!, ['apply']);
        assert.equal(setup.code, 0, `setup apply:\n${setup.stdout}${setup.stderr}`);
        converged = await renderTree(lab!, join(scratch, `render-${renders++}`));
      }
      const before = converged;
      if (point.edit) editMesh(lab!, point.edit);
      const newDir = join(scratch, `render-${renders++}`);
      const wanted = await renderTree(lab!, newDir);

      const live = new LiveRun(lab!, ['apply']);
      await live.waitForLine(point.at);
      live.kill(point.signal);
      const killed = await live.exited;
      if (point.signal === 'SIGINT') {
        assert.equal(killed.code, 130, `SIGINT exit code:\n${live.output}`);
        assert.match(killed.stderr, /interrupted \(SIGINT\); re-run to converge/);
      } else {
        assert.equal(killed.signal, 'SIGKILL');
      }

      // a gateway may still be finishing a script meshctl sent before it died: give it a moment to settle
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const counts = await assertNoHalfWrittenFile(lab!, before, wanted, point.title);
      for (const gw of spec.gateways) {
        assert.deepEqual(await leftoverTemporaries(lab!, gw.name), [], `${gw.name}: temporaries left`);
      }

      if (point.signal === 'SIGINT' && point.kind === 'change') {
        // Ctrl-C must not leave a tunnel down that the run had stopped only to restart it
        for (const gw of spec.gateways) {
          const units = await lab!.exec(gw.name, [
            'systemctl',
            'list-units',
            '--all',
            '--plain',
            '--no-legend',
            'openvpn-server@mesh-*',
          ]);
          const notActive = units.stdout
            .split('\n')
            .map((line) => line.trim().split(/\s+/))
            .filter((cols) => cols.length > 2 && cols[2] !== 'active')
            .map((cols) => `${cols[0]} ${cols[2]}`);
          assert.deepEqual(notActive, [], `${gw.name}: tunnels left stopped after SIGINT:\n${live.output}`);
        }
      }
      if (point.signal === 'SIGINT') {
        assert.equal(existsSync(lockPath()), false, 'SIGINT releases the inventory lock');
      } else {
        assert.equal(existsSync(lockPath()), true, 'SIGKILL cannot release the lock');
        const refused = await meshctl(lab!, ['apply']);
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /stale lock: .*no longer running/);
        const rm = /\(rm (\S+)\)/.exec(refused.stderr);
        assert.ok(rm, `the stale-lock message says how to clear it:\n${refused.stderr}`);
        // the path is as meshctl was told (-i, relative to where it runs: the lab dir)
        assert.equal(resolve(lab!.dir, rm[1]!), lockPath());
        rmSync(resolve(lab!.dir, rm[1]!));
      }

      const rerun = await meshctl(lab!, ['apply']);
      assert.equal(rerun.code, 0, `re-run after ${point.title}:\n${rerun.stdout}${rerun.stderr}`);
      const diff = await meshctl(lab!, ['diff']);
      assert.equal(diff.code, 0, `diff after the re-run:\n${diff.stdout}${diff.stderr}`);
      const mesh = await waitForFullMesh(lab!);
      assert.ok(mesh.ok, mesh.matrix);
      await assertRunningMatchesRendered(lab!, newDir);
      const again = await assertNoHalfWrittenFile(lab!, null, wanted, `${point.title}, after the re-run`);
      assert.equal(again.absent + again.old, 0, 'after the re-run every managed file has its new content');
      converged = wanted;
      figures.push(
        `${point.title}: killed after ${killed.seconds.toFixed(1)} s; files then: ${counts.new} new, ` +
          `${counts.old} old, ${counts.absent} absent; re-run converged in ${rerun.seconds.toFixed(1)} s`,
      );
    });
  }
});
