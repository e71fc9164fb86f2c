import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InventoryError } from '../../../src/errors.js';
import { loadInventory, loadInventoryOrThrow } from '../../../src/inventory/load.js';
import { MAX_INVENTORY_FILE_BYTES } from '../../../src/inventory/yaml-source.js';
import { lanText, removeInventory, writeInventory } from '../../helpers/inventory.js';
import { assertFinding, type Expectation, exampleDir, fixturesDir } from './fixture-paths.js';

const HOME = '/home/operator';

describe('loadInventory', () => {
  const made: string[] = [];
  const written: string[] = [];
  const temp = (mesh: string, lans: Record<string, string | Buffer>) => {
    const dir = writeInventory(mesh, lans);
    written.push(dir);
    return dir;
  };
  after(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
    for (const dir of written) removeInventory(dir);
  });

  it('validates the example inventory clean and fills in every default', () => {
    const { inventory, diagnostics } = loadInventory(exampleDir(), { homedir: HOME });
    assert.deepEqual(diagnostics, []);
    assert.ok(inventory);
    assert.equal(inventory.mesh.name, 'corp');
    assert.equal(inventory.mesh.transit, '172.19.0.0/16');
    assert.equal(inventory.mesh.portBase, 11000);
    assert.deepEqual(inventory.mesh.retiredIds, []);
    assert.equal(inventory.mesh.pkiDir, path.join(exampleDir(), 'pki'));
    assert.deepEqual(inventory.mesh.ssh, {
      user: 'root',
      port: 22,
      knownHosts: path.join(HOME, '.ssh', 'known_hosts'),
      become: false,
    });
    assert.deepEqual(inventory.mesh.openvpn, { keepalive: [10, 60], extra: [] });
    assert.equal(inventory.lans.length, 4);
    assert.deepEqual(
      inventory.lans.map((l) => l.id),
      [1, 2, 3, 4],
      'sorted by id',
    );
    const vpc = inventory.gateways.find((l) => l.name === 'cloud-vpc')!;
    assert.notEqual(
      vpc.sshHost,
      vpc.endpoint,
      'the example shows an ssh_host that differs from the endpoint',
    );
    assert.equal(vpc.file, path.join(exampleDir(), 'lans', 'cloud-vpc.yml'));
    assert.ok(inventory.lans.some((l) => l.subnets.length === 2));
  });

  it('uses defaults when mesh.yml has only a name, and ssh_host defaults to the endpoint', () => {
    const dir = temp('name: tiny\n', { a: lanText(1), b: lanText(2) });
    const { inventory } = loadInventoryOrThrow(dir);
    assert.equal(inventory.mesh.transit, '172.19.0.0/16');
    assert.equal(inventory.mesh.pkiDir, path.join(dir, 'pki'));
    assert.equal(inventory.gateways[0]!.sshHost, '198.51.100.1');
    assert.equal(inventory.dir, path.resolve(dir));
  });

  it('merges per-LAN gateway.ssh over the mesh ssh defaults and expands ~', () => {
    const mesh =
      'name: corp\nssh:\n  user: deploy\n  port: 2200\n  identity_file: ~/.ssh/mesh_key\n  become: true\n';
    const b = `${lanText(2)}  ssh_host: 10.2.0.1\n  ssh: { user: admin, become: false }\n`;
    const dir = temp(mesh, { a: lanText(1), b });
    const { inventory } = loadInventoryOrThrow(dir, { homedir: HOME });
    const [a, lanB] = inventory.gateways;
    assert.deepEqual(a!.ssh, {
      user: 'deploy',
      port: 2200,
      identityFile: path.join(HOME, '.ssh', 'mesh_key'),
      knownHosts: path.join(HOME, '.ssh', 'known_hosts'),
      become: true,
    });
    assert.deepEqual(lanB!.ssh, { ...a!.ssh, user: 'admin', become: false });
    assert.equal(lanB!.sshHost, '10.2.0.1');
  });

  it('takes the home directory from env.HOME when no homedir is given', () => {
    const dir = temp('name: corp\nssh:\n  known_hosts: ~/kh\n', { a: lanText(1) });
    const { inventory } = loadInventoryOrThrow(dir, { env: { HOME: '/home/other' } });
    assert.equal(inventory.mesh.ssh.knownHosts, '/home/other/kh');
  });

  it('collects every problem: a fixture with 3 distinct problems reports all 3', () => {
    const fixture = path.join(fixturesDir(), 'multi');
    const expectations = JSON.parse(readFileSync(path.join(fixture, 'expect.json'), 'utf8')) as Expectation[];
    const { inventory, diagnostics } = loadInventory(fixture);
    assert.equal(inventory, undefined);
    assert.equal(expectations.length, 3);
    for (const e of expectations) assertFinding(diagnostics, fixture, e);
    assert.equal(diagnostics.filter((d) => d.severity === 'error').length, 3, 'exactly the three problems');
  });

  it('loadInventoryOrThrow throws InventoryError carrying every diagnostic', () => {
    const fixture = path.join(fixturesDir(), 'multi');
    assert.throws(
      () => loadInventoryOrThrow(fixture),
      (e: unknown) =>
        e instanceof InventoryError && e.diagnostics.length === 3 && /3 problem/.test(e.message),
    );
  });

  it('refuses a YAML bomb (nested aliases) quickly and says why', () => {
    const bomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 20; i++) {
      const prev = String.fromCharCode(96 + i);
      const next = String.fromCharCode(97 + i);
      bomb.push(`${next}: &${next} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    const dir = temp('name: corp\n', { a: lanText(1), bomb: `${bomb.join('\n')}\n` });
    const started = Date.now();
    const { inventory, diagnostics } = loadInventory(dir);
    const elapsed = Date.now() - started;
    assert.equal(inventory, undefined);
    const refusal = diagnostics.find((d) => d.file.endsWith('bomb.yml'));
    assert.ok(
      refusal && /anchors/.test(refusal.message) && /expand/.test(refusal.message),
      JSON.stringify(diagnostics),
    );
    assert.equal(
      diagnostics.filter((d) => d.file.endsWith('bomb.yml')).length,
      1,
      'one finding, nothing expanded',
    );
    // Reported for the record only: the bomb is refused at its first anchor, long before any expansion.
    if (elapsed > 1000) console.warn(`YAML bomb took ${elapsed} ms to refuse`);
  });

  it('refuses an alias even without an anchor on the same node', () => {
    const dir = temp('name: corp\nssh: &s { user: root }\nopenvpn: *s\n', { a: lanText(1) });
    const { diagnostics } = loadInventory(dir);
    assert.ok(diagnostics.some((d) => d.line === 2 && /anchors/.test(d.message)));
  });

  it('refuses a file over 1 MiB before parsing it', () => {
    const huge = `id: 2\n# ${'x'.repeat(MAX_INVENTORY_FILE_BYTES)}\n`;
    const dir = temp('name: corp\n', { a: lanText(1), huge });
    const { inventory, diagnostics } = loadInventory(dir);
    assert.equal(inventory, undefined);
    const d = diagnostics.find((x) => x.file.endsWith('huge.yml'));
    assert.ok(d && /larger than/.test(d.message) && d.value === Buffer.byteLength(huge));
  });

  it('reports a missing inventory directory with the init command', () => {
    const missing = path.join(tmpdir(), 'meshctl-no-such-inventory');
    const { inventory, diagnostics } = loadInventory(missing);
    assert.equal(inventory, undefined);
    assert.equal(diagnostics.length, 1);
    assert.match(diagnostics[0]!.message, /does not exist/);
    assert.match(diagnostics[0]!.fix, /meshctl init/);
  });

  it('still validates the LANs when mesh.yml is broken', () => {
    const dir = temp('name: [corp\n', { a: lanText(1, '10.1.0.1/16') });
    const { diagnostics } = loadInventory(dir);
    assert.ok(diagnostics.some((d) => d.file.endsWith('mesh.yml') && /YAML syntax/.test(d.message)));
    assert.ok(diagnostics.some((d) => d.field === 'subnets[0]' && /host bits/.test(d.message)));
  });

  it('follows a symlinked LAN file inside the inventory, and refuses one leading outside it', () => {
    const dir = temp('name: corp\n', { a: lanText(1) });
    mkdirSync(path.join(dir, 'shared'));
    writeFileSync(path.join(dir, 'shared', 'b.yml'), lanText(2));
    symlinkSync(path.join(dir, 'shared', 'b.yml'), path.join(dir, 'lans', 'b.yml'));
    const { inventory, diagnostics } = loadInventory(dir);
    assert.deepEqual(diagnostics, []);
    assert.deepEqual(
      inventory?.lans.map((l) => l.name),
      ['a', 'b'],
    );
    const elsewhere = temp('name: unused\n', { c: lanText(3) });
    symlinkSync(path.join(elsewhere, 'lans', 'c.yml'), path.join(dir, 'lans', 'c.yml'));
    const refused = loadInventory(dir);
    assert.equal(refused.inventory, undefined);
    assert.match(
      refused.diagnostics[0]!.message,
      /c\.yml is a symbolic link to a file outside the inventory/,
    );
  });

  it('refuses a hidden NAME.yml instead of silently dropping that LAN', () => {
    const dir = temp('name: corp\n', { a: lanText(1) });
    writeFileSync(path.join(dir, 'lans', '.b.yml'), lanText(2));
    const { inventory, diagnostics } = loadInventory(dir);
    assert.equal(inventory, undefined);
    assert.match(diagnostics[0]!.message, /\.b\.yml is hidden/);
    assert.match(diagnostics[0]!.fix, /rename it to b\.yml/);
  });

  it('ignores hidden files in lans/ such as .gitkeep', () => {
    const dir = temp('name: corp\n', { a: lanText(1) });
    writeFileSync(path.join(dir, 'lans', '.gitkeep'), '');
    assert.deepEqual(loadInventory(dir).diagnostics, []);
  });

  it('accepts AEAD cipher lists and harmless tuning in openvpn.extra', () => {
    const mesh =
      'name: corp\nopenvpn:\n  extra: ["data-ciphers AES-256-GCM:CHACHA20-POLY1305", "sndbuf 524288", "verb 4"]\n';
    const { inventory } = loadInventoryOrThrow(temp(mesh, { a: lanText(1) }));
    assert.equal(inventory.mesh.openvpn.extra.length, 3);
  });

  describe('warnings', () => {
    it('warns (without failing) when transit or a LAN overlaps Docker 172.17.0.0/16', () => {
      const dir = temp('name: corp\ntransit: 172.16.0.0/12\n', { a: lanText(1, '192.168.1.0/24') });
      let { inventory, diagnostics } = loadInventory(dir);
      assert.ok(inventory, 'warnings do not fail validation');
      assert.deepEqual(
        diagnostics.map((d) => [d.severity, d.field, d.line]),
        [['warning', 'transit', 2]],
      );
      ({ inventory, diagnostics } = loadInventory(temp('name: corp\n', { a: lanText(1, '172.17.4.0/24') })));
      assert.ok(inventory);
      assert.deepEqual(
        diagnostics.map((d) => [d.severity, d.field, d.value]),
        [['warning', 'subnets[0]', '172.17.4.0/24']],
      );
      assert.match(diagnostics[0]!.message, /Docker/);
    });

    it('warns past 25 LANs with the per-gateway tunnel count, a memory estimate and another topology', () => {
      const lans: Record<string, string> = {};
      for (let id = 1; id <= 30; id++) lans[`site-${id}`] = lanText(id);
      const { inventory, diagnostics } = loadInventory(temp('name: big\n', lans));
      assert.ok(inventory);
      assert.equal(diagnostics.length, 1);
      const [w] = diagnostics;
      assert.equal(w!.severity, 'warning');
      assert.match(w!.message, /29 tunnels/);
      assert.match(w!.message, /58 MB/);
      assert.match(w!.fix, /hub-and-spoke/);
    });

    it('does not warn at 25 LANs', () => {
      const lans: Record<string, string> = {};
      for (let id = 1; id <= 25; id++) lans[`site-${id}`] = lanText(id);
      assert.deepEqual(loadInventory(temp('name: big\n', lans)).diagnostics, []);
    });
  });

  it('keeps the example free of anything machine-specific when copied elsewhere', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'meshctl-copy-'));
    made.push(dir);
    cpSync(exampleDir(), dir, { recursive: true });
    assert.deepEqual(loadInventory(dir).diagnostics, []);
  });
});
