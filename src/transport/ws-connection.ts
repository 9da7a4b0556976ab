// One SIP-over-WebSocket connection (RFC 7118): a flow like a TCP connection, but each WebSocket message is one
// SIP message (§4.2), so there is no Content-Length framing and a bad message does not break the ones after it.

import { isUtf8 } from 'node:buffer';
import type { Socket } from 'node:net';
import { WebSocket, type RawData } from 'ws';
import { StreamConnection, type ConnectionOwner } from './stream-connection.ts';
import type { ListenerInfo, TransportName } from './transport.ts';

const CRLF = Buffer.from('\r\n', 'latin1');

export class WsConnection extends StreamConnection {
  private readonly ws: WebSocket;

  constructor(owner: ConnectionOwner, id: number, transport: TransportName, ws: WebSocket, socket: Socket, address: string,
    port: number, local: ListenerInfo, tick: number) {
    super(owner, id, transport, socket, address, port, local, false, tick);
    this.ws = ws;
    socket.setNoDelay(true);
    ws.on('message', (data: RawData) => this.onMessage(toBuffer(data)));
    ws.on('ping', () => {
      this.lastTick = -1; // RFC 7118 §6: WebSocket Ping frames keep the flow alive (ws answers the Pong)
    });
    ws.on('error', (err: Error) => {
      this.lastError = err;
    });
    ws.on('close', () => this.onClose());
  }

  private onMessage(message: Buffer): void {
    this.lastTick = -1; // "active since the last sweep"
    if (isCrlfOnly(message)) {
      // RFC 5626 §3.5.1 keep-alive as SIP.js sends it over WebSocket (keepAliveInterval): a CRLFCRLF ping gets a CRLF pong
      if (message.length >= 4) this.write(CRLF);
      return;
    }
    this.owner.connectionFrame(this, message);
  }

  /** RFC 7118 §4.2: a UTF-8 SIP message goes in a text frame, anything else in a binary frame. */
  write(bytes: Buffer): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.lastTick = -1;
    this.ws.send(bytes, { binary: !isUtf8(bytes) });
  }

  /**
   * The answer to a bad message (a 400, or nothing). RFC 7118 §4.2: messages are framed one by one, so unlike a TCP
   * stream the flow is not lost: the connection, and the bindings registered over it, stay.
   */
  endWith(bytes: Buffer | null): void {
    if (bytes !== null) this.write(bytes);
  }

  override destroy(): void {
    this.ws.terminate();
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function isCrlfOnly(buf: Buffer): boolean {
  if (buf.length === 0 || buf.length > 4) return false;
  for (let i = 0; i < buf.length; i++) if (buf[i] !== 0x0d && buf[i] !== 0x0a) return false;
  return true;
}
