/**
 * A stand-in for one node of a feed with several: a TCP relay on 127.0.0.1
 * in front of the test's feed server. `kill()` ends it as a node dies to
 * SIGKILL: every connection through it is reset, and its port refuses new
 * ones. Two relays in front of one server are two nodes sharing one store,
 * which is what the extension's failover relies on.
 */
import { createServer, type Server, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export class NodeProxy {
  readonly #sockets = new Set<Socket>();
  #server!: Server;
  port = 0;

  private constructor(private readonly target: number) {}

  static async start(targetPort: number): Promise<NodeProxy> {
    const proxy = new NodeProxy(targetPort);
    proxy.#server = createServer((client) => {
      const upstream = new Socket();
      for (const s of [client, upstream]) {
        proxy.#sockets.add(s);
        s.on('close', () => proxy.#sockets.delete(s));
        s.on('error', () => {});
      }
      upstream.connect(proxy.target, '127.0.0.1');
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.#server.address() as AddressInfo).port;
    return proxy;
  }

  /** ws:// URL of the feed through this node. */
  get url(): string {
    return `ws://127.0.0.1:${this.port}/feed`;
  }

  /** Resets every connection (no close frame, as a killed process leaves them) and stops listening. */
  async kill(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const s of this.#sockets) s.resetAndDestroy();
    await closed;
  }
}
