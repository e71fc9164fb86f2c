import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePki } from '../../src/pki/index.js';
import { Lab, type LabSpec, type RunResult, reapOrphans } from '../lab/lab.js';
import { REPO_ROOT } from '../lab/paths.js';
import {
  ALL_COMMANDS,
  type CaseContext,
  COMMAND_CASES,
  type Command,
  INVENTORY_CASES,
} from './hostile-input-cases.js';
import {
  allGatewayStates,
  inParallel,
  journalCursor,
  SshSynCounter,
  skipUnlessLabUsable,
  sshdSince,
  treeChanges,
  treeEntries,
  waitUntil,
} from './hostile-support.js';

/**
 * SPEC §6, bad input: the real CLI (validate, render --out, diff, apply) against every bad inventory of
 * test/fixtures/inventory/bad (pointed at live lab gateways), dangerous inventories made from a deployed one, and
 * bad command lines. Each must exit 1 with a message naming the problem and the fix, leave every local file as it
 * was (no PKI, no --out directory, no lock), and never reach a gateway: no TCP connection to port 22 leaves the
 * namespace meshctl runs in, sshd logs nothing, and the gateways' managed state is byte-for-byte unchanged.
 */

const FIXTURES = join(REPO_ROOT, 'test/fixtures/inventory/bad');
const PARALLEL = 6;

interface FixtureExpectation {
  file: string;
  line: number | null;
  field: string;
  messageIncludes: string;
}

/** One command run of one case, with everything the checks need. */
interface Outcome {
  command: string;
  result: RunResult;
  changes: string[];
  lockLeft: boolean;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Copies preserving modes (the PKI's 0700/0600 matter), symlinks and special files. */
function copyTree(from: string, to: string): void {
  execFileSync('cp', ['-a', from, to]);
}

/** The fixtures' documentation addresses become the lab gateways', so a wrongly accepted case would reach them. */
function pointAtLab(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.yml')) continue;
    const file = join(entry.parentPath, entry.name);
    const text = readFileSync(file, 'latin1');
    const lab = text.replace(/\b203\.0\.113\.([12])\b/g, '198.18.0.$1');
    if (lab !== text) writeFileSync(file, lab, 'latin1');
  }
}

function describeOutcome(o: Outcome): string {
  return `${o.command} exited ${o.result.code}\n--- stderr\n${o.result.stderr}\n--- stdout\n${o.result.stdout.slice(0, 2000)}`;
}

/** The checks every refused run must pass, whatever the case. */
function assertRefusedCleanly(
  o: Outcome,
  problem: RegExp | ((stderr: string) => boolean),
  fix: RegExp,
): void {
  assert.equal(o.result.code, 1, describeOutcome(o));
  const output = `${o.result.stderr}\n${o.result.stdout}`;
  const named = typeof problem === 'function' ? problem(output) : problem.test(output);
  assert.ok(named, `the message does not name the problem (${problem}):\n${describeOutcome(o)}`);
  assert.match(output, fix, `the message does not give the fix:\n${describeOutcome(o)}`);
  assert.equal(o.lockLeft, false, `${o.command}: the inventory lock was left behind`);
  assert.deepEqual(o.changes, [], `${o.command} changed local files`);
}

describe('hostile input: refused, nothing written, no gateway reached (root + systemd-nspawn)', function () {
  this.timeout(600_000);
  const spec: LabSpec = {
    name: 'hbin',
    mesh: 'corp',
    gateways: [
      { name: 'a', id: 1, subnets: ['10.1.0.0/16'] },
      { name: 'b', id: 2, subnets: ['10.2.0.0/16'] },
    ],
  };
  const fixtureNames = existsSync(FIXTURES) ? readdirSync(FIXTURES).sort() : [];
  const outcomes = new Map<string, Outcome[]>();
  let lab: Lab | undefined;
  let work: string;
  let agent: ChildProcess | undefined;
  let env: NodeJS.ProcessEnv;
  let ctxBase: Omit<CaseContext, 'inventory' | 'scratch'>;
  let syn: SshSynCounter;
  let synBefore: number;
  const cursors = new Map<string, string>();
  let statesBefore: Map<string, string>;
  let control: { apply: RunResult; diff: RunResult; syn: number; sshd: number } | undefined;
  let corpusSeconds = 0;

  async function meshctl(args: string[]): Promise<RunResult> {
    return lab!.meshctl(args, { env, timeoutMs: 60_000 });
  }

  /** Runs the case's commands one after another, each against an untouched copy, recording what changed. */
  async function runCase(
    key: string,
    scratch: string,
    runs: { command: string; args: string[] }[],
  ): Promise<void> {
    const results: Outcome[] = [];
    for (const run of runs) {
      const before = treeEntries(scratch);
      const result = await meshctl(run.args);
      const after = treeEntries(scratch);
      const inventoryArg = run.args[run.args.indexOf('-i') + 1];
      results.push({
        command: run.command,
        result,
        changes: treeChanges(before, after),
        lockLeft: inventoryArg !== undefined && existsSync(join(inventoryArg, '.meshctl.lock')),
      });
    }
    outcomes.set(key, results);
  }

  function inventoryRuns(inventory: string, scratch: string, commands: Command[]) {
    return commands.map((command) => ({
      command,
      args: [command, '-i', inventory, ...(command === 'render' ? ['--out', join(scratch, 'out')] : [])],
    }));
  }

  before(async function () {
    skipUnlessLabUsable(this, 'dist/test/e2e/hostile-input.test.js');
    await reapOrphans();
    lab = await Lab.up(spec);
    work = mkdtempSync(join(tmpdir(), 'meshctl-hostile-input-'));

    // The fixtures set no SSH settings: the defaults (~/.ssh/known_hosts, ssh-agent) must reach the lab, so a
    // bad case that slipped through validation would really connect. Proven by the control run below.
    const home = join(work, 'home');
    mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
    copyFileSync(lab.knownHostsFile, join(home, '.ssh', 'known_hosts'));
    const socket = join(work, 'agent.sock');
    agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    assert.ok(await waitUntil(() => existsSync(socket), 5000), 'ssh-agent did not start');
    execFileSync('ssh-add', ['-q', lab.identityFile], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
    env = { HOME: home, SSH_AUTH_SOCK: socket, NO_COLOR: '1' };

    // the deployed mesh every generated case starts from: the fixtures' own shape (corp; a=1, b=2)
    const base = join(work, 'base');
    mkdirSync(join(base, 'lans'), { recursive: true });
    writeFileSync(join(base, 'mesh.yml'), 'name: corp\n');
    for (const gw of spec.gateways) {
      writeFileSync(
        join(base, 'lans', `${gw.name}.yml`),
        `id: ${gw.id}\nsubnets: [${gw.subnets.join(', ')}]\ngateway:\n  endpoint: 198.18.0.${gw.id}\n`,
      );
    }
    const otherPki = join(work, 'other-pki');
    await ensurePki({ dir: otherPki, mesh: 'other', lans: ['a', 'b'], pairs: [1] });
    ctxBase = { labKey: lab.identityFile, otherPki };

    syn = new SshSynCounter(lab);
    await syn.install();
    const synStart = await syn.read();
    const controlCursor = await journalCursor(lab, 'a');
    const apply = await meshctl(['apply', '-i', base]);
    const diff = await meshctl(['diff', '-i', base]);
    control = {
      apply,
      diff,
      syn: (await syn.read()) - synStart,
      sshd: (await sshdSince(lab, 'a', controlCursor)).length,
    };
    if (apply.code !== 0 || diff.code !== 0) return; // the control test reports it

    statesBefore = await allGatewayStates(lab);
    for (const gw of spec.gateways) cursors.set(gw.name, await journalCursor(lab, gw.name));
    synBefore = await syn.read();

    const started = performance.now();
    const jobs: (() => Promise<void>)[] = [];
    fixtureNames.forEach((name, i) => {
      // every fixture fails in the loader, on the path all four commands share: validate and apply each one,
      // and alternate render and diff so both run on half the corpus (the runtime stays within a few minutes)
      const commands: Command[] = ['validate', i % 2 === 0 ? 'render' : 'diff', 'apply'];
      jobs.push(async () => {
        const scratch = join(work, 'fixture', name);
        mkdirSync(scratch, { recursive: true });
        copyTree(join(FIXTURES, name), join(scratch, 'inventory'));
        pointAtLab(join(scratch, 'inventory'));
        await runCase(
          `fixture:${name}`,
          scratch,
          inventoryRuns(join(scratch, 'inventory'), scratch, commands),
        );
      });
    });
    for (const c of INVENTORY_CASES) {
      jobs.push(async () => {
        const scratch = join(work, 'case', c.name);
        mkdirSync(scratch, { recursive: true });
        copyTree(base, join(scratch, 'inventory'));
        const ctx: CaseContext = { ...ctxBase, inventory: join(scratch, 'inventory'), scratch };
        c.mutate(ctx);
        await runCase(
          `case:${c.name}`,
          scratch,
          inventoryRuns(ctx.inventory, scratch, c.commands ?? ALL_COMMANDS),
        );
      });
    }
    for (const c of COMMAND_CASES) {
      jobs.push(async () => {
        const scratch = join(work, 'command', c.name);
        mkdirSync(scratch, { recursive: true });
        copyTree(base, join(scratch, 'inventory'));
        const ctx: CaseContext = { ...ctxBase, inventory: join(scratch, 'inventory'), scratch };
        c.prepare?.(ctx);
        await runCase(`command:${c.name}`, scratch, [{ command: c.args(ctx).join(' '), args: c.args(ctx) }]);
      });
    }
    await inParallel(jobs, PARALLEL, (job) => job());
    corpusSeconds = (performance.now() - started) / 1000;
  });

  after(async () => {
    if (lab && outcomes.size > 0) {
      const runs = [...outcomes.values()].reduce((n, o) => n + o.length, 0);
      console.log(
        `      hostile input: ${outcomes.size} cases, ${runs} meshctl runs in ${corpusSeconds.toFixed(1)} s`,
      );
    }
    agent?.kill('SIGTERM');
    await lab?.down();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('control: the same harness and a valid inventory do reach the gateways (so the checks below can fail)', () => {
    assert.ok(control, 'the control did not run');
    assert.equal(control.apply.code, 0, `apply of the valid base inventory:\n${control.apply.stderr}`);
    assert.equal(control.diff.code, 0, `diff after apply:\n${control.diff.stderr}`);
    assert.ok(control.syn >= 4, `the SYN counter saw ${control.syn} connections, expected 2 per run`);
    assert.ok(control.sshd > 0, 'sshd logged nothing for a real session');
  });

  it(`covers at least 40 bad inventories and command lines (${fixtureNames.length} fixtures + ${INVENTORY_CASES.length} + ${COMMAND_CASES.length})`, () => {
    assert.ok(fixtureNames.length >= 40, `only ${fixtureNames.length} fixtures in ${FIXTURES}`);
    assert.equal(outcomes.size, fixtureNames.length + INVENTORY_CASES.length + COMMAND_CASES.length);
  });

  describe('bad inventories of test/fixtures/inventory/bad, pointed at the lab', () => {
    for (const name of fixtureNames) {
      it(name, () => {
        const expect = JSON.parse(
          readFileSync(join(FIXTURES, name, 'expect.json'), 'utf8'),
        ) as FixtureExpectation;
        const where = new RegExp(`${escapeRegExp(expect.file)}${expect.line ? `:${expect.line}` : ''}:`);
        // one diagnostic line: where, what (the fixture's words) and, after the dash, how to fix it
        const names = (output: string) =>
          output.split('\n').some((l) => where.test(l) && l.includes(expect.messageIncludes));
        const results = outcomes.get(`fixture:${name}`);
        assert.ok(results, 'not run');
        for (const o of results) assertRefusedCleanly(o, names, / — \S.{5,}/);
      });
    }
  });

  describe('dangerous inventories made from a deployed one', () => {
    for (const c of INVENTORY_CASES) {
      it(c.name, () => {
        const results = outcomes.get(`case:${c.name}`);
        assert.ok(results, 'not run');
        for (const o of results) {
          assertRefusedCleanly(o, c.problem, c.fix);
          if (c.mustNotPrint) {
            assert.ok(
              !`${o.result.stdout}${o.result.stderr}`.includes(c.mustNotPrint),
              `${o.command} printed the content of a file outside the inventory:\n${describeOutcome(o)}`,
            );
          }
        }
      });
    }
  });

  describe('bad command lines', () => {
    for (const c of COMMAND_CASES) {
      it(c.name, () => {
        const results = outcomes.get(`command:${c.name}`);
        assert.ok(results, 'not run');
        for (const o of results) assertRefusedCleanly(o, c.problem, c.fix);
      });
    }
  });

  it('no case reached a gateway: no SSH connection attempt, nothing in sshd logs, managed state unchanged', async () => {
    assert.ok(statesBefore, 'the corpus did not run');
    assert.equal((await syn.read()) - synBefore, 0, 'TCP connections to port 22 were attempted');
    for (const gw of spec.gateways) {
      assert.deepEqual(await sshdSince(lab!, gw.name, cursors.get(gw.name)!), [], `sshd on ${gw.name}`);
    }
    const after = await allGatewayStates(lab!);
    for (const gw of spec.gateways) assert.equal(after.get(gw.name), statesBefore.get(gw.name), gw.name);
  });
});
