import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import yaml from 'js-yaml';
import {
  AliasRefused,
  loadWithNodes,
  syntaxErrorOf,
  type YamlNode,
} from '../../../src/inventory/yaml-internals.js';

/**
 * Pins what meshctl relies on in js-yaml beyond `load()`'s data (the numbered list in yaml-internals.ts). When
 * one of these fails after a js-yaml upgrade, line numbers or the anchor refusal would have broken silently:
 * adapt yaml-internals.ts, not the expectations. The line numbers built on these offsets are pinned in
 * line-index.test.ts, the retired_ids edit on its block, flow and empty forms in retire-id.test.ts.
 */

function rootOf(text: string): YamlNode {
  const { root } = loadWithNodes(text);
  assert.ok(root, 'a node for the document');
  return root;
}

function entry(node: YamlNode, key: string): { keyStart: number; value: YamlNode } {
  const found = node.entries.find((e) => e.key === key);
  assert.ok(found, `entry ${key} among ${node.entries.map((e) => e.key).join(', ')}`);
  return found;
}

/** A node's source text; js-yaml may end a plain scalar after its trailing blanks (LineIndex trims them). */
const written = (text: string, node: YamlNode | undefined) =>
  node ? text.slice(node.start, node.end).trimEnd() : node;

function refusal(text: string): AliasRefused {
  try {
    loadWithNodes(text);
  } catch (e) {
    if (e instanceof AliasRefused) return e;
    throw e;
  }
  assert.fail(`${JSON.stringify(text)} was not refused`);
}

describe('js-yaml as meshctl relies on it (yaml-internals)', () => {
  describe('node start and end offsets', () => {
    it('starts a node after its separating blanks and comments, at its tag when it has one', () => {
      const text = 'a:   # why\n\n  value\nb: !!str tagged\n';
      const root = rootOf(text);
      assert.equal(entry(root, 'a').value.start, text.indexOf('value'));
      assert.equal(entry(root, 'b').value.start, text.indexOf('!!str'));
      assert.equal(root.start, 0);
    });

    it('ends a scalar after its text (and blanks), before a trailing comment', () => {
      const text = 'id: 1.0   # decimal\nname: "corp"  # quoted\nport: 0x16\n';
      const root = rootOf(text);
      assert.equal(written(text, entry(root, 'id').value), '1.0');
      assert.equal(written(text, entry(root, 'name').value), '"corp"');
      assert.equal(written(text, entry(root, 'port').value), '0x16');
    });

    it('spans a flow collection from its opening to its closing bracket', () => {
      const text = 'keepalive: [10,\n  60]   # seconds\nssh: { user: admin }\n';
      const root = rootOf(text);
      assert.equal(written(text, entry(root, 'keepalive').value), '[10,\n  60]');
      assert.equal(written(text, entry(root, 'ssh').value), '{ user: admin }');
    });

    it('starts a block collection at its first key or dash', () => {
      const text = 'gateway:\n  endpoint: gw\nsubnets:\n  - 10.1.0.0/16\n';
      const root = rootOf(text);
      assert.equal(entry(root, 'gateway').value.start, text.indexOf('endpoint'));
      assert.equal(entry(root, 'subnets').value.start, text.indexOf('- 10.1'));
    });
  });

  describe('keys and sequence items', () => {
    it('pairs block mapping keys with their values, each key at its own offset', () => {
      const text = 'name: corp\nssh:\n  user: root\n  port: 22\nempty:\nlast: 1\n';
      const root = rootOf(text);
      assert.deepEqual(
        root.entries.map((e) => [e.key, e.keyStart, e.value.kind]),
        [
          ['name', 0, 'scalar'],
          ['ssh', text.indexOf('ssh'), 'mapping'],
          ['empty', text.indexOf('empty'), null],
          ['last', text.indexOf('last'), 'scalar'],
        ],
      );
      const ssh = entry(root, 'ssh').value;
      assert.deepEqual(
        ssh.entries.map((e) => [e.key, e.keyStart, written(text, e.value)]),
        [
          ['user', text.indexOf('user'), 'root'],
          ['port', text.indexOf('port'), '22'],
        ],
      );
    });

    it('pairs flow mapping keys with their values across lines', () => {
      const text = 'ssh: { user: admin,\n       port: 22 }\n';
      const ssh = entry(rootOf(text), 'ssh').value;
      assert.deepEqual(
        ssh.entries.map((e) => [e.key, e.keyStart, written(text, e.value)]),
        [
          ['user', text.indexOf('user'), 'admin'],
          ['port', text.indexOf('port'), '22'],
        ],
      );
    });

    it('gives each block item its node, and none to an empty `-` entry', () => {
      const text = 'list:\n  -\n  - b   # second\n  - [c]\n';
      const list = entry(rootOf(text), 'list').value;
      assert.deepEqual(list.result, [null, 'b', ['c']]);
      assert.deepEqual(
        list.items.map((item) => written(text, item)),
        [undefined, 'b', '[c]'],
      );
    });

    it('gives each flow item its node, across lines', () => {
      const text = 'keepalive: [10,\n    60]\n';
      const keepalive = entry(rootOf(text), 'keepalive').value;
      assert.deepEqual(
        keepalive.items.map((item) => item && [item.start, written(text, item)]),
        [
          [text.indexOf('10'), '10'],
          [text.indexOf('60'), '60'],
        ],
      );
    });

    it('reports an empty document without a value to point at', () => {
      const { data, root } = loadWithNodes('# only a comment\n');
      assert.equal(data ?? null, null);
      assert.ok(root === undefined || root.result === null || root.result === undefined);
    });
  });

  describe('anchors and aliases, refused at the node that carries them, before anything is expanded', () => {
    const anchors: [string, string, string][] = [
      ['on a scalar', 'name: &n corp\n', '&n'],
      ['on a flow mapping', 'name: corp\nssh: &s { user: root }\nopenvpn: *s\n', '&s'],
      ['on a block mapping', 'ssh: &s\n  user: root\n', '&s'],
      ['on a key', '&k key: v\n', '&k'],
      ['after a tag (reported at the tag)', 'name: !!str &n corp\n', '!!str'],
      ['right after a verbatim tag', 'name: !<tag:yaml.org,2002:str>&n corp\n', '!<'],
      ['on a sequence item', 'subnets:\n  - &i 10.1.0.0/16\n', '&i'],
      ['on an empty value', 'empty: &e\nnext: 1\n', '&e'],
      ['in a flow sequence', 'keepalive: [&f 10, 60]\n', '&f'],
    ];
    for (const [where, text, at] of anchors) {
      it(`an anchor ${where}`, () => {
        const refused = refusal(text);
        assert.equal(refused.kind, 'anchor');
        assert.equal(refused.offset, text.indexOf(at));
      });
    }

    it('an alias inside its own anchor closes first, so it is refused as an alias', () => {
      const text = 'loop: &a [*a]\n';
      const refused = refusal(text);
      assert.equal(refused.kind, 'alias');
      assert.equal(refused.offset, text.indexOf('*a'));
    });

    it('leaves an anchor on a wrongly indented line to js-yaml: the empty value before it ends where it starts', () => {
      assert.throws(() => loadWithNodes('ssh:\n  user:\n &x  port: 22\n'), yaml.YAMLException);
    });

    it('does not mistake `&` or `*` inside a value for an anchor or alias', () => {
      const text = 'name: "&x"\nnote: a&b *c\nlist: ["*"]\n';
      assert.deepEqual(loadWithNodes(text).data, { name: '&x', note: 'a&b *c', list: ['*'] });
    });
  });

  describe('syntax errors', () => {
    function syntaxError(text: string) {
      try {
        loadWithNodes(text);
      } catch (e) {
        const syntax = syntaxErrorOf(e);
        assert.ok(syntax, String(e));
        return syntax;
      }
      assert.fail(`${JSON.stringify(text)} parsed`);
    }

    it('places an error at its line and column, counted from 1', () => {
      assert.deepEqual(syntaxError('a:\n  b: 1\n c: 2\n'), {
        reason: 'bad indentation of a mapping entry',
        line: 3,
        column: 2,
        duplicateKey: false,
      });
    });

    it('tells a key given twice apart, at the line of the second one', () => {
      assert.deepEqual(
        ['name: a\nport: 1\nname: b\n', 'ssh:\n  user: a\n  user: b\n', '{a: 1, a: 2}\n'].map((text) => {
          const { duplicateKey, line } = syntaxError(text);
          return { duplicateKey, line };
        }),
        [
          { duplicateKey: true, line: 3 },
          { duplicateKey: true, line: 3 },
          { duplicateKey: true, line: 1 },
        ],
      );
    });

    it('is undefined for anything but a YAML syntax error', () => {
      assert.equal(syntaxErrorOf(new Error('x')), undefined);
      assert.equal(syntaxErrorOf(new AliasRefused('anchor', 0)), undefined);
    });
  });

  describe('load() data the retired_ids edit compares with', () => {
    it('reads block, flow and empty retired_ids as plain objects, arrays of numbers and null', () => {
      const block = yaml.load('name: x\nretired_ids:\n  - 3   # hq-old\n  # a note\n  - 5\n');
      const flow = yaml.load('name: x\nretired_ids: [3, 5]   # old offices\n');
      const empty = yaml.load('name: x\nretired_ids:   # none yet\n');
      const expected = { ...{ name: 'x' }, retired_ids: [...[3], 5] };
      assert.ok(isDeepStrictEqual(block, expected), JSON.stringify(block));
      assert.ok(isDeepStrictEqual(flow, expected), JSON.stringify(flow));
      assert.ok(isDeepStrictEqual(empty, { name: 'x', retired_ids: null }), JSON.stringify(empty));
    });
  });
});
