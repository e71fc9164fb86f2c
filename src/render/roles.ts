import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import yaml from 'js-yaml';
import { RoleError } from '../errors.js';
import { packageRoot } from '../version.js';

/**
 * Roles (Ansible style): `roles/<role>/templates/*.liquid` hold the text that lands on gateways, and
 * `roles/<role>/defaults.yml` the tunable values those templates read. This module is the thin I/O part of
 * rendering: it only reads files. Rendering itself (render.ts) is pure.
 */

export interface Role {
  name: string;
  /** defaults.yml, parsed (empty when the role has none). Template variables computed by meshctl take precedence. */
  defaults: Record<string, unknown>;
  /** Template file name (e.g. `tunnel.conf.liquid`) → its text. */
  templates: Map<string, string>;
}

export interface Roles {
  /** Where the roles were read from, for error messages. */
  dir: string;
  /** Role name → role, sorted by name. */
  roles: Map<string, Role>;
}

/** A role is missing, unreadable, or one of its templates fails to parse or render. */
export { RoleError };

/** Set to a copy of the package's `roles/` directory to render from it instead (e.g. another chain_prefix). */
export const ROLES_DIR_ENV = 'MESHCTL_ROLES_DIR';

/**
 * The roles meshctl renders from: `$MESHCTL_ROLES_DIR` when set (relative to the working directory), else the
 * roles shipped with meshctl (`roles/` at the package root). An environment variable, not a flag, so every
 * command (render, diff, apply, add-lan, remove-lan) of a shell session renders the same files.
 */
export function defaultRolesDir(env: NodeJS.ProcessEnv = process.env): string {
  const chosen = env[ROLES_DIR_ENV];
  return chosen ? resolve(chosen) : join(packageRoot(), 'roles');
}

export function loadRoles(rolesDir: string = defaultRolesDir()): Roles {
  if (!existsSync(rolesDir) || !statSync(rolesDir).isDirectory()) {
    const from = process.env[ROLES_DIR_ENV] ? ` (${ROLES_DIR_ENV}=${process.env[ROLES_DIR_ENV]})` : '';
    throw new RoleError(
      `roles directory ${rolesDir}${from} does not exist: point meshctl at a copy of the package's roles/ ` +
        'directory (<role>/defaults.yml and <role>/templates/*.liquid), or unset ' +
        ROLES_DIR_ENV,
    );
  }
  const roles = new Map<string, Role>();
  for (const name of readdirSync(rolesDir).sort()) {
    const dir = join(rolesDir, name);
    if (!statSync(dir).isDirectory()) continue;
    roles.set(name, {
      name,
      defaults: readDefaults(join(dir, 'defaults.yml')),
      templates: readTemplates(dir),
    });
  }
  return { dir: rolesDir, roles };
}

function readDefaults(file: string): Record<string, unknown> {
  if (!existsSync(file)) return {};
  let parsed: unknown;
  try {
    parsed = yaml.load(readFileSync(file, 'utf8'), { filename: file });
  } catch (error) {
    throw new RoleError(`${file}: invalid YAML (${(error as Error).message}); fix the syntax`);
  }
  if (parsed === undefined || parsed === null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new RoleError(
      `${file}: must be a mapping of variable names to values, got ${JSON.stringify(parsed)}`,
    );
  }
  return parsed as Record<string, unknown>;
}

function readTemplates(roleDir: string): Map<string, string> {
  const dir = join(roleDir, 'templates');
  const templates = new Map<string, string>();
  if (!existsSync(dir)) return templates;
  for (const file of readdirSync(dir).sort()) {
    if (file.endsWith('.liquid')) templates.set(file, readFileSync(join(dir, file), 'utf8'));
  }
  return templates;
}
