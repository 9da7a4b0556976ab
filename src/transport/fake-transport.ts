// An in-memory Transport for unit tests of the layers above (STYLE.md: "the network is a port; tests fake it").
// It records what is sent, lets a test inject received messages, fail sends and close connections,
// and can be linked to another FakeTransport so two stacks talk (messages are serialized and re-parsed, as on a wire).

import type { SipMessage, SipRequest } from '../sip/message.ts';
import { parseMessage } from '../sip/parser.ts';
import { serializeMessage } from '../sip/serializer.ts';
import type {
  ConnectionClosedListener, ListenerInfo, MessageListener, SendErrorCallback, Source, Target, Transport, TransportCounters, TransportName,
} from './transport.ts';
import { stampTopVia } from './via-stamp.ts';

export interface SentMessage {
  msg: SipMessage;
  target: Target;
}

export class FakeTransport implements Transport {
  /** every message sent, in order */
  readonly sent: SentMessage[] = [];
  /** the local address this fake pretends to listen on */
  readonly local: ListenerInfo;
  /** when set, every send fails with this error (reported asynchronously, like the real transport) */
  failSends: Error | null = null;
  /** what NetworkTransport counts, so a whole server can run on this fake (server.ts ServerTransport) */
  readonly counters: TransportCounters = { received: 0, sent: 0, parseErrors: 0, dropped: 0, connectionsOpened: 0, connectionsClosed: 0 };
  readonly connectionCount = 0;
  private messageListeners: MessageListener[] = [];
  private closedListeners: ConnectionClosedListener[] = [];
  private peer: FakeTransport | null = null;

  constructor(local: Partial<ListenerInfo> = {}) {
    this.local = { id: 0, transport: 'udp', host: '127.0.0.1', port: 5060, ...local };
  }

  send(msg: SipMessage, target: Target, onError?: SendErrorCallback): Uint8Array | undefined {
    if (this.failSends !== null) {
      const err = this.failSends;
      if (onError !== undefined) queueMicrotask(() => onError(err));
      return undefined;
    }
    this.sent.push({ msg, target });
    this.counters.sent++;
    const peer = this.peer;
    if (peer !== null) {
      const bytes = serializeMessage(msg);
      const from: Source = { transport: target.transport, address: this.local.host, port: this.local.port, connectionId: null, local: peer.local };
      queueMicrotask(() => peer.deliver(parseMessage(bytes), from));
      return bytes;
    }
    return undefined;
  }

  /** the one listener it pretends to have */
  get listeners(): ListenerInfo[] {
    return [this.local];
  }

  async close(): Promise<void> {}

  sentBy(target: Target): { transport: TransportName; host: string; port: number } {
    return { transport: target.transport, host: this.local.host, port: this.local.port };
  }

  onMessage(listener: MessageListener): void {
    this.messageListeners.push(listener);
  }

  onConnectionClosed(listener: ConnectionClosedListener): void {
    this.closedListeners.push(listener);
  }

  /**
   * Pretend `msg` arrived (from 192.0.2.1:5060 over UDP unless told otherwise). Requests get their top Via
   * stamped with received/rport as the real transport does (RFC 3581). A string is parsed first.
   */
  deliver(msg: SipMessage | string, from: Partial<Source> = {}): void {
    const m = typeof msg === 'string' ? parseMessage(Buffer.from(msg)) : msg;
    const source: Source = {
      transport: from.transport ?? this.local.transport,
      address: from.address ?? '192.0.2.1',
      port: from.port ?? 5060,
      connectionId: from.connectionId ?? null,
      local: from.local ?? this.local,
    };
    if (m.isRequest()) stampTopVia(m as SipRequest, source.address, source.port);
    this.counters.received++;
    for (const l of this.messageListeners) l(m, source);
  }

  /** Pretend a stream connection closed. */
  closeConnection(connectionId: number, remote: { transport: TransportName; address: string; port: number } = { transport: 'tcp', address: '192.0.2.1', port: 5060 }): void {
    for (const l of this.closedListeners) l(connectionId, remote);
  }

  /** Link two fakes: what one sends, the other receives (serialized and parsed, delivered on a microtask). */
  link(other: FakeTransport): void {
    this.peer = other;
    other.peer = this;
  }

  /** the last message sent (throws if none) */
  last(): SentMessage {
    const s = this.sent[this.sent.length - 1];
    if (s === undefined) throw new Error('FakeTransport: nothing was sent');
    return s;
  }

  /** Wait until queued deliveries and error reports have run. */
  async settle(rounds = 10): Promise<void> {
    for (let i = 0; i < rounds; i++) await Promise.resolve();
  }
}
