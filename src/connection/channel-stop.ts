import type { ClientChannel } from 'ssh2';

/** The parts of ssh2's channel internals that sending a signal needs (see `stopChannel`). */
interface ChannelInternals {
  outgoing?: { id: number; state: string };
  _client?: { _protocol?: { signal(channelId: number, signal: string): void } };
}

/**
 * Stop a remote command, as far as SSH allows: ask for SIGKILL, then close its channel. Best effort only:
 * OpenSSH's sshd honours signal requests (since 7.9) only for non-root logins, where post-auth privilege
 * separation is in effect, and sends them as the login user, so a command under `sudo` or of a root login
 * keeps running after its channel closes (until it writes to the closed pipe or ends by itself).
 * ssh2 1.17's ClientChannel#signal is a silent no-op once stdin has been ended (it checks the Node `writable`
 * flag), and we always end stdin; so the request goes through the protocol object while the SSH channel itself
 * is still open or merely half-closed by our EOF.
 */
export function stopChannel(channel: ClientChannel): void {
  const internals = channel as unknown as ChannelInternals;
  const outgoing = internals.outgoing;
  try {
    if (outgoing !== undefined && (outgoing.state === 'open' || outgoing.state === 'eof')) {
      internals._client?._protocol?.signal(outgoing.id, 'KILL');
    }
  } catch {
    // the channel is already closing; close() below is what matters
  }
  channel.close();
}
