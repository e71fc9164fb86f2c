#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { exploreHelp } from './explore.js';
import { type CacheResult, ensureImage, ensureRepo } from './image.js';
import {
  downAll,
  downByName,
  installSignalTeardown,
  Lab,
  type LabSpec,
  labSpecFromInventory,
  signalTeardownDone,
} from './lab.js';
import { LabError, type RunResult } from './run.js';
import { DEFAULT_RELEASE, RELEASES, type Release } from './spec.js';
import { listStates } from './state.js';

/**
 * `npm run lab -- <command>`: the lab by hand. A lab brought up here stays up after the command returns (other
 * commands find it by name) until `down`; Ctrl-C during `up` tears down what was made.
 */

const log = (line: string) => console.error(`lab: ${line}`);

/** The lab named by --lab, or the only one that is up. */
function pickLab(name: string | undefined): Lab {
  if (name) return Lab.open(name, { log });
  const labs = listStates(log);
  if (labs.length === 1) return Lab.open(labs[0]!.name, { log });
  throw new LabError(
    labs.length === 0
      ? 'no lab is up: bring one up with `npm run lab -- up --spec FILE.json` (or --from-inventory DIR)'
      : `${labs.length} labs are up (${labs.map((l) => l.name).join(', ')}): choose one with --lab NAME`,
  );
}

function print(result: RunResult): number {
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  return result.code;
}

function commandAfterDashes(argv: Record<string, unknown>): string[] {
  const command = ((argv['--'] as unknown[] | undefined) ?? []).map(String);
  if (command.length === 0) throw new LabError('no command given: put it after `--`, e.g. `-- ip -br addr`');
  return command;
}

function readSpec(file: string, name: string | undefined): LabSpec {
  let spec: LabSpec;
  try {
    spec = JSON.parse(readFileSync(file, 'utf8')) as LabSpec;
  } catch (error) {
    throw new LabError(`cannot read the lab spec ${file}: ${(error as Error).message}; fix the JSON`);
  }
  return name ? { ...spec, name } : spec;
}

const labOption = (y: Argv) =>
  y.option('lab', { type: 'string', describe: 'Lab name (default: the only lab that is up)' });

async function main(args: string[]): Promise<number> {
  let code = 0;
  const parser = yargs(args)
    .scriptName('npm run lab --')
    .parserConfiguration({ 'populate--': true })
    .usage(
      '$0 <command>\n\nReal gateways on this machine: Debian containers (systemd-nspawn) in network namespaces, ' +
        'reachable from the "ctl" namespace where meshctl runs. Needs root.',
    )
    .command(
      'build-image',
      'Build and cache the gateway image (debootstrap) of one release (default bookworm); --all builds every ' +
        `release (${RELEASES.join(', ')}), each also without OpenVPN, without FRR, without both, and its local package folder`,
      (y) =>
        y
          .option('all', { type: 'boolean', default: false })
          .option('release', { type: 'string', choices: [...RELEASES], default: DEFAULT_RELEASE }),
      async (argv) => {
        const show = (what: CacheResult) =>
          console.log(`${what.path} (${what.built ? `built in ${what.seconds.toFixed(1)} s` : 'cached'})`);
        const releases: Release[] = argv.all ? [...RELEASES] : [argv.release as Release];
        for (const release of releases) {
          show(await ensureImage({ openvpn: true, release }, log));
          if (argv.all) {
            show(await ensureImage({ openvpn: false, release }, log));
            show(await ensureImage({ openvpn: true, frr: false, release }, log));
            show(await ensureImage({ openvpn: false, frr: false, release }, log));
            show(await ensureRepo(release, log));
          }
        }
      },
    )
    .command(
      'up',
      'Bring a lab up from a JSON spec or from an inventory (same LAN names, ids and subnets) and keep it up',
      (y) =>
        y
          .option('spec', {
            type: 'string',
            describe: 'JSON file: {"name": "demo", "gateways": [{"name", "id", "subnets"}]}',
          })
          .option('from-inventory', { type: 'string', describe: 'Inventory directory to copy the LANs from' })
          .option('name', {
            type: 'string',
            describe: 'Lab name, [a-z0-9]{1,8} (default: the spec\'s, or "lab")',
          })
          .conflicts('spec', 'from-inventory'),
      async (argv) => {
        if (!argv.spec && !argv['from-inventory'])
          throw new LabError('give --spec FILE.json or --from-inventory DIR');
        const spec = argv.spec
          ? readSpec(argv.spec, argv.name)
          : labSpecFromInventory(resolve(argv['from-inventory']!), argv.name ?? 'lab');
        installSignalTeardown(log);
        const lab = await Lab.up(spec, { log });
        lab.keep();
        console.log(exploreHelp(lab));
      },
    )
    .command(
      'exec <gateway>',
      'Run a command as root inside a gateway: exec GW -- CMD...',
      (y) => labOption(y).positional('gateway', { type: 'string', demandOption: true }),
      async (argv) => {
        code = print(await pickLab(argv.lab).exec(argv.gateway, commandAfterDashes(argv)));
      },
    )
    .command(
      'lan <gateway>',
      "Run a command on a gateway's LAN host: lan GW [--subnet N] -- CMD...",
      (y) =>
        labOption(y)
          .positional('gateway', { type: 'string', demandOption: true })
          .option('subnet', { type: 'number', default: 0, describe: "Index of the gateway's subnet" }),
      async (argv) => {
        code = print(await pickLab(argv.lab).execLan(argv.gateway, commandAfterDashes(argv), argv.subnet));
      },
    )
    .command(
      'ssh <gateway>',
      'Run a command over SSH from the ctl namespace, host keys checked: ssh GW -- CMD...',
      (y) => labOption(y).positional('gateway', { type: 'string', demandOption: true }),
      async (argv) => {
        code = print(await pickLab(argv.lab).ssh(argv.gateway, commandAfterDashes(argv)));
      },
    )
    .command(
      'meshctl',
      "Run meshctl against the lab (in the ctl namespace, cwd = the lab's folder): meshctl -- ARGS...",
      (y) => labOption(y),
      async (argv) => {
        code = print(await pickLab(argv.lab).meshctl(((argv['--'] as unknown[]) ?? []).map(String)));
      },
    )
    .command(
      'ping-matrix',
      'Ping every LAN host from every other LAN host and print the matrix',
      (y) => labOption(y),
      async (argv) => {
        const lab = pickLab(argv.lab);
        const results = await lab.pingMatrix();
        const { formatPingMatrix } = await import('./ping-matrix.js');
        console.log(
          formatPingMatrix(
            lab.gateways.map((g) => g.name),
            results,
          ),
        );
      },
    )
    .command(
      ['stop <gateway>', 'start <gateway>', 'restart <gateway>'],
      'Stop (power off), start, or restart (reboot) one gateway',
      (y) => labOption(y).positional('gateway', { type: 'string', demandOption: true }),
      async (argv) => {
        const lab = pickLab(argv.lab);
        const verb = String(argv._[0]) as 'stop' | 'start' | 'restart';
        await lab[verb](argv.gateway);
        console.log(`${argv.gateway}: ${verb === 'stop' ? 'stopped' : 'running'}`);
      },
    )
    .command(
      'down [name]',
      'Tear a lab down (or every lab with --all): only what it made is removed',
      (y) => y.positional('name', { type: 'string' }).option('all', { type: 'boolean', default: false }),
      async (argv) => {
        if (!argv.name && !argv.all) throw new LabError('name the lab to tear down, or pass --all');
        if (argv.all) {
          const names = await downAll(log);
          console.log(names.length ? `torn down: ${names.join(', ')}` : 'no lab was up');
        } else {
          await downByName(argv.name!, log);
        }
      },
    )
    .command(
      'list',
      'List the labs that are up',
      (y) => y,
      () => {
        for (const state of listStates(log)) {
          const owner = state.owner ? `owned by PID ${state.owner.pid}` : 'kept';
          console.log(
            `${state.name}  ${state.spec.gateways.map((g) => g.name).join(',')}  ${state.dir}  (${owner})`,
          );
        }
      },
    )
    .demandCommand(1, 'Name a command (see --help)')
    .strict()
    .help()
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns || 110))
    .fail((message, error) => {
      // usage problems (yargs' own, or a check's returned string) are printed plainly; anything else propagates
      if (error && error.name !== 'YError') throw error;
      console.error(`lab: ${message ?? error?.message}\nSee \`npm run lab -- --help\`.`);
      process.exit(2);
    });
  await parser.parseAsync();
  return code;
}

main(hideBin(process.argv)).then(
  async (code) => {
    await signalTeardownDone();
    // process.exit would cut a long stdout written to a pipe (a status --json of a big mesh): exit once it drained
    process.exitCode = code;
    process.stdout.write('', () => process.exit(code));
  },
  async (error: Error) => {
    await signalTeardownDone();
    if (error.name === 'YError') {
      // a usage problem found by a command's check()
      console.error(`lab: ${error.message}\nSee \`npm run lab -- --help\`.`);
      process.exit(2);
    }
    console.error(error instanceof LabError ? `lab: ${error.message}` : error);
    process.exit(1);
  },
);
