import {
  Context,
  Drop,
  evalToken as evalTokenOf,
  ForTag,
  IfTag,
  isTruthy,
  type Liquid,
  LiquidError,
  Output,
  RenderError,
  type Template,
  TypeGuards,
  toValue,
  toValueSync,
  UnlessTag,
} from 'liquidjs';

/**
 * A synchronous walker over liquidjs's own parsed templates, giving the same output as `engine.renderSync`.
 *
 * liquidjs renders through nested generators (every node, expression, filter and property read is one), which
 * costs far more than the text it writes when a mesh renders tens of thousands of files. This walker handles the
 * nodes meshctl's roles are made of — text, `{{ output | filters }}`, `for` (without limit/offset/reversed), `if`
 * and `unless` — with plain calls, reads variables through liquidjs's own `Context.readProperty` and applies
 * liquidjs's own operators and filters. Everything else (another tag, a unary operator, a range, a computed path,
 * a missing variable) is handed to liquidjs itself, node by node, so an operator's copy of roles/ may use any tag and still renders exactly as before: the fast path
 * only ever decides *when* liquidjs is asked, never *what* a template means.
 *
 * It assumes the engine options template.ts sets: no keepOutputType, catchAllErrors, renderLimit or
 * memoryLimit (the walker does not apply them). test/unit/render/liquid-sync.test.ts compares it with liquidjs
 * (renderSync and the async render), the tags it hands over (increment, decrement, cycle, tablerow, …) included.
 */

type Emit = { write(html: unknown): void; append(text: string): void };
type Render = (ctx: Context, emitter: Emit) => void;
type Eval = (ctx: Context, lenient: boolean) => unknown;

/** The parts of liquidjs's parsed nodes the walker reads (public fields, not all of them in its typings). */
interface TokenLike {
  content?: unknown;
  variable?: TokenLike;
  props?: TokenLike[];
  operator?: string;
}
interface FilterLike {
  name: string;
  handler: (...args: unknown[]) => unknown;
  args: (TokenLike | [string, TokenLike])[];
  token: unknown;
  liquid: Liquid;
}
interface ValueLike {
  initial: { postfix: TokenLike[]; evaluate(ctx: Context, lenient: boolean): unknown };
  filters: FilterLike[];
}
interface Branch {
  value: ValueLike;
  test?: (value: unknown, ctx: Context) => boolean;
  templates: Template[];
}

const BINARY = new Set(['==', '!=', '>', '<', '>=', '<=', 'contains', 'and', 'or']);

const compiled = new WeakMap<Template[], Render>();

/**
 * Renders parsed templates in a fresh context, as `engine.renderSync(templates, scope, { globals })` does: a
 * variable of `scope` wins over one of `globals`.
 */
export function renderParsedSync(
  engine: Liquid,
  templates: Template[],
  scope: object,
  globals: object = {},
): string {
  let render = compiled.get(templates);
  if (!render) {
    render = compileList(templates);
    compiled.set(templates, render);
  }
  const ctx = new Context(scope, engine.options, { sync: true, globals }, { liquid: engine });
  const emitter = new ChunkEmitter();
  render(ctx, emitter);
  return emitter.text();
}

/** Characters an emitter gathers before it sets them aside as one flat string. */
const CHUNK = 4000;

/**
 * liquidjs's SimpleEmitter (everything written, in order), holding the text compactly. Appending to a string piece
 * by piece makes a chain of every piece written (an object per piece, tens of thousands for a 200 kB file),
 * flattened only when the text is read. The pieces are listed instead, joined every few kB into one flat string
 * (small enough to die young), and those strings are joined once at the end: no large temporary string or list.
 */
class ChunkEmitter implements Emit {
  private readonly pieces: string[] = [];
  private size = 0;
  private readonly chunks: string[] = [];

  write(html: unknown): void {
    this.append(stringify(html));
  }

  append(text: string): void {
    this.pieces.push(text);
    this.size += text.length;
    if (this.size >= CHUNK) this.flush();
  }

  text(): string {
    if (this.chunks.length === 0) return compact(this.pieces.join(''));
    if (this.pieces.length > 0) this.flush();
    return this.chunks.join('');
  }

  private flush(): void {
    this.chunks.push(compact(this.pieces.join('')));
    this.pieces.length = 0;
    this.size = 0;
  }
}

/**
 * A text as one flat string, in one byte per character when it is plain ASCII (every shipped template's output):
 * the bytes spell the same text. A piece V8 holds in two-byte form although its characters fit in one (a name that
 * became a property key elsewhere is one) would otherwise make the whole file two bytes per character.
 */
function compact(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  return bytes.length === text.length ? bytes.toString('latin1') : text;
}

/** liquidjs's `stringify`. */
function stringify(value: unknown): string {
  const v = toValue(value);
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.map((x) => stringify(x)).join('');
  return String(v);
}

/** liquidjs's `Render.renderTemplates`: stops at break/continue, wraps a non-liquid error with its node. */
function compileList(templates: Template[]): Render {
  const nodes = templates.map((tpl) => ({ tpl, render: compileNode(tpl) }));
  return (ctx, emitter) => {
    for (const { tpl, render } of nodes) {
      try {
        render(ctx, emitter);
      } catch (error) {
        throw LiquidError.is(error) ? error : new RenderError(error as Error, tpl);
      }
      if (ctx.breakCalled || ctx.continueCalled) break;
    }
  };
}

function compileNode(tpl: Template): Render {
  const node = tpl as unknown as Record<string, unknown>;
  if (TypeGuards.isHTMLToken(tpl.token) && typeof node.str === 'string') {
    const text = node.str;
    return (_ctx, emitter) => emitter.append(text);
  }
  if (tpl.constructor === Output) {
    const value = compileValue(node.value as ValueLike);
    return (ctx, emitter) => emitter.write(toValue(value(ctx, false)));
  }
  if (tpl.constructor === ForTag && Object.keys((node.hash as { hash: object }).hash).length === 0) {
    return compileFor(node);
  }
  if (tpl.constructor === IfTag || tpl.constructor === UnlessTag) {
    const branches = (node.branches as Branch[]).map((b) => ({
      value: compileValue(b.value),
      test: b.test ?? isTruthy,
      render: compileList(b.templates),
    }));
    const otherwise = compileList((node.elseTemplates as Template[] | undefined) ?? []);
    return (ctx, emitter) => {
      for (const branch of branches) {
        if (branch.test(toValue(branch.value(ctx, ctx.opts.lenientIf)), ctx)) {
          branch.render(ctx, emitter);
          return;
        }
      }
      otherwise(ctx, emitter);
    };
  }
  // any other node: liquidjs renders it, exactly as its renderTemplates would
  return (ctx, emitter) => {
    const html = toValueSync(tpl.render(ctx, emitter as never));
    if (html) emitter.write(html);
  };
}

function compileFor(node: Record<string, unknown>): Render {
  const variable = node.variable as string;
  const collectionToken = node.collection as TokenLike & { getText(): string };
  const collection = compileToken(collectionToken);
  const name = collectionToken.getText();
  const continueKey = `continue-${variable}-${name}`;
  const body = compileList(node.templates as Template[]);
  const otherwise = compileList(node.elseTemplates as Template[]);
  return (ctx, emitter) => {
    const items = toEnumerable(collection(ctx, false));
    if (!items.length) {
      otherwise(ctx, emitter);
      return;
    }
    ctx.setRegister(continueKey, items.length);
    const forloop = new ForloopDrop(items.length, name, variable);
    const scope: Record<string, unknown> = Object.create(null);
    scope.forloop = forloop;
    ctx.push(scope);
    for (const item of items) {
      scope[variable] = item;
      ctx.continueCalled = ctx.breakCalled = false;
      body(ctx, emitter);
      if (ctx.breakCalled) break;
      forloop.next();
    }
    ctx.continueCalled = ctx.breakCalled = false;
    ctx.pop();
  };
}

/** liquidjs's `toEnumerable`. */
function toEnumerable(value: unknown): unknown[] {
  const v = toValue(value);
  if (Array.isArray(v)) return v;
  if (typeof v === 'string' && v.length > 0) return [v];
  if (v !== null && (typeof v === 'object' || typeof v === 'function')) {
    if (Symbol.iterator in v) return Array.from(v as Iterable<unknown>);
    return Object.keys(v).map((key) => [key, (v as Record<string, unknown>)[key]]);
  }
  return [];
}

/** liquidjs's `forloop` object (the same members and the same text). */
class ForloopDrop extends Drop {
  i = 0;
  length: number;
  name: string;
  constructor(length: number, collection: string, variable: string) {
    super();
    this.length = length;
    this.name = `${variable}-${collection}`;
  }
  next() {
    this.i++;
  }
  index0() {
    return this.i;
  }
  index() {
    return this.i + 1;
  }
  first() {
    return this.i === 0;
  }
  last() {
    return this.i === this.length - 1;
  }
  rindex() {
    return this.length - this.i;
  }
  rindex0() {
    return this.length - this.i - 1;
  }
  override valueOf() {
    return JSON.stringify(this);
  }
}

/** liquidjs's `Value.value`: the expression, then each filter. */
function compileValue(value: ValueLike): Eval {
  const initial = compileExpression(value.initial);
  const filters = value.filters.map(compileFilter);
  const defaultFirst = value.filters.length > 0 && value.filters[0].name === 'default';
  if (filters.length === 0) return initial;
  return (ctx, lenient) => {
    let v = initial(ctx, lenient || (ctx.opts.lenientIf && defaultFirst));
    for (const filter of filters) v = filter(v, ctx);
    return v;
  };
}

function compileFilter(filter: FilterLike): (value: unknown, ctx: Context) => unknown {
  const args = filter.args.map((arg) => {
    if (Array.isArray(arg)) {
      const [key, token] = arg;
      const value = compileToken(token);
      return (ctx: Context) => [key, value(ctx, false)];
    }
    const value = compileToken(arg);
    return (ctx: Context) => value(ctx, false);
  });
  return (value, ctx) => {
    const argv = args.map((arg) => arg(ctx));
    const self = { context: ctx, token: filter.token, liquid: filter.liquid };
    return toValueSync(filter.handler.apply(self, [value, ...argv]));
  };
}

/** liquidjs's `Expression.evaluate` for a single operand or binary operators; anything else goes to liquidjs. */
function compileExpression(expression: ValueLike['initial']): Eval {
  const postfix = expression.postfix;
  if (postfix.length === 1 && postfix[0].operator === undefined) return compileToken(postfix[0]);
  const steps: ({ op: string } | { operand: Eval })[] = [];
  for (const token of postfix) {
    if (token.operator !== undefined) {
      if (!BINARY.has(token.operator))
        return (ctx, lenient) => toValueSync(expression.evaluate(ctx, lenient));
      steps.push({ op: token.operator });
    } else {
      steps.push({ operand: compileToken(token) });
    }
  }
  return (ctx, lenient) => {
    const operands: unknown[] = [];
    for (const step of steps) {
      if ('op' in step) {
        const r = operands.pop();
        const l = operands.pop();
        const operator = ctx.opts.operators[step.op] as (l: unknown, r: unknown, ctx: Context) => unknown;
        operands.push(toValueSync(operator(l, r, ctx)));
      } else {
        operands.push(step.operand(ctx, lenient));
      }
    }
    return operands[0];
  };
}

/**
 * liquidjs's `evalToken`: a literal's content, or a variable path (`a.b.c`) read with the context's own
 * `readProperty`. A path that is undefined somewhere, or one with computed parts, is evaluated by liquidjs, so
 * strict-variable errors and lenient `if`s stay liquidjs's.
 */
function compileToken(token: TokenLike): Eval {
  const slow: Eval = (ctx, lenient) =>
    toValueSync(evalTokenOf(token as Parameters<typeof evalTokenOf>[0], ctx, lenient));
  if ('content' in token) {
    const content = token.content;
    return () => content;
  }
  if (!TypeGuards.isPropertyAccessToken(token as never)) return slow;
  const props = token.props ?? [];
  if (token.variable !== undefined || props.length === 0 || !props.every((p) => 'content' in p)) return slow;
  const keys = props.map((p) => toValue(p.content)) as string[];
  const first = keys[0];
  return (ctx, lenient) => {
    const reader = ctx as unknown as ScopeReader;
    let scope: unknown = reader.findScope(first);
    for (const key of keys) {
      scope = reader.readProperty(scope, key);
      if (scope !== null && typeof scope === 'object' && isIterator(scope)) scope = toValueSync(scope);
      if (scope === undefined && ctx.strictVariables) return slow(ctx, lenient);
    }
    return scope;
  };
}

/** `findScope` is private in liquidjs's typings, `readProperty` is typed for scopes only: both are plain methods. */
interface ScopeReader {
  findScope(key: string): unknown;
  readProperty(obj: unknown, key: string): unknown;
}

function isIterator(value: object): boolean {
  const v = value as Record<string, unknown>;
  return typeof v.next === 'function' && typeof v.throw === 'function' && typeof v.return === 'function';
}
