import type { OsFamily, PackageManager } from './types.js';

/**
 * Pure helpers that turn /etc/os-release and the package managers found into an OS family and the one
 * package manager meshctl would install with.
 */

/** Value of an os-release assignment: quotes removed, `\"`, `\\`, `` \` `` and `\$` unescaped (os-release(5)). */
export function osReleaseValue(raw: string): string {
  const quoted = /^"(.*)"$/s.exec(raw) ?? /^'(.*)'$/s.exec(raw);
  if (!quoted) return raw.trim();
  return raw.startsWith('"') ? quoted[1]!.replace(/\\(["\\`$])/g, '$1') : quoted[1]!;
}

/** Amazon Linux says ID_LIKE="centos rhel fedora" but ships its own repositories: it is a family of its own. */
export function osFamily(id: string, idLike: string[]): OsFamily {
  if (id === 'amzn') return 'amazon';
  const names = [id, ...idLike];
  if (names.some((name) => name === 'debian' || name === 'ubuntu')) return 'debian';
  if (names.some((name) => name === 'rhel' || name === 'centos' || name === 'fedora')) return 'rhel';
  return 'unknown';
}

/** The family's native manager first (dnf before yum: yum is dnf's compatibility name on RHEL 8+). */
const PREFERENCE: Record<OsFamily, PackageManager[]> = {
  debian: ['apt-get', 'dnf', 'yum'],
  rhel: ['dnf', 'yum', 'apt-get'],
  amazon: ['dnf', 'yum', 'apt-get'],
  unknown: ['apt-get', 'dnf', 'yum'],
};

export function choosePackageManager(family: OsFamily, found: PackageManager[]): PackageManager | null {
  return PREFERENCE[family].find((manager) => found.includes(manager)) ?? null;
}
