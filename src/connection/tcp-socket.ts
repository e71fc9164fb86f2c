/**
 * The TCP socket under an SSH connection, opened here rather than by the SSH client so that TCP_NODELAY is set
 * before the first byte: without it, Nagle's algorithm holding a small packet until the previous one is
 * acknowledged (and the peer delaying that acknowledgement) adds tens of milliseconds to every exec round trip.
 */
import { connect, type Socket } from 'node:net';
import { ConnectError } from '../errors.js';

export interface TcpTarget {
  name: string;
  host: string;
  port: number;
  user: string;
}

const REASONS: Record<string, string> = {
  ECONNREFUSED:
    'connection refused: nothing listens on that port. Fix: check gateway.ssh_host and ssh.port, and that sshd runs',
  ENOTFOUND: 'the name does not resolve. Fix: check gateway.ssh_host (or gateway.endpoint) in the LAN file',
  EAI_AGAIN:
    'the name could not be resolved (DNS unavailable). Fix: check the bastion DNS, or use an address',
  EHOSTUNREACH: 'the host is unreachable. Fix: check routing from this machine to the gateway',
  ENETUNREACH: 'the network is unreachable. Fix: check routing from this machine to the gateway',
  ECONNRESET: 'the connection was reset. Fix: check firewalls between this machine and the gateway',
};

/** Connect, with TCP_NODELAY as chosen and a deadline; throws ConnectError naming user@host:port and the fix. */
export function openTcpSocket(target: TcpTarget, timeoutMs: number, noDelay: boolean): Promise<Socket> {
  const destination = `${target.user}@${target.host}:${target.port}`;
  return new Promise((resolve, reject) => {
    const socket = connect({ host: target.host, port: target.port, noDelay });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new ConnectError(
          target.host,
          `${target.name}: no TCP connection to ${destination} within ${timeoutMs} ms. ` +
            'Fix: check the address, the port and firewalls between this machine and the gateway.',
        ),
      );
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.setNoDelay(noDelay);
      resolve(socket);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      const reason =
        REASONS[error.code ?? ''] ?? `${error.code ?? error.message}. Fix: check the gateway address`;
      reject(new ConnectError(target.host, `${target.name}: cannot connect to ${destination}: ${reason}.`));
    });
  });
}
