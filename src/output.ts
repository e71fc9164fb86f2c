import { Chalk, type ChalkInstance } from 'chalk';

/**
 * Version of every `--json` document (README "JSON output"). Fields may be added within a version; it is raised
 * when a field changes meaning or goes away, so scripts can refuse a shape they do not know.
 */
export const JSON_SCHEMA = 1;

/** The commands that print a `--json` result; null for a command line that named none (or did not parse). */
export type CommandName =
  | 'init'
  | 'validate'
  | 'render'
  | 'diff'
  | 'apply'
  | 'add-lan'
  | 'remove-lan'
  | 'routes'
  | 'graph'
  | 'status'
  | 'rotate';

/** The body of a `--json` result: `ok` and the command's own fields (schema and command are added by result). */
export type JsonBody = { ok: boolean } & Record<string, unknown>;

/** How a command talks to the operator: colour policy, JSON mode, verbosity. Built once in cli.ts. */
export interface Output {
  json: boolean;
  verbose: boolean;
  color: ChalkInstance;
  /** Human text on stdout (suppressed in --json mode). */
  info(line: string): void;
  /** Warnings and errors on stderr (always shown; in --json mode they also go into the JSON result). */
  warn(line: string): void;
  /**
   * The machine-readable result (only in --json mode), once per run: `{"schema": 1, "command": …, "ok": …, …}`.
   */
  result(command: CommandName | null, body: JsonBody): void;
}

export interface OutputOptions {
  json?: boolean;
  verbose?: boolean;
  /** false when --no-color was given. */
  color?: boolean;
  stdout?: NodeJS.WriteStream | { write(s: string): unknown; isTTY?: boolean };
  stderr?: { write(s: string): unknown };
  env?: NodeJS.ProcessEnv;
}

/** Colour is on only when asked for, stdout is a TTY and NO_COLOR is unset (https://no-color.org convention). */
export function colorEnabled(opts: OutputOptions): boolean {
  const env = opts.env ?? process.env;
  const stdout = opts.stdout ?? process.stdout;
  if (opts.color === false || opts.json) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return Boolean((stdout as { isTTY?: boolean }).isTTY);
}

export function createOutput(opts: OutputOptions = {}): Output {
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  const json = Boolean(opts.json);
  return {
    json,
    verbose: Boolean(opts.verbose),
    color: new Chalk({ level: colorEnabled(opts) ? 1 : 0 }),
    info(line) {
      if (!json) stdout.write(`${line}\n`);
    },
    warn(line) {
      stderr.write(`${line}\n`);
    },
    result(command, body) {
      if (json) stdout.write(`${JSON.stringify({ schema: JSON_SCHEMA, command, ...body }, null, 2)}\n`);
    },
  };
}
