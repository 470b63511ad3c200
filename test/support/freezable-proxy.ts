/**
 * A TCP proxy that can lose the network without closing anything: after `freeze()` no byte goes
 * either way and no connection is closed, as when a laptop drops off the Wi-Fi. (A browser's own
 * offline emulation does not touch open WebSockets.)
 */
import { connect, createServer, type Server, type Socket } from "node:net";

export class FreezableProxy implements AsyncDisposable {
  frozen = false;
  readonly sockets = new Set<Socket>();

  /** Where new connections go (`retarget` moves later ones elsewhere). */
  target: { port: number; host: string } = { port: 0, host: "127.0.0.1" };

  private constructor(
    readonly server: Server,
    readonly port: number,
  ) {}

  /** New connections go to `port` from now on (a load balancer moving clients to another gateway). */
  retarget(port: number): void {
    this.target = { ...this.target, port };
  }

  static async start(targetPort: number, targetHost = "127.0.0.1"): Promise<FreezableProxy> {
    let proxy: FreezableProxy | undefined;
    const server = createServer((client) => {
      const upstream = connect(proxy?.target.port ?? targetPort, proxy?.target.host ?? targetHost);
      for (const s of [client, upstream]) {
        proxy?.sockets.add(s);
        s.on("error", () => {});
        s.on("close", () => proxy?.sockets.delete(s));
      }
      const forward = (from: Socket, to: Socket) => {
        from.on("data", (chunk) => {
          if (!proxy?.frozen) to.write(chunk);
        });
        from.on("end", () => {
          if (!proxy?.frozen) to.end();
        });
        from.on("close", () => {
          if (!proxy?.frozen) to.destroy();
        });
      };
      forward(client, upstream);
      forward(upstream, client);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    proxy = new FreezableProxy(server, (server.address() as { port: number }).port);
    proxy.target = { port: targetPort, host: targetHost };
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** From now on nothing passes and nothing is closed. */
  freeze(): void {
    this.frozen = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
