/** Connection failures as the operator needs them: which user@host:port, what was tried, and the fix. */
import { ConnectError } from '../errors.js';
import type { Credentials } from './credentials.js';
import type { ConnectOptions } from './types.js';

/** Turns ssh2's terse failures into messages naming user@host:port, what was tried and the fix. */
export function connectFailure(
  error: unknown,
  opts: ConnectOptions & { readyTimeoutMs: number },
  credentials: Credentials,
): ConnectError {
  const { level, message } = error as { level?: string; message?: string };
  const destination = `${opts.user}@${opts.host}:${opts.port}`;
  const tried = credentials.methods.join(', ');
  const text = (() => {
    switch (level) {
      case 'client-authentication':
        return (
          `authentication to ${destination} failed (tried: ${tried}). Fix: add your public key to ` +
          `~${opts.user}/.ssh/authorized_keys on the gateway, or set ssh.user / ssh.identity_file / ssh-agent to a key it accepts`
        );
      case 'agent':
        return (
          `the ssh-agent at ${credentials.agent} failed (${message}) while authenticating to ${destination} ` +
          `(tried: ${tried}). Fix: check that SSH_AUTH_SOCK points at a running agent holding your key (ssh-add -l)`
        );
      case 'client-timeout':
        return (
          `no SSH handshake with ${destination} within ${opts.readyTimeoutMs} ms. Fix: check that port ${opts.port} ` +
          'is sshd and that the gateway is not overloaded'
        );
      case 'protocol':
      case 'handshake':
        return `SSH handshake with ${destination} failed: ${message}. Fix: check the gateway's sshd configuration`;
      default:
        if (message === 'No response from server') {
          return (
            `${destination} closed the connection before authentication finished. Fix: check sshd on the ` +
            'gateway (AllowUsers, MaxStartups, fail2ban) and its logs'
          );
        }
        return `SSH connection to ${destination} failed: ${message}. Fix: check the gateway's ssh settings`;
    }
  })();
  return new ConnectError(opts.host, `${opts.name}: ${text}.`);
}
