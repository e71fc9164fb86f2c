import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/version.js';
import { Lab, type LabSpec, reapOrphans } from '../lab/lab.js';
import {
  meshctl,
  parseJson,
  skipUnlessLabUsable,
  transcript,
  tunnelUnit,
  unansweredPings,
  waitForFullMesh,
} from './helpers/gateways.js';
import { type RunJson, statuses } from './helpers/results.js';

/**
 * What lands on a gateway follows the roles, boots in the right order, and only it is ever deleted (SPEC §3): an
 * operator's copy of the roles with another chain_prefix (MESHCTL_ROLES_DIR) converges and then diffs clean; every
 * tunnel unit is bound to and ordered after meshctl-firewall.service, so on a rebooted gateway no tunnel starts
 * before the source check is loaded; a manifest naming a file that is not meshctl's gets its gateway refused.
 */

const PREFIX = 'ACME';
const FIREWALL_UNIT = 'meshctl-firewall.service';

const spec: LabSpec = {
  name: 'gl1',
  mesh: 'layout',
  gateways: [
    // keeps its disk across a restart: the reboot case restarts it
    { name: 'keep', id: 1, subnets: ['10.91.0.0/24'], persistent: true },
    { name: 'peer', id: 2, subnets: ['10.92.0.0/25'] },
    { name: 'third', id: 3, subnets: ['10.93.0.0/26'] },
  ],
};
const names = spec.gateways.map((g) => g.name);
const peersOf = (gw: string) => names.filter((n) => n !== gw);

/** One start job of systemd (PID 1) in the journal of the current boot, at its monotonic time (µs). */
interface JobRecord {
  unit: string;
  /** `starting` (the job began) or `started` (it finished: active). */
  event: 'starting' | 'started';
  at: number;
}

const STARTING = '7d4958e842da4a758f6c1cdc7b36dcc5';
const STARTED = '39f53479d3a045ac8e11786248231fbf';

function startJobs(journalJson: string): JobRecord[] {
  const jobs: JobRecord[] = [];
  for (const line of journalJson.split('\n')) {
    if (!line.trim()) continue;
    const entry = JSON.parse(line) as Record<string, string>;
    if (entry.JOB_TYPE !== 'start' || !entry.UNIT) continue;
    const at = Number(entry.__MONOTONIC_TIMESTAMP);
    if (entry.MESSAGE_ID === STARTING) jobs.push({ unit: entry.UNIT, event: 'starting', at });
    if (entry.MESSAGE_ID === STARTED && entry.JOB_RESULT === 'done')
      jobs.push({ unit: entry.UNIT, event: 'started', at });
  }
  return jobs;
}

describe('e2e: gateway layout — an overridden chain_prefix, tunnels after the firewall at boot, own paths only', function () {
  this.timeout(240_000);
  let lab: Lab | undefined;
  let env: NodeJS.ProcessEnv;

  before(async function () {
    skipUnlessLabUsable(this, 'dist/test/e2e/gateway-layout.test.js');
    this.timeout(300_000);
    await reapOrphans();
    lab = await Lab.up(spec);
    // what the README tells an operator to do: copy the package's roles, change the default, point meshctl at it
    const roles = join(lab.dir, 'roles-acme');
    cpSync(join(packageRoot(), 'roles'), roles, { recursive: true });
    const defaults = join(roles, 'firewall', 'defaults.yml');
    const text = readFileSync(defaults, 'utf8');
    assert.match(text, /^chain_prefix: MESHCTL$/m);
    writeFileSync(defaults, text.replace(/^chain_prefix: MESHCTL$/m, `chain_prefix: ${PREFIX}`));
    env = { MESHCTL_ROLES_DIR: roles };
  });

  after(async function () {
    this.timeout(120_000);
    await lab?.down();
  });

  it(`apply with chain_prefix ${PREFIX}: only ${PREFIX}-* chains on every gateway; diff then exits 0`, async () => {
    const apply = await lab!.meshctl(['apply', '--json'], { env, timeoutMs: 240_000 });
    assert.equal(apply.code, 0, transcript(apply));
    assert.equal(parseJson<RunJson>(apply).ok, true);
    for (const gw of names) {
      const rules = (await lab!.exec(gw, ['iptables', '-w', '-S'])).stdout.trim().split('\n');
      for (const rule of [
        `-N ${PREFIX}-INPUT`,
        `-N ${PREFIX}-FORWARD`,
        `-A INPUT -j ${PREFIX}-INPUT`,
        `-A FORWARD -j ${PREFIX}-FORWARD`,
      ]) {
        assert.ok(rules.includes(rule), `${gw}: "${rule}" missing:\n${rules.join('\n')}`);
      }
      assert.equal(rules.filter((r) => r.startsWith(`-N ${PREFIX}-SRC-`)).length, peersOf(gw).length, gw);
      assert.deepEqual(
        rules.filter((r) => r.includes('MESHCTL')),
        [],
        `${gw}: no chain of the shipped prefix`,
      );
    }
    assert.deepEqual(await unansweredPings(lab!), []);

    // the real probe on each gateway reports the ACME chains, so nothing is left to do
    const diff = await lab!.meshctl(['diff'], { env, timeoutMs: 240_000 });
    assert.equal(diff.code, 0, transcript(diff));
    const again = await lab!.meshctl(['apply', '--json'], { env, timeoutMs: 240_000 });
    assert.equal(again.code, 0, transcript(again));
    assert.deepEqual(statuses(parseJson<RunJson>(again)), {
      keep: 'unchanged',
      peer: 'unchanged',
      third: 'unchanged',
    });
    // without the override meshctl renders the shipped prefix: the rules differ, so diff has work to show
    const shipped = await meshctl(lab!, ['diff'], 2);
    assert.match(shipped.stdout, /iptables\.rules/);
  });

  it('every tunnel unit is bound to and ordered after the firewall unit; after a reboot the firewall finished before the first tunnel started', async () => {
    const tunnels = peersOf('keep').map(tunnelUnit);
    for (const gw of names) {
      const shown = await lab!.exec(gw, [
        'systemctl',
        'show',
        '-p',
        'Id',
        '-p',
        'After',
        '-p',
        'BindsTo',
        ...peersOf(gw).map(tunnelUnit),
      ]);
      assert.equal(shown.code, 0, shown.stderr);
      const blocks = shown.stdout.trim().split(/\n\s*\n/);
      assert.equal(blocks.length, peersOf(gw).length, shown.stdout);
      for (const block of blocks) {
        const after = /^After=(.*)$/m.exec(block)?.[1]?.split(' ') ?? [];
        const bindsTo = /^BindsTo=(.*)$/m.exec(block)?.[1]?.split(' ') ?? [];
        assert.ok(after.includes(FIREWALL_UNIT), `${gw}: ${block}`);
        assert.ok(bindsTo.includes(FIREWALL_UNIT), `${gw}: ${block}`);
      }
    }

    await lab!.restart('keep');
    assert.deepEqual(
      await waitForFullMesh(lab!, 60_000),
      [],
      'every LAN host pings every other after the reboot',
    );
    const journal = await lab!.exec('keep', [
      'journalctl',
      '-b',
      '_PID=1',
      '-o',
      'json',
      '--no-pager',
      '--output-fields=UNIT,JOB_TYPE,JOB_RESULT,MESSAGE_ID',
    ]);
    assert.equal(journal.code, 0, journal.stderr);
    const jobs = startJobs(journal.stdout);
    const firewallDone = jobs.find((j) => j.unit === FIREWALL_UNIT && j.event === 'started');
    assert.ok(firewallDone, `no "Finished ${FIREWALL_UNIT}" in this boot's journal`);
    const tunnelStarts = jobs.filter((j) => tunnels.includes(j.unit) && j.event === 'starting');
    assert.deepEqual(
      [...new Set(tunnelStarts.map((j) => j.unit))].sort(),
      [...tunnels].sort(),
      'both tunnels started in this boot',
    );
    const first = Math.min(...tunnelStarts.map((j) => j.at));
    assert.ok(
      firewallDone.at <= first,
      `the first tunnel started ${((firewallDone.at - first) / 1000).toFixed(1)} ms before the firewall was active`,
    );
    // the boot left nothing to repair
    const diff = await lab!.meshctl(['diff'], { env, timeoutMs: 240_000 });
    assert.equal(diff.code, 0, transcript(diff));
  });

  it("a manifest naming a path that is not meshctl's: apply refuses that gateway untouched, the others converge", async () => {
    const manifest = '/etc/meshctl/manifest.json';
    const victim = '/etc/ssh/sshd_config';
    // a hand edit (or another tool) adds an entry meshctl would otherwise delete as stale
    const planted = await lab!.exec('third', [
      'sh',
      '-c',
      `cp "$1" /root/manifest.orig && sed -i "s|\\"files\\": {|\\"files\\": {\\"$2\\": \\"$(printf 'a%.0s' $(seq 64))\\",|" "$1" && sha256sum "$2" && grep -c "$2" "$1"`,
      'plant',
      manifest,
      victim,
    ]);
    assert.equal(planted.code, 0, planted.stderr);
    const [victimSum] = planted.stdout.split(/\s+/);
    // work for another gateway meanwhile
    assert.equal((await lab!.exec('peer', ['rm', '/etc/openvpn/server/mesh-keep.conf'])).code, 0);
    const before = (
      await lab!.exec('third', ['sh', '-c', 'sha256sum /etc/meshctl/* /etc/openvpn/server/*.conf'])
    ).stdout;

    const apply = await lab!.meshctl(['apply', '--json'], { env, timeoutMs: 240_000 });
    assert.equal(apply.code, 1, transcript(apply));
    const json = parseJson<RunJson>(apply);
    assert.deepEqual(statuses(json), { keep: 'changed', peer: 'changed', third: 'failed' });
    const refusal = json.gateways.find((g) => g.lan === 'third')!.error!.message;
    assert.ok(refusal.startsWith('third (198.18.0.3): /etc/meshctl/manifest.json is refused'), refusal);
    assert.ok(refusal.includes(`file "${victim}"`), refusal);
    assert.ok(refusal.includes('nothing on this gateway is touched'), refusal);
    assert.ok(refusal.includes(`Fix: remove that entry from ${manifest} or delete the file`), refusal);
    const after = await lab!.exec('third', [
      'sh',
      '-c',
      `sha256sum ${victim} /etc/meshctl/* /etc/openvpn/server/*.conf`,
    ]);
    assert.equal(after.stdout.split(/\s+/)[0], victimSum, `${victim} is still there, unchanged`);
    assert.ok(after.stdout.endsWith(before), 'nothing meshctl manages on third changed');

    // the fix the message gives: the entry removed, the next apply converges
    assert.equal((await lab!.exec('third', ['mv', '/root/manifest.orig', manifest])).code, 0);
    const diff = await lab!.meshctl(['diff'], { env, timeoutMs: 240_000 });
    assert.equal(diff.code, 0, transcript(diff));
  });
});
