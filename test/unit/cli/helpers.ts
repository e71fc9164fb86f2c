import { generateKeyPairSync } from 'node:crypto';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../../src/cli.js';
import { writeInventory } from '../../helpers/inventory.js';
import { exampleDir } from '../inventory/fixture-paths.js';

/** What one run of the real CLI entry printed, and its exit code. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `meshctl ARGS` in-process through main(), with its output captured (no TTY: no colour, no tree). */
export async function meshctl(args: string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: {
      write: (s: string) => {
        stdout += s;
      },
      isTTY: false,
    },
    stderr: {
      write: (s: string) => {
        stderr += s;
      },
    },
  });
  return { code, stdout, stderr };
}

/** The parsed `--json` result of a run: stdout holds exactly one JSON document. */
export function jsonOf(run: CliRun): Record<string, unknown> {
  try {
    return JSON.parse(run.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`stdout is not one JSON document:\n${run.stdout}\nstderr:\n${run.stderr}`);
  }
}

/** A copy of the example inventory of the repository (inventory/) in a new temporary directory. */
export function exampleCopy(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'meshctl-cli-'));
  const dir = path.join(root, 'inventory');
  cpSync(exampleDir(), dir, { recursive: true });
  return dir;
}

/**
 * A stand-in for every gateway's SSH server: a local TCP port that counts connections and closes each at once,
 * so a run that reaches the connect step fails fast and the count proves whether anything was contacted.
 */
export async function countingServer(): Promise<{
  port: number;
  connections: () => number;
  close: () => void;
}> {
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  return { port: address.port, connections: () => connections, close: () => server.close() };
}

/**
 * A three-LAN inventory whose gateways are all reached over SSH at 127.0.0.1:`sshPort` with a throw-away key
 * (known_hosts in the temporary directory, never the user's), so no test can reach a real host.
 */
export function localInventory(sshPort: number): string {
  const dir = writeInventory('', {});
  const root = path.dirname(dir);
  // a throw-away login key, so a connection gets as far as the TCP connect
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const identity = path.join(root, 'id_ecdsa');
  writeFileSync(identity, privateKey.export({ type: 'sec1', format: 'pem' }), { mode: 0o600 });
  writeFileSync(
    path.join(dir, 'mesh.yml'),
    `name: corp\nssh:\n  port: ${sshPort}\n  identity_file: ${identity}\n  known_hosts: ${path.join(root, 'known_hosts')}\n`,
  );
  const lans = { hq: 1, branch: 2, cloud: 3 };
  for (const [name, id] of Object.entries(lans)) {
    writeFileSync(
      path.join(dir, 'lans', `${name}.yml`),
      `id: ${id}\nsubnets: [10.${id}.0.0/16]\ngateway:\n  endpoint: 203.0.113.${id}\n  ssh_host: 127.0.0.1\n`,
    );
  }
  writeFileSync(path.join(root, 'known_hosts'), '');
  return dir;
}
