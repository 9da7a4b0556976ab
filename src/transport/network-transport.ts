// The socket transport (RFC 3261 §18): UDP, TCP, TLS and WebSocket (RFC 7118) listeners, IPv4 and IPv6, behind the Transport port.
// Network input never throws past this file: bad messages get 400 where answerable, else are dropped and counted.

import dgram from 'node:dgram';
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import tls from 'node:tls';
import type { WebSocket } from 'ws';
import type { SipMessage, SipRequest } from '../sip/message.ts';
import type { Logger } from '../log/logger.ts';
import { SipParseError } from '../sip/parse-error.ts';
import { parseMessage } from '../sip/parser.ts';
import { serializeMessage } from '../sip/serializer.ts';
import { formatVia, type Via } from '../sip/via.ts';
import { reject, rejectUnparsable } from './reject.ts';
import { remoteKey, TcpConnection, type StreamConnection, type ConnectionOwner } from './stream-connection.ts';
import type {
  ConnectionClosedListener, ListenerConfig, ListenerInfo, MessageListener, SendErrorCallback, Source, Target, Transport,
  TransportCounters, TransportName,
} from './transport.ts';
import { stampTopVia } from './via-stamp.ts';
import { TLS_SERVER_POLICY } from './tls-policy.ts';
import { localAddressFor, type InterfaceAddress } from './local-address.ts';
import type { WsConnection } from './ws-connection.ts';
import type { WsListener } from './ws-listener.ts';

export interface NetworkTransportOptions {
  listeners: ListenerConfig[];
  /** close stream connections idle this long (ms); default 600 000 */
  idleTimeout?: number;
  /** most open stream connections (inbound + outbound); default 10 000 */
  maxConnections?: number;
  /** most inbound stream connections from one address (a NAT may hide several TVs); default 256 */
  maxConnectionsPerSource?: number;
  /** a TLS handshake not finished by then is dropped (ms); default 10 000 */
  tlsHandshakeTimeout?: number;
  /** largest message accepted or sent (bytes); default 65 535 */
  maxMessageSize?: number;
  /** RFC 3261 §18.1.1: requests larger than this go over TCP instead of UDP; default 1300 */
  udpMaxRequestSize?: number;
  /**
   * SO_RCVBUF asked for each UDP socket (bytes; 0: the kernel's default). The kernel grants at most
   * net.core.rmem_max; udpReceiveBuffers() tells what each socket got. Default 0.
   */
  udpReceiveBuffer?: number;
  /** give up connecting after this long (ms); default 10 000 */
  connectTimeout?: number;
  /** for outbound TLS: trusted CAs, and whether to verify the peer (default true) */
  tlsClient?: { ca?: string | Buffer; rejectUnauthorized?: boolean };
  /** host to put in Via sent-by when a listener is bound to a wildcard address */
  advertisedHost?: string;
  /** a listener callback threw, or a socket failed: for the log */
  onError?: (err: unknown) => void;
  /** the SIP trace: each message in and out, one line at debug (its start line), the whole text at trace */
  log?: Logger;
}

interface UdpListener {
  info: ListenerInfo;
  socket: dgram.Socket;
  v6: boolean;
}

interface StreamListener {
  info: ListenerInfo;
  server: net.Server;
}

const MAX_PENDING_ERRORS = 64;
const PING = Buffer.from('\r\n\r\n', 'latin1');

export class NetworkTransport implements Transport, ConnectionOwner {
  readonly counters: TransportCounters = { received: 0, sent: 0, parseErrors: 0, dropped: 0, connectionsOpened: 0, connectionsClosed: 0 };
  /** bound listeners, in the order configured (ports resolved) */
  readonly listeners: ListenerInfo[] = [];
  private readonly udp: UdpListener[] = [];
  private readonly streams: StreamListener[] = [];
  private readonly webSockets: WsListener[] = [];
  private readonly connections = new Map<number, StreamConnection>();
  private readonly byRemote = new Map<string, StreamConnection>();
  private readonly messageListeners: MessageListener[] = [];
  private readonly closedListeners: ConnectionClosedListener[] = [];
  private readonly idleTimeout: number;
  private readonly maxConnections: number;
  private readonly maxPerSource: number;
  /** inbound stream connections per remote address (bounded by the connections themselves) */
  private readonly perSource = new Map<string, number>();
  private readonly maxMessageSize: number;
  private readonly udpMax: number;
  private readonly connectTimeout: number;
  private readonly options: NetworkTransportOptions;
  private readonly trace: Logger | undefined;
  /** our interface addresses, read once at start: the sent-by of a wildcard listener is chosen among them */
  private readonly interfaces: InterfaceAddress[] = Object.values(networkInterfaces()).flatMap((a) => a ?? [])
    .map((i) => ({ address: i.address, netmask: i.netmask, family: i.family, internal: i.internal }));
  private readonly report: (err: unknown) => void;
  private nextConnectionId = 1;
  private tick = 0;
  private sweepInterval: number;
  private sweeper: ReturnType<typeof setInterval> | null = null;
  private closed = false;

  private constructor(options: NetworkTransportOptions) {
    this.options = options;
    this.trace = options.log;
    this.idleTimeout = options.idleTimeout ?? 600_000;
    this.maxConnections = options.maxConnections ?? 10_000;
    this.maxPerSource = options.maxConnectionsPerSource ?? 256;
    this.maxMessageSize = options.maxMessageSize ?? 65_535;
    this.udpMax = options.udpMaxRequestSize ?? 1300;
    this.connectTimeout = options.connectTimeout ?? 10_000;
    this.report = options.onError ?? (() => {});
    this.sweepInterval = Math.max(10, Math.min(5_000, Math.floor(this.idleTimeout / 4)));
  }

  /** Bind every listener (port 0 binds a free port: read `listeners[i].port`). Rejects if any fails to bind. */
  static async listen(options: NetworkTransportOptions): Promise<NetworkTransport> {
    const t = new NetworkTransport(options);
    try {
      for (const cfg of options.listeners) await t.bind(cfg);
    } catch (err) {
      await t.close();
      throw err;
    }
    t.sweeper = setInterval(() => t.sweep(), t.sweepInterval);
    t.sweeper.unref();
    return t;
  }

  private async bind(cfg: ListenerConfig): Promise<void> {
    const id = this.listeners.length;
    const host = stripBrackets(cfg.host);
    if (cfg.transport === 'ws' || cfg.transport === 'wss') {
      // the ws package only for a WebSocket listener (RFC 7118): a UDP/TCP/TLS server never loads it (issue 18)
      const [{ WsListener }, { WsConnection }] = await Promise.all([import('./ws-listener.ts'), import('./ws-connection.ts')]);
      const l = await WsListener.listen(cfg, id, host, {
        maxMessageSize: this.maxMessageSize,
        mayAccept: () => !this.closed && this.connections.size < this.maxConnections,
        refused: () => this.counters.dropped++,
        accepted: (ws, socket) => this.onAcceptWebSocket(WsConnection, l.info, ws, socket),
        onError: this.report,
      });
      this.webSockets.push(l);
      this.listeners.push(l.info);
      return;
    }
    if (cfg.transport === 'udp') {
      const v6 = net.isIPv6(host);
      const socket = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4' });
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(cfg.port, host, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      const info: ListenerInfo = { id, transport: 'udp', host, port: socket.address().port };
      const asked = this.options.udpReceiveBuffer ?? 0;
      if (asked > 0) {
        try {
          socket.setRecvBufferSize(asked);
        } catch (err) {
          this.report(err);
        }
      }
      const l: UdpListener = { info, socket, v6 };
      socket.on('message', (buf, rinfo) => this.onDatagram(l, buf, rinfo.address, rinfo.port));
      socket.on('error', (err) => this.report(err));
      this.udp.push(l);
      this.listeners.push(info);
      return;
    }
    let server: net.Server;
    if (cfg.transport === 'tls') {
      if (cfg.tls === undefined) throw new Error(`tls listener ${host}:${cfg.port} needs a certificate and key`);
      server = tls.createServer({ cert: cfg.tls.cert, key: cfg.tls.key, ...TLS_SERVER_POLICY, handshakeTimeout: this.options.tlsHandshakeTimeout ?? 10_000 });
      // a handshake holds a descriptor before 'secureConnection': handshakes count against maxConnections (the
      // server's own count includes them), end after tlsHandshakeTimeout, and a full source gets none
      server.maxConnections = this.maxConnections;
      server.on('connection', (raw: net.Socket) => {
        if (this.sourceFull(raw)) {
          this.counters.dropped++;
          raw.destroy();
        }
      });
    } else server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(cfg.port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const info: ListenerInfo = { id, transport: cfg.transport, host, port: (server.address() as net.AddressInfo).port };
    server.on(cfg.transport === 'tls' ? 'secureConnection' : 'connection', (socket: net.Socket) => this.onAccept(info, socket));
    server.on('error', (err) => this.report(err));
    // a failed or timed-out handshake: Node leaves the socket open when this event has a listener, so close it here
    if (cfg.transport === 'tls') server.on('tlsClientError', (_err: Error, s: tls.TLSSocket) => { this.counters.dropped++; s.destroy(); });
    this.streams.push({ info, server });
    this.listeners.push(info);
  }

  // ---------------------------------------------------------------- the port

  onMessage(listener: MessageListener): void {
    this.messageListeners.push(listener);
  }

  onConnectionClosed(listener: ConnectionClosedListener): void {
    this.closedListeners.push(listener);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Each UDP listener's receive buffer as the kernel reports it (Linux: twice what it granted, for its bookkeeping). */
  udpReceiveBuffers(): Array<{ listener: ListenerInfo; bytes: number }> {
    return this.udp.map((l) => ({ listener: l.info, bytes: l.socket.getRecvBufferSize() }));
  }

  /** Is this stream connection still open? (the registrar checks a binding's flow) */
  hasConnection(connectionId: number): boolean {
    return this.connections.has(connectionId);
  }

  /** Close the stream connections to `target` (connectionClosed follows each): a TV agent going to standby. How many. */
  closeConnectionsTo(target: Target): number {
    const address = stripBrackets(target.address);
    const to = [...this.connections.values()].filter((c) => c.transport === target.transport && c.source.address === address && c.source.port === target.port);
    for (const c of to) c.destroy();
    return to.length;
  }

  /** Close one stream connection (connectionClosed follows). */
  closeConnection(connectionId: number): void {
    this.connections.get(connectionId)?.destroy();
  }

  sentBy(target: Target): { transport: TransportName; host: string; port: number } {
    const v6 = net.isIPv6(stripBrackets(target.address));
    const l = this.listeners.find((x) => x.transport === target.transport && net.isIPv6(x.host) === v6) ??
      this.listeners.find((x) => x.transport === target.transport) ?? this.listeners[0];
    if (l === undefined) return { transport: target.transport, host: this.options.advertisedHost ?? '127.0.0.1', port: 5060 };
    let host = l.host;
    if (host === '0.0.0.0' || host === '::') host = this.options.advertisedHost ?? localAddressFor(target.address, host === '::' ? 'IPv6' : 'IPv4', this.interfaces);
    return { transport: target.transport, host: net.isIPv6(host) ? `[${host}]` : host, port: l.port };
  }

  send(msg: SipMessage, target: Target, onError?: SendErrorCallback): Uint8Array | undefined {
    if (this.closed) return void fail(onError, new Error('transport closed'));
    let bytes: Buffer;
    try {
      bytes = serializeMessage(msg);
    } catch (err) {
      return void fail(onError, err as Error);
    }
    if (bytes.length > this.maxMessageSize) return void fail(onError, new Error(`message of ${bytes.length} bytes exceeds ${this.maxMessageSize}`));
    const address = stripBrackets(target.address);
    if (this.trace?.isLevelEnabled('debug')) this.traceMessage('out', bytes, target);
    if (target.transport === 'udp') {
      // RFC 3261 §18.1.1: a request larger than 1300 bytes (path MTU unknown) MUST go over a congestion-controlled transport.
      if (bytes.length > this.udpMax && msg.isRequest() && this.streams.length > 0 && setTopViaTransport(msg, 'TCP')) {
        const tcpBytes = serializeMessage(msg);
        const udpBytes = bytes;
        this.sendStream(tcpBytes, { transport: 'tcp', address, port: target.port }, address, (err) => {
          // RFC 3261 §18.1.1: if the connection cannot be made, the request is sent over UDP after all.
          void err;
          this.sendUdp(udpBytes, address, target.port, target.listenerId, onError);
        });
        return tcpBytes;
      }
      this.sendUdp(bytes, address, target.port, target.listenerId, onError);
      return bytes;
    }
    this.sendStream(bytes, target, address, onError);
    return bytes;
  }

  private sendUdp(bytes: Buffer, address: string, port: number, listenerId: number | undefined, onError?: SendErrorCallback): void {
    const v6 = net.isIPv6(address);
    let l: UdpListener | undefined;
    if (listenerId !== undefined) l = this.udp.find((x) => x.info.id === listenerId);
    if (l === undefined || l.v6 !== v6) l = this.udp.find((x) => x.v6 === v6);
    if (l === undefined) return fail(onError, new Error(`no UDP listener for ${v6 ? 'IPv6' : 'IPv4'} ${address}`));
    this.counters.sent++;
    if (onError === undefined) l.socket.send(bytes, port, address);
    else l.socket.send(bytes, port, address, (err) => {
      if (err) onError(err);
    });
  }

  /**
   * RFC 5626 §3.5.1: send a CRLFCRLF ping on the open stream connection to `target` (a UA keeping its flow to the
   * registrar alive). Returns false when there is no open connection (UDP, or the flow is gone).
   */
  keepAlive(target: Target): boolean {
    if (target.transport === 'udp') return false;
    const conn = (target.connectionId != null ? this.connections.get(target.connectionId) : undefined)
      ?? this.byRemote.get(remoteKey(target.transport, target.address.replace(/^\[|\]$/g, ''), target.port));
    if (conn === undefined || !conn.connected || conn.closed) return false;
    conn.write(PING);
    return true;
  }

  private sendStream(bytes: Buffer, target: Target, address: string, onError?: SendErrorCallback): void {
    const transport = target.transport;
    let conn: StreamConnection | undefined;
    // RFC 3261 §18.2.2 / RFC 5626: reuse the connection the peer opened (a registered flow, the request's connection).
    if (target.connectionId !== undefined && target.connectionId !== null) {
      conn = this.connections.get(target.connectionId);
      if (conn !== undefined && conn.transport !== transport) conn = undefined;
    }
    conn ??= this.byRemote.get(remoteKey(transport, address, target.port));
    // a named TLS next hop goes only over a connection whose certificate was checked against that name: not one the
    // peer opened (never verified), nor one checked against the address or another name
    const serverName = transport === 'tls' ? target.serverName?.toLowerCase() : undefined;
    if (conn !== undefined && serverName !== undefined && conn.serverName !== serverName) conn = undefined;
    if (conn === undefined) {
      const opened = this.connect(transport, address, target.port, serverName);
      if (opened instanceof Error) return fail(onError, opened);
      conn = opened;
    }
    if (!conn.connected) {
      if (onError !== undefined) {
        conn.pendingErrors ??= [];
        if (conn.pendingErrors.length < MAX_PENDING_ERRORS) conn.pendingErrors.push(onError);
      }
    } else if (conn.closed || conn.socket.destroyed) return fail(onError, new Error('connection closed'));
    this.counters.sent++;
    conn.write(bytes);
  }

  private connect(transport: TransportName, address: string, port: number, serverName?: string): StreamConnection | Error {
    // RFC 7118 §5: a WebSocket client is reached only over the connection it opened; its Contact is no address
    if (transport === 'ws' || transport === 'wss') return new Error(`no open ${transport} connection to ${address}:${port}`);
    if (this.connections.size >= this.maxConnections) return new Error(`connection limit (${this.maxConnections}) reached`);
    const l = this.streams.find((x) => x.info.transport === transport) ?? this.streams[0];
    const local: ListenerInfo = l?.info ?? { id: -1, transport, host: '0.0.0.0', port: 0 };
    let socket: net.Socket;
    if (transport === 'tls') {
      // with a servername, SNI names it and Node's checkServerIdentity checks the certificate against it (RFC 6125)
      socket = tls.connect({
        host: address, port, servername: serverName, ca: this.options.tlsClient?.ca, rejectUnauthorized: this.options.tlsClient?.rejectUnauthorized ?? true,
        timeout: this.connectTimeout,
      });
    } else socket = net.connect({ host: address, port, timeout: this.connectTimeout });
    const conn = this.adopt(transport, socket, address, port, local, true);
    conn.serverName = serverName ?? null;
    socket.once(transport === 'tls' ? 'secureConnect' : 'connect', () => {
      conn.connected = true;
      conn.pendingErrors = null;
      socket.setTimeout(0);
    });
    socket.once('timeout', () => {
      if (!conn.connected) socket.destroy(new Error(`connect to ${address}:${port} timed out`));
    });
    return conn;
  }

  private adopt(transport: TransportName, socket: net.Socket, address: string, port: number, local: ListenerInfo, outbound: boolean): StreamConnection {
    return this.track(new TcpConnection(this, this.nextConnectionId++, transport, socket, address, port, local, outbound, this.maxMessageSize, this.tick));
  }

  private track(conn: StreamConnection): StreamConnection {
    this.connections.set(conn.id, conn);
    if (!conn.outbound) this.perSource.set(conn.source.address, (this.perSource.get(conn.source.address) ?? 0) + 1);
    this.byRemote.set(conn.remoteKey, conn);
    this.counters.connectionsOpened++;
    return conn;
  }

  /** RFC 7118: an accepted WebSocket is a flow like an accepted TCP connection (maxConnections checked at the handshake). */
  private onAcceptWebSocket(Connection: typeof WsConnection, local: ListenerInfo, ws: WebSocket, socket: net.Socket): void {
    const address = normalizeAddress(socket.remoteAddress ?? '');
    this.track(new Connection(this, this.nextConnectionId++, local.transport, ws, socket, address, socket.remotePort ?? 0, local, this.tick));
  }

  // ---------------------------------------------------------------- receiving

  /** The remote address of `socket` already has maxConnectionsPerSource inbound connections. */
  private sourceFull(socket: net.Socket): boolean {
    return (this.perSource.get(normalizeAddress(socket.remoteAddress ?? '')) ?? 0) >= this.maxPerSource;
  }

  private onAccept(local: ListenerInfo, socket: net.Socket): void {
    if (this.closed || this.connections.size >= this.maxConnections || this.sourceFull(socket)) {
      this.counters.dropped++;
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    const address = normalizeAddress(socket.remoteAddress ?? '');
    this.adopt(local.transport, socket, address, socket.remotePort ?? 0, local, false);
  }

  private onDatagram(l: UdpListener, buf: Buffer, rawAddress: string, port: number): void {
    this.counters.received++;
    if (isKeepAlive(buf)) return; // RFC 5626 §4.4.1 / common practice: CRLF keep-alives on UDP are ignored
    if (buf.length > this.maxMessageSize) {
      this.counters.dropped++;
      return;
    }
    const address = normalizeAddress(rawAddress);
    const source: Source = { transport: 'udp', address, port, connectionId: null, local: l.info };
    let msg: SipMessage;
    try {
      msg = parseMessage(buf);
    } catch (err) {
      this.counters.parseErrors++;
      // RFC 3261 §21.4.1: answer 400 when the request can be answered at all, where §18.2.2 says; otherwise drop.
      const answer = rejectUnparsable(err, source);
      if (answer !== null) this.send(answer.response, answer.target);
      else this.counters.dropped++;
      return;
    }
    this.deliver(msg, source);
  }

  connectionFrame(conn: StreamConnection, frame: Buffer): void {
    this.counters.received++;
    let msg: SipMessage;
    try {
      msg = parseMessage(frame);
    } catch (err) {
      // Bad bytes on a stream: 400 where possible (on this connection, RFC 3261 §18.2.2), then the connection is closed.
      this.counters.parseErrors++;
      const answer = rejectUnparsable(err, conn.source);
      conn.endWith(answer !== null ? serializeMessage(answer.response) : null);
      return;
    }
    this.deliver(msg, conn.source);
  }

  connectionFramingError(conn: StreamConnection, reason: string, head: Buffer | null): void {
    this.counters.received++;
    this.counters.parseErrors++;
    let req: SipRequest | undefined;
    if (head !== null) {
      try {
        const m = parseMessage(head);
        if (m.isRequest()) req = m;
      } catch (err) {
        req = err instanceof SipParseError ? err.request : undefined;
      }
    }
    const answer = req !== undefined ? reject(req, reason === 'Message Too Large' ? 513 : 400, reason, conn.source) : null;
    conn.endWith(answer !== null ? serializeMessage(answer.response) : null);
  }

  connectionClosed(conn: StreamConnection, hadError: Error | null): void {
    if (this.connections.delete(conn.id) && !conn.outbound) {
      const n = (this.perSource.get(conn.source.address) ?? 1) - 1;
      if (n > 0) this.perSource.set(conn.source.address, n);
      else this.perSource.delete(conn.source.address);
    }
    if (this.byRemote.get(conn.remoteKey) === conn) this.byRemote.delete(conn.remoteKey);
    this.counters.connectionsClosed++;
    if (conn.pendingErrors !== null) {
      const err = hadError ?? new Error('connection closed before it was established');
      for (const cb of conn.pendingErrors) safeCall(cb, err, this.report);
      conn.pendingErrors = null;
    }
    const remote = { transport: conn.transport, address: conn.source.address, port: conn.source.port };
    for (const l of this.closedListeners) {
      try {
        l(conn.id, remote);
      } catch (err) {
        this.report(err);
      }
    }
  }

  private deliver(msg: SipMessage, source: Source): void {
    if (msg.isRequest() && !stampTopVia(msg as SipRequest, source.address, source.port)) {
      this.counters.parseErrors++;
      this.counters.dropped++;
      return;
    }
    if (this.trace?.isLevelEnabled('debug')) this.traceMessage('in', serializeMessage(msg), source);
    for (const l of this.messageListeners) {
      try {
        l(msg, source);
      } catch (err) {
        this.report(err);
      }
    }
  }

  /** One debug line per message (start line, peer, size), and the whole message at trace. */
  private traceMessage(dir: 'in' | 'out', bytes: Buffer, peer: { transport: string; address: string; port: number }): void {
    const text = bytes.toString('latin1');
    const eol = text.indexOf('\r\n');
    const fields = { dir, peer: `${peer.transport}:${peer.address}:${peer.port}`, bytes: bytes.length, head: eol < 0 ? text.slice(0, 200) : text.slice(0, Math.min(eol, 200)) };
    // credentials never reach a log, not even the trace
    if (this.trace!.isLevelEnabled('trace')) this.trace!.trace({ ...fields, text: text.replace(/^((?:proxy-)?authorization[ \t]*:)[^\r\n]*/gim, '$1 [redacted]') }, 'sip');
    else this.trace!.debug(fields, 'sip');
  }

  /** Close idle stream connections (no traffic for idleTimeout). */
  private sweep(): void {
    this.tick++;
    const limit = Math.ceil(this.idleTimeout / this.sweepInterval);
    for (const conn of this.connections.values()) {
      if (conn.lastTick === -1) conn.lastTick = this.tick;
      else if (this.tick - conn.lastTick >= limit) conn.destroy();
    }
  }

  /** Close every listener and connection (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweeper !== null) clearInterval(this.sweeper);
    for (const c of this.connections.values()) c.destroy();
    await Promise.all([
      ...this.udp.map((l) => new Promise<void>((resolve) => l.socket.close(() => resolve()))),
      ...this.streams.map((l) => new Promise<void>((resolve) => l.server.close(() => resolve()))),
      ...this.webSockets.map((l) => l.close()),
    ]);
  }
}

function fail(onError: SendErrorCallback | undefined, err: Error): void {
  // errors are always reported asynchronously, so callers never see them inside send()
  if (onError !== undefined) queueMicrotask(() => onError(err));
}

function safeCall(cb: SendErrorCallback, err: Error, report: (e: unknown) => void): void {
  try {
    cb(err);
  } catch (e) {
    report(e);
  }
}

function stripBrackets(host: string): string {
  return host.charCodeAt(0) === 0x5b && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** '::ffff:127.0.0.1' (IPv4 on a dual-stack socket) → '127.0.0.1'. */
function normalizeAddress(a: string): string {
  return a.startsWith('::ffff:') && a.indexOf('.') > 0 ? a.slice(7) : a;
}

/** A datagram of only CR/LF bytes (keep-alive). */
function isKeepAlive(buf: Buffer): boolean {
  if (buf.length > 4) return false;
  for (let i = 0; i < buf.length; i++) if (buf[i] !== 0x0d && buf[i] !== 0x0a) return false;
  return true;
}

/** RFC 3261 §18.1.1: when a request moves from UDP to TCP, the top Via's transport says so. */
function setTopViaTransport(msg: SipMessage, transport: string): boolean {
  let via: Via;
  try {
    via = msg.topVia();
  } catch {
    return false;
  }
  if (via.transport !== 'UDP') return false;
  const moved = { ...via, transport };
  return msg.replaceTopVia(formatVia(moved), moved);
}
