import assert from 'node:assert/strict';
import yaml from 'js-yaml';
import { RetireEditError, retireIdText } from '../../../src/inventory/retire-id.js';

/** The edit must be an insertion only: removing the inserted text gives the original back, byte for byte. */
function assertInsertionOnly(before: string, after: string, inserted: string): void {
  const at = after.indexOf(inserted);
  assert.notEqual(at, -1, `${JSON.stringify(inserted)} in ${JSON.stringify(after)}`);
  assert.equal(after.slice(0, at) + after.slice(at + inserted.length), before);
}

const MESH = `# Our mesh. Keep this comment.
name: corp   # the mesh name
transit: 172.19.0.0/16

# ids of LANs we removed
`;

describe('remove-lan: retiring an id in mesh.yml (minimal textual edit)', () => {
  it('appends to a flow list, keeping the trailing comment', () => {
    const before = `${MESH}retired_ids: [3, 5]   # old offices\nport_base: 11000\n`;
    const after = retireIdText(before, 7);
    assert.equal(after, `${MESH}retired_ids: [3, 5, 7]   # old offices\nport_base: 11000\n`);
    assertInsertionOnly(before, after, ', 7');
  });

  it('fills an empty flow list', () => {
    const before = `${MESH}retired_ids: []\n`;
    assert.equal(retireIdText(before, 4), `${MESH}retired_ids: [4]\n`);
  });

  it('follows the separator style of a compact list', () => {
    assert.equal(retireIdText('name: x\nretired_ids: [1,2]\n', 9), 'name: x\nretired_ids: [1,2,9]\n');
  });

  it('adds an item line to a block list with the same indentation, after comments between items', () => {
    const before = `${MESH}retired_ids:\n    - 3   # hq-old\n    # a note\n    - 5\n\nssh:\n  user: admin\n`;
    const after = retireIdText(before, 8);
    assert.equal(
      after,
      `${MESH}retired_ids:\n    - 3   # hq-old\n    # a note\n    - 5\n    - 8\n\nssh:\n  user: admin\n`,
    );
    assertInsertionOnly(before, after, '    - 8\n');
  });

  it('handles a block list at the end of a file without a final newline', () => {
    const before = 'name: x\nretired_ids:\n- 2';
    const after = retireIdText(before, 6);
    assert.equal(after, 'name: x\nretired_ids:\n- 2\n- 6');
    assert.deepEqual((yaml.load(after) as { retired_ids: number[] }).retired_ids, [2, 6]);
  });

  it('gives an empty key a list right after its colon, keeping its comment', () => {
    const before = 'name: x\nretired_ids:   # none yet\nport_base: 12000\n';
    const after = retireIdText(before, 2);
    assert.equal(after, 'name: x\nretired_ids: [2]   # none yet\nport_base: 12000\n');
  });

  it('appends the key (with a comment) when mesh.yml has none, adding a missing final newline first', () => {
    const before = 'name: corp\n# trailing comment';
    const after = retireIdText(before, 3);
    assert.ok(after.startsWith(`${before}\n`), 'the original bytes come first, unchanged');
    assert.match(after.slice(before.length), /^\n# .*\nretired_ids: \[3\]\n$/);
    assert.deepEqual(yaml.load(after), { name: 'corp', retired_ids: [3] });
  });

  it('keeps CRLF line endings', () => {
    const before = 'name: x\r\nretired_ids:\r\n  - 1\r\nport_base: 11000\r\n';
    assert.equal(
      retireIdText(before, 2),
      'name: x\r\nretired_ids:\r\n  - 1\r\n  - 2\r\nport_base: 11000\r\n',
    );
    const flow = 'name: x\r\n';
    assert.equal(
      retireIdText(flow, 2),
      'name: x\r\n# LAN ids of removed LANs: never given out again (meshctl remove-lan appends)\r\nretired_ids: [2]\r\n',
    );
  });

  it('changes nothing when the id is retired already (a re-run)', () => {
    const before = `${MESH}retired_ids: [3, 7]\n`;
    assert.equal(retireIdText(before, 7), before);
  });

  it('finds the top-level key only, not one inside a comment or a nested mapping', () => {
    const before = '# retired_ids: [1]\nname: x\nother:\n  retired_ids: [1]\n';
    const after = retireIdText(before, 4);
    assert.ok(after.startsWith(before));
    assert.deepEqual((yaml.load(after) as Record<string, unknown>).retired_ids, [4]);
  });

  it('refuses (writes nothing) when a minimal edit cannot be proven right', () => {
    assert.throws(() => retireIdText('name: x\nretired_ids: [1, # one\n]\n', 2), RetireEditError);
    assert.throws(() => retireIdText('name: x\nretired_ids: 5\n', 2), /not a list/);
    assert.throws(() => retireIdText('name: [x\n', 2), /not valid YAML/);
  });
});
