// A SIP-over-TCP transport for SIP.js 0.21 in Node (its own transports are WebSocket only): one connection to
// the server given in the options, stream framed by Content-Length with our StreamFramer, so a SIP.js
// UserAgent can register to and be called through tvphone. Loopback only; disconnect()/dispose() close it.
import net from 'node:net';
import { EmitterImpl, TransportState, type Emitter, type Transport } from 'sip.js';
import type { Logger } from 'sip.js/lib/core/log/logger.js';
import { StreamFramer } from '../../../src/transport/stream-framer.ts';

export interface TcpTransportOptions {
  host: string;
  port: number;
}

export class NodeTcpTransport implements Transport {
  readonly protocol = 'TCP';
  onConnect: (() => void) | undefined;
  onDisconnect: ((error?: Error) => void) | undefined;
  onMessage: ((message: string) => void) | undefined;
  readonly #stateChange = new EmitterImpl<TransportState>();
  readonly #opts: TcpTransportOptions;
  #state: TransportState = TransportState.Disconnected;
  #socket: net.Socket | null = null;
  /** every message received, for assertions */
  readonly received: string[] = [];

  constructor(_logger: Logger, options: TcpTransportOptions) {
    this.#opts = options;
  }

  get state(): TransportState {
    return this.#state;
  }

  get stateChange(): Emitter<TransportState> {
    return this.#stateChange;
  }

  #set(s: TransportState, err?: Error): void {
    if (this.#state === s) return;
    this.#state = s;
    this.#stateChange.emit(s);
    if (s === TransportState.Connected) this.onConnect?.();
    if (s === TransportState.Disconnected) this.onDisconnect?.(err);
  }

  isConnected(): boolean {
    return this.#state === TransportState.Connected;
  }

  connect(): Promise<void> {
    if (this.#socket) return Promise.resolve();
    this.#set(TransportState.Connecting);
    return new Promise((resolve, reject) => {
      const s = net.connect(this.#opts.port, this.#opts.host);
      this.#socket = s;
      const framer = new StreamFramer({
        onFrame: (f) => {
          const text = f.toString('utf8');
          this.received.push(text);
          this.onMessage?.(text);
        },
        onPing: () => s.write('\r\n'),
        onFramingError: () => s.destroy(),
      }, 1 << 20);
      s.on('data', (d) => framer.push(d));
      s.once('connect', () => {
        this.#set(TransportState.Connected);
        resolve();
      });
      s.on('error', (err) => {
        if (this.#state === TransportState.Connecting) reject(err);
      });
      s.once('close', () => {
        this.#socket = null;
        this.#set(TransportState.Disconnected);
      });
    });
  }

  async disconnect(): Promise<void> {
    const s = this.#socket;
    if (!s) return;
    this.#set(TransportState.Disconnecting);
    await new Promise<void>((resolve) => {
      s.once('close', () => resolve());
      s.end();
      setTimeout(() => s.destroy(), 500).unref();
    });
  }

  async dispose(): Promise<void> {
    await this.disconnect();
  }

  send(message: string): Promise<void> {
    if (!this.#socket || this.#state !== TransportState.Connected) return Promise.reject(new Error('not connected'));
    this.#socket.write(message);
    return Promise.resolve();
  }
}
