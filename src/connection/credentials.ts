/**
 * Which credentials a connection offers: the identity file (checked like OpenSSH checks it) and/or the
 * ssh-agent. Key material is read here and handed to the SSH client only; it never reaches a message.
 */
import { readFile, stat } from 'node:fs/promises';
import ssh2 from 'ssh2';
import { ConnectError } from '../errors.js';
import type { ConnectOptions } from './types.js';

// ssh2 is CommonJS: its named exports are reached through the default import.
const { utils } = ssh2;

/** What credentials are chosen from: the connection's own settings (one definition, in types.ts). */
export type CredentialTarget = Pick<
  ConnectOptions,
  'name' | 'host' | 'port' | 'user' | 'identityFile' | 'agentSocket'
>;

export interface Credentials {
  /** Private key text (OpenSSH or PEM), when an identity file is usable. */
  privateKey?: string;
  /** ssh-agent socket path, when one is configured. */
  agent?: string;
  /** What will be tried, in order, for messages ("identity file ~/.ssh/id", "ssh-agent at /run/…"). */
  methods: string[];
}

function destination(target: CredentialTarget): string {
  return `${target.user}@${target.host}:${target.port}`;
}

/** OpenSSH refuses a private key that group or others can read; so do we, with the fix. */
async function readIdentityFile(target: CredentialTarget, file: string): Promise<string> {
  const fail = (problem: string, fix: string) =>
    new ConnectError(target.host, `${target.name}: identity file ${file} ${problem}. Fix: ${fix}.`);
  let mode: number;
  try {
    mode = (await stat(file)).mode;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw fail(
        'does not exist',
        'correct ssh.identity_file in mesh.yml or the LAN file, or remove it to use ssh-agent',
      );
    }
    throw fail(`cannot be read (${code})`, 'check the path and its permissions');
  }
  if ((mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0');
    throw fail(
      `has mode ${octal}: a private key readable by group or others is refused (as OpenSSH does)`,
      `chmod 600 ${file}`,
    );
  }
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw fail(`cannot be read (${(error as NodeJS.ErrnoException).code})`, 'check its permissions');
  }
}

/** Resolve the identity file and agent for one connection; throws when there is nothing to authenticate with. */
export async function resolveCredentials(target: CredentialTarget): Promise<Credentials> {
  const agentSocket = target.agentSocket ?? process.env.SSH_AUTH_SOCK;
  const agent = agentSocket === undefined || agentSocket === '' ? undefined : agentSocket;
  const methods: string[] = [];
  let privateKey: string | undefined;

  if (target.identityFile !== undefined) {
    const file = target.identityFile;
    const text = await readIdentityFile(target, file);
    const parsed = utils.parseKey(text);
    if (parsed instanceof Error) {
      const encrypted = /encrypted|passphrase/i.test(parsed.message);
      if (!encrypted) {
        throw new ConnectError(
          target.host,
          `${target.name}: identity file ${file} is not a private key meshctl can read (${parsed.message}). ` +
            'Fix: point ssh.identity_file at an OpenSSH or PEM private key (ed25519, ecdsa or rsa).',
        );
      }
      if (agent === undefined) {
        throw new ConnectError(
          target.host,
          `${target.name}: identity file ${file} is passphrase-protected and no ssh-agent is available. ` +
            `Fix: start ssh-agent and \`ssh-add ${file}\` (SSH_AUTH_SOCK must be set for meshctl).`,
        );
      }
      methods.push(`identity file ${file} skipped (passphrase-protected: its key must be in the agent)`);
    } else if (!parsed.isPrivateKey()) {
      throw new ConnectError(
        target.host,
        `${target.name}: identity file ${file} holds a public key, not a private key. ` +
          'Fix: point ssh.identity_file at the private key (the file without .pub).',
      );
    } else {
      privateKey = text;
      methods.push(`identity file ${file}`);
    }
  }
  if (agent !== undefined) methods.push(`ssh-agent at ${agent}`);

  if (privateKey === undefined && agent === undefined) {
    throw new ConnectError(
      target.host,
      `${target.name}: no SSH credentials for ${destination(target)}: no identity_file is set and SSH_AUTH_SOCK ` +
        'is not set. Fix: set ssh.identity_file in mesh.yml (or the LAN file), or start ssh-agent and ssh-add your key.',
    );
  }
  return privateKey === undefined ? { agent, methods } : { privateKey, agent, methods };
}
