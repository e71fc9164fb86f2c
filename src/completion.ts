import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { COMMAND_RULES } from './commands/options.js';
import { LAN_NAME_PATTERN } from './gateway/layout.js';
import { loadInventory } from './inventory/load.js';

/**
 * Shell completion. `meshctl completion [bash|zsh]` prints a script that asks `meshctl --get-yargs-completions
 * WORDS…` (yargs' completion protocol) what fits the word under the cursor: yargs answers commands and options,
 * and `complete` below adds what only meshctl knows, the LAN names of the inventory, for the words that take one.
 *
 * The scripts pin SHELL for the completion call: yargs formats its answers for zsh (`name:description`) or bash
 * (bare words) by looking at SHELL, which in an interactive shell names the login shell, not the one asking.
 */

export type CompletionShell = 'bash' | 'zsh';
export const COMPLETION_SHELLS: readonly CompletionShell[] = ['bash', 'zsh'];

/** The hidden yargs command that enables `--get-yargs-completions` (yargs' own script is not used). */
export const YARGS_COMPLETION_COMMAND = 'yargs-completion-script';
export const COMPLETION_KEY = '--get-yargs-completions';

const BASH = `###-begin-meshctl-completions-###
# meshctl completion for bash. Install: meshctl completion bash > ~/.local/share/bash-completion/completions/meshctl
# (or: meshctl completion bash >> ~/.bashrc)
_meshctl_completions()
{
    local cur_word reply
    cur_word="\${COMP_WORDS[COMP_CWORD]}"
    mapfile -t reply < <(SHELL=/bin/bash meshctl ${COMPLETION_KEY} "\${COMP_WORDS[@]:0:COMP_CWORD+1}" 2>/dev/null)
    mapfile -t COMPREPLY < <(compgen -W "\${reply[*]}" -- "\${cur_word}")
    return 0
}
complete -o bashdefault -o default -F _meshctl_completions meshctl
###-end-meshctl-completions-###
`;

const ZSH = `#compdef meshctl
###-begin-meshctl-completions-###
# meshctl completion for zsh. Install: meshctl completion zsh > "\${fpath[1]}/_meshctl" (or >> ~/.zshrc)
_meshctl_completions()
{
  local reply
  local si=$IFS
  IFS=$'\\n' reply=($(SHELL=/bin/zsh meshctl ${COMPLETION_KEY} "\${words[@]:0:CURRENT}" 2>/dev/null))
  IFS=$si
  if [[ \${#reply} -gt 0 ]]; then
    _describe 'values' reply
  else
    _default
  fi
}
if [[ "\${zsh_eval_context[-1]}" == "loadautofunc" ]]; then
  _meshctl_completions "$@"
else
  compdef _meshctl_completions meshctl
fi
###-end-meshctl-completions-###
`;

export function completionScript(shell: CompletionShell): string {
  return shell === 'zsh' ? ZSH : BASH;
}

/**
 * Options whose value is a name of the inventory, or a comma-separated list of them (`list`): `gateways` for a
 * gateway name (a LAN's own name, or one of its `gateways:` one per AZ), otherwise a LAN name.
 */
export const LAN_OPTIONS: Readonly<Record<string, { list: boolean; gateways?: boolean }>> = {
  '--limit': { list: true, gateways: true },
  '--via': { list: true },
  '--gateway': { list: false, gateways: true },
  '--pair': { list: true, gateways: true },
};

/** Commands whose first positional is an existing LAN (add-lan names a new one: nothing to offer). */
const LAN_POSITIONALS: readonly string[] = ['remove-lan', 'routes'];

/** Options that take a value meshctl cannot guess: the shell completes a file name (or nothing) instead. */
export const VALUE_OPTIONS: readonly string[] = [
  '-i',
  '--inventory',
  '--out',
  '--forks',
  '--tunnel-timeout',
  '--subnet',
  '--endpoint',
  '--ssh-host',
  '--ssh-user',
  '--ssh-port',
  '--id',
];

/** The LAN names of the inventory: the stems of DIR/lans/*.yml. Never throws: no inventory means no names. */
export function lanNames(inventoryDir: string): string[] {
  try {
    return readdirSync(join(inventoryDir, 'lans'))
      .filter((file) => file.endsWith('.yml'))
      .map((file) => file.slice(0, -'.yml'.length))
      .filter((name) => LAN_NAME_PATTERN.test(name))
      .sort();
  } catch {
    return [];
  }
}

/**
 * The gateway names of the inventory (what --limit takes): every gateway of every LAN when the inventory loads,
 * otherwise the LAN names (a LAN written with `gateway:` has one gateway of its own name).
 */
export function gatewayNames(inventoryDir: string): string[] {
  try {
    const { inventory } = loadInventory(inventoryDir);
    if (inventory) return inventory.lans.flatMap((lan) => lan.gateways.map((g) => g.name)).sort();
  } catch {
    // an inventory that does not load still has its file names
  }
  return lanNames(inventoryDir);
}

/** `alpha,be` → `alpha,beta`, `alpha,bravo`: the names not listed yet, after what is already typed. */
function listCompletions(typed: string, names: string[]): string[] {
  const comma = typed.lastIndexOf(',');
  const done = comma < 0 ? [] : typed.slice(0, comma).split(',');
  const head = comma < 0 ? '' : typed.slice(0, comma + 1);
  const partial = typed.slice(comma + 1);
  return names.filter((n) => n.startsWith(partial) && !done.includes(n)).map((n) => `${head}${n}`);
}

/** The inventory the command line names (`-i DIR`, `--inventory DIR`, `--inventory=DIR`), or the default. */
function inventoryOf(words: string[]): string {
  for (let i = words.length - 2; i >= 0; i--) {
    const word = words[i]!;
    if ((word === '-i' || word === '--inventory') && i + 1 < words.length - 1) return words[i + 1]!;
    if (word.startsWith('--inventory=')) return word.slice('--inventory='.length);
  }
  return 'inventory';
}

/**
 * meshctl's own answers for `words` (the command line up to the cursor, `meshctl` first), or null to let yargs
 * answer (commands, options). An empty list leaves the word to the shell's file completion.
 */
export function complete(words: string[]): string[] | null {
  const current = words[words.length - 1] ?? '';
  // bash splits `--limit=al` into `--limit`, `=`, `al` (COMP_WORDBREAKS holds `=`)
  const split = words[words.length - 2] === '=';
  const previous = (split ? words[words.length - 3] : words[words.length - 2]) ?? '';
  const dir = inventoryOf(words);
  const names = (gateways?: boolean) => (gateways ? gatewayNames(dir) : lanNames(dir));
  const option = LAN_OPTIONS[previous];
  if (option) {
    const all = names(option.gateways);
    return option.list ? listCompletions(current, all) : all.filter((n) => n.startsWith(current));
  }
  for (const [name, { list, gateways }] of Object.entries(LAN_OPTIONS)) {
    if (current.startsWith(`${name}=`)) {
      const typed = current.slice(name.length + 1);
      const all = names(gateways);
      const found = list ? listCompletions(typed, all) : all.filter((n) => n.startsWith(typed));
      return found.map((n) => `${name}=${n}`);
    }
  }
  // an option of one command with a fixed set of values (`routes --format`, `graph --format`)
  const command = words.slice(1, -1).find((w) => !w.startsWith('-'));
  const rule = command ? COMMAND_RULES[command]?.[previous.replace(/^--/, '')] : undefined;
  if (rule?.kind === 'choice' && previous.startsWith('--'))
    return rule.values.filter((v) => v.startsWith(current));
  if (VALUE_OPTIONS.includes(previous)) return [];
  if (!current.startsWith('-')) {
    const positionals = words.slice(1, -1).filter((w, i, all) => !w.startsWith('-') && !isValueOf(all, i));
    const command = positionals[0];
    if (command && LAN_POSITIONALS.includes(command) && positionals.length === 1) {
      return names().filter((n) => n.startsWith(current));
    }
  }
  return null;
}

/** words[i] is the value of the option before it (`--limit alpha`), not a positional. */
function isValueOf(words: string[], i: number): boolean {
  const before = words[i - 1];
  return before !== undefined && (VALUE_OPTIONS.includes(before) || before in LAN_OPTIONS);
}
