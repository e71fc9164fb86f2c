/**
 * The one place a remote command line is built from an argument array (SPEC §6): every argument is quoted for
 * POSIX sh, so the remote shell sees exactly the strings the caller passed — no expansion, no word splitting,
 * no globbing, no command substitution.
 */

/** Characters no POSIX shell gives a meaning to inside a word: such arguments may stay bare (readable logs). */
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * Words the shell parses specially only as the first word of a command: reserved words, and `NAME=value`
 * (an assignment, not a command). Quoting them keeps them a plain command name.
 */
const RESERVED_WORDS = new Set([
  'case',
  'do',
  'done',
  'elif',
  'else',
  'esac',
  'fi',
  'for',
  'function',
  'if',
  'in',
  'select',
  'then',
  'time',
  'until',
  'while',
]);

function needsQuotingAsCommandName(word: string): boolean {
  return RESERVED_WORDS.has(word) || word.includes('=');
}

/** Single-quote one word: inside '…' nothing is special except `'` itself, written as `'\''`. */
function singleQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * Quote an argument array into one POSIX sh command line.
 * Throws on a NUL byte: no C string (argv, environment) can carry one, so the remote side would silently
 * truncate the argument.
 */
export function quote(argv: string[]): string {
  return argv
    .map((word, index) => {
      if (word.includes('\0')) {
        throw new Error(
          `quote: argument ${index} (${JSON.stringify(word.slice(0, 60))}) contains a NUL byte, which no remote ` +
            'command can receive; pass binary data on stdin instead',
        );
      }
      const bare = SAFE_WORD.test(word) && !(index === 0 && needsQuotingAsCommandName(word));
      return bare ? word : singleQuote(word);
    })
    .join(' ');
}
