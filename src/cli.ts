#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { checkOptions, MAX_LAN_ID } from './commands/options.js';
import {
  COMPLETION_KEY,
  COMPLETION_SHELLS,
  type CompletionShell,
  complete,
  completionScript,
  YARGS_COMPLETION_COMMAND,
} from './completion.js';
import { InventoryError, MeshctlError, UsageError } from './errors.js';
import { diagnosticsToJson, formatDiagnostic } from './inventory/format.js';
import { type CommandName, createOutput, type Output } from './output.js';
import { meshctlVersion } from './version.js';

/**
 * The command table. Each command module is loaded only when run, and this file is the only place where an
 * error becomes an exit code.
 */

const EPILOG = `Inventory: DIR/mesh.yml (mesh-wide settings) and DIR/lans/NAME.yml (one per LAN).
Exit codes: 0 success; 1 error (invalid inventory, a gateway failed); diff: 2 when apply would change something.

Typical session:
  meshctl init inventory          scaffold a commented example
  meshctl validate -v             offline checks and the allocation table
  meshctl render --out rendered   every gateway's files, for review
  meshctl diff                    what apply would change on each gateway
  meshctl apply                   converge, verify, report per gateway`;

/** A command module's entry point; each declares the options it reads. */
type Handler = (argv: never, out: Output) => Promise<number>;

/**
 * Numeric options carry no yargs `type`: yargs would turn "abc" into NaN and "" into 0 before anyone could say
 * what was typed. They arrive as text and checkOptions (src/commands/options.ts) turns them into numbers, with
 * the range of each. `requiresArg` makes a bare `--forks` an error instead of a silent default.
 */
function numberOption(describe: string, defaultValue?: number) {
  return { describe, requiresArg: true, ...(defaultValue === undefined ? {} : { default: defaultValue }) };
}

/** Where main writes: the process's streams, or a test's. */
export interface CliStreams {
  stdout?: { write(s: string): unknown; isTTY?: boolean };
  stderr?: { write(s: string): unknown };
}

function globalOptions(y: Argv) {
  return y
    .option('inventory', {
      alias: 'i',
      type: 'string',
      requiresArg: true,
      default: 'inventory',
      describe: 'Inventory directory (mesh.yml + lans/)',
    })
    .option('limit', {
      type: 'string',
      requiresArg: true,
      describe:
        'Act on these gateways only (comma-separated LAN names); the mesh is still computed from the whole inventory',
    })
    .option('forks', numberOption('How many gateways to work on in parallel (1-1000)', 10))
    .option('json', {
      type: 'boolean',
      default: false,
      describe: 'Machine-readable result on stdout, no progress tree',
    })
    .option('color', {
      type: 'boolean',
      default: true,
      describe: 'Colour output (--no-color; also off when stdout is not a TTY or NO_COLOR is set)',
    })
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'More detail' });
}

/** Options of the commands that connect to gateways. */
function connecting(y: Argv) {
  return y.option('accept-new', {
    type: 'boolean',
    default: false,
    describe:
      'Trust (and record in known_hosts) the host key of a gateway never seen before; a changed key is always refused',
  });
}

const COMMANDS: readonly CommandName[] = [
  'init',
  'validate',
  'render',
  'diff',
  'apply',
  'add-lan',
  'remove-lan',
  'routes',
  'graph',
  'status',
  'rotate',
];

export async function main(args: string[], streams: CliStreams = {}): Promise<number> {
  let exitCode = 0;
  let out: Output | undefined;
  // the command named on the line, for the error result: before yargs has parsed, the first word that is one
  let commandName = (args.find((a) => (COMMANDS as readonly string[]).includes(a)) ??
    null) as CommandName | null;
  const run =
    (name: CommandName, load: () => Promise<{ run: Handler }>) =>
    async (argv: Record<string, unknown>): Promise<void> => {
      commandName = name;
      out = createOutput({
        json: argv.json as boolean,
        verbose: argv.verbose as boolean,
        color: argv.color as boolean,
        ...streams,
      });
      // every value is checked before the command module runs: nothing is locked, created or contacted yet
      checkOptions(argv, name);
      const command = await load();
      exitCode = await command.run(argv as never, out);
    };

  const parser = globalOptions(yargs(args))
    .parserConfiguration({ 'parse-numbers': false })
    .scriptName('meshctl')
    .usage(
      '$0 <command> [options]\n\nBuild and converge a site-to-site OpenVPN full mesh from an inventory of private networks.',
    )
    .command(
      'init [dir]',
      'Scaffold a commented example inventory in DIR (default: ./inventory)',
      (y) => y.positional('dir', { type: 'string', describe: 'Where to create the inventory' }),
      run('init', () => import('./commands/init.js')),
    )
    .command(
      'validate',
      'Check the inventory offline (syntax, names, subnets, ids, allocation limits); -v prints the allocation table',
      (y) => y,
      run('validate', () => import('./commands/validate.js')),
    )
    .command(
      'render',
      "Render every gateway's files offline into DIR/<lan>/ (creates the PKI on first use)",
      (y) =>
        y.option('out', {
          type: 'string',
          requiresArg: true,
          demandOption: true,
          describe: 'Output directory (created; holds private keys, mode 0700)',
        }),
      run('render', () => import('./commands/render.js')),
    )
    .command(
      'diff',
      'Connect to each gateway, read its state and print what apply would do (unified diffs, key material hidden)',
      (y) => connecting(y),
      run('diff', () => import('./commands/diff.js')),
    )
    .command(
      'apply',
      'Converge every gateway in parallel; restart only tunnels whose config changed; verify they come up',
      (y) =>
        connecting(y).option(
          'tunnel-timeout',
          numberOption(
            'Seconds a changed tunnel may take to come up before its previous config is restored (1-3600)',
            60,
          ),
        ),
      run('apply', () => import('./commands/apply.js')),
    )
    .command(
      'add-lan <name>',
      'Add a LAN: validate it against the mesh, write lans/NAME.yml, issue its certificate, roll out (new gateway first; no existing tunnel restarts) and print the routes and firewall ports to add',
      (y) =>
        connecting(y)
          .positional('name', { type: 'string', demandOption: true, describe: 'LAN name (lans/NAME.yml)' })
          .option('subnet', {
            type: 'string',
            array: true,
            demandOption: true,
            describe: 'Private network behind the gateway (repeat for several)',
          })
          .option('endpoint', {
            type: 'string',
            requiresArg: true,
            demandOption: true,
            describe: 'Address or DNS name the other gateways connect to',
          })
          .option('ssh-host', {
            type: 'string',
            requiresArg: true,
            describe: 'What meshctl connects to over SSH (default: endpoint)',
          })
          .option('ssh-user', {
            type: 'string',
            requiresArg: true,
            describe: 'SSH user (default: ssh.user of mesh.yml)',
          })
          .option('ssh-port', numberOption('SSH port, 1-65535 (default: ssh.port of mesh.yml)'))
          .option('via', {
            type: 'string',
            requiresArg: true,
            describe:
              'Make the new LAN a leaf, tunnelled only to these core LANs (comma-separated; default: a core LAN with a tunnel to every core LAN)',
          })
          .option('id', numberOption(`LAN id, 1-${MAX_LAN_ID} (default: the next id never used)`))
          .option('apply', {
            type: 'boolean',
            default: true,
            describe: 'Roll out at once (--no-apply: stop after the inventory file and the PKI)',
          })
          .option(
            'tunnel-timeout',
            numberOption('Seconds a new tunnel may take to come up before it is removed again (1-3600)', 60),
          ),
      run('add-lan', () => import('./commands/add-lan.js')),
    )
    .command(
      'remove-lan <name>',
      'Remove a LAN: retire its id, revoke its certificate, drop its tunnels on every gateway, clean its gateway if reachable, remove lans/NAME.yml',
      (y) =>
        connecting(y)
          .positional('name', { type: 'string', demandOption: true, describe: 'LAN name (lans/NAME.yml)' })
          .option(
            'tunnel-timeout',
            numberOption(
              'Seconds a changed tunnel may take to come up before its previous config is restored (1-3600)',
              60,
            ),
          ),
      run('remove-lan', () => import('./commands/remove-lan.js')),
    )
    .command(
      'routes [lan]',
      "Offline: what each LAN's routers, cloud route tables, firewalls and instances need for the mesh (routes, UDP ports, forwarding)",
      (y) =>
        y
          .usage(
            `$0 routes [LAN] [--format text|linux|aws|gcp|azure]

Offline: per LAN (or the one named), what must change outside the gateways for the mesh to carry traffic. Routes: every remote subnet, in the routers (or cloud route tables) of each local subnet, via the gateway that owns that subnet (its ssh_host when that lies in the subnet, else a <placeholder>). Ports: the UDP port each gateway must accept from each peer's endpoint, one per tunnel, for the firewalls and security groups in front of it. Forwarding: on the gateway's instance (AWS source/destination check, Google Cloud can_ip_forward, Azure IP forwarding on the NIC).

Cloud formats use the ids of the LAN's or gateway's cloud: block (README "Topologies"), placeholders otherwise.`,
          )
          .positional('lan', { type: 'string', describe: 'Only this LAN (default: every LAN)' })
          .option('format', {
            type: 'string',
            requiresArg: true,
            describe: `text (readable, per LAN), linux (ip route commands), aws, gcp or azure (that cloud's CLI commands, with the ids of the LAN's or gateway's cloud: block, placeholders where one is missing). Default: text`,
          })
          .example('$0 routes', 'everything, readable')
          .example(
            '$0 routes eu --format aws',
            "the AWS CLI commands for LAN eu's route tables, security group and instances",
          ),
      run('routes', () => import('./commands/routes.js')),
    )
    .command(
      'graph',
      'Offline picture of the topology: LANs, gateways, subnets and tunnels (dot, mermaid or svg)',
      (y) =>
        y
          .usage(
            `$0 graph [--format dot|mermaid|svg] [--out FILE]

Offline picture of the inventory's topology: each LAN a cluster of its gateways (endpoint and subnets), each
tunnel an edge labelled with its pair index and UDP port; tunnels of leaf LANs are dashed. svg is rendered
in-process (Graphviz compiled to WebAssembly): no Graphviz binary needed.`,
          )
          .option('format', {
            type: 'string',
            requiresArg: true,
            describe:
              'dot (Graphviz text), mermaid (for Markdown) or svg (rendered in-process, no Graphviz needed). Default: dot',
          })
          .option('out', {
            type: 'string',
            requiresArg: true,
            describe: 'Write the picture to FILE (atomically; replaced if it exists) instead of stdout',
          })
          .example('$0 graph --format svg --out topology.svg', 'a picture to open in a browser'),
      run('graph', () => import('./commands/graph.js')),
    )
    .command(
      'status',
      "The mesh's live health: every tunnel from both ends and every LAN pair probed through the mesh (matrix, JSON, Prometheus, HTML)",
      (y) =>
        connecting(y)
          .usage(
            `$0 status [--json] [--prometheus FILE] [--html FILE] [--watch SECONDS]

Reads every gateway with one read-only command each (in parallel; nothing is written on a gateway): per tunnel
and from each end its state, since when, the peer address in use, bytes in and out, the age of the last packet
received, round trip and loss to the peer's transit address and the days left on the peer's certificate (with
bgp, the session and the prefixes received); per LAN pair, a probe from one gateway's LAN address to the other's
(with bgp, the path it takes). A tunnel is up only when both ends say so; a disagreement names the end.

Exit 0: everything healthy; 2: something is down or the ends disagree; 1: a gateway could not be read.`,
          )
          .option('prometheus', {
            type: 'string',
            requiresArg: true,
            describe: 'Also write the figures to FILE in node_exporter textfile format (atomically)',
          })
          .option('html', {
            type: 'string',
            requiresArg: true,
            describe:
              'Also write FILE: one self-contained page with the matrix and the topology coloured by state',
          })
          .option('watch', numberOption('Read again every SECONDS (1-3600) and redraw in place until Ctrl-C'))
          .example('$0 status', 'the matrix; exit 0, 2 or 1')
          .example(
            '$0 status --watch 10 --html /var/www/mesh.html --prometheus /var/lib/node_exporter/meshctl.prom',
            'a wall screen and a node_exporter textfile, refreshed every 10 s',
          ),
      run('status', () => import('./commands/status.js')),
    )
    .command(
      'rotate',
      'Planned key changes: a new tls-crypt key for one tunnel (--pair A,B), a new key and certificate for one gateway (--gateway NAME), or a new CA (--ca), staged, verified and rolled back',
      (y) =>
        connecting(y)
          .usage(
            `$0 rotate (--pair A,B | --gateway NAME | --ca) [--plan] [--accept-new] [--tunnel-timeout SECONDS]

--pair A,B: a new tls-crypt key for the tunnel between gateways A and B. Both ends are converged together (or neither, when one cannot be reached) and only that tunnel restarts, at both ends. When it does not come up within --tunnel-timeout, the previous key is restored at both ends and in pki_dir.

--gateway NAME: a new private key and certificate for NAME (same CN, new serial). NAME and its peers are converged together: NAME's tunnels restart (both ends), nothing else does; the peers' files do not change. Once every tunnel of NAME is verified on the new certificate, the old serial is revoked, the new CRL goes to every gateway and NAME's tunnels restart once more so their peers check it (OpenVPN loads a changed CRL only for its next TLS session). When NAME's tunnels do not come up, its previous key and certificate are restored on NAME and in pki_dir.

--ca: a new CA in three phases, each converging one gateway at a time (all of its tunnels restart) and verifying it before the next: 1. every gateway trusts both CAs (and both CRLs); 2. every gateway certificate is reissued by the new CA (same key, new serial); 3. every gateway trusts the new CA alone, and the old CA is retired. A gateway that fails stops the rotation there, its previous files put back; no gateway ever trusts neither CA. No gateway certificate is issued or revoked (add-lan, remove-lan) until the rotation is finished.

An interrupted rotation is recorded in pki_dir: the same command finishes it; any other rotation is refused until then. --plan prints what would change and restart, and writes nothing.`,
          )
          .option('pair', {
            type: 'string',
            requiresArg: true,
            describe: 'The two gateways of the tunnel whose tls-crypt key is replaced (A,B)',
          })
          .option('gateway', {
            type: 'string',
            requiresArg: true,
            describe: 'The gateway whose private key and certificate are replaced',
          })
          .option('ca', {
            type: 'boolean',
            describe: 'Replace the mesh CA: trust both, reissue every certificate, retire the old CA',
          })
          .option('plan', {
            type: 'boolean',
            default: false,
            describe: 'Print what would change and what restarts; write nothing',
          })
          // a rotation picks its own gateways
          .hide('limit')
          .option(
            'tunnel-timeout',
            numberOption(
              'Seconds a restarted tunnel may take to come up before the previous key is restored (1-3600)',
              60,
            ),
          )
          .example(
            '$0 rotate --pair hq,branch --plan',
            'what a new key for the tunnel hq <-> branch restarts',
          )
          .example('$0 rotate --gateway branch', 'a new certificate for branch; the old one revoked')
          .example('$0 rotate --ca --plan', 'the three phases of a CA rotation and what each restarts'),
      run('rotate', () => import('./commands/rotate.js')),
    )
    .command(
      'completion [shell]',
      'Print the shell completion script (bash or zsh): commands, options and the LAN names of the inventory',
      (y) =>
        y
          .positional('shell', {
            choices: COMPLETION_SHELLS,
            default: 'bash',
            describe: 'bash (default) or zsh',
          })
          .epilog(
            'bash: meshctl completion bash > ~/.local/share/bash-completion/completions/meshctl\n' +
              'zsh:  meshctl completion zsh > ~/.zfunc/_meshctl  (with ~/.zfunc in fpath; or append either to your shell rc file)',
          ),
      (argv) => {
        (streams.stdout ?? process.stdout).write(completionScript(argv.shell as CompletionShell));
      },
    )
    // yargs' completion protocol (--get-yargs-completions) under a hidden name; meshctl prints its own scripts
    .completion(
      YARGS_COMPLETION_COMMAND,
      false,
      (
        _current: string,
        _argv: unknown,
        defaultCompletion: () => void,
        done: (completions: string[]) => void,
      ) => {
        const own = complete(args.slice(args.indexOf(COMPLETION_KEY) + 1));
        if (own) done(own);
        else defaultCompletion();
      },
    )
    .demandCommand(
      1,
      'Name a command: init, validate, render, diff, apply, add-lan, remove-lan, routes, graph, status, rotate, completion (see --help)',
    )
    .strict()
    .recommendCommands()
    .epilog(EPILOG)
    // yargs' own words (Options:, Show help, [default: …]) in English like the rest of the help, whatever LANG
    // says. yargs' built-in English is used as it is when its en.json cannot be found (the bundle, scripts/bundle.js)
    .locale('en')
    .version(meshctlVersion())
    .help()
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns || 110))
    .fail((msg, err) => {
      // yargs' own complaints (unknown option, missing value) are usage errors; anything else is the command's
      if (err && err.name !== 'YError') throw err;
      throw new UsageError(`${msg ?? err?.message}\nRun \`meshctl --help\` for usage.`);
    });

  try {
    await parser.parseAsync();
    return exitCode;
  } catch (err) {
    // a command line yargs refused never reached a handler: its Output is built here, honouring --json
    return reportError(err, out ?? createOutput({ ...streams, json: args.includes('--json') }), commandName);
  }
}

/**
 * Turns an error into a message and an exit code; with --json also the error result (README "JSON output").
 * Unexpected errors show their stack only with -v.
 */
export function reportError(err: unknown, out: Output, command: CommandName | null = null): number {
  if (err instanceof InventoryError) {
    for (const d of err.diagnostics) out.warn(formatDiagnostic(d, { color: out.color.level > 0 }));
  }
  const known = err instanceof MeshctlError;
  const e = err instanceof Error ? err : new Error(String(err));
  if (known) out.warn(out.color.red(`meshctl: ${e.message}`));
  else {
    out.warn(`meshctl: internal error: ${e.message}`);
    out.warn(out.verbose && e.stack ? e.stack : 'Re-run with -v for the stack trace.');
  }
  out.result(command, { ok: false, error: errorToJson(e) });
  return known ? err.exitCode : 1;
}

/** The `error` object of a failed run's --json result: the error class, its message, and any diagnostics. */
function errorToJson(e: Error): Record<string, unknown> {
  return {
    type: e instanceof MeshctlError ? e.name : 'InternalError',
    message: e.message,
    ...(e instanceof InventoryError ? { diagnostics: diagnosticsToJson(e.diagnostics) } : {}),
  };
}

function isMain(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  main(hideBin(process.argv)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`meshctl: ${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
