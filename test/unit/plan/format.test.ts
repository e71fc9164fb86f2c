import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Chalk } from 'chalk';
import { fetchOldContentsCommand, parseOldContents, pathsToFetch } from '../../../src/facts/old-contents.js';
import { summaryLine } from '../../../src/plan/actions.js';
import { HostPlanError } from '../../../src/plan/errors.js';
import {
  formatHostPlan,
  formatPlans,
  plansToJson,
  planToJson,
  SECRET_PLACEHOLDER,
} from '../../../src/plan/format.js';
import { planHosts } from '../../../src/plan/plan.js';
import type { HostPlan } from '../../../src/plan/types.js';
import { buildDesired, buildFacts, type DesiredSpec, fakePem } from './build-case.js';

const run = promisify(execFile);
const plain = new Chalk({ level: 0 });
const KEYS = '/etc/openvpn/server/meshctl';
const CONF = '/etc/openvpn/server/mesh-branch.conf';

/** The base64 body of a PEM (no BEGIN/END lines): the part that must never be printed. */
function pemBody(pem: string): string {
  return pem
    .split('\n')
    .filter((line) => line && !line.startsWith('-----'))
    .join('');
}

/** Fails when any 12 consecutive characters of the secret body appear in `text`. */
function assertNoSecret(text: string, secretPem: string, what: string): void {
  const body = pemBody(secretPem);
  assert.ok(body.length >= 64, 'the test secret has a body');
  const flat = text.replace(/\s+/g, '');
  for (let i = 0; i + 12 <= body.length; i++) {
    const chunk = body.slice(i, i + 12);
    assert.ok(!text.includes(chunk) && !flat.includes(chunk), `${what} contains key material (${chunk}…)`);
  }
}

describe('plan formatting and JSON (secrets redacted)', () => {
  const newKey = fakePem('PRIVATE KEY', 'rotated hq key');
  const newTlsCrypt = fakePem('OpenVPN Static key V1', 'rotated pair 1');
  const oldKey = fakePem('PRIVATE KEY', 'hq-key'); // what build-case puts on a converged gateway
  const spec: DesiredSpec = {
    mesh: 'corp',
    lans: { hq: 1, branch: 2, dc: 3 },
    content: { [`hq:${KEYS}/hq.key`]: newKey, [`*:${KEYS}/pair-1.key`]: newTlsCrypt },
  };
  const desired = buildDesired(spec);
  const oldConf = '# edited by hand\nverb 9\n';
  const facts = new Map([
    ['hq', buildFacts('hq', { base: 'converged', files: { [CONF]: { content: oldConf } } }, spec)],
    ['branch', buildFacts('branch', { base: 'fresh' }, spec)],
  ]);
  const plans = planHosts(desired, facts, { limit: ['hq', 'branch'] });
  const hq = plans.get('hq') as HostPlan;
  const branch = plans.get('branch') as HostPlan;
  // a careless caller hands in the old secret too: the formatter must still not print it
  const oldContents = { [CONF]: oldConf, [`${KEYS}/hq.key`]: oldKey };
  const secrets = [newKey, newTlsCrypt, oldKey, desired.get('branch')!.files.find((f) => f.secret)!.content];

  it('never fetches the old content of a secret file', () => {
    assert.deepEqual(pathsToFetch(hq), [CONF]);
    assert.deepEqual(pathsToFetch(branch), [], 'created files have no old content');
  });

  it('shows a unified diff for a changed non-secret file and hides key material', () => {
    const text = formatHostPlan(hq, {
      color: plain,
      desired: desired.get('hq')!,
      oldContents,
      verbose: true,
    });
    assert.match(text, /^hq \(198\.51\.100\.1\) {2}debian 12 \(bookworm\), OpenVPN 2\.6\.14, systemd 252$/m);
    assert.match(text, /^ {2}~ write-file \/etc\/openvpn\/server\/mesh-branch\.conf \(update\) 0644$/m);
    assert.match(text, /^ {6}--- \/etc\/openvpn\/server\/mesh-branch\.conf\tgateway$/m);
    assert.match(text, /^ {6}-verb 9$/m);
    assert.match(text, /^ {6}\+remote 198\.51\.100\.2 11001$/m);
    assert.match(text, /^ {2}~ write-file \/etc\/openvpn\/server\/meshctl\/hq\.key \(update\) 0600$/m);
    assert.ok(text.includes(`${SECRET_PLACEHOLDER} changed`));
    assert.match(text, /^ {2}0 to add, 3 to change, 0 to remove; 2 tunnels restart$/m);
    for (const secret of secrets) assertNoSecret(text, secret, 'formatted plan');
  });

  it('shows created files as diffs from /dev/null, secrets as created and hidden', () => {
    const text = formatHostPlan(branch, { color: plain, desired: desired.get('branch')!, verbose: true });
    assert.match(text, /^ {6}--- \/dev\/null\tgateway$/m);
    assert.match(text, /^ {6}\+net\.ipv4\.ip_forward = 1$/m);
    assert.ok(text.includes(`${SECRET_PLACEHOLDER} created`));
    for (const secret of secrets) assertNoSecret(text, secret, 'formatted fresh plan');
  });

  it('says when the previous content is not available instead of inventing a diff', () => {
    const text = formatHostPlan(hq, { color: plain, desired: desired.get('hq')!, oldContents: {} });
    assert.match(text, /\(previous content not available: sha256 [0-9a-f]{8}… → [0-9a-f]{8}…\)/);
  });

  it('keeps JSON free of content and of secret checksums', () => {
    const json = JSON.stringify(plansToJson(plans));
    for (const secret of secrets) assertNoSecret(json, secret, 'JSON plan');
    assert.ok(!json.includes('"content"'), 'no content field');
    const hqJson = planToJson(hq) as { actions: Record<string, unknown>[]; summaryLine: string };
    const keyWrite = hqJson.actions.find((a) => a.path === `${KEYS}/hq.key`)!;
    assert.equal(keyWrite.symbol, '~');
    assert.equal(keyWrite.secret, true);
    assert.ok(!('oldSha256' in keyWrite) && !('newSha256' in keyWrite), 'a secret carries no checksum');
    const confWrite = hqJson.actions.find((a) => a.path === CONF)!;
    assert.match(String(confWrite.oldSha256), /^[0-9a-f]{64}$/);
    assert.equal(hqJson.summaryLine, '0 to add, 3 to change, 0 to remove; 2 tunnels restart');
  });

  it('prints a refused gateway in place of its plan, and marks it in JSON', () => {
    const refused = new Map<string, HostPlan | HostPlanError>([
      ['hq', new HostPlanError('hq', 'other-mesh', 'hq (198.51.100.1): belongs to mesh "lab"')],
      ['branch', branch],
    ]);
    const text = formatPlans(refused, { color: plain, desired });
    assert.match(text, /^hq\n {2}refused: hq \(198\.51\.100\.1\): belongs to mesh "lab"$/m);
    assert.match(
      text,
      /^branch \(198\.51\.100\.2\) {2}debian 12 \(bookworm\), OpenVPN not installed, systemd 252$/m,
    );
    const json = plansToJson(refused) as { changes: boolean; gateways: Record<string, unknown>[] };
    assert.equal(json.changes, true);
    assert.deepEqual(json.gateways[0], {
      lan: 'hq',
      ok: false,
      error: { kind: 'other-mesh', message: 'hq (198.51.100.1): belongs to mesh "lab"' },
    });
  });

  it('colours through the chalk instance it is given', () => {
    const coloured = formatHostPlan(hq, {
      color: new Chalk({ level: 1 }),
      desired: desired.get('hq')!,
      oldContents,
    });
    assert.ok(coloured.includes('\u001b[32m'), 'green for additions');
    const text = formatHostPlan(hq, { color: plain, desired: desired.get('hq')!, oldContents });
    assert.ok(!text.includes('\u001b['), 'level 0: no escape codes');
  });

  it('writes the summary line in the contract form', () => {
    assert.equal(
      summaryLine({ add: 3, change: 1, remove: 0, restart: 2 }),
      '3 to add, 1 to change, 0 to remove; 2 tunnels restart',
    );
    assert.equal(
      summaryLine({ add: 0, change: 0, remove: 1, restart: 1 }),
      '0 to add, 0 to change, 1 to remove; 1 tunnel restarts',
    );
  });
});

describe('fetch-old.sh run by the local /bin/sh', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'meshctl-fetch-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('returns the exact content of each file, skips absent ones', async () => {
    const files = {
      [join(root, 'a.conf')]: 'remote x 1\n# ünïcödé and a tab\there\n',
      [join(root, "it's $(odd).conf")]: 'no trailing newline',
      [join(root, 'empty.conf')]: '',
    };
    for (const [path, text] of Object.entries(files)) writeFileSync(path, text);
    const argv = fetchOldContentsCommand([...Object.keys(files), join(root, 'missing.conf')]);
    assert.deepEqual(argv.slice(0, 2), ['sh', '-c']);
    const { stdout } = await run(argv[0]!, argv.slice(1), { encoding: 'utf8' });
    assert.deepEqual(parseOldContents(stdout), files);
  });

  it('refuses a relative path and a truncated reply', () => {
    assert.throws(() => fetchOldContentsCommand(['etc/x']), /must be absolute/);
    assert.throws(() => parseOldContents('content\t/etc/x\nYWJj\n'), /without its "end" line/);
  });
});
