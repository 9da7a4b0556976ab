// A connection-oriented flow (RFC 5626 §3: TCP, TLS, and WebSocket in ./ws-connection.ts): what the transport keeps
// per connection. TcpConnection frames a TCP or TLS byte stream, answers keep-alives and tracks activity for the idle sweep.

import type { Socket } from 'node:net';
import type { FrameSink } from './stream-framer.ts';
import { StreamFramer } from './stream-framer.ts';
import type { ListenerInfo, SendErrorCallback, Source, TransportName } from './transport.ts';

const CRLF = Buffer.from('\r\n', 'latin1');

/** What a connection reports to its owner (the NetworkTransport). */
export interface ConnectionOwner {
  connectionFrame(conn: StreamConnection, frame: Buffer): void;
  connectionFramingError(conn: StreamConnection, reason: string, head: Buffer | null): void;
  connectionClosed(conn: StreamConnection, hadError: Error | null): void;
}

export abstract class StreamConnection {
  readonly id: number;
  readonly transport: TransportName;
  /** the TCP or TLS socket (under a WebSocket: the upgraded one) */
  readonly socket: Socket;
  /** the Source of every message received here (shared: it does not change for the connection's life) */
  readonly source: Source;
  /** key in the owner's by-remote-address map */
  readonly remoteKey: string;
  readonly outbound: boolean;
  /** an outbound TLS connection opened for a named next hop: the name its certificate was checked against (lower case) */
  serverName: string | null = null;
  /** sweep tick of the last activity */
  lastTick: number;
  connected: boolean;
  closed = false;
  /** error callbacks of sends queued before an outbound connection was established (bounded) */
  pendingErrors: SendErrorCallback[] | null = null;
  protected readonly owner: ConnectionOwner;
  protected lastError: Error | null = null;

  constructor(owner: ConnectionOwner, id: number, transport: TransportName, socket: Socket, address: string, port: number,
    local: ListenerInfo, outbound: boolean, tick: number) {
    this.owner = owner;
    this.id = id;
    this.transport = transport;
    this.socket = socket;
    this.outbound = outbound;
    this.connected = !outbound;
    this.source = { transport, address, port, connectionId: id, local };
    this.remoteKey = remoteKey(transport, address, port);
    this.lastTick = tick;
  }

  /** Send one message (or keep-alive) on the flow. */
  abstract write(bytes: Buffer): void;

  /** Send what is left (e.g. a 400), then close. */
  abstract endWith(bytes: Buffer | null): void;

  destroy(): void {
    this.socket.destroy();
  }

  /** The flow is gone: tell the owner once. */
  protected onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.owner.connectionClosed(this, this.lastError);
  }
}

/** One TCP or TLS connection, framed by Content-Length (RFC 3261 §18.3). */
export class TcpConnection extends StreamConnection implements FrameSink {
  private framer: StreamFramer;

  constructor(owner: ConnectionOwner, id: number, transport: TransportName, socket: Socket, address: string, port: number,
    local: ListenerInfo, outbound: boolean, maxMessageSize: number, tick: number) {
    super(owner, id, transport, socket, address, port, local, outbound, tick);
    this.framer = new StreamFramer(this, maxMessageSize);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: Error) => {
      this.lastError = err;
    });
    socket.on('close', () => this.onClose());
  }

  private onData(chunk: Buffer): void {
    this.lastTick = -1; // marks "active since the last sweep"; the sweep stamps the real tick
    this.framer.push(chunk);
  }

  onFrame(message: Buffer): void {
    this.owner.connectionFrame(this, message);
  }

  /**
   * RFC 5626 §3.5.1: a CRLFCRLF ping is answered with a CRLF pong — by the side that accepted the connection. On a
   * connection we opened, CRLFs are the server's pongs (two of them read just like a ping): they are not answered.
   */
  onPing(): void {
    if (!this.closed && !this.outbound) this.socket.write(CRLF);
  }

  onFramingError(reason: string, head: Buffer | null): void {
    this.owner.connectionFramingError(this, reason, head);
  }

  write(bytes: Buffer): void {
    this.lastTick = -1;
    this.socket.write(bytes);
  }

  endWith(bytes: Buffer | null): void {
    if (this.closed) return;
    const s = this.socket;
    if (bytes !== null) s.end(bytes, () => s.destroy());
    else s.end(() => s.destroy());
    // a peer that never reads must not keep it open: destroy after a grace period
    setTimeout(() => s.destroy(), 2000).unref();
  }
}

export function remoteKey(transport: TransportName, address: string, port: number): string {
  return transport + '|' + address + '|' + port;
}
