import { homedir as osHomedir } from 'node:os';
import path from 'node:path';
import type { SshSettings } from '../types.js';
import { checkUnknownKeys, type Mapping, readBoolean, readInteger, readString } from './fields.js';
import type { FileFindings } from './findings.js';
import { childPath } from './line-index.js';

export const SSH_KEYS = ['user', 'port', 'identity_file', 'known_hosts', 'become'] as const;

export const USER_PATTERN = /^[a-z_][a-z0-9_-]{0,31}$/;

export interface PathContext {
  /** Absolute inventory dir: relative paths in the inventory are relative to it. */
  inventoryDir: string;
  homedir: string;
}

export function homedirFrom(opts: { env?: NodeJS.ProcessEnv; homedir?: string }): string {
  return opts.homedir ?? opts.env?.HOME ?? osHomedir();
}

/** `~` and `~/x` are the operator's home; other relative paths are relative to the inventory dir. */
export function expandPath(value: string, context: PathContext): string {
  if (value === '~') return context.homedir;
  if (value.startsWith('~/')) return path.join(context.homedir, value.slice(2));
  return path.resolve(context.inventoryDir, value);
}

/** SSH settings as written in one `ssh:` block: only the keys present, each validated. */
export function readSshBlock(
  block: Mapping,
  blockPath: string,
  findings: FileFindings,
  context: PathContext,
): Partial<SshSettings> {
  checkUnknownKeys(block, blockPath, SSH_KEYS, findings);
  const settings: Partial<SshSettings> = {};

  const user = readString(block, 'user', blockPath, findings);
  if (user !== undefined) {
    if (USER_PATTERN.test(user)) settings.user = user;
    else {
      findings.error(
        childPath(blockPath, 'user'),
        user,
        `${JSON.stringify(user)} is not a valid Linux user name`,
        'use lowercase letters, digits, "_" and "-", starting with a letter or "_", at most 32 characters (e.g. root)',
      );
    }
  }

  const port = readInteger(block, 'port', blockPath, findings);
  if (port !== undefined) {
    if (port >= 1 && port <= 65535) settings.port = port;
    else
      findings.error(
        childPath(blockPath, 'port'),
        port,
        `${port} is not a TCP port`,
        'use a port in 1..65535 (22 is the default)',
      );
  }

  const become = readBoolean(block, 'become', blockPath, findings);
  if (become !== undefined) settings.become = become;

  for (const [key, target] of [
    ['identity_file', 'identityFile'],
    ['known_hosts', 'knownHosts'],
  ] as const) {
    const value = readString(block, key, blockPath, findings);
    if (value === undefined) continue;
    if (value.startsWith('~') && value !== '~' && !value.startsWith('~/')) {
      findings.error(
        childPath(blockPath, key),
        value,
        `${JSON.stringify(value)} uses ~user, which meshctl does not expand`,
        'write an absolute path, or ~/… for your own home directory',
      );
      continue;
    }
    settings[target] = expandPath(value, context);
  }
  return settings;
}

export function defaultSshSettings(context: PathContext): SshSettings {
  return {
    user: 'root',
    port: 22,
    knownHosts: path.join(context.homedir, '.ssh', 'known_hosts'),
    become: false,
  };
}
