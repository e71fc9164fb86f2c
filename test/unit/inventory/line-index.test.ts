import assert from 'node:assert/strict';
import { FileFindings } from '../../../src/inventory/findings.js';
import { parseYaml } from '../../../src/inventory/yaml-source.js';
import type { Diagnostic } from '../../../src/types.js';

function linesOf(text: string) {
  const sink: Diagnostic[] = [];
  const doc = parseYaml(text, new FileFindings('t.yml', sink));
  assert.ok(doc, JSON.stringify(sink));
  return doc.lines;
}

describe('LineIndex (key paths → lines)', () => {
  it('finds nested block keys, block sequence items and flow items', () => {
    const lines = linesOf(
      [
        '# comment', // 1
        'id: 4', // 2
        'subnets:', // 3
        '  - 10.4.0.0/16', // 4
        '', // 5
        '  - 10.5.0.0/16  # second', // 6
        'gateway:', // 7
        '  endpoint: gw.example.net', // 8
        '  ssh: { user: admin,', // 9
        '         port: 22 }', // 10
        'openvpn:', // 11
        '  keepalive: [10,', // 12
        '    60]', // 13
        '',
      ].join('\n'),
    );
    assert.equal(lines.lineOf('id'), 2);
    assert.equal(lines.lineOf('subnets'), 3);
    assert.equal(lines.lineOf('subnets[0]'), 4);
    assert.equal(lines.lineOf('subnets[1]'), 6);
    assert.equal(lines.lineOf('gateway.endpoint'), 8);
    assert.equal(lines.lineOf('gateway.ssh'), 9);
    assert.equal(lines.lineOf('gateway.ssh.user'), 9);
    assert.equal(lines.lineOf('gateway.ssh.port'), 10);
    assert.equal(lines.lineOf('openvpn.keepalive[0]'), 12);
    assert.equal(lines.lineOf('openvpn.keepalive[1]'), 13);
  });

  it('points a missing key at its parent, and a missing top-level key nowhere', () => {
    const lines = linesOf('name: corp\nssh:\n  user: root\n');
    assert.equal(lines.lineOf('ssh.port'), 2);
    assert.equal(lines.lineOf('transit'), undefined);
    assert.equal(lines.has('ssh.user'), true);
    assert.equal(lines.has('ssh.port'), false);
  });

  it('keeps the source text of scalars (1.0 is not 1)', () => {
    const lines = linesOf('id: 1.0   # decimal\nport: 0x16\n');
    assert.equal(lines.rawOf('id'), '1.0');
    assert.equal(lines.rawOf('port'), '0x16');
  });

  it('stays aligned past empty sequence entries and null values', () => {
    const lines = linesOf('list:\n  -\n  - b\nempty:\nlast: 1\n');
    assert.equal(lines.lineOf('list[1]'), 3);
    assert.equal(lines.lineOf('empty'), 4);
    assert.equal(lines.lineOf('last'), 5);
  });
});
