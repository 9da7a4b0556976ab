// The transport port (RFC 3261 §18): the only door between SIP code and the network.
// The transaction layer and everything above see the network only through `Transport`;
// NetworkTransport (./network-transport.ts) implements it with sockets, FakeTransport (./fake-transport.ts) in memory.

import type { SipMessage } from '../sip/message.ts';
import type { Flow, TransportName } from '../flow.ts';

export type { Flow, TransportName } from '../flow.ts';

/** One listener of a profile: `{ transport: 'udp', host: '0.0.0.0', port: 5060 }`. Port 0 binds any free port. */
export interface ListenerConfig {
  transport: TransportName;
  host: string;
  port: number;
  /** PEM certificate and key (file contents, not paths): required for 'tls' and 'wss' */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** ws/wss: the only HTTP path a WebSocket handshake is accepted on (e.g. '/sip'); any path when absent */
  path?: string;
}

/** A bound listener: `port` is the port actually bound (resolves port 0). */
export interface ListenerInfo {
  /** index in the transport's listener list */
  id: number;
  transport: TransportName;
  host: string;
  port: number;
}

/** Where a message came from: its flow (RFC 5626 §3.3) and the listener (local socket) it arrived on. */
export interface Source extends Flow {
  local: ListenerInfo;
}

/** Where to send a message: a flow, whose connection is optional. */
export interface Target extends Omit<Flow, 'connectionId'> {
  /** IP address (IPv6 with or without brackets); names are resolved by the layer above (RFC 3263) */
  address: string;
  /** send over this connection if it is still open (RFC 3261 §18.2.2, RFC 5626 flows) */
  connectionId?: number | null;
  /** send UDP from this listener (responses go out from the socket the request came in on) */
  listenerId?: number;
  /**
   * tls: the host name the next hop was named by (before it was resolved to `address`). RFC 5922 §7.3: the client
   * checks the server's certificate against the domain it meant to reach, so it is sent as SNI (RFC 6066 §3) and the
   * certificate must be for it; only a connection opened for this name carries the request. Absent: the certificate
   * is checked against `address`.
   */
  serverName?: string;
}

/** Plain-number counters, read them directly. */
export interface TransportCounters {
  received: number;
  sent: number;
  parseErrors: number;
  dropped: number;
  connectionsOpened: number;
  connectionsClosed: number;
}

export type MessageListener = (msg: SipMessage, source: Source) => void;
export type ConnectionClosedListener = (connectionId: number, remote: { transport: TransportName; address: string; port: number }) => void;
export type SendErrorCallback = (err: Error) => void;

/** The narrow port the transaction layer (and tests) use. */
export interface Transport {
  /**
   * Send a message. Never throws for network reasons: failures (no route, connection refused, closed
   * connection, message too large) are reported through `onError`, possibly asynchronously. Returns the bytes it
   * sends (maybe a slice of a shared pool: copy them to keep them), or nothing when it did not serialize the message.
   */
  send(msg: SipMessage, target: Target, onError?: SendErrorCallback): Uint8Array | undefined;
  /** The sent-by (host, port, transport) to put in a Via of a request sent to `target` (RFC 3261 §18.1.1). */
  sentBy(target: Target): { transport: TransportName; host: string; port: number };
  onMessage(listener: MessageListener): void;
  onConnectionClosed(listener: ConnectionClosedListener): void;
}

/** RFC 3261 §18: TCP and TLS are reliable; UDP is not. RFC 7118 §5: WebSocket is reliable too. */
export function isReliable(transport: TransportName | string): boolean {
  return transport !== 'udp' && transport !== 'UDP';
}

/** Default port per transport (RFC 3261 §19.1.2: 5060, 5061 for TLS; RFC 6455 §3: 80 for ws, 443 for wss). */
export function defaultPort(transport: TransportName | string): number {
  switch (transport.toLowerCase()) {
    case 'tls': return 5061;
    case 'ws': return 80;
    case 'wss': return 443;
    default: return 5060;
  }
}

/** True for the WebSocket transports (RFC 7118), which are reached only over the connection the client opened. */
export function isWebSocket(transport: TransportName | string): boolean {
  const t = transport.toLowerCase();
  return t === 'ws' || t === 'wss';
}

/** Via transport token ('UDP', 'TCP', 'TLS', RFC 7118 §5.3 'WS', 'WSS') → TransportName, or null for anything we do not speak. */
export function transportFromVia(token: string): TransportName | null {
  switch (token.toUpperCase()) {
    case 'UDP': return 'udp';
    case 'TCP': return 'tcp';
    case 'TLS': return 'tls';
    case 'WS': return 'ws';
    case 'WSS': return 'wss';
    default: return null;
  }
}
