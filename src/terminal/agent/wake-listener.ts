// The TV's network wake-up, for tests and demos: a small HTTP listener that a push gateway POSTs to (the test
// gateway forwards the server's push here, as a PNS would wake a device). Any POST /wake wakes the agent.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The most of a push body read (it is not needed: any POST wakes). */
const MAX_BODY = 16 * 1024;

export class WakeListener {
  readonly #server: Server;
  #url = '';

  private constructor(server: Server) {
    this.#server = server;
  }

  /** Listens on host:port (0: any free port); `wake` runs for each POST /wake, answered 202. */
  static async listen(host: string, port: number, wake: () => void): Promise<WakeListener> {
    const server = createServer((req, res) => {
      if (req.method !== 'POST' || req.url !== '/wake') {
        res.statusCode = 404;
        res.end();
        return;
      }
      let n = 0;
      req.on('data', (c: Buffer) => {
        n += c.length;
        if (n > MAX_BODY) req.destroy();
      });
      req.on('end', () => {
        res.statusCode = 202;
        res.end();
        wake();
      });
    });
    server.requestTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const l = new WakeListener(server);
    const a = server.address() as AddressInfo;
    l.#url = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/wake`;
    return l;
  }

  /** where to POST a wake-up */
  get url(): string {
    return this.#url;
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (!this.#server.listening) return;
    this.#server.closeAllConnections();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}
