/**
 * Exec round-trip time on an open connection, with and without TCP_NODELAY on the client socket. Printed for
 * the record, never asserted: timing depends on the machine.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { connectSsh } from '../../../src/connection/ssh.js';
import type { Connection } from '../../../src/connection/types.js';
import { generateHostKey, TestSshServer } from './ssh-test-server.js';

const run = promisify(execFile);
const ROUNDS = 20;

function summary(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return `median ${at(0.5).toFixed(2)} ms, p90 ${at(0.9).toFixed(2)} ms, max ${at(1).toFixed(2)} ms`;
}

async function time(connection: Connection, argv: string[], stdin?: string): Promise<number[]> {
  for (let warmup = 0; warmup < 5; warmup += 1) await connection.exec(argv, { stdin });
  const samples: number[] = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    const started = performance.now();
    const result = await connection.exec(argv, { stdin });
    samples.push(performance.now() - started);
    assert.equal(result.code, 0);
  }
  return samples;
}

describe('connection/ssh exec latency (measurement)', function () {
  this.timeout(120_000);
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshctl-latency-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints exec round trips with and without TCP_NODELAY', async () => {
    const identityFile = join(dir, 'id');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', identityFile]);
    const authorized = (await readFile(`${identityFile}.pub`, 'utf8')).trim();
    const hostKey = generateHostKey();
    const rows: string[] = [];
    for (const serverNoDelay of [true, false]) {
      const server = await new TestSshServer(
        {
          authorizedKeys: [authorized],
          noDelay: serverNoDelay,
          inProcess: (command) => (command === 'ping' ? { code: 0, stdout: 'pong\n' } : undefined),
        },
        hostKey,
      ).start();
      const knownHosts = join(dir, `known_hosts-${server.port}`);
      await writeFile(knownHosts, `${server.knownHostsLine()}\n`);
      try {
        for (const noDelay of [true, false]) {
          const connection = await connectSsh(
            {
              name: 'bench',
              host: '127.0.0.1',
              port: server.port,
              user: 'bench',
              identityFile,
              agentSocket: '',
              knownHosts,
              acceptNew: false,
              become: false,
            },
            { noDelay },
          );
          try {
            const label = `client nodelay ${noDelay ? 'on ' : 'off'}, server nodelay ${serverNoDelay ? 'on ' : 'off'}`;
            rows.push(`${label} | in-process reply     | ${summary(await time(connection, ['ping']))}`);
            rows.push(
              `${label} | in-process + stdin   | ${summary(await time(connection, ['ping'], 'x'.repeat(100)))}`,
            );
            rows.push(`${label} | /bin/sh true         | ${summary(await time(connection, ['true']))}`);
          } finally {
            await connection.close();
          }
        }
      } finally {
        await server.stop();
      }
    }
    console.log(`\n      exec round trip on one open connection, ${ROUNDS} rounds each:`);
    for (const row of rows) console.log(`      ${row}`);
  });
});
