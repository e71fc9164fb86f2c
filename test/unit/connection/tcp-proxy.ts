/**
 * A TCP relay in front of the test server, to break the link the way networks do: `drop()` resets every
 * connection (a crashed gateway), `blackhole()` silently stops forwarding (a dead route, where only keepalives
 * can tell).
 */
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';

export class TcpProxy {
  port = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private silent = false;

  constructor(targetPort: number) {
    this.server = createServer((inbound) => {
      const outbound = connect({ host: '127.0.0.1', port: targetPort });
      for (const socket of [inbound, outbound]) {
        this.sockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => {
          this.sockets.delete(socket);
          inbound.destroy();
          outbound.destroy();
        });
      }
      inbound.on('data', (chunk) => {
        if (!this.silent) outbound.write(chunk);
      });
      outbound.on('data', (chunk) => {
        if (!this.silent) inbound.write(chunk);
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  drop(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  blackhole(): void {
    this.silent = true;
  }

  async stop(): Promise<void> {
    this.drop();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
