import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { OPTION_RULES } from '../../../src/commands/options.js';
import { complete, LAN_OPTIONS, VALUE_OPTIONS } from '../../../src/completion.js';
import { MESHCTL_BIN } from '../../helpers/bin.js';
import { removeInventory, writeInventory } from '../../helpers/inventory.js';

const run = promisify(execFile);

/**
 * The bash completion script as a user installs it: `meshctl completion bash` is sourced into a real bash, the
 * words of a command line go into COMP_WORDS / COMP_CWORD, the completion function runs (it calls the built
 * meshctl, found on PATH) and COMPREPLY is what bash would offer.
 */

const cli = MESHCTL_BIN;
const LANS = { alpha: 1, beta: 2, 'branch-paris': 3 };
const lanYaml = (id: number) =>
  `id: ${id}\nsubnets: [10.${id}.0.0/16]\ngateway:\n  endpoint: 198.51.100.${id}\n`;

describe('shell completion', function () {
  this.timeout(30_000);
  let bin: string;
  let inventory: string;

  before(() => {
    bin = mkdtempSync(join(tmpdir(), 'meshctl-completion-'));
    chmodSync(cli, 0o755);
    symlinkSync(cli, join(bin, 'meshctl'));
    inventory = writeInventory(
      'name: corp\n',
      Object.fromEntries(Object.entries(LANS).map(([name, id]) => [name, lanYaml(id)])),
    );
  });

  after(() => {
    rmSync(bin, { recursive: true, force: true });
    removeInventory(inventory);
  });

  /** What bash offers for `line` with the cursor at its end (a trailing space starts a new, empty word). */
  async function offered(line: string, cwd = resolve(inventory, '..')): Promise<string[]> {
    const words = line.split(' ');
    const script = [
      'source <(meshctl completion bash)',
      `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})`,
      `COMP_CWORD=${words.length - 1}`,
      `COMP_LINE='${line}'`,
      `COMP_POINT=${line.length}`,
      '_meshctl_completions',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a bash expansion, not a template
      'printf "%s\\n" "${COMPREPLY[@]}"',
    ].join('\n');
    const { stdout } = await run('bash', ['--norc', '--noprofile', '-c', script], {
      cwd,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, SHELL: '/bin/zsh' },
    });
    return stdout.split('\n').filter(Boolean).sort();
  }

  it('prints a bash script defining the completion function, and a zsh one with compdef', async () => {
    const bash = await run(process.execPath, [cli, 'completion', 'bash']);
    assert.match(bash.stdout, /complete -o bashdefault -o default -F _meshctl_completions meshctl/);
    const zsh = await run(process.execPath, [cli, 'completion', 'zsh']);
    assert.match(zsh.stdout, /^#compdef meshctl/);
    assert.match(zsh.stdout, /compdef _meshctl_completions meshctl/);
  });

  it('offers the commands, then the options of a command', async () => {
    assert.deepEqual(await offered('meshctl '), [
      'add-lan',
      'apply',
      'completion',
      'diff',
      'graph',
      'init',
      'remove-lan',
      'render',
      'rotate',
      'routes',
      'status',
      'validate',
    ]);
    assert.deepEqual(await offered('meshctl re'), ['remove-lan', 'render']);
    assert.deepEqual(await offered('meshctl routes --format '), ['aws', 'azure', 'gcp', 'linux', 'text']);
    assert.deepEqual(await offered('meshctl graph --format s'), ['svg']);
    const options = await offered('meshctl apply --');
    for (const option of ['--limit', '--forks', '--json', '--accept-new', '--tunnel-timeout', '--inventory'])
      assert.ok(options.includes(option), `${option} in ${options.join(' ')}`);
    assert.deepEqual(await offered('meshctl diff --acc'), ['--accept-new']);
  });

  it('offers the LAN names of the inventory for --limit, as a comma-separated list', async () => {
    const dir = inventory;
    assert.deepEqual(await offered(`meshctl diff -i ${dir} --limit `), ['alpha', 'beta', 'branch-paris']);
    assert.deepEqual(await offered(`meshctl diff -i ${dir} --limit b`), ['beta', 'branch-paris']);
    assert.deepEqual(await offered(`meshctl apply -i ${dir} --limit alpha,`), [
      'alpha,beta',
      'alpha,branch-paris',
    ]);
    // ./inventory when -i is not given
    assert.deepEqual(await offered('meshctl diff --limit al', resolve(dir, '..')), ['alpha']);
  });

  it('offers gateway names (one per AZ) for --limit, LAN names for --via and remove-lan', async () => {
    const eu =
      'subnets: [10.5.0.0/20, 10.5.16.0/20]\ngateways:\n' +
      '  - { name: eu-a, id: 5, endpoint: 198.51.100.5, subnets: [10.5.0.0/20] }\n' +
      '  - { name: eu-b, id: 6, endpoint: 198.51.100.6, subnets: [10.5.16.0/20] }\n';
    const dir = writeInventory('name: corp\n', { alpha: lanYaml(1), eu });
    try {
      assert.deepEqual(await offered(`meshctl apply -i ${dir} --limit `), ['alpha', 'eu-a', 'eu-b']);
      assert.deepEqual(await offered(`meshctl add-lan x -i ${dir} --via `), ['alpha', 'eu']);
      assert.deepEqual(await offered(`meshctl remove-lan -i ${dir} e`), ['eu']);
    } finally {
      removeInventory(dir);
    }
  });

  it('offers the LAN names for remove-lan, and nothing made up for the new name of add-lan', async () => {
    assert.deepEqual(await offered(`meshctl remove-lan -i ${inventory} br`), ['branch-paris']);
    assert.deepEqual(await offered(`meshctl remove-lan -i ${inventory} `), ['alpha', 'beta', 'branch-paris']);
    assert.deepEqual(complete(['meshctl', 'add-lan', '-i', inventory, '']), null);
  });

  it('leaves the value of --inventory and --out to file completion, and survives a missing inventory', async () => {
    assert.deepEqual(complete(['meshctl', 'render', '--out', '']), []);
    assert.deepEqual(complete(['meshctl', 'diff', '-i', '']), []);
    assert.deepEqual(complete(['meshctl', 'diff', '-i', '/nonexistent', '--limit', '']), []);
    assert.deepEqual(complete(['meshctl', 'diff', '-i', inventory, '--limit', '=', 'be']), ['beta']);
    // no inventory here: COMPREPLY stays empty, so bash falls back to file names (`complete -o default`)
    const empty = mkdtempSync(join(tmpdir(), 'meshctl-completion-empty-'));
    mkdirSync(join(empty, 'x'));
    try {
      assert.deepEqual(await offered('meshctl diff --limit ', empty), []);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('knows every option that takes a value (a new one must say what completes it)', () => {
    const positionals = ['dir'];
    for (const name of Object.keys(OPTION_RULES).filter((n) => !positionals.includes(n))) {
      const option = `--${name}`;
      assert.ok(VALUE_OPTIONS.includes(option) || option in LAN_OPTIONS, `${option} in completion.ts`);
    }
  });
});
