import { type ChildProcess, spawn } from 'node:child_process';

/**
 * One real `openvpn` process that sees EXACTLY a rendered gateway's /etc/openvpn/server: a private mount namespace
 * bind-mounts the rendered directory over /etc/openvpn/server and a tmpfs over /run/openvpn-server (the status
 * file), then execs `ip netns exec <ns> openvpn --config /etc/openvpn/server/<config>`. Each step execs the next,
 * so the spawned PID is OpenVPN's own, and killing it stops the tunnel.
 */
export class OpenVpnProcess {
  private child: ChildProcess | undefined;
  private output = '';
  private exited: Promise<void> | undefined;
  exitCode: number | null = null;

  constructor(
    readonly label: string,
    readonly renderedServerDir: string,
    readonly namespace: string,
    readonly config: string,
  ) {}

  start(): void {
    const script =
      'mkdir -p /run/openvpn-server && mount --bind "$1" /etc/openvpn/server && ' +
      'mount -t tmpfs -o mode=0755 tmpfs /run/openvpn-server && ' +
      'exec ip netns exec "$2" openvpn --config "/etc/openvpn/server/$3"';
    const child = spawn(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        script,
        'sh',
        this.renderedServerDir,
        this.namespace,
        this.config,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    child.stdout!.on('data', (chunk: Buffer) => {
      this.output += chunk.toString();
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      this.output += chunk.toString();
    });
    this.exited = new Promise((resolve) => {
      child.on('exit', (code) => {
        this.exitCode = code;
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get log(): string {
    return this.output;
  }

  get running(): boolean {
    return this.child !== undefined && this.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines of the log, for assertion messages. */
  tail(lines = 25): string {
    return `--- ${this.label} (last ${lines} lines) ---\n${this.output.trimEnd().split('\n').slice(-lines).join('\n')}`;
  }

  /** True once `pattern` appears in the log; false after `timeoutMs` or when the process exits first. */
  async waitFor(pattern: RegExp, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (pattern.test(this.output)) return true;
      if (!this.running) return pattern.test(this.output);
      await new Promise((r) => setTimeout(r, 100));
    }
    return pattern.test(this.output);
  }

  /** SIGTERM by PID, SIGKILL after a grace period; resolves once the process is gone. */
  async stop(graceMs = 5000): Promise<void> {
    const child = this.child;
    if (!child || !this.running || child.pid === undefined) return;
    process.kill(child.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (this.running) process.kill(child.pid!, 'SIGKILL');
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
