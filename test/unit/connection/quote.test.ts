import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { quote } from '../../../src/connection/quote.js';

const run = promisify(execFile);

/** What the real local /bin/sh makes of a command line: its arguments, split on NUL. */
async function shellArguments(commandLine: string): Promise<string[]> {
  const { stdout } = await run('/bin/sh', ['-c', `printf '%s\\0' ${commandLine}`], { encoding: 'buffer' });
  const text = stdout.toString('utf8');
  return text === '' ? [] : text.slice(0, -1).split('\0');
}

const NASTY: string[][] = [
  ['plain', 'words', 'only'],
  ["it's", "'", "''", "a'b'c", "'leading", "trailing'"],
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${…} is what the shell must not expand
  ['$(id)', '`id`', '${HOME}', '$HOME', '$((1+1))', '$1', '$@', '$*', '$?', '$$'],
  ['line\nbreak', '\n', 'tab\there', '\r\n', 'vertical\vtab'],
  ['*', '?', '[a-z]*', '/etc/*', '~', '~root', '{a,b}', '!'],
  ['', '', 'empty before'],
  ['-n', '-e', '--', '-', '--help', '-rf'],
  ['héllo', '日本語', '🙂 emoji', 'ü\u0301', 'zero\u200bwidth'],
  [';', '&&', '||', '|', '&', '>', '<', '>>', '2>&1', '(', ')', '{', '}', '#comment', '# x'],
  ['a b', '  leading', 'trailing  ', ' ', '\\', '\\\\', '\\n', '"', '""', '"\'"'],
  ['var=value', 'x=$(id)', 'if', 'then', 'a%b@c+d=e:f,g./h-i_j'],
  ["'\"'\"'", "\\'", "'$(printf %s ')')'"],
];

describe('connection/quote', () => {
  for (const argv of NASTY) {
    it(`round-trips ${JSON.stringify(argv)} through the real /bin/sh`, async () => {
      assert.deepEqual(await shellArguments(quote(argv)), argv);
    });
  }

  it('round-trips every printable ASCII character and control character except NUL', async () => {
    const characters = Array.from({ length: 127 }, (_, code) => String.fromCharCode(code + 1));
    assert.deepEqual(await shellArguments(quote(characters)), characters);
    const joined = [characters.join('')];
    assert.deepEqual(await shellArguments(quote(joined)), joined);
  });

  it('leaves safe words bare and single-quotes the rest', () => {
    assert.equal(
      quote(['systemctl', 'restart', 'openvpn-server@mesh-b.service']),
      'systemctl restart openvpn-server@mesh-b.service',
    );
    assert.equal(quote(['echo', 'a b', "it's", '']), `echo 'a b' 'it'\\''s' ''`);
  });

  it('keeps a first word that looks like an assignment or a reserved word a command name', async () => {
    assert.equal(quote(['x=1', 'y=2']), `'x=1' y=2`);
    assert.equal(quote(['if']), `'if'`);
    // Bare, `x=1 true` would succeed as an assignment; quoted, the shell looks for a command named `x=1`.
    await assert.rejects(run('/bin/sh', ['-c', quote(['x=1', 'true'])]), (error: { code?: number }) => {
      assert.equal(error.code, 127);
      return true;
    });
  });

  it('refuses a NUL byte, naming the argument', () => {
    assert.throws(() => quote(['printf', 'a\0b']), /argument 1 .*NUL byte.*stdin/);
  });
});
