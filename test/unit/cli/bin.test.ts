import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../../src/version.js';
import { MESHCTL_BIN } from '../../helpers/bin.js';
import { operatorFixtureDir } from '../operator/fixture.js';

const execFileAsync = promisify(execFile);

/**
 * The bin as a user runs it (the bundle of scripts/bundle.js, from another directory): it finds what it reads at
 * run time from the package root — package.json, the example inventory, the shell scripts every connecting
 * command reads when its code loads — and loads ssh2 from node_modules.
 */

async function bin(
  args: string[],
  cwd: string,
  nodeOptions: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [...nodeOptions, MESHCTL_BIN, ...args], {
      cwd,
      encoding: 'utf8',
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('cli: the meshctl bin', function () {
  this.timeout(30_000);
  let dir: string;

  let preload: string;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'meshctl-bin-'));
    // says on exit which CommonJS modules of ssh2 were loaded (ssh2 is required by node-ssh, outside the bundle)
    preload = path.join(dir, 'report-ssh2.cjs');
    writeFileSync(
      preload,
      `process.on('exit', () => {
  const ssh2 = Object.keys(require.cache).filter((f) => f.includes('/node_modules/ssh2/'));
  process.stderr.write('ssh2 modules loaded: ' + ssh2.length + '\\n');
});
`,
    );
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('is the bundle, not the compiled sources', () => {
    assert.equal(path.relative(packageRoot(), MESHCTL_BIN), path.join('dist', 'bin', 'meshctl.js'));
    assert.ok(existsSync(MESHCTL_BIN), `${MESHCTL_BIN} is missing: run \`npm run build\``);
  });

  it("--version is package.json's", async () => {
    const { version } = JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as {
      version: string;
    };
    const run = await bin(['--version'], dir);
    assert.equal(run.code, 0);
    assert.equal(run.stdout, `${version}\n`);
  });

  it('init copies the example inventory shipped with meshctl, and validate reads it', async () => {
    const init = await bin(['init', 'inv'], dir);
    assert.equal(init.code, 0, init.stderr);
    assert.ok(existsSync(path.join(dir, 'inv', 'mesh.yml')));
    const validate = await bin(['validate', '-i', 'inv'], dir);
    assert.equal(validate.code, 0, validate.stderr);
    assert.match(validate.stdout, /inv: valid — mesh "corp", 4 LANs/);
  });

  for (const command of ['apply', 'diff', 'status']) {
    it(`${command} loads its code (shell scripts, ssh2) before refusing an unknown --limit`, async () => {
      const run = await bin([command, '-i', operatorFixtureDir(), '--limit', 'nosuch'], dir, ['-r', preload]);
      assert.equal(run.code, 1);
      assert.doesNotMatch(run.stderr, /internal error/);
      assert.match(run.stderr, /--limit names "nosuch", not in the inventory/);
      const loaded = Number(/ssh2 modules loaded: (\d+)/.exec(run.stderr)?.[1]);
      assert.ok(loaded > 0, run.stderr);
    });
  }

  it('validate loads no ssh2', async () => {
    const run = await bin(['validate', '-i', operatorFixtureDir()], dir, ['-r', preload]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /ssh2 modules loaded: 0\n/);
  });
});
