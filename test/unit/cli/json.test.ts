import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { diagnosticsToJson } from '../../../src/inventory/format.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { JSON_SCHEMA } from '../../../src/output.js';
import { countingServer, exampleCopy, jsonOf, localInventory, meshctl } from './helpers.js';

/**
 * The shipped `--json` documents, one shape per command (README "JSON output"): top-level keys in this order, every
 * one starting with "schema": 1, "command" and "ok". The runs are the real CLI entry, their stdout parsed.
 */
const SHAPES = {
  init: ['dir', 'files'],
  validate: ['mesh', 'lans', 'paths', 'pairs', 'warnings', 'pkiWarnings'],
  render: ['mesh', 'out', 'gateways', 'pkiCreated', 'files', 'warnings'],
  diff: ['changes', 'mesh', 'gateways', 'plans', 'pki', 'warnings'],
  apply: ['mesh', 'gateways', 'pkiCreated', 'warnings'],
  'add-lan': ['applied', 'mesh', 'lan', 'pkiCreated', 'warnings', 'routes', 'ports'],
  'remove-lan': ['mesh', 'lan', 'gateways', 'removedGateway', 'routes', 'left'],
  routes: ['mesh', 'format', 'lans', 'warnings'],
  graph: ['mesh', 'format', 'out', 'lans', 'tunnels', 'content', 'warnings'],
  error: ['error'],
} as const;

function assertShape(
  result: Record<string, unknown>,
  command: string | null,
  shape: keyof typeof SHAPES,
): void {
  assert.deepEqual(Object.keys(result), ['schema', 'command', 'ok', ...SHAPES[shape]]);
  assert.equal(result.schema, JSON_SCHEMA);
  assert.equal(JSON_SCHEMA, 1);
  assert.equal(result.command, command);
}

/** Docker's default bridge as transit: a warning, so `warnings` has something to show. */
function withWarning(dir: string): void {
  const meshFile = path.join(dir, 'mesh.yml');
  writeFileSync(
    meshFile,
    readFileSync(meshFile, 'utf8').replace('transit: 172.19.0.0/16', 'transit: 172.17.0.0/16'),
  );
}

describe('cli: --json results are one versioned shape per command', () => {
  const roots: string[] = [];
  const track = (dir: string) => {
    roots.push(path.dirname(dir));
    return dir;
  };
  afterEach(() => {
    for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
  });

  it('validate: the diagnostics are the documented diagnosticsToJson form', async () => {
    const dir = track(exampleCopy());
    withWarning(dir);
    const run = await meshctl(['validate', '-i', dir, '--json']);
    assert.equal(run.code, 0, run.stderr);
    const result = jsonOf(run);
    assertShape(result, 'validate', 'validate');
    const expected = diagnosticsToJson(
      loadInventory(dir).diagnostics.filter((d) => d.severity === 'warning'),
    );
    assert.ok(expected.length > 0);
    assert.deepEqual(result.warnings, expected);
    assert.deepEqual(Object.keys((result.warnings as object[])[0]!), [
      'severity',
      'file',
      'line',
      'field',
      'value',
      'message',
      'fix',
    ]);
  });

  it('an invalid inventory: the error shape, with its diagnostics in the same form', async () => {
    const dir = track(exampleCopy());
    writeFileSync(path.join(dir, 'lans', 'datacenter.yml'), 'id: 1\nsubnets: [10.1.0.0/16]\n');
    const run = await meshctl(['validate', '-i', dir, '--json']);
    assert.equal(run.code, 1);
    const result = jsonOf(run);
    assertShape(result, 'validate', 'error');
    assert.equal(result.ok, false);
    const error = result.error as { type: string; message: string; diagnostics: unknown[] };
    assert.equal(error.type, 'InventoryError');
    assert.deepEqual(error.diagnostics, diagnosticsToJson(loadInventory(dir).diagnostics));
    assert.ok(
      error.diagnostics.every((d) => 'line' in (d as object)),
      'line is null when unknown, never absent',
    );
  });

  it('a usage error, before and after yargs parsed the line', async () => {
    const unknown = jsonOf(await meshctl(['frobnicate', '--json']));
    assertShape(unknown, null, 'error');
    assert.deepEqual(Object.keys(unknown.error as object), ['type', 'message']);
    assert.match((unknown.error as { message: string }).message, /Unknown argument: frobnicate/);
    const bad = jsonOf(await meshctl(['apply', '--forks', 'abc', '--json']));
    assertShape(bad, 'apply', 'error');
    assert.equal((bad.error as { type: string }).type, 'UsageError');
  });

  it('init, render and add-lan --no-apply', async () => {
    const root = track(exampleCopy());
    const fresh = path.join(path.dirname(root), 'fresh');
    const init = jsonOf(await meshctl(['init', fresh, '--json']));
    assertShape(init, 'init', 'init');
    assert.equal(init.ok, true);

    const render = await meshctl(['render', '-i', fresh, '--out', path.join(fresh, '..', 'out'), '--json']);
    assert.equal(render.code, 0, render.stderr);
    assertShape(jsonOf(render), 'render', 'render');

    const args = ['add-lan', 'lab', '--subnet', '10.77.0.0/16', '--endpoint', '198.51.100.77', '--no-apply'];
    const added = await meshctl([...args, '-i', fresh, '--json']);
    assert.equal(added.code, 0, added.stderr);
    const result = jsonOf(added);
    assertShape(result, 'add-lan', 'add-lan');
    assert.equal(result.applied, false);
  });

  it('diff, apply and remove-lan against unreachable gateways', async () => {
    const gateways = await countingServer();
    try {
      const dir = track(localInventory(gateways.port));
      const diff = await meshctl(['diff', '-i', dir, '--json']);
      assert.equal(diff.code, 1);
      assertShape(jsonOf(diff), 'diff', 'diff');
      const apply = await meshctl(['apply', '-i', dir, '--json']);
      assert.equal(apply.code, 1);
      const applied = jsonOf(apply);
      assertShape(applied, 'apply', 'apply');
      assert.equal(applied.ok, false);
      const remove = await meshctl(['remove-lan', 'cloud', '-i', dir, '--json']);
      assert.equal(remove.code, 1, remove.stderr);
      assertShape(jsonOf(remove), 'remove-lan', 'remove-lan');
    } finally {
      gateways.close();
    }
  });

  it('routes and graph (offline)', async () => {
    const dir = track(exampleCopy());
    const routes = jsonOf(await meshctl(['routes', '-i', dir, '--format', 'linux', '--json']));
    assertShape(routes, 'routes', 'routes');
    assert.equal(routes.format, 'linux');
    const lan = (routes.lans as Record<string, unknown>[])[0]!;
    assert.deepEqual(Object.keys(lan), ['name', 'via', 'gateways', 'commands']);
    assert.deepEqual(Object.keys((lan.gateways as object[])[0]!), [
      'name',
      'endpoint',
      'subnets',
      'cloud',
      'routes',
      'inbound',
      'forwarding',
    ]);
    const graph = jsonOf(await meshctl(['graph', '-i', dir, '--format', 'mermaid', '--json']));
    assertShape(graph, 'graph', 'graph');
    assert.match(graph.content as string, /^flowchart LR\n/);
    const bad = jsonOf(await meshctl(['graph', '-i', dir, '--format', 'png', '--json']));
    assertShape(bad, 'graph', 'error');
  });
});
