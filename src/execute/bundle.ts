import { posix } from 'node:path';
import { quote } from '../connection/quote.js';
import { isManagedPath, MANAGED_PATHS_RULE, MODES, SYSTEMD_DIR } from '../gateway/layout.js';

/**
 * One round trip per gateway for all its files (ARCHITECTURE rule 5): a POSIX sh script, sent on stdin to
 * `sh -s`, that lands every file atomically (SPEC §6): a temporary file in the same directory, created 0600 by
 * umask, filled, given its mode and owner, fsynced, then renamed over the target. The previous version of each
 * replaced file is kept as a hard link `.meshctl-prev.<name>` so a tunnel that does not come up can be rolled back;
 * `commitScript` drops those links once the run is verified.
 *
 * Content travels base64-encoded inside quoted here-documents, so nothing the file holds is ever interpreted by
 * the shell, and key material never appears in argv. Paths pass through the one quoting function.
 *
 * A run killed mid-transfer cuts the script short, and `sh` runs a here-document cut by end-of-file as if it
 * were complete: each file's byte count travels with it and a short temporary is never renamed into place.
 */

export interface BundleFile {
  path: string;
  content: string | Buffer;
  mode: number;
}

/** The argv that runs a script read from stdin (with `sudo -n` added by the connection when `become`). */
export const SCRIPT_ARGV = ['sh', '-s'];

const TEMP_PREFIX = '.meshctl-tmp.';
const PREV_PREFIX = '.meshctl-prev.';
const DELIMITER = 'MESHCTL_BASE64_END';

/**
 * Every script starts with a line naming what it is, so a log (or a test double of a gateway) can tell the scripts
 * apart without parsing shell. A comment: the shell ignores it.
 */
export type ScriptKind = 'install' | 'restore' | 'widen-rules' | 'commit' | 'remove' | 'sequence';
export const SCRIPT_MARKER = '# meshctl-script: ';

function marker(kind: ScriptKind): string {
  return `${SCRIPT_MARKER}${kind}`;
}

export function backupPath(path: string): string {
  return posix.join(posix.dirname(path), PREV_PREFIX + posix.basename(path));
}

function assertAbsolute(path: string): void {
  if (!posix.isAbsolute(path) || path.split('/').includes('..') || path.includes('\n')) {
    throw new Error(`refusing to manage a non-absolute or escaping path: ${JSON.stringify(path)}`);
  }
}

/**
 * The last check before `rm -f` as root: whatever the manifest or a bug upstream says, only meshctl's own paths
 * (gateway/layout.ts) are ever deleted. `root` is a directory the layout is laid under, for tests; on a gateway
 * it is empty.
 */
function assertRemovable(path: string, root: string): void {
  assertAbsolute(path);
  const onGateway = root === '' ? path : path.startsWith(`${root}/`) ? path.slice(root.length) : '';
  if (!isManagedPath(onGateway)) {
    throw new Error(
      `refusing to remove ${JSON.stringify(path)}: not one of meshctl's paths (${MANAGED_PATHS_RULE}); ` +
        'nothing was removed. This is a bug in meshctl: report it',
    );
  }
}

/** Options of the scripts that delete: `root` lays meshctl's layout under a directory (tests only). */
export interface RemoveOptions {
  root?: string;
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8)}`;
}

/**
 * Lands one file. Paths are absolute (assertAbsolute), so the directory and the name come from parameter expansion:
 * no dirname, basename or id process per file (a new gateway gets some twenty files, a process costs on a loaded
 * gateway).
 */
const PUT_FUNCTION = `meshctl_root=
if [ "$(id -u)" = 0 ]; then meshctl_root=1; fi
meshctl_put() {
  meshctl_dir=\${1%/*}
  meshctl_tmp=$(mktemp "\${meshctl_dir:-/}/${TEMP_PREFIX}XXXXXX")
  base64 -d > "$meshctl_tmp"
  meshctl_size=$(wc -c < "$meshctl_tmp")
  if [ "$meshctl_size" -ne "$3" ]; then
    echo "meshctl: $1: received $meshctl_size of $3 bytes (transfer cut short); left unchanged" >&2
    exit 1
  fi
  chmod "$2" "$meshctl_tmp"
  if [ -n "$meshctl_root" ]; then chown 0:0 "$meshctl_tmp"; fi
  sync "$meshctl_tmp" 2>/dev/null || sync
  if [ -e "$1" ]; then ln -f "$1" "\${meshctl_dir}/${PREV_PREFIX}\${1##*/}"; fi
  mv -f "$meshctl_tmp" "$1"
  meshctl_tmp=
}`;

/** Directories that hold managed files, with the mode meshctl creates them with. */
function directoriesOf(files: BundleFile[], privateDirs: Set<string>): [string, number][] {
  const dirs = [...new Set(files.map((f) => posix.dirname(f.path)))].sort();
  return dirs.map((dir) => [dir, privateDirs.has(dir) ? MODES.privateDir : MODES.publicDir]);
}

/**
 * The install script for `files`. `privateDirs` are created (or tightened to) 0700, e.g. the key directory.
 * Stale temporary files and backups from an interrupted run are removed first, in the managed directories only.
 */
export function installScript(files: BundleFile[], privateDirs: string[] = []): string {
  for (const f of files) assertAbsolute(f.path);
  const dirs = directoriesOf(files, new Set(privateDirs));
  const lines = [
    marker('install'),
    'set -eu',
    'umask 077',
    'meshctl_tmp=',
    `trap 'if [ -n "$meshctl_tmp" ]; then rm -f "$meshctl_tmp"; fi' EXIT`,
    PUT_FUNCTION,
  ];
  for (const [dir, mode] of dirs) {
    if (mode === MODES.privateDir) {
      lines.push(`mkdir -p ${quote([dir])}`, `chmod ${octal(mode)} ${quote([dir])}`);
    } else {
      // created world-readable like the rest of /etc (the script's umask 077 is for files); an existing
      // directory keeps the mode its owner gave it
      lines.push(`(umask 022 && mkdir -p ${quote([dir])})`);
    }
    lines.push(`rm -f ${quote([dir])}/${TEMP_PREFIX}* ${quote([dir])}/${PREV_PREFIX}*`);
  }
  for (const f of files) {
    const body = Buffer.from(f.content)
      .toString('base64')
      .replace(/.{1,76}/g, '$&\n');
    const size = String(Buffer.byteLength(f.content));
    lines.push(`meshctl_put ${quote([f.path, octal(f.mode), size])} <<'${DELIMITER}'\n${body}${DELIMITER}`);
  }
  // fsync each directory so the renames themselves survive a crash
  for (const [dir] of dirs) lines.push(`sync ${quote([dir])} 2>/dev/null || sync`);
  lines.push('echo meshctl-bundle-ok');
  return `${lines.join('\n')}\n`;
}

/** Puts back the previous version of `updated` files and removes `created` ones (a rollback). */
export function restoreScript(updated: string[], created: string[], opts: RemoveOptions = {}): string {
  for (const path of created) assertRemovable(path, opts.root ?? '');
  const lines = [marker('restore'), 'set -u', 'meshctl_failed=0'];
  for (const path of updated) {
    assertAbsolute(path);
    const prev = quote([backupPath(path)]);
    lines.push(`if [ -e ${prev} ]; then mv -f ${prev} ${quote([path])} || meshctl_failed=1; fi`);
  }
  for (const path of created) {
    assertAbsolute(path);
    lines.push(`rm -f ${quote([path])} || meshctl_failed=1`);
  }
  lines.push('exit $meshctl_failed');
  return `${lines.join('\n')}\n`;
}

/**
 * Rewrites the iptables rules file at `path` as the union of its new content and its rollback copy, for a
 * gateway where some tunnels came up on their new config while others were rolled back to the previous one:
 * neither version alone accepts both (a changed port, say), and on a gateway whose INPUT policy is DROP the
 * restored tunnel would stay cut off. Only meshctl's chains are in the file (loaded with --noflush). Each chain's
 * final DROP stays last, so a RETURN of the previous version is never shadowed. Exits 3 when there is no rollback
 * copy (the rules did not change this run): nothing to widen.
 */
export function widenRulesScript(path: string): string {
  assertAbsolute(path);
  const rules = quote([path]);
  const prev = quote([backupPath(path)]);
  return `${[
    marker('widen-rules'),
    'set -eu',
    'umask 077',
    `[ -e ${prev} ] || exit 3`,
    `meshctl_tmp=$(mktemp ${quote([posix.dirname(path)])}/${TEMP_PREFIX}XXXXXX)`,
    `trap 'rm -f "$meshctl_tmp"' EXIT`,
    '{',
    "  echo '# managed by meshctl: the rules of the last run plus the previous ones, because a tunnel of this'",
    "  echo '# gateway was rolled back to its previous config; the next successful apply rewrites this file'",
    "  echo '*filter'",
    `  grep -h '^:' ${rules} ${prev} | awk '!seen[$0]++'`,
    `  grep -h '^-A' ${rules} ${prev} | awk '!seen[$0]++' | grep -v -e ' -j DROP$' || true`,
    `  grep -h '^-A' ${rules} ${prev} | awk '!seen[$0]++' | grep -e ' -j DROP$' || true`,
    "  echo 'COMMIT'",
    '} > "$meshctl_tmp"',
    `chmod "$(stat -c %a ${rules})" "$meshctl_tmp"`,
    'sync "$meshctl_tmp" 2>/dev/null || sync',
    `mv -f "$meshctl_tmp" ${rules}`,
  ].join('\n')}\n`;
}

/** Drops the rollback copies once the new files are verified. */
export function commitScript(paths: string[]): string {
  for (const path of paths) assertAbsolute(path);
  if (paths.length === 0) return `${marker('commit')}\ntrue\n`;
  return `${marker('commit')}\nrm -f ${quote(paths.map(backupPath))}\n`;
}

/**
 * Removes files meshctl owns and no longer wants (and their rollback copies), refusing any path outside meshctl's
 * own. A tunnel's drop-in directory goes too once it is empty (an operator's own drop-in there keeps it).
 */
export function removeScript(paths: string[], opts: RemoveOptions = {}): string {
  const root = opts.root ?? '';
  for (const path of paths) assertRemovable(path, root);
  if (paths.length === 0) return `${marker('remove')}\ntrue\n`;
  const lines = [marker('remove'), `rm -f ${quote([...paths, ...paths.map(backupPath)])}`];
  const dropInDirs = [...new Set(paths.map((path) => posix.dirname(path)))].filter(
    (dir) => dir.startsWith(`${root}${SYSTEMD_DIR}/`) && dir.endsWith('.service.d'),
  );
  for (const dir of dropInDirs.sort()) lines.push(`rmdir -- ${quote([dir])} 2>/dev/null || true`);
  return `${lines.join('\n')}\n`;
}

/** Ends each script of a sequence; no script of this file holds it as a line (base64 has no `_`). */
const SEQUENCE_DELIMITER = 'MESHCTL_SCRIPT_END';

/**
 * Several of the scripts above in one round trip: each runs in a shell of its own (`sh -s`, reading it from a
 * quoted here-document, so nothing is expanded twice), one after the other; the first that fails ends the sequence
 * with its exit status, and the ones after it never run.
 */
export function sequenceScript(scripts: string[]): string {
  const lines = [marker('sequence'), 'set -e'];
  for (const script of scripts) {
    if (!script.startsWith(SCRIPT_MARKER) || script.split('\n').includes(SEQUENCE_DELIMITER)) {
      throw new Error('sequenceScript: not a script of bundle.ts (a meshctl bug: report it)');
    }
    lines.push(`sh -s <<'${SEQUENCE_DELIMITER}'`, script.replace(/\n$/, ''), SEQUENCE_DELIMITER);
  }
  return `${lines.join('\n')}\n`;
}
