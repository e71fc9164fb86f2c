import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
  renameSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/**
 * Dangerous inventories and command lines made from a valid, deployed inventory (mesh "corp", LANs a and b, its
 * PKI already created). Each case breaks one thing; meshctl must refuse it with a message that names the problem
 * and the fix, before it writes anything or opens an SSH session. Regexes match meshctl's stderr.
 */

export interface CaseContext {
  /** The case's copy of the deployed inventory (with pki/). */
  inventory: string;
  /** The case's own folder (holds `inventory`; anything else the case needs goes here). */
  scratch: string;
  /** The lab's SSH private key (mode 0600). */
  labKey: string;
  /** A PKI directory that belongs to another mesh ("other"). */
  otherPki: string;
}

export type Command = 'validate' | 'render' | 'diff' | 'apply';
export const ALL_COMMANDS: Command[] = ['validate', 'render', 'diff', 'apply'];

export interface InventoryCase {
  name: string;
  mutate: (ctx: CaseContext) => void;
  problem: RegExp;
  fix: RegExp;
  /** Commands that must refuse it (default: all four). Offline `validate` cannot see SSH credential problems. */
  commands?: Command[];
  /** Text that must never appear in the output (e.g. the content of a file the case points at). */
  mustNotPrint?: string;
}

export interface CommandCase {
  name: string;
  /** The arguments after `node cli.js`. */
  args: (ctx: CaseContext) => string[];
  prepare?: (ctx: CaseContext) => void;
  problem: RegExp;
  fix: RegExp;
}

const lan = (ctx: CaseContext, name: string) => join(ctx.inventory, 'lans', `${name}.yml`);
const meshFile = (ctx: CaseContext) => join(ctx.inventory, 'mesh.yml');
const setLanB = (ctx: CaseContext, gateway: string) =>
  writeFileSync(lan(ctx, 'b'), `id: 2\nsubnets: [10.2.0.0/16]\ngateway:\n${gateway}`);
const setMesh = (ctx: CaseContext, text: string) => writeFileSync(meshFile(ctx), text);
const renameB = (ctx: CaseContext, stem: string) =>
  renameSync(lan(ctx, 'b'), join(ctx.inventory, 'lans', `${stem}.yml`));
/** mesh.yml with explicit SSH settings; `identity` replaces the lab key. */
const sshMesh = (ctx: CaseContext, identity: string) =>
  setMesh(ctx, `name: corp\nssh:\n  identity_file: ${JSON.stringify(identity)}\n`);

/** A secret-looking line in a file outside the inventory, to catch a loader that echoes what it reads. */
export const OUTSIDE_SECRET = 'root:$y$j9T$hostileFixtureHashValue0123456789$:19000:0:99999:7:::';

export const INVENTORY_CASES: InventoryCase[] = [
  // names that would end up in paths, unit names or remote shell commands
  {
    name: 'lan-file-shell-metachar',
    mutate: (ctx) => renameB(ctx, 'b;touch pwned'),
    problem: /b;touch pwned/,
    fix: /rename/i,
  },
  {
    name: 'lan-file-command-substitution',
    mutate: (ctx) => renameB(ctx, '$(touch pwned)'),
    problem: /\$\(touch pwned\)/,
    fix: /rename/i,
  },
  {
    name: 'lan-file-leading-dash',
    mutate: (ctx) => renameB(ctx, '-oProxyCommand=sh'),
    problem: /-oProxyCommand=sh/,
    fix: /rename/i,
  },
  {
    name: 'lan-file-homoglyph',
    mutate: (ctx) => renameB(ctx, '\u0430'),
    problem: /\u0430/,
    fix: /rename/i,
  },
  {
    name: 'lan-file-uppercase-twin',
    mutate: (ctx) => copyFileSync(lan(ctx, 'a'), join(ctx.inventory, 'lans', 'A.yml')),
    problem: /A\.yml/,
    fix: /rename/i,
  },
  {
    name: 'mesh-name-shell',
    mutate: (ctx) => setMesh(ctx, 'name: "corp;reboot"\n'),
    problem: /corp;reboot/,
    fix: /—\s*\S+/,
  },
  {
    name: 'mesh-name-path',
    mutate: (ctx) => setMesh(ctx, 'name: ../../etc/passwd\n'),
    problem: /\.\.\/\.\.\/etc\/passwd/,
    fix: /—\s*\S+/,
  },
  {
    name: 'endpoint-shell',
    mutate: (ctx) => setLanB(ctx, '  endpoint: "198.18.0.2;touch /tmp/pwned"\n'),
    problem: /gateway\.endpoint.*198\.18\.0\.2;touch/,
    fix: /—\s*\S+/,
  },
  {
    name: 'endpoint-newline',
    mutate: (ctx) => setLanB(ctx, '  endpoint: "198.18.0.2\\nProxyCommand sh"\n'),
    problem: /gateway\.endpoint/,
    fix: /—\s*\S+/,
  },
  {
    name: 'ssh-host-option-injection',
    mutate: (ctx) => setLanB(ctx, '  endpoint: 198.18.0.2\n  ssh_host: "-oProxyCommand=touch /tmp/pwned"\n'),
    problem: /gateway\.ssh_host.*-oProxyCommand/,
    fix: /—\s*\S+/,
  },
  {
    name: 'ssh-user-command-substitution',
    mutate: (ctx) => setLanB(ctx, '  endpoint: 198.18.0.2\n  ssh: { user: "root$(touch /tmp/pwned)" }\n'),
    problem: /ssh\.user.*root\$\(touch/,
    fix: /—\s*\S+/,
  },
  {
    name: 'ssh-user-option-injection',
    mutate: (ctx) => setLanB(ctx, '  endpoint: 198.18.0.2\n  ssh: { user: "-oProxyCommand=sh" }\n'),
    problem: /ssh\.user.*-oProxyCommand=sh/,
    fix: /—\s*\S+/,
  },
  {
    name: 'openvpn-extra-plugin',
    mutate: (ctx) => setMesh(ctx, 'name: corp\nopenvpn:\n  extra: ["plugin /tmp/evil.so"]\n'),
    problem: /openvpn\.extra\[0\].*plugin/,
    fix: /—\s*\S+/,
  },
  {
    name: 'openvpn-extra-up-script',
    mutate: (ctx) => setMesh(ctx, 'name: corp\nopenvpn:\n  extra: ["up \\"/bin/sh -c id\\""]\n'),
    problem: /openvpn\.extra\[0\].*up/,
    fix: /—\s*\S+/,
  },
  {
    name: 'endpoint-duplicate-live-gateway',
    mutate: (ctx) => setLanB(ctx, '  endpoint: 198.18.0.1\n'),
    problem: /gateway\.endpoint.*198\.18\.0\.1/,
    fix: /—\s*\S+/,
  },
  // YAML bombs and huge files
  {
    name: 'yaml-deep-nesting',
    mutate: (ctx) =>
      writeFileSync(lan(ctx, 'c'), `id: ${'['.repeat(20_000)}${']'.repeat(20_000)}\nsubnets: []\n`),
    problem: /lans\/c\.yml.*(nesting|depth)/,
    fix: /—\s*\S+/,
  },
  {
    name: 'huge-sparse-lan-file',
    mutate: (ctx) => {
      writeFileSync(lan(ctx, 'c'), '');
      truncateSync(lan(ctx, 'c'), 1024 ** 3);
    },
    problem: /lans\/c\.yml.*1073741824 bytes/,
    fix: /—\s*\S+/,
  },
  {
    name: 'huge-mesh-file',
    mutate: (ctx) => appendFileSync(meshFile(ctx), `# ${'x'.repeat(100)}\n`.repeat(20_000)),
    problem: /mesh\.yml.*bytes/,
    fix: /—\s*\S+/,
  },
  {
    name: 'yaml-custom-tag',
    mutate: (ctx) => appendFileSync(lan(ctx, 'a'), 'retired: !shell "rm -rf /"\n'),
    problem: /lans\/a\.yml:\d+.*tag/,
    fix: /—\s*\S+/,
  },
  // files that are not what they seem
  {
    name: 'lan-symlink-outside-inventory',
    mutate: (ctx) => {
      const outside = join(ctx.scratch, 'not-an-inventory-file');
      writeFileSync(outside, `${OUTSIDE_SECRET}\n`);
      symlinkSync(outside, lan(ctx, 'c'));
    },
    // a link leading outside the inventory is refused before its target is read, so nothing of it is echoed
    problem: /c\.yml is a symbolic link to a file outside the inventory/,
    fix: /replace the link with the LAN file itself/,
    mustNotPrint: OUTSIDE_SECRET,
  },
  {
    name: 'lan-fifo',
    mutate: (ctx) => execFileSync('mkfifo', [lan(ctx, 'c')]),
    problem: /c\.yml/,
    fix: /—\s*\S+/,
  },
  {
    name: 'lan-directory',
    mutate: (ctx) => mkdirSync(lan(ctx, 'c')),
    problem: /c\.yml/,
    fix: /—\s*\S+/,
  },
  // the PKI: unsafe modes, another mesh's CA, material that does not belong together
  {
    name: 'pki-private-key-world-readable',
    mutate: (ctx) => chmodSync(join(ctx.inventory, 'pki/private/a.key'), 0o644),
    problem: /private\/a\.key.*0644/,
    fix: /chmod 600 \S+private\/a\.key/,
    commands: ['render', 'diff', 'apply'],
  },
  {
    name: 'pki-tls-crypt-key-world-readable',
    mutate: (ctx) => chmodSync(join(ctx.inventory, 'pki/tls-crypt/pair-1.key'), 0o604),
    problem: /tls-crypt\/pair-1\.key.*0604/,
    fix: /chmod 600/,
    commands: ['render', 'diff', 'apply'],
  },
  {
    name: 'pki-private-dir-open',
    mutate: (ctx) => chmodSync(join(ctx.inventory, 'pki/private'), 0o755),
    problem: /pki\/private.*0755/,
    fix: /chmod 700/,
    commands: ['render', 'diff', 'apply'],
  },
  {
    name: 'pki-key-of-another-gateway',
    mutate: (ctx) =>
      copyFileSync(join(ctx.inventory, 'pki/private/b.key'), join(ctx.inventory, 'pki/private/a.key')),
    problem: /a\.(key|crt)/,
    fix: /Fix: \S+/,
    commands: ['render', 'diff', 'apply'],
  },
  {
    name: 'pki-dir-of-another-mesh',
    mutate: (ctx) => setMesh(ctx, `name: corp\npki_dir: ${JSON.stringify(ctx.otherPki)}\n`),
    problem: /belongs to mesh "other", inventory is mesh "corp"/,
    fix: /Fix: set pki_dir/,
    commands: ['render', 'diff', 'apply'],
  },
  {
    name: 'pki-dir-is-a-file',
    mutate: (ctx) => setMesh(ctx, 'name: corp\npki_dir: mesh.yml\n'),
    problem: /mesh\.yml/,
    fix: /Fix: \S+|—\s*\S+/,
    commands: ['render', 'diff', 'apply'],
  },
  // SSH credentials: refused before a connection is opened
  {
    name: 'ssh-identity-world-readable',
    mutate: (ctx) => {
      const key = join(ctx.scratch, 'id_world_readable');
      copyFileSync(ctx.labKey, key);
      chmodSync(key, 0o644);
      sshMesh(ctx, key);
    },
    problem: /identity file \S+id_world_readable has mode 0644/,
    fix: /Fix: chmod 600 \S+id_world_readable/,
    commands: ['diff', 'apply'],
  },
  {
    name: 'ssh-identity-missing',
    mutate: (ctx) => sshMesh(ctx, join(ctx.scratch, 'no-such-key')),
    problem: /identity file \S+no-such-key does not exist/,
    fix: /Fix: correct ssh\.identity_file/,
    commands: ['diff', 'apply'],
  },
  {
    name: 'ssh-identity-not-a-key',
    mutate: (ctx) => {
      const key = join(ctx.scratch, 'not_a_key');
      writeFileSync(key, readFileSync(meshFile(ctx)), { mode: 0o600 });
      sshMesh(ctx, key);
    },
    problem: /not_a_key/,
    fix: /Fix: \S+/,
    commands: ['diff', 'apply'],
  },
];

export const COMMAND_CASES: CommandCase[] = [
  ...(['validate', 'render', 'diff', 'apply'] as const).map(
    (command): CommandCase => ({
      name: `${command}-limit-unknown`,
      args: (ctx) => [
        command,
        '-i',
        ctx.inventory,
        '--limit',
        'a,nosuch',
        ...(command === 'render' ? ['--out', join(ctx.scratch, 'out')] : []),
      ],
      problem: /--limit names "nosuch"/,
      fix: /LANs are: a, b/,
    }),
  ),
  {
    name: 'limit-shell-metachar',
    args: (ctx) => ['apply', '-i', ctx.inventory, '--limit', 'a;reboot'],
    problem: /--limit names "a;reboot"/,
    fix: /LANs are: a, b/,
  },
  ...(
    [
      ['0', /--forks 0/],
      ['-2', /--forks -2/],
      ['abc', /--forks abc: not a number/],
      ['2.5', /--forks 2\.5/],
    ] as const
  ).flatMap(([value, problem]) =>
    (['diff', 'apply'] as const).map(
      (command): CommandCase => ({
        name: `${command}-forks-${value}`,
        args: (ctx) => [command, '-i', ctx.inventory, `--forks=${value}`],
        problem,
        fix: /Fix: pass one in that range, or leave --forks out/,
      }),
    ),
  ),
  {
    name: 'render-without-out',
    args: (ctx) => ['render', '-i', ctx.inventory],
    problem: /Missing required argument: out/,
    fix: /meshctl --help/,
  },
  {
    name: 'render-out-foreign-dir',
    prepare: (ctx) => {
      mkdirSync(join(ctx.scratch, 'someone-elses'));
      writeFileSync(join(ctx.scratch, 'someone-elses', 'thesis.tex'), 'precious\n');
    },
    args: (ctx) => ['render', '-i', ctx.inventory, '--out', join(ctx.scratch, 'someone-elses')],
    problem: /--out \S+someone-elses is not empty and was not written by meshctl render/,
    fix: /choose a new or empty directory/,
  },
  {
    name: 'render-out-is-a-file',
    prepare: (ctx) => writeFileSync(join(ctx.scratch, 'a-file'), 'x\n'),
    args: (ctx) => ['render', '-i', ctx.inventory, '--out', join(ctx.scratch, 'a-file')],
    problem: /--out \S+a-file exists and is not a directory/,
    fix: /choose a new or empty directory/,
  },
  {
    name: 'unknown-command',
    args: (ctx) => ['frobnicate', '-i', ctx.inventory],
    problem: /Unknown argument: frobnicate/,
    fix: /meshctl --help/,
  },
  {
    name: 'misspelled-command',
    args: (ctx) => ['aply', '-i', ctx.inventory],
    problem: /Did you mean apply\?/,
    fix: /meshctl --help/,
  },
  {
    name: 'unknown-option',
    args: (ctx) => ['apply', '-i', ctx.inventory, '--dry-run'],
    problem: /Unknown arguments?: dry-run/,
    fix: /meshctl --help/,
  },
  {
    name: 'inventory-is-a-file',
    args: (ctx) => ['apply', '-i', join(ctx.inventory, 'mesh.yml')],
    problem: /mesh\.yml is not a directory/,
    fix: /meshctl init|point -i\/--inventory/,
  },
  {
    name: 'inventory-missing',
    args: (ctx) => ['diff', '-i', join(ctx.scratch, 'no-such-inventory')],
    problem: /no-such-inventory does not exist/,
    fix: /meshctl init|point -i\/--inventory/,
  },
];
