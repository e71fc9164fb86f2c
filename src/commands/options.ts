import { UsageError } from '../errors.js';
import { MIN_PORT_BASE } from '../inventory/mesh-file.js';
import { maxIdForPortBase } from '../mesh/allocate.js';
import { GRAPH_FORMATS } from '../operator/graph.js';
import { ROUTE_FORMATS } from '../operator/routes.js';
import type { Inventory } from '../types.js';

/** Options every command receives (SPEC §5 globals). */
export interface GlobalOptions {
  inventory: string;
  limit?: string;
  forks: number;
  json: boolean;
  color: boolean;
  verbose: boolean;
}

/**
 * The rules every command-line value must pass, in one table applied by src/cli.ts before a command module runs
 * (so before any lock, key, file or connection exists). yargs alone lets through what would hurt later: `--forks
 * abc` becomes NaN (a worker pool of NaN runs nothing), `--tunnel-timeout 0` or a huge one makes verification give
 * up at once or poll for days with the lock held, `--limit ''` silently means every gateway, `--out ''` renders
 * into the current directory, and an option given twice becomes an array no command expects.
 */

/** A whole number from `min` to `max`; `omitted` says what leaving the option out means. */
interface NumberRule {
  kind: 'number';
  what: string;
  min: number;
  max: number;
  /** What leaving the option out means. */
  omitted: string;
}

/**
 * A non-empty text shown as `metavar` in fixes; `list`: comma-separated names (none empty); `repeatable`: may be
 * given several times; `omitted`: what leaving it out means, when it may be left out.
 */
interface TextRule {
  kind: 'text';
  what: string;
  metavar: string;
  omitted?: string;
  list?: boolean;
  repeatable?: boolean;
}

/** One of a closed list of words (a format); `omitted` says what leaving the option out means. */
interface ChoiceRule {
  kind: 'choice';
  what: string;
  values: readonly string[];
  omitted: string;
}

type OptionRule = NumberRule | TextRule | ChoiceRule;

/** The largest --id: no port_base leaves a UDP port for a larger id's pairs (see maxIdForPortBase). */
export const MAX_LAN_ID = maxIdForPortBase(MIN_PORT_BASE);

/** Keyed by the option's long name (positionals by their name, shown upper-case). */
export const OPTION_RULES: Readonly<Record<string, OptionRule>> = {
  forks: {
    kind: 'number',
    what: 'how many gateways to work on at once',
    min: 1,
    max: 1000,
    omitted: 'default: 10',
  },
  'tunnel-timeout': {
    kind: 'number',
    what: 'seconds a changed tunnel may take to come up',
    min: 1,
    max: 3600,
    omitted: 'default: 60',
  },
  'ssh-port': {
    kind: 'number',
    what: "the new gateway's SSH port",
    min: 1,
    max: 65535,
    omitted: 'default: ssh.port of mesh.yml',
  },
  id: {
    kind: 'number',
    what: "the new LAN's id",
    min: 1,
    max: MAX_LAN_ID,
    omitted: 'default: the next id never used',
  },
  inventory: {
    kind: 'text',
    what: 'the inventory directory',
    metavar: 'DIR',
    omitted: 'default: ./inventory',
  },
  limit: {
    kind: 'text',
    what: 'the LANs to act on, comma-separated',
    metavar: 'NAME[,NAME] with no empty name',
    omitted: 'to act on every gateway',
    list: true,
    repeatable: true,
  },
  out: { kind: 'text', what: 'the directory render writes into', metavar: 'DIR' },
  subnet: {
    kind: 'text',
    what: 'a private network behind the new gateway',
    metavar: 'CIDR',
    repeatable: true,
  },
  endpoint: { kind: 'text', what: 'the address or DNS name the other gateways connect to', metavar: 'HOST' },
  'ssh-host': {
    kind: 'text',
    what: 'what meshctl connects to over SSH',
    metavar: 'HOST',
    omitted: 'default: the endpoint',
  },
  'ssh-user': {
    kind: 'text',
    what: 'the SSH user',
    metavar: 'USER',
    omitted: 'default: ssh.user of mesh.yml',
  },
  via: {
    kind: 'text',
    what: 'the core LANs a new leaf LAN is tunnelled to, comma-separated',
    metavar: 'LAN[,LAN] with no empty name',
    omitted: 'for a core LAN (tunnels to every core LAN)',
    list: true,
    repeatable: true,
  },
  dir: {
    kind: 'text',
    what: 'where to create the inventory',
    metavar: 'a directory name',
    omitted: 'default: the -i directory',
  },
};

/**
 * Rules of one command that take precedence over OPTION_RULES: an option two commands give different meanings
 * (`--out` is render's directory but graph's file; `--format` has other values in routes and graph).
 */
export const COMMAND_RULES: Readonly<Record<string, Readonly<Record<string, OptionRule>>>> = {
  routes: {
    format: { kind: 'choice', what: 'the output format', values: ROUTE_FORMATS, omitted: 'default: text' },
    lan: {
      kind: 'text',
      what: 'the LAN to print the instructions of',
      metavar: 'a LAN name',
      omitted: 'for every LAN',
    },
  },
  graph: {
    format: { kind: 'choice', what: 'the picture format', values: GRAPH_FORMATS, omitted: 'default: dot' },
    out: { kind: 'text', what: 'the file graph writes', metavar: 'FILE', omitted: 'to print on stdout' },
  },
  rotate: {
    pair: {
      kind: 'text',
      what: 'the two gateways of the tunnel whose tls-crypt key is replaced',
      metavar: 'A,B (two gateway names)',
      list: true,
    },
    gateway: {
      kind: 'text',
      what: 'the gateway whose key and certificate are replaced',
      metavar: 'NAME (a gateway name)',
    },
  },
  status: {
    prometheus: {
      kind: 'text',
      what: 'the node_exporter textfile status writes',
      metavar: 'FILE',
      omitted: 'to write none',
    },
    html: { kind: 'text', what: 'the page status writes', metavar: 'FILE', omitted: 'to write none' },
    watch: {
      kind: 'number',
      what: 'seconds between two reads',
      min: 1,
      max: 3600,
      omitted: 'to read once',
    },
  },
};

/** Positionals are named as in the usage line (DIR), options with their dashes. */
const POSITIONALS = new Set(['dir', 'lan']);

function label(name: string): string {
  return POSITIONALS.has(name) ? name.toUpperCase() : `--${name}`;
}

function camelCase(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** A value as the operator typed it; quoted when it would otherwise be invisible or ambiguous. */
function shown(value: unknown): string {
  const text = String(value);
  return text === '' || /\s/.test(text) ? JSON.stringify(text) : text;
}

/**
 * Checks every option of `argv` that has a rule, and writes numbers back as numbers (under the long name and its
 * camelCase form, which is what command modules read). Throws a UsageError naming the option, the value, what
 * the option is and its allowed values.
 */
export function checkOptions(argv: Record<string, unknown>, command?: string): void {
  const rules = { ...OPTION_RULES, ...(command === undefined ? {} : COMMAND_RULES[command]) };
  for (const [name, rule] of Object.entries(rules)) {
    const value = argv[name];
    if (value === undefined) continue;
    const checked =
      rule.kind === 'number'
        ? checkNumber(name, rule, value)
        : rule.kind === 'choice'
          ? checkChoice(name, rule, value)
          : checkText(name, rule, value);
    argv[name] = checked;
    argv[camelCase(name)] = checked;
  }
}

function checkNumber(name: string, rule: NumberRule, value: unknown): number {
  const range = `a whole number from ${rule.min} to ${rule.max}`;
  const refuse = (got: string, problem: string) =>
    new UsageError(
      `${label(name)} ${got}: ${problem}; it is ${rule.what}, ${range}. Fix: pass one in that range, or leave ${label(name)} out (${rule.omitted})`,
    );
  if (Array.isArray(value)) throw refuse(value.map(shown).join(' and '), 'given more than once');
  // defaults arrive as numbers; what the operator typed arrives as text (cli.ts turns off yargs' own parsing,
  // which reads "abc" as NaN, "" as 0 and "0x10" as 16)
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
  if (!/^[-+]?\d+$/.test(text)) {
    const number = text === '' ? Number.NaN : Number(text);
    if (!Number.isFinite(number)) throw refuse(shown(value), 'not a number');
    throw refuse(
      shown(value),
      Number.isInteger(number) ? 'not written as a plain whole number' : 'not a whole number',
    );
  }
  const number = Number(text);
  if (number < rule.min) throw refuse(shown(value), `below ${rule.min}`);
  if (number > rule.max) throw refuse(shown(value), `above ${rule.max}`);
  return number;
}

function checkChoice(name: string, rule: ChoiceRule, value: unknown): string {
  const allowed = rule.values.join(', ');
  const fix = `Fix: pass ${label(name)} ${rule.values.join('|')}, or leave it out (${rule.omitted})`;
  if (Array.isArray(value)) {
    throw new UsageError(
      `${label(name)} given ${value.length} times (${value.map(shown).join(', ')}): it is ${rule.what} and takes one value. ${fix}`,
    );
  }
  if (typeof value === 'string' && rule.values.includes(value)) return value;
  throw new UsageError(`${label(name)} ${shown(value)}: not one of ${allowed}; it is ${rule.what}. ${fix}`);
}

function checkText(name: string, rule: TextRule, value: unknown): string | string[] {
  const values = Array.isArray(value) ? value : [value];
  if (values.length > 1 && !rule.repeatable) {
    throw new UsageError(
      `${label(name)} given ${values.length} times (${values.map(shown).join(', ')}): it is ${rule.what} and takes one value. Fix: pass ${label(name)} once`,
    );
  }
  for (const v of values) {
    if (typeof v === 'string' && v.trim() !== '' && !(rule.list && listProblem(v))) continue;
    const problem = typeof v === 'string' && v.trim() !== '' ? listProblem(v) : 'empty';
    const omit = rule.omitted === undefined ? '' : `, or leave it out (${rule.omitted})`;
    throw new UsageError(
      `${label(name)} ${shown(v)}: ${problem}; it is ${rule.what}. Fix: pass ${POSITIONALS.has(name) ? '' : `${label(name)} `}${rule.metavar}${omit}`,
    );
  }
  // a list given several times is one list (--limit a --limit b is --limit a,b)
  if (rule.list) return values.join(',');
  return Array.isArray(value) ? values : (value as string);
}

function listProblem(text: string): string | undefined {
  return text.split(',').some((name) => name.trim() === '') ? 'an empty name in the list' : undefined;
}

/** The names of a --limit list (checked by checkOptions: none empty), each once, in the order given. */
export function limitNames(limit: string): string[] {
  return [...new Set(limit.split(',').map((name) => name.trim()))];
}

/**
 * The gateways a command acts on: all of them, or those --limit names — a LAN name stands for all its gateways,
 * a gateway name for itself. Unknown names are a usage error that lists the names there are, so a typo never
 * silently acts on nothing. An empty --limit is refused, not taken as "every gateway": `--limit "$GATEWAYS"` with
 * the variable unset must not act on the whole mesh.
 */
export function selectLans(inventory: Inventory, limit: string | undefined): string[] {
  const all = inventory.gateways.map((gateway) => gateway.name);
  const lanOf = new Map(inventory.lans.map((lan) => [lan.name, lan.gateways.map((g) => g.name)]));
  const names = [...new Set([...inventory.lans.map((lan) => lan.name), ...all])];
  if (limit === undefined) return all;
  const problem = limit.trim() === '' ? 'empty' : listProblem(limit);
  if (problem) {
    throw new UsageError(
      `--limit ${shown(limit)}: ${problem}. Fix: pass --limit NAME[,NAME] (LANs are: ${names.join(', ')}), or leave it out to act on every gateway`,
    );
  }
  const wanted = limitNames(limit);
  const unknown = wanted.filter((name) => !names.includes(name));
  if (unknown.length > 0) {
    throw new UsageError(
      `--limit names ${unknown.map((n) => `"${n}"`).join(', ')}, not in the inventory ${inventory.dir}; LANs are: ${names.join(', ')}`,
    );
  }
  const chosen = new Set(wanted.flatMap((name) => lanOf.get(name) ?? [name]));
  return all.filter((name) => chosen.has(name));
}
