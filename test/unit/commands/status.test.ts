import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { run as apply } from '../../../src/commands/apply.js';
import { run as status } from '../../../src/commands/status.js';
import { UsageError } from '../../../src/errors.js';
import { captured, engineOptions, type MemoryMesh, memoryMesh } from '../../helpers/memory-mesh.js';

/**
 * `meshctl status` in-process against memory gateways, every layer real from the inventory to the remote command:
 * exit codes 0 / 2 / 1 and the same in --json, the Prometheus textfile and the page written, options refused
 * before any gateway is contacted, and only the status command sent (one per gateway, read-only).
 */

interface Json {
  ok: boolean;
  health: string;
  exitCode: number;
  gateways: { name: string; read: boolean; error: string | null }[];
  tunnels: {
    low: string;
    high: string;
    state: string;
    blame: string | null;
    ends: { gateway: string; state: string }[];
  }[];
  lanPairs: { a: string; b: string; state: string }[];
}

describe('meshctl status (memory gateways)', () => {
  let mesh: MemoryMesh;
  let work: string;

  beforeEach(async () => {
    mesh = memoryMesh([
      { name: 'alpha', id: 1 },
      { name: 'beta', id: 2 },
      { name: 'gamma', id: 3 },
    ]);
    work = mkdtempSync(path.join(tmpdir(), 'meshctl-status-'));
    const c = captured(true);
    assert.equal(
      await apply(engineOptions(mesh.dir, { json: true }), c.out, { connector: mesh.network.connector }),
      0,
    );
    for (const name of ['alpha', 'beta', 'gamma']) mesh.network.get(name).log.length = 0;
  });
  afterEach(() => {
    mesh.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  async function run(extra: Record<string, unknown> = {}, json = true) {
    const c = captured(json);
    const code = await status(engineOptions(mesh.dir, { json, ...extra }), c.out, {
      connector: mesh.network.connector,
    });
    return { code, c, json: json ? (c.json() as unknown as Json) : undefined };
  }

  it('all up: exit 0, healthy, every tunnel and LAN pair up; one read-only command per gateway', async () => {
    const { code, json } = await run();
    assert.equal(code, 0);
    assert.equal(json!.ok, true);
    assert.equal(json!.health, 'healthy');
    assert.equal(json!.exitCode, 0);
    assert.equal(json!.tunnels.length, 3);
    assert.ok(json!.tunnels.every((t) => t.state === 'up'));
    assert.deepEqual(
      json!.lanPairs.map((p) => `${p.a}-${p.b} ${p.state}`),
      ['alpha-beta up', 'alpha-gamma up', 'beta-gamma up'],
    );
    for (const name of ['alpha', 'beta', 'gamma']) {
      const sent = mesh.network.get(name).log.map((r) => r.argv[3]);
      assert.deepEqual(sent, ['meshctl-status'], `${name}: only the status command`);
    }
  });

  it('--forks 1 (fewer than gateways): every gateway still probed, every LAN pair up', async () => {
    const { code, json } = await run({ forks: 1 });
    assert.equal(code, 0, JSON.stringify(json!.lanPairs));
    assert.ok(json!.lanPairs.every((p) => p.state === 'up'));
  });

  it('--watch: reads again every SECONDS on the same connections until Ctrl-C; the second read has rates', async () => {
    const c = captured(true);
    let connects = 0;
    const pending = status(engineOptions(mesh.dir, { json: true, watch: 1 }), c.out, {
      connector: (opts) => {
        connects++;
        return mesh.network.connector(opts);
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const started = Date.now();
    process.emit('SIGINT');
    assert.equal(await pending, 0);
    assert.ok(Date.now() - started < 1000, 'Ctrl-C ends the wait at once');
    const documents = c
      .text()
      .split(/\n(?=\{)/)
      .filter((d) => d.trim())
      .map((d) => JSON.parse(d) as { tunnels: { ends: { rateIn: number | null }[] }[] });
    assert.equal(documents.length, 2, 'one document per read');
    assert.equal(connects, 3, 'one connection per gateway, kept for the second read');
    assert.ok(
      documents[0]!.tunnels.every((t) => t.ends.every((e) => e.rateIn === null)),
      'no rate on a first read',
    );
    assert.ok(
      documents[1]!.tunnels.every((t) => t.ends.every((e) => e.rateIn !== null)),
      'rates on the second',
    );
    for (const name of ['alpha', 'beta', 'gamma']) {
      const sent = mesh.network.get(name).log.map((r) => r.argv[3]);
      assert.deepEqual(sent, ['meshctl-status', 'meshctl-status'], `${name}: one status command per read`);
    }
  });

  it('the matrix as text: every LAN, the summary line, no colour off a TTY', async () => {
    const { code, c } = await run({}, false);
    assert.equal(code, 0);
    const text = c.text();
    for (const name of ['alpha', 'beta', 'gamma']) assert.ok(text.includes(name), name);
    assert.match(text, /^healthy: /m);
    assert.ok(!text.includes('\u001b['));
  });

  it('one unit stopped: exit 2, degraded, that pair not up with the stopped end blamed, the others up', async () => {
    const conn = await mesh.network.connector({
      name: 'beta',
      host: 'beta.memory',
      port: 22,
      user: 'root',
      knownHosts: '/dev/null',
      acceptNew: true,
      become: false,
    });
    await conn.exec(['systemctl', 'stop', 'openvpn-server@mesh-gamma.service']);
    const { code, json } = await run();
    assert.equal(code, 2);
    assert.equal(json!.health, 'degraded');
    assert.equal(json!.ok, false);
    const broken = json!.tunnels.find((t) => t.low === 'beta' && t.high === 'gamma')!;
    assert.notEqual(broken.state, 'up');
    assert.equal(broken.blame, 'beta');
    assert.ok(json!.tunnels.filter((t) => t !== broken).every((t) => t.state === 'up'));
  });

  it('a LAN blocked with its tunnels up: exit 2, the probes to it down, the tunnels up', async () => {
    mesh.network.get('gamma').blockLan = true;
    const { code, json } = await run();
    assert.equal(code, 2);
    assert.ok(json!.tunnels.every((t) => t.state === 'up'));
    assert.equal(json!.lanPairs.find((p) => p.b === 'gamma' && p.a === 'alpha')!.state, 'down');
    assert.equal(json!.lanPairs.find((p) => p.a === 'alpha' && p.b === 'beta')!.state, 'up');
  });

  it('a gateway that cannot be read: exit 1, its row unknown, the others read', async () => {
    mesh.network
      .get('gamma')
      .faults.push(() => ({ code: 255, stdout: '', stderr: 'sudo: a password is required\n' }));
    const { code, json } = await run();
    assert.equal(code, 1);
    assert.equal(json!.health, 'error');
    const gamma = json!.gateways.find((g) => g.name === 'gamma')!;
    assert.equal(gamma.read, false);
    assert.match(gamma.error ?? '', /password is required/);
    assert.ok(json!.gateways.filter((g) => g.name !== 'gamma').every((g) => g.read));
    assert.equal(json!.tunnels.find((t) => t.low === 'alpha' && t.high === 'beta')!.state, 'up');
    const toGamma = json!.tunnels.find((t) => t.high === 'gamma' && t.low === 'alpha')!;
    assert.equal(toGamma.ends.find((e) => e.gateway === 'gamma')!.state, 'unknown');
    assert.equal(toGamma.ends.find((e) => e.gateway === 'alpha')!.state, 'up');
  });

  it('--prometheus and --html: both files written (0644), whole, and the JSON still printed', async () => {
    const prom = path.join(work, 'meshctl.prom');
    const html = path.join(work, 'status.html');
    const { code } = await run({ prometheus: prom, html });
    assert.equal(code, 0);
    const metrics = readFileSync(prom, 'utf8');
    assert.equal(metrics.split('\n').filter((l) => /^meshctl_tunnel_up\{.*\} 1$/.test(l)).length, 6);
    assert.equal(statSync(prom).mode & 0o777, 0o644);
    const page = readFileSync(html, 'utf8');
    assert.match(page, /<table[^>]*id="matrix"/);
    assert.match(page, /<svg/);
    assert.match(page, /<\/html>\s*$/);
  });

  it('--html into a missing directory, or a directory: refused before any gateway is contacted', async () => {
    for (const [option, file] of [
      ['html', path.join(work, 'missing', 'status.html')],
      ['prometheus', work],
    ] as const) {
      await assert.rejects(
        run({ [option]: file }),
        (error: Error) => error instanceof UsageError && error.message.startsWith(`--${option} `),
      );
    }
    for (const name of ['alpha', 'beta', 'gamma']) assert.deepEqual(mesh.network.get(name).log, []);
  });
});
