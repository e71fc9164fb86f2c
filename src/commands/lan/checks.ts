import { UsageError } from '../../errors.js';
import { NAME_PATTERN, NAME_RULE, suggestName } from '../../inventory/names.js';
import type { GlobalOptions } from '../options.js';

/** add-lan and remove-lan change the mesh itself: every gateway takes part, so --limit has no meaning. */
export function refuseLimit(options: GlobalOptions, command: string): void {
  if (options.limit !== undefined) {
    throw new UsageError(
      `--limit ${options.limit}: ${command} changes every gateway of the mesh, so it cannot be limited. Fix: drop --limit (a gateway that is down is reported, and \`meshctl apply\` finishes it later)`,
    );
  }
}

/** The name becomes lans/NAME.yml: checked before it is used in any path. */
export function checkLanName(name: unknown): string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new UsageError(
      `LAN name ${JSON.stringify(name)} is not allowed: ${NAME_RULE}. Fix: use e.g. ${suggestName(String(name))}`,
    );
  }
  return name;
}
