import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MESHCTL_BIN } from '../../helpers/bin.js';
import { lanText, removeInventory, writeInventory } from '../../helpers/inventory.js';
import { checkWellFormed } from '../../helpers/xml.js';
import { goldenPath, operatorFixtureDir } from '../operator/fixture.js';
import { meshctl } from './helpers.js';

/** `meshctl routes` and `meshctl graph` through the real CLI entry: refusals first, then what they print. */

const FIXTURE = operatorFixtureDir();

/** `meshctl COMMAND --help` in a child process (yargs ends the process after printing help). */
function helpOf(command: string): string {
  return execFileSync(process.execPath, [MESHCTL_BIN, command, '--help'], { encoding: 'utf8' });
}

describe('cli: routes', () => {
  it('an unknown --format is refused with the allowed values, before the inventory is read', async () => {
    const run = await meshctl(['routes', '--format', 'cisco', '-i', '/nonexistent/inventory']);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.match(
      run.stderr,
      /--format cisco: not one of text, linux, aws, gcp, azure; it is the output format\. Fix: pass --format text\|linux\|aws\|gcp\|azure/,
    );
    assert.doesNotMatch(run.stderr, /inventory directory/);
  });

  it('an unknown LAN is refused with the LANs there are; a gateway name is pointed at its LAN', async () => {
    const unknown = await meshctl(['routes', 'nowhere', '-i', FIXTURE]);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stdout, '');
    assert.match(unknown.stderr, /LAN "nowhere" is not in the inventory .*Fix: pass one of hq, dc, shop, eu/);
    const gateway = await meshctl(['routes', 'eu-b', '-i', FIXTURE]);
    assert.equal(gateway.code, 1);
    assert.match(gateway.stderr, /LAN eu-b: that is a gateway of LAN eu\. Fix: pass eu/);
    const empty = await meshctl(['routes', '', '-i', FIXTURE]);
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /LAN "": empty; /);
  });

  it('prints the golden text of each format; a LAN argument prints that LAN only', async () => {
    for (const format of ['text', 'aws']) {
      const run = await meshctl(['routes', '-i', FIXTURE, '--format', format]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, readFileSync(goldenPath('routes', `${format}.txt`), 'utf8'));
    }
    const shop = await meshctl(['routes', 'shop', '-i', FIXTURE, '--format', 'linux']);
    assert.equal(shop.code, 0, shop.stderr);
    assert.deepEqual(
      shop.stdout.split('\n').filter((l) => l.startsWith('# ') && l.includes(': on the routers')),
      ['# shop: on the routers of 192.168.10.0/27, via gateway shop'],
    );
  });

  it('warns about cloud keys it does not read, naming the file and field', async () => {
    const dir = writeInventory('name: corp\n', {
      hq: `${lanText(1)}  cloud: { provider: aws, route_table: rtb-1, instance: i-1 }\n`,
      br: lanText(2),
    });
    try {
      const run = await meshctl(['routes', 'hq', '-i', dir, '--format', 'aws']);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /lans\/hq\.yml.*gateway\.cloud\.route_table/);
      assert.match(run.stderr, /route_tables/);
      assert.match(
        run.stdout,
        /--route-table-id '<route-table-id of 10\.1\.0\.0\/16>' .*--instance-id i-1$/m,
      );
    } finally {
      removeInventory(dir);
    }
  });

  it('--help describes it', () => {
    const help = helpOf('routes');
    assert.match(help, /meshctl routes \[LAN\] \[--format text\|linux\|aws\|gcp\|azure\]/);
    assert.match(help, /text .*linux .*aws, gcp or azure/s);
    assert.match(help, /source\/destination check/);
  });
});

describe('cli: graph', () => {
  let out: string;
  beforeEach(() => {
    out = mkdtempSync(path.join(tmpdir(), 'meshctl-graph-'));
  });
  afterEach(() => {
    rmSync(out, { recursive: true, force: true });
  });

  it('an unknown --format is refused with the allowed values', async () => {
    const run = await meshctl(['graph', '--format', 'png', '-i', FIXTURE]);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /--format png: not one of dot, mermaid, svg; it is the picture format/);
  });

  it('--out that is a directory, or in a missing one, is refused before anything is written', async () => {
    const dir = await meshctl(['graph', '-i', FIXTURE, '--out', out]);
    assert.equal(dir.code, 1);
    assert.match(dir.stderr, /--out .*: a directory, not a file/);
    const missing = await meshctl(['graph', '-i', FIXTURE, '--out', path.join(out, 'no', 'x.svg')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /does not exist/);
    const empty = await meshctl(['graph', '-i', FIXTURE, '--out', '']);
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /--out "": empty; it is the file graph writes/);
    assert.deepEqual(readdirSync(out), []);
  });

  it('prints DOT by default and Mermaid on request, as the golden files', async () => {
    const dot = await meshctl(['graph', '-i', FIXTURE]);
    assert.equal(dot.code, 0, dot.stderr);
    assert.equal(dot.stdout, readFileSync(goldenPath('graph', 'corp.dot'), 'utf8'));
    const mermaid = await meshctl(['graph', '-i', FIXTURE, '--format', 'mermaid']);
    assert.equal(mermaid.stdout, readFileSync(goldenPath('graph', 'corp.mmd'), 'utf8'));
  });

  it('--format svg --out FILE writes the SVG there (replacing an older one), nothing else', async () => {
    const file = path.join(out, 'topology.svg');
    for (let i = 0; i < 2; i++) {
      const run = await meshctl(['graph', '-i', FIXTURE, '--format', 'svg', '--out', file]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /topology\.svg: svg, 4 LANs, 5 gateways, 6 tunnels/);
    }
    assert.deepEqual(readdirSync(out), ['topology.svg'], 'no temporary file left');
    assert.equal(checkWellFormed(readFileSync(file, 'utf8'))[0], 'svg');
  });

  it('--help describes it', () => {
    const help = helpOf('graph');
    assert.match(help, /--format .*dot .*mermaid .*svg/s);
    assert.match(help, /--out +Write the picture to FILE/);
  });
});
