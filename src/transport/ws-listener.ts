// A ws or wss listener (RFC 7118 §4.1): an HTTP(S) server whose WebSocket handshakes must ask for the `sip`
// subprotocol. Accepted WebSockets are handed to the NetworkTransport, which keeps them as flows (./ws-connection.ts).

import http from 'node:http';
import https from 'node:https';
import { TLS_SERVER_POLICY } from './tls-policy.ts';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ListenerConfig, ListenerInfo } from './transport.ts';

export interface WsListenerHooks {
  /** largest WebSocket message accepted (bytes); a larger one closes the connection (1009) */
  maxMessageSize: number;
  /** false when no more connections may be accepted (connection limit, closing) */
  mayAccept(): boolean;
  /** a handshake was refused (no `sip` subprotocol, wrong path, limit, TLS failure): for the counters */
  refused(): void;
  /** a WebSocket speaking `sip` is open */
  accepted(ws: WebSocket, socket: Socket): void;
  onError(err: unknown): void;
}

export class WsListener {
  readonly info: ListenerInfo;
  private readonly server: http.Server;
  private readonly wss: WebSocketServer;

  private constructor(info: ListenerInfo, server: http.Server, wss: WebSocketServer) {
    this.info = info;
    this.server = server;
    this.wss = wss;
  }

  static async listen(cfg: ListenerConfig, id: number, host: string, hooks: WsListenerHooks): Promise<WsListener> {
    let server: http.Server;
    if (cfg.transport === 'wss') {
      if (cfg.tls === undefined) throw new Error(`wss listener ${host}:${cfg.port} needs a certificate and key`);
      server = https.createServer({ cert: cfg.tls.cert, key: cfg.tls.key, ...TLS_SERVER_POLICY, handshakeTimeout: 10_000 });
      // a failed or timed-out handshake: Node leaves the socket open when this event has a listener
      server.on('tlsClientError', (_err: Error, s: Duplex) => {
        hooks.refused();
        s.destroy();
      });
    } else server = http.createServer();
    // a plain HTTP request is not a SIP client: RFC 7231 §6.5.15 426 names the protocol to upgrade to
    server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
      res.writeHead(426, { Upgrade: 'websocket', Connection: 'close', 'Content-Type': 'text/plain' }).end('SIP over WebSocket (RFC 7118) only\n');
    });
    const wss = new WebSocketServer({
      noServer: true, maxPayload: hooks.maxMessageSize, clientTracking: false,
      handleProtocols: (protocols: Set<string>) => (protocols.has('sip') ? 'sip' : false),
    });
    wss.on('error', (err: Error) => hooks.onError(err));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(cfg.port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err: Error) => hooks.onError(err));
    const info: ListenerInfo = { id, transport: cfg.transport, host, port: (server.address() as AddressInfo).port };
    const l = new WsListener(info, server, wss);
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => l.onUpgrade(req, socket as Socket, head, cfg.path, hooks));
    return l;
  }

  private onUpgrade(req: http.IncomingMessage, socket: Socket, head: Buffer, path: string | undefined, hooks: WsListenerHooks): void {
    socket.on('error', () => {});
    const refuse = (status: number, reason: string): void => {
      hooks.refused();
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      setTimeout(() => socket.destroy(), 2000).unref();
    };
    // RFC 7118 §4.1: the client offers the `sip` subprotocol; a handshake without it is not SIP and is refused
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (!offered.includes('sip')) return refuse(400, 'Sec-WebSocket-Protocol Must Offer sip');
    if (path !== undefined && (req.url ?? '/').split('?')[0] !== path) return refuse(404, 'Not Found');
    if (!hooks.mayAccept()) return refuse(503, 'Service Unavailable');
    this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => hooks.accepted(ws, socket));
  }

  /** Stop accepting; open WebSockets are closed by their owner. */
  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wss.close();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
