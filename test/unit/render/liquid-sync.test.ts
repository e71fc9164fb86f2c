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

type Outcome = { text: string } | { error: string };

const globalsOption = (globals: Record<string, unknown> | undefined) =>
  globals === undefined ? undefined : { globals: structuredClone(globals) };

/**
 * The walker's result, or its error's name and message; the same for liquidjs's renderSync and for its own async
 * render. Each gets a fresh copy of the scope: `increment` and `decrement` write their counters into it.
 */
async function all(
  text: string,
  scope: Record<string, unknown>,
  partials: Record<string, string> = {},
  globals?: Record<string, unknown>,
) {
  const liquid = engine(partials);
  const parsed = liquid.parse(text);
  const outcome = async (fn: (scope: Record<string, unknown>) => unknown): Promise<Outcome> => {
    try {
      return { text: String(await fn(structuredClone(scope))) };
    } catch (error) {
      return { error: `${(error as Error).name}: ${(error as Error).message}` };
    }
  };
  return {
    fast: await outcome((copy) =>
      renderParsedSync(liquid, parsed, copy, globals && structuredClone(globals)),
    ),
    liquidjs: await outcome((copy) => liquid.renderSync(parsed, copy, globalsOption(globals))),
    async: await outcome((copy) => liquid.render(parsed, copy, globalsOption(globals))),
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
  set: new Set(['s1', 's2']),
  jsmap: new Map([
    ['m1', 1],
    ['m2', 2],
  ]),
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
    [
      'every forloop member, and forloop itself',
      '{% for i in items %}{{ forloop.rindex }}{{ forloop.rindex0 }}{{ forloop.name }}{{ forloop.index0 }};{% endfor %}{% for i in empty %}{% else %}{% endfor %}{% for t in words %}{{ forloop }}{% endfor %}',
    ],
    [
      'for over text, a number, nil, a Set and a Map',
      '{% for c in words %}[{{ c }}]{% endfor %}{% for x in items.size %}n{% else %}no-number{% endfor %}{% for x in nothing %}{% else %}no-nil{% endfor %}{% for x in set %}{{ x }}{% endfor %}{% for e in jsmap %}{{ e[0] }}{{ e[1] }}{% endfor %}',
    ],
    [
      'a loop variable shadows a variable while the loop runs',
      '{% for name in items %}{{ name.name }}{% endfor %}{{ name }}{% for i in items %}{% assign last = i.name %}{% endfor %}{{ last }}',
    ],
    ['a loop variable is undefined after its loop', '{% for i in items %}{% endfor %}{{ i }}'],
    [
      'output of lists, objects, booleans, numbers',
      '{{ items | map: "name" }}|{{ map }}|{{ flag }}|{{ off }}|{{ 2.50 }}|{{ 10 | divided_by: 4.0 }}|{{ empty }}',
    ],
    [
      'a filter with keyword arguments',
      '{{ off | default: "d" }}{{ off | default: "d", allow_false: true }}{{ nothing | default: name }}',
    ],
    [
      'operators on lists, nil, empty and blank',
      '{% if items contains map %}a{% endif %}{% if empty == empty %}b{% endif %}{% if empty == blank %}c{% endif %}{% if nothing == blank %}d{% endif %}{% if "" == empty %}e{% endif %}{% if items.size >= 3 and items.size <= 3 %}f{% endif %}{% if name != "x" %}g{% endif %}{% if flag and off or flag and flag %}h{% endif %}',
    ],
    ['unless with elsif', '{% unless flag %}a{% elsif off %}b{% elsif name %}c{% else %}d{% endunless %}'],
    ['an undefined variable in if', '{% if missing %}a{% endif %}'],
    ['an undefined variable in for', '{% for i in missing %}a{% endfor %}'],
  ];
  for (const [title, text] of cases) {
    it(title, async () => {
      const { fast, liquidjs, async } = await all(text, scope, {
        part: '[{{ name }}{% for i in items %}{{ i.n }}{% endfor %}]',
      });
      assert.deepEqual(fast, liquidjs);
      assert.deepEqual(fast, async);
    });
  }
});

describe('render: tags the walker hands to liquidjs render as liquidjs renders them, sync and async', () => {
  const partials = {
    counter: '<{% increment n %}{% increment n %}>',
    row: '({{ item.name }}{% increment n %})',
  };
  const globals = { site: 'defaults', n: 40, level: 3 };
  const cases: [string, string][] = [
    [
      'increment from nothing, and the counter read back',
      '{% increment n %}{% increment n %}{% increment n %}|{{ n }}',
    ],
    [
      'decrement from nothing, below zero',
      '{% decrement d %}{% decrement d %}|{{ d }}|{% increment d %}{{ d }}',
    ],
    [
      'increment and decrement share one counter',
      '{% increment c %}{% increment c %}{% decrement c %}{% increment c %}|{{ c }}',
    ],
    [
      'increment of a number the scope already holds',
      '{% increment count %}{% increment count %}{{ count }}',
    ],
    ['increment of a name the scope holds as text', '{% increment name %}{% increment name %}{{ name }}'],
    [
      'increment counters and assign are separate',
      '{% assign x = 10 %}{% increment x %}{% increment x %}{{ x }}|{% decrement y %}{% assign y = "s" %}{{ y }}{% increment y %}',
    ],
    [
      "increment inside the walker's for, if and unless",
      '{% for i in items %}{% increment k %}{% if i.n > 1 %}{% increment k %}{% endif %}{% unless flag %}x{% endunless %}{% endfor %}|{{ k }}|{% for i in empty %}{% increment k %}{% else %}{% decrement k %}{% endfor %}{{ k }}',
    ],
    [
      'increment in a for the walker does not handle (limit), then in one it does',
      '{% for i in items limit: 2 %}{% increment k %}{% endfor %}{% for i in items %}{% increment k %}{% endfor %}{{ k }}',
    ],
    [
      'increment breaks out with break and continue',
      '{% for i in items %}{% increment k %}{% if i.n == 2 %}{% break %}{% endif %}{% increment k %}{% endfor %}{{ k }}',
    ],
    [
      'a counter shared with an include; render has its own scope',
      '{% include "counter" %}{{ n }}{% render "counter" %}{% include "counter" %}|{{ n }}',
    ],
    ['a counter in a render for each item', '{% render "row" for items as item %}|{% increment n %}'],
    [
      'a variable only in globals (defaults.yml): the counter starts at 0 and shadows it',
      '{{ n }}|{% increment n %}{% increment n %}{{ n }}|{% decrement level %}{{ level }}|{{ site }}',
    ],
    [
      "cycle, inside the walker's for, with and without a group",
      '{% for i in items %}{% cycle "a", "b" %}{% cycle "g": 1, 2 %}{% cycle "a", "b" %}{% endfor %}|{% cycle 0, 1 %}{% cycle 0, 1 %}',
    ],
    [
      'tablerow with cols and its loop object',
      '{% tablerow i in items cols: 2 %}{{ i.name }}{{ tablerowloop.col }}{% increment k %}{% endtablerow %}|{{ k }}',
    ],
    [
      'offset: continue after a for the walker ran',
      '{% for i in items %}{% if i.n == 2 %}{% break %}{% endif %}{{ i.name }}{% endfor %}|{% for i in items offset: continue %}{{ i.name }}{% endfor %}',
    ],
    [
      'echo, liquid, raw, comment',
      '{% echo name | upcase %}{% liquid\nincrement k\necho k\nassign z = 5\n%}{{ z }}{% raw %}{{ name }}{% endraw %}{% comment %}{{ name }}{% endcomment %}{% # inline %}!',
    ],
    [
      'capture holding a counter',
      '{% capture c %}{% increment k %}{% increment k %}{% endcapture %}[{{ c }}]{{ k }}',
    ],
    ['case with a counter', '{% increment k %}{% case k %}{% when 1 %}one{% else %}other{% endcase %}'],
  ];
  const scope = {
    name: 'branch',
    count: 7,
    flag: true,
    empty: [],
    items: [
      { name: 'a', n: 1 },
      { name: 'b', n: 2 },
      { name: 'c', n: 3 },
    ],
  };
  for (const [title, text] of cases) {
    it(title, async () => {
      const { fast, liquidjs, async } = await all(text, scope, partials, globals);
      assert.ok('text' in async, `liquidjs refused the case itself: ${JSON.stringify(async)}`);
      assert.deepEqual(fast, async);
      assert.deepEqual(fast, liquidjs);
    });
  }

  it("increment writes into the scope it is given (template.ts passes a copy), as liquidjs's does", () => {
    const liquid = engine();
    const parsed = liquid.parse('{% increment k %}{% decrement d %}');
    const mine: Record<string, unknown> = {};
    const theirs: Record<string, unknown> = {};
    renderParsedSync(liquid, parsed, mine);
    liquid.renderSync(parsed, theirs);
    assert.deepEqual(mine, theirs);
    assert.deepEqual(mine, { k: 1, d: -1 });
  });
});
