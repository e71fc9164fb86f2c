import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backupPath, installScript, widenRulesScript } from '../../../src/execute/bundle.js';

/**
 * A run killed while its bundle is in transit hands `sh -s` a script cut short, and sh runs a here-document cut
 * by end-of-file as if it were complete. Cut the script at every line and inside lines, run what arrived with
 * the real sh, and require every target to hold its old or its new content, never a part.
 */

function sh(script: string): number | null {
  return spawnSync('sh', ['-s'], { input: script, encoding: 'utf8' }).status;
}

describe('file bundle cut short in transit (SPEC §6: no half-written file)', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'meshctl-cut-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('leaves every file old or new at every cut point', function () {
    this.timeout(60_000);
    // long enough that the base64 body spans many 76-character lines
    const files = ['a.conf', 'b.conf', 'c.key'].map((name, i) => ({
      path: join(root, name),
      old: `old ${name}\n`,
      content: `${`new ${name} line ${i}\n`.repeat(40)}`,
      mode: 0o600,
    }));
    const script = installScript(files);
    const cuts = new Set<number>();
    for (let i = 0; i < script.length; i++) if (script[i] === '\n') cuts.add(i + 1);
    for (let i = 0; i < script.length; i += 101) cuts.add(i);
    let sawPartialArrival = 0;
    for (const cut of [...cuts].sort((a, b) => a - b)) {
      for (const f of files) writeFileSync(f.path, f.old);
      const code = sh(script.slice(0, cut));
      for (const f of files) {
        const now = readFileSync(f.path, 'utf8');
        assert.ok(now === f.old || now === f.content, `cut at ${cut}/${script.length}: ${f.path} is partial`);
      }
      if (code !== 0) sawPartialArrival++;
    }
    assert.ok(sawPartialArrival > cuts.size / 2, 'most cuts are refused, not silently accepted');
    // the whole script still lands everything
    assert.equal(sh(script), 0);
    for (const f of files) assert.equal(readFileSync(f.path, 'utf8'), f.content);
  });
});

describe('widenRulesScript (a rolled-back tunnel keeps its previous port accepted)', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'meshctl-widen-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const rules = (port: number) =>
    [
      '# comment',
      '*filter',
      ':MESHCTL-INPUT - [0:0]',
      ':MESHCTL-SRC-mtun1 - [0:0]',
      '-A MESHCTL-SRC-mtun1 -s 10.2.0.0/24 -j RETURN',
      '-A MESHCTL-SRC-mtun1 -j DROP',
      '-A MESHCTL-INPUT -i mtun1 -j MESHCTL-SRC-mtun1',
      `-A MESHCTL-INPUT -p udp -s 198.18.0.2/32 --dport ${port} -j ACCEPT`,
      'COMMIT',
      '',
    ].join('\n');

  it('writes the union of the new rules and the rollback copy, each DROP last', () => {
    const path = join(root, 'iptables.rules');
    writeFileSync(path, rules(12001), { mode: 0o640 });
    writeFileSync(backupPath(path), rules(11001));
    assert.equal(sh(widenRulesScript(path)), 0);
    const lines = readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    assert.deepEqual(lines, [
      '*filter',
      ':MESHCTL-INPUT - [0:0]',
      ':MESHCTL-SRC-mtun1 - [0:0]',
      '-A MESHCTL-SRC-mtun1 -s 10.2.0.0/24 -j RETURN',
      '-A MESHCTL-INPUT -i mtun1 -j MESHCTL-SRC-mtun1',
      '-A MESHCTL-INPUT -p udp -s 198.18.0.2/32 --dport 12001 -j ACCEPT',
      '-A MESHCTL-INPUT -p udp -s 198.18.0.2/32 --dport 11001 -j ACCEPT',
      '-A MESHCTL-SRC-mtun1 -j DROP',
      'COMMIT',
    ]);
  });

  it('exits 3 and changes nothing without a rollback copy', () => {
    const path = join(root, 'iptables.rules');
    writeFileSync(path, rules(12001));
    assert.equal(sh(widenRulesScript(path)), 3);
    assert.equal(readFileSync(path, 'utf8'), rules(12001));
  });
});
