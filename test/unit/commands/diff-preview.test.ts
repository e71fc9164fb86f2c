import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Chalk } from 'chalk';
import { desiredFromInventory, pendingFiles, refusePlaceholders } from '../../../src/commands/desired.js';
import { run as diff } from '../../../src/commands/diff.js';
import { rolloutPhase } from '../../../src/commands/lan/rollout.js';
import type { Connector } from '../../../src/connection/types.js';
import { ConnectError } from '../../../src/errors.js';
import { loadInventoryOrThrow } from '../../../src/inventory/load.js';
import { LOCK_FILE } from '../../../src/lock.js';
import { formatPlans } from '../../../src/plan/format.js';
import { planHosts } from '../../../src/plan/plan.js';
import type { HostPlan } from '../../../src/plan/types.js';
import { lanText, writeInventory } from '../../helpers/inventory.js';
import { type TreeEntry, treeSnapshot } from '../../helpers/snapshot.js';
import { countingServer, exampleCopy, jsonOf, localInventory, meshctl } from '../cli/helpers.js';
import { buildFacts } from '../plan/build-case.js';
import { capture } from './helpers.js';

const plain = new Chalk({ level: 0 });

/** A tree snapshot without the inventory directory's mtime, which the lock file's coming and going changes. */
function withoutDirTime(tree: Map<string, TreeEntry>): Map<string, TreeEntry> {
  return new Map([...tree].map(([p, e]) => [p, p === 'inventory' ? { ...e, mtimeNs: 0n } : e]));
}

/** A connector for gateways that cannot be reached; counts the attempts. */
function unreachable(): { connector: Connector; attempts: () => number } {
  let attempts = 0;
  const connector: Connector = async (opts) => {
    attempts++;
    throw new ConnectError(opts.host, `${opts.name}: connect ECONNREFUSED ${opts.host}:${opts.port}`);
  };
  return { connector, attempts: () => attempts };
}

describe('diff is read-only: the PKI is previewed, never created', () => {
  const roots: string[] = [];
  afterEach(() => {
    for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
  });

  it('diff on an inventory without pki/ leaves pki_dir absent and says what apply would create', async () => {
    const dir = exampleCopy();
    roots.push(path.dirname(dir));
    const before = treeSnapshot(path.dirname(dir));
    const { out, stdout } = capture();
    const gateways = unreachable();
    const code = await diff(
      { inventory: dir, forks: 4, json: false, color: false, verbose: true },
      { ...out, verbose: true },
      {
        connector: gateways.connector,
      },
    );
    assert.equal(code, 1, 'the gateways were unreachable');
    assert.equal(gateways.attempts(), 4, 'every gateway was tried');
    assert.equal(existsSync(path.join(dir, 'pki')), false, 'no pki_dir');
    assert.equal(existsSync(path.join(dir, LOCK_FILE)), false);
    // the inventory lock came and went (the inventory directory's own mtime); nothing else changed at all
    assert.deepEqual(withoutDirTime(treeSnapshot(path.dirname(dir))), withoutDirTime(before));

    // the count is exactly what the first real run creates
    const other = exampleCopy();
    roots.push(path.dirname(other));
    const rendered = await meshctl(['render', '-i', other, '--out', path.join(other, '..', 'out'), '--json']);
    const created = jsonOf(rendered).pkiCreated as string[];
    assert.ok(created.length > 10);
    const text = stdout.join('');
    assert.match(
      text,
      new RegExp(`pki: apply would create ${created.length} file\\(s\\) in \\S+/pki \\(diff wrote none\\)`),
    );
    for (const file of created) assert.ok(text.includes(`  + ${file}\n`), `-v lists ${file}`);
  });

  it('meshctl diff --json with an unreachable gateway: exit 1, nothing created, the files apply would create', async () => {
    const gateways = await countingServer();
    try {
      const dir = localInventory(gateways.port);
      roots.push(path.dirname(dir));
      const before = treeSnapshot(path.dirname(dir));
      const run = await meshctl(['diff', '-i', dir, '--json']);
      assert.equal(run.code, 1, run.stderr);
      assert.ok(gateways.connections() > 0, 'the gateways were contacted (read-only)');
      assert.deepEqual(
        withoutDirTime(treeSnapshot(path.dirname(dir))),
        withoutDirTime(before),
        'nothing created: no pki_dir, no lock',
      );
      const result = jsonOf(run);
      const pki = result.pki as { wouldCreate: string[]; wouldUpdate: string[] };
      // 3 LANs, 3 pairs: pki.json, .gitignore, CA key and cert, 3 keys and certs, 3 tls-crypt keys, the CRL
      assert.equal(pki.wouldCreate.length, 14);
      assert.deepEqual(pki.wouldUpdate, []);
      assert.equal(result.changes, true);
    } finally {
      gateways.close();
    }
  });

  it('shows material that does not exist yet as "(would be created)", never the placeholder text', async () => {
    const dir = writeInventory('name: corp\n', {
      hq: lanText(1, '10.1.0.0/16', '203.0.113.1'),
      branch: lanText(2, '10.2.0.0/16', '203.0.113.2'),
      dc: lanText(3, '10.3.0.0/16', '203.0.113.3'),
    });
    roots.push(path.dirname(dir));
    const { inventory } = loadInventoryOrThrow(dir);
    const desired = await desiredFromInventory(inventory, capture().out, 'preview');
    assert.equal(existsSync(inventory.mesh.pkiDir), false);
    const spec = { mesh: 'corp', lans: { hq: 1, branch: 2, dc: 3 } };
    const facts = new Map([['hq', buildFacts('hq', { base: 'fresh' }, spec)]]);
    const plans = planHosts(desired.states, facts, { limit: ['hq'] });
    const text = formatPlans(plans as Map<string, HostPlan>, {
      color: plain,
      desired: desired.states,
      pending: pendingFiles(desired.states),
    });
    const keys = '/etc/openvpn/server/meshctl';
    for (const [file, from] of [
      ['ca.crt', 'ca.crt'],
      ['crl.pem', 'crl.pem'],
      ['hq.crt', 'issued/hq.crt'],
      ['hq.key', 'private/hq.key'],
      ['pair-1.key', 'tls-crypt/pair-1.key'],
    ]) {
      assert.match(
        text,
        new RegExp(
          `\\+ write-file ${keys}/${file} \\(create\\)[^\\n]*\\n +\\(would be created\\) from pki_dir/${from}\\n`,
        ),
        `${file}:\n${text}`,
      );
    }
    assert.doesNotMatch(text, /meshctl placeholder/);
  });

  it('a preview can never be pushed: the push paths refuse placeholders before connecting', async () => {
    const dir = writeInventory('name: corp\n', {
      hq: lanText(1, '10.1.0.0/16', '203.0.113.1'),
      branch: lanText(2, '10.2.0.0/16', '203.0.113.2'),
    });
    roots.push(path.dirname(dir));
    const { inventory } = loadInventoryOrThrow(dir);
    const { out } = capture();
    const preview = await desiredFromInventory(inventory, out, 'preview');
    assert.throws(
      () => refusePlaceholders(preview.states),
      /refusing to push \S+ to hq: it holds a placeholder/,
    );
    const gateways = unreachable();
    const options = { inventory: dir, forks: 2, json: true, color: false, verbose: false };
    await assert.rejects(
      rolloutPhase(preview.states, ['hq', 'branch'], { options, out, connector: gateways.connector }),
      /holds a placeholder from a read-only PKI preview/,
    );
    assert.equal(gateways.attempts(), 0, 'no gateway contacted');
    // the creating path has real material only
    const created = await desiredFromInventory(inventory, out, 'create');
    assert.doesNotThrow(() => refusePlaceholders(created.states));
    assert.equal(created.preview, undefined);
  });
});
