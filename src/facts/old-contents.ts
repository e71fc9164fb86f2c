import type { Connection } from '../connection/types.js';
import type { HostPlan } from '../plan/types.js';
import { readPackageScript } from './script.js';

/** fetch-old.sh, read once at module load. */
export const FETCH_OLD_SCRIPT = readPackageScript('src/facts/fetch-old.sh');

/**
 * The files whose previous content `diff` shows: non-secret files being updated. Secret files are never
 * fetched: their content must not leave the gateway.
 */
export function pathsToFetch(plan: HostPlan): string[] {
  return plan.actions.flatMap((action) =>
    action.kind === 'write-file' && action.change === 'update' && !action.secret ? [action.path] : [],
  );
}

/** ONE read-only command printing the current content of `paths` (give it `pathsToFetch(plan)`). */
export function fetchOldContentsCommand(paths: string[]): string[] {
  for (const path of paths) {
    if (!path.startsWith('/') || /[\t\n\r]/.test(path)) {
      throw new Error(
        `fetchOldContentsCommand: path ${JSON.stringify(path)} must be absolute and free of TAB and newline ` +
          'characters: pass the paths of pathsToFetch(plan)',
      );
    }
  }
  return ['sh', '-c', FETCH_OLD_SCRIPT, 'meshctl-fetch', ...paths];
}

/**
 * Parse fetch-old.sh's output (pure): path → previous content (UTF-8). Absent and too-large files are left
 * out, so the formatter says "previous content not available" for them.
 */
export function parseOldContents(stdout: string): Record<string, string> {
  const contents: Record<string, string> = {};
  let current: string | null = null;
  let chunks: string[] = [];
  for (const line of stdout.split('\n')) {
    if (current !== null) {
      if (line === 'content-end') {
        contents[current] = Buffer.from(chunks.join(''), 'base64').toString('utf8');
        current = null;
        chunks = [];
      } else {
        chunks.push(line.trim());
      }
      continue;
    }
    if (line.startsWith('content\t')) current = line.slice('content\t'.length);
    else if (line === 'end') return contents;
  }
  throw new Error(
    'the previous-content fetch ended without its "end" line (connection dropped?): re-run `meshctl diff`',
  );
}

/**
 * The remote read itself: the previous content of the files `plan` changes, or an empty record when there are none
 * or the read fails (diff then says "previous content not available"). Read-only, one round trip.
 */
export async function readOldContents(conn: Connection, plan: HostPlan): Promise<Record<string, string>> {
  const paths = pathsToFetch(plan);
  if (paths.length === 0) return {};
  const result = await conn.exec(fetchOldContentsCommand(paths), { timeoutMs: 60_000 });
  return result.code === 0 ? parseOldContents(result.stdout) : {};
}
