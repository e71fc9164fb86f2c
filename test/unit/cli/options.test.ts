import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { MAX_LAN_ID } from '../../../src/commands/options.js';
import { MIN_PORT_BASE } from '../../../src/inventory/mesh-file.js';
import { LAST_PORT, pairIndex } from '../../../src/mesh/allocate.js';
import { treeSnapshot } from '../../helpers/snapshot.js';
import { countingServer, localInventory, meshctl } from './helpers.js';

const ADD = ['add-lan', 'lab', '--subnet', '10.9.0.0/16', '--endpoint', '198.51.100.9'];

/** [arguments after `-i DIR`, what stderr must say]. Every one must exit 1 having created and contacted nothing. */
const REFUSED: [string[], string][] = [
  [
    ['apply', '--tunnel-timeout', 'abc'],
    '--tunnel-timeout abc: not a number; it is seconds a changed tunnel may take to come up, a whole number from 1 to 3600',
  ],
  [['apply', '--tunnel-timeout', '0'], '--tunnel-timeout 0: below 1; '],
  [['apply', '--tunnel-timeout=-5'], '--tunnel-timeout -5: below 1; '],
  [['apply', '--tunnel-timeout', '86400'], '--tunnel-timeout 86400: above 3600; '],
  [['remove-lan', 'cloud', '--tunnel-timeout', '1.5'], '--tunnel-timeout 1.5: not a whole number; '],
  [[...ADD, '--tunnel-timeout', '1e9'], '--tunnel-timeout 1e9: not written as a plain whole number; '],
  [
    ['diff', '--forks', 'abc'],
    '--forks abc: not a number; it is how many gateways to work on at once, a whole number from 1 to 1000',
  ],
  [['diff', '--forks='], '--forks "": not a number; '],
  [['apply', '--forks', '0'], '--forks 0: below 1; '],
  [['apply', '--forks', '5000'], '--forks 5000: above 1000; '],
  [['apply', '--forks', '2', '--forks', '3'], '--forks 2 and 3: given more than once; '],
  [['diff', '--forks'], 'Not enough arguments following: forks'],
  [
    [...ADD, '--ssh-port', '0'],
    "--ssh-port 0: below 1; it is the new gateway's SSH port, a whole number from 1 to 65535",
  ],
  [[...ADD, '--ssh-port', '65536'], '--ssh-port 65536: above 65535; '],
  [[...ADD, '--ssh-port', 'ssh'], '--ssh-port ssh: not a number; '],
  [
    [...ADD, '--id', 'two'],
    `--id two: not a number; it is the new LAN's id, a whole number from 1 to ${MAX_LAN_ID}`,
  ],
  [[...ADD, '--id', '0'], '--id 0: below 1; '],
  [[...ADD, '--id', String(MAX_LAN_ID + 1)], `--id ${MAX_LAN_ID + 1}: above ${MAX_LAN_ID}; `],
  [[...ADD, '--id', '0x10'], '--id 0x10: not written as a plain whole number; '],
  [['apply', '--limit', ','], '--limit ,: an empty name in the list; '],
  [['diff', '--limit', 'hq,,branch'], '--limit hq,,branch: an empty name in the list; '],
  [['apply', '--limit', ''], '--limit "": empty; it is the LANs to act on'],
  [['render', '--out', ''], '--out "": empty; it is the directory render writes into'],
  [
    ['render', '--out', 'a', '--out', 'b'],
    '--out given 2 times (a, b): it is the directory render writes into',
  ],
  [
    ['routes', '--format', 'xml'],
    '--format xml: not one of text, linux, aws, gcp, azure; it is the output format',
  ],
  [['routes', '--format', 'aws', '--format', 'gcp'], '--format given 2 times (aws, gcp)'],
  [['routes', 'nowhere'], 'LAN "nowhere" is not in the inventory'],
  [['graph', '--format', 'png'], '--format png: not one of dot, mermaid, svg; it is the picture format'],
  [['graph', '--out', ''], '--out "": empty; it is the file graph writes'],
  [['add-lan', 'lab', '--subnet', '', '--endpoint', 'h.example'], '--subnet "": empty; '],
  [['add-lan', 'lab', '--subnet', '10.9.0.0/16', '--endpoint', ' '], '--endpoint " ": empty; '],
  [
    ['add-lan', 'lab', '--subnet', '10.9.0.0/16', '--endpoint', 'a', '--endpoint', 'b'],
    '--endpoint given 2 times',
  ],
];

describe('cli: every option value is checked before anything is locked, created or contacted', () => {
  let gateways: Awaited<ReturnType<typeof countingServer>>;
  let dir: string;
  beforeEach(async () => {
    gateways = await countingServer();
    dir = localInventory(gateways.port);
  });
  afterEach(() => {
    gateways.close();
    rmSync(path.dirname(dir), { recursive: true, force: true });
  });

  for (const [args, message] of REFUSED) {
    it(`meshctl ${args.map((a) => (a.trim() === a && a !== '' ? a : JSON.stringify(a))).join(' ')}`, async () => {
      const before = treeSnapshot(path.dirname(dir));
      const run = await meshctl([...args, '-i', dir]);
      assert.equal(run.code, 1, run.stderr);
      assert.ok(
        run.stderr.includes(message),
        `stderr should include ${JSON.stringify(message)}:\n${run.stderr}`,
      );
      assert.match(run.stderr, /Fix: |meshctl --help/);
      assert.deepEqual(treeSnapshot(path.dirname(dir)), before, 'no lock, PKI, LAN file or output');
      assert.equal(gateways.connections(), 0, 'no gateway contacted');
    });
  }

  it('-i "" and init "" are refused too (they would mean the current directory)', async () => {
    for (const args of [
      ['validate', '-i', ''],
      ['init', ''],
    ]) {
      const run = await meshctl(args);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /(--inventory|DIR) "": empty; /);
    }
  });

  it('values in range reach the command as numbers', async () => {
    const run = await meshctl([
      ...ADD,
      '-i',
      dir,
      '--id',
      '7',
      '--ssh-port',
      '2222',
      '--forks',
      '3',
      '--no-apply',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const text = readFileSync(path.join(dir, 'lans', 'lab.yml'), 'utf8');
    assert.match(text, /^id: 7$/m);
    assert.match(text, /^ {4}port: 2222$/m, 'a number, not the quoted text "2222"');
  });

  it('the --id bound is the largest id any port_base leaves a UDP port for', () => {
    assert.ok(MIN_PORT_BASE + pairIndex(1, MAX_LAN_ID) <= LAST_PORT);
    assert.ok(MIN_PORT_BASE + pairIndex(1, MAX_LAN_ID + 1) > LAST_PORT);
  });
});
