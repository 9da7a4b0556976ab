// The test push gateway (RFC 8599 wake and hold): an HTTP server on 127.0.0.1 that takes each POST's JSON body,
// answers 200 (or `status`), and tells `onPush` — what a PNS would be to the TVs.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Push { provider: string; prid: string; param: string | null; caller: string; callId: string; type: string }

export async function startGateway(): Promise<{ url: string; pushes: Push[]; onPush: ((p: Push) => void) | null; status: number; close(): Promise<void> }> {
  const gw = { url: '', pushes: [] as Push[], onPush: null as ((p: Push) => void) | null, status: 200, close: async () => {} };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.statusCode = gw.status;
      res.end();
      if (req.method !== 'POST' || gw.status !== 200) return;
      const p = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Push;
      gw.pushes.push(p);
      gw.onPush?.(p);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  gw.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/push`;
  gw.close = () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); });
  return gw;
}

