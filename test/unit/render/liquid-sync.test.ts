import assert from 'node:assert/strict';
import { Liquid } from 'liquidjs';
import { renderParsedSync } from '../../../src/render/liquid-sync.js';

// The options template.ts renders with.
function engine(templates: Record<string, string> = {}): Liquid {
  return new Liquid({
    strictVariables: true,
    strictFilters: true,
    ownPropertyOnly: true,
    greedy: false,
    templates,
  });
}

/** The walker's result, or its error's name and message; the same for liquidjs's renderSync. */
function both(text: string, scope: Record<string, unknown>, partials: Record<string, string> = {}) {
  const liquid = engine(partials);
  const parsed = liquid.parse(text);
  const outcome = (fn: () => unknown) => {
    try {
      return { text: String(fn()) };
    } catch (error) {
      return { error: `${(error as Error).name}: ${(error as Error).message}` };
    }
  };
  return {
    fast: outcome(() => renderParsedSync(liquid, parsed, scope)),
    liquidjs: outcome(() => liquid.renderSync(parsed, scope)),
  };
}

const scope = {
  name: 'branch',
  empty: [],
  items: [
    { name: 'a', n: 1, tags: ['x', 'y'] },
    { name: 'b', n: 2, tags: [] },
    { name: 'c', n: 3, tags: ['z'] },
  ],
  map: { k1: 'v1', k2: 'v2' },
  flag: true,
  off: false,
  nothing: null,
  words: 'alpha beta',
};

describe('render: the synchronous walker renders exactly what liquidjs renders', () => {
  // the shipped roles are covered by the golden tests; these are the constructs an operator's copy may use
  const cases: [string, string][] = [
    ['text and output', 'a {{ name }} b {{ name | upcase }} {{ items.size }} {{ items.first.name }}'],
    [
      'filters with arguments',
      '{{ items | map: "name" | join: ", " }} {{ 3 | times: 5 }} {{ words | split: " " | last }}',
    ],
    [
      'nested for with forloop',
      '{% for i in items %}{{ forloop.index }}/{{ forloop.length }}{% if forloop.first %}F{% endif %}{% if forloop.last %}L{% endif %}:{% for t in i.tags %}{{ t }}{{ forloop.index0 }}{% endfor %};{% endfor %}',
    ],
    ['for else', '{% for i in empty %}x{% else %}none{% endfor %}'],
    ['for over a map', '{% for pair in map %}{{ pair[0] }}={{ pair[1] }} {% endfor %}'],
    [
      'for with limit, offset, reversed',
      '{% for i in items limit: 2 offset: 1 %}{{ i.name }}{% endfor %}|{% for i in items reversed %}{{ i.name }}{% endfor %}',
    ],
    ['for over a range', '{% for i in (1..4) %}{{ i }}{% endfor %}'],
    [
      'break and continue',
      '{% for i in items %}{% if i.n == 2 %}{% continue %}{% endif %}{{ i.name }}{% if i.n == 3 %}{% break %}{% endif %}{% endfor %}',
    ],
    [
      'if, elsif, else, operators',
      '{% if off %}a{% elsif items.size > 2 and flag %}b{% else %}c{% endif %}{% if name == "branch" or off %}d{% endif %}{% if words contains "beta" %}e{% endif %}',
    ],
    ['unless with else', '{% unless flag %}a{% else %}b{% endunless %}{% unless off %}c{% endunless %}'],
    [
      'assign, capture, case',
      '{% assign x = items | size %}{% capture y %}[{{ x }}]{% endcapture %}{{ y }}{% case name %}{% when "branch" %}B{% else %}O{% endcase %}',
    ],
    ['whitespace control', '{%- for i in items -%}\n  {{ i.name }}\n{%- endfor %}\n'],
    [
      'nil and literals',
      '[{{ nothing }}][{{ nil }}][{{ true }}][{{ "q" }}][{{ 1.5 }}]{% if nothing == nil %}n{% endif %}{% if empty == empty %}e{% endif %}',
    ],
    [
      'bracket and computed access',
      '{{ map["k1"] }} {{ items[1].name }} {% assign k = "k2" %}{{ map[k] }} {{ items[-1].name }}',
    ],
    ['an undefined variable', '{{ name }} {{ missing.thing }}'],
    ['an undefined property', '{% for i in items %}{{ i.nope }}{% endfor %}'],
    ['a failing filter', '{{ name | date: 5 | divided_by: 0 }}'],
    ['an include', 'A{% include "part" %}B'],
  ];
  for (const [title, text] of cases) {
    it(title, () => {
      const { fast, liquidjs } = both(text, scope, {
        part: '[{{ name }}{% for i in items %}{{ i.n }}{% endfor %}]',
      });
      assert.deepEqual(fast, liquidjs);
    });
  }
});
