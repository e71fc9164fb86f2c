import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Chalk } from 'chalk';
import stringWidth from 'string-width';
import { loadInventoryOrThrow } from '../../../src/inventory/load.js';
import { allocateMesh } from '../../../src/mesh/allocate.js';
import { formatHtml } from '../../../src/status/format/html.js';
import { statusToJson } from '../../../src/status/format/json.js';
import { formatMatrix } from '../../../src/status/format/matrix.js';
import { formatPrometheus } from '../../../src/status/format/prometheus.js';
import { mergeStatus } from '../../../src/status/merge.js';
import { parseReading } from '../../../src/status/parse.js';
import type { Reading, StatusReport } from '../../../src/status/types.js';
import type { Mesh } from '../../../src/types.js';
import { packageRoot } from '../../../src/version.js';
import { removeInventory, writeInventory } from '../../helpers/inventory.js';

/**
 * The whole offline half of `status` on what real gateways printed (test/unit/status/fixtures, recorded on the
 * lab): parse → merge → every formatter. The fixtures' mesh is rebuilt as the lab had it (alpha, bravo, charlie:
 * ids 1–3, 10.10.I.0/24, port_base 11000), so each reading meets the tunnels it describes. A gateway whose output
 * is cut or garbled gives a clear "could not read" in every format, never a throw.
 */

const dir = join(packageRoot(), 'test', 'unit', 'status', 'fixtures');
const fixture = (name: string) => readFileSync(join(dir, `${name}.txt`), 'utf8');
const NOW = new Date('2026-12-01T12:00:00Z');
const plain = new Chalk({ level: 0 });

describe('status pipeline on recorded gateway output: parse, merge, matrix, JSON, Prometheus, HTML', () => {
  let inventoryDir: string;
  let mesh: Mesh;

  before(() => {
    const lan = (id: number) =>
      `id: ${id}\nsubnets: [10.10.${id}.0/24]\ngateway:\n  endpoint: 198.18.0.${id}\n`;
    inventoryDir = writeInventory('name: lab\nport_base: 11000\n', {
      alpha: lan(1),
      bravo: lan(2),
      charlie: lan(3),
    });
    mesh = allocateMesh(loadInventoryOrThrow(inventoryDir).inventory);
  });
  after(() => removeInventory(inventoryDir));

  function readings(files: Record<string, string>): Map<string, Reading> {
    return new Map(
      Object.entries(files).map(([gateway, text]) => {
        const peers = new Map(
          (mesh.tunnels.get(gateway) ?? []).map((t) => [`openvpn-server@${t.name}.service`, t.peer.name]),
        );
        return [gateway, parseReading(gateway, text, { startedAt: 0, finishedAt: 1000, peers })];
      }),
    );
  }

  async function everyFormat(report: StatusReport): Promise<{ matrix: string; prom: string; html: string }> {
    const matrix = formatMatrix(report, { color: plain, width: 80 });
    for (const line of matrix.split('\n')) assert.ok(stringWidth(line) <= 80, `fits 80 columns: ${line}`);
    const json = JSON.parse(JSON.stringify(statusToJson(report))) as { exitCode: number };
    assert.equal(json.exitCode, report.exitCode);
    return { matrix, prom: formatPrometheus(report), html: await formatHtml(report, mesh) };
  }

  it('all up (OpenVPN 2.5, 2.7 and 2.6 gateways): healthy, exit 0, every pair and LAN pair up', async () => {
    const report = mergeStatus(
      mesh,
      readings({
        alpha: fixture('static-up-alpha'),
        bravo: fixture('static-up-bravo'),
        charlie: fixture('static-up-charlie'),
      }),
      { now: NOW },
    );
    assert.equal(report.health, 'healthy', JSON.stringify(report.tunnels.map((t) => t.ends)));
    assert.equal(report.exitCode, 0);
    assert.deepEqual(
      report.tunnels.map((t) => `${t.low}-${t.high} ${t.state}`),
      ['alpha-bravo up', 'alpha-charlie up', 'bravo-charlie up'],
    );
    assert.ok(report.lanPairs.every((p) => p.state === 'up'));
    const { matrix, prom } = await everyFormat(report);
    assert.match(matrix, /^healthy: 3 LANs, 3 tunnels up, 3 LAN pairs reach each other$/m);
    assert.equal((prom.match(/^meshctl_tunnel_up\{.*\} 1$/gm) ?? []).length, 6);
  });

  it("alpha's unit to charlie stopped: that pair down at alpha (blamed), charlie's end down, the rest up, exit 2", async () => {
    const report = mergeStatus(
      mesh,
      readings({
        alpha: fixture('static-stopped-alpha'),
        bravo: fixture('static-up-bravo'),
        charlie: fixture('static-stopped-charlie'),
      }),
      { now: NOW },
    );
    assert.equal(report.exitCode, 2);
    const t = report.tunnels.find((x) => x.low === 'alpha' && x.high === 'charlie')!;
    assert.deepEqual(
      t.ends.map((e) => e.state),
      ['not-running', 'down'],
    );
    assert.equal(t.state, 'down');
    assert.equal(t.blame, 'alpha');
    assert.equal(report.tunnels.find((x) => x.low === 'alpha' && x.high === 'bravo')!.state, 'up');
    const { matrix, html } = await everyFormat(report);
    assert.match(matrix, /down at alpha/);
    assert.match(html, /class="state-down"/);
  });

  it('a gateway whose output is cut or garbled: "could not read" where it matters, every format still made', async () => {
    const whole = fixture('static-up-bravo');
    const cut = whole.slice(0, whole.indexOf('\nready\n'));
    const garbled = fixture('static-up-charlie').replace(/^mgmt-line\t/gm, 'mgmt-lin\u001b[31m\t');
    const report = mergeStatus(
      mesh,
      readings({ alpha: fixture('static-up-alpha'), bravo: cut, charlie: garbled }),
      { now: NOW },
    );
    assert.notEqual(report.exitCode, 0);
    const bravo = report.gateways.find((g) => g.name === 'bravo')!;
    assert.match(bravo.problem ?? '', /stopped before the probes/);
    const charlie = report.gateways.find((g) => g.name === 'charlie')!;
    assert.ok(charlie.unreadable > 0);
    const { matrix, prom, html } = await everyFormat(report);
    assert.match(matrix, /could not be read|incomplete/);
    assert.ok(!matrix.includes('\u001b'), 'what the gateway sent cannot drive the terminal');
    assert.ok(prom.length > 0 && html.includes('</html>'));
  });
});
