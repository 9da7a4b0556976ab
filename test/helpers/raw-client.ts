// A minimal SIP peer for integration tests: a UDP socket (or a TCP connection) on 127.0.0.1 that sends
// hand-written requests and collects what arrives, parsed with our parser. Every socket is closed by close().
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { parseMessage } from '../../src/sip/parser.ts';
import { serializeMessage } from '../../src/sip/serializer.ts';
import { StreamFramer } from '../../src/transport/stream-framer.ts';
import type { SipMessage, SipRequest, SipResponse } from '../../src/sip/message.ts';
import { createResponse } from '../../src/sip/response.ts';
import { newBranch, newTag, newCallId } from '../../src/sip/ids.ts';
import { buildAuthorization } from '../../src/sip/digest.ts';
import { parseAuthParams } from '../../src/sip/headers.ts';

export interface RequestSpec {
  method: string;
  uri: string;
  from: string;
  to: string;
  callId?: string;
  cseq?: number;
  headers?: Array<[string, string]>;
  body?: string | Uint8Array;
  contentType?: string;
  branch?: string;
  fromTag?: string;
  maxForwards?: number;
}

export class RawClient {
  readonly transport: 'udp' | 'tcp';
  port = 0;
  readonly received: SipMessage[] = [];
  #udp: dgram.Socket | null = null;
  #tcp: net.Socket | null = null;
  #waiters: Array<{ test: (m: SipMessage) => boolean; resolve: (m: SipMessage) => void }> = [];
  /**
   * UDP: a NAT's filter (address- and port-dependent, RFC 4787 §5): only datagrams from this port of 127.0.0.1 are
   * taken, the others dropped and counted; null takes everything
   */
  natOpenTo: number | null = null;
  droppedByNat = 0;
  /** automatically answer requests (e.g. delivered MESSAGEs) with this status; null = do not answer */
  autoAnswer: number | null = 200;
  readonly serverPort: number;
  /** the loopback address it is bound to (127.0.0.1; another 127.x.y.z is another source for the server) */
  readonly host: string;

  private constructor(transport: 'udp' | 'tcp', serverPort: number, host: string) {
    this.transport = transport;
    this.serverPort = serverPort;
    this.host = host;
  }

  static async open(transport: 'udp' | 'tcp', serverPort: number, host = '127.0.0.1'): Promise<RawClient> {
    const c = new RawClient(transport, serverPort, host);
    if (transport === 'udp') {
      const s = dgram.createSocket('udp4');
      s.on('message', (buf, from) => {
        if (c.natOpenTo !== null && (from.port !== c.natOpenTo || from.address !== '127.0.0.1')) c.droppedByNat++;
        else c.#deliver(buf);
      });
      s.bind(0, host);
      await once(s, 'listening');
      c.#udp = s;
      c.port = s.address().port;
    } else {
      const s = net.connect({ port: serverPort, host: '127.0.0.1', localAddress: host });
      await once(s, 'connect');
      const framer = new StreamFramer({ onFrame: (f) => c.#deliver(f), onPing: () => s.write('\r\n'), onFramingError: () => s.destroy() }, 1 << 20);
      s.on('data', (d) => framer.push(d));
      s.on('error', () => {});
      c.#tcp = s;
      c.port = s.localPort ?? 0;
    }
    return c;
  }

  get via(): string {
    return `SIP/2.0/${this.transport.toUpperCase()} ${this.host}:${this.port}`;
  }

  get contact(): string {
    return `<sip:c@${this.host}:${this.port}${this.transport === 'tcp' ? ';transport=tcp' : ''}>`;
  }

  #deliver(buf: Buffer): void {
    let m: SipMessage;
    try {
      m = parseMessage(buf);
    } catch {
      return;
    }
    this.received.push(m);
    const i = this.#waiters.findIndex((w) => w.test(m));
    if (i >= 0) {
      const [w] = this.#waiters.splice(i, 1);
      w.resolve(m);
    }
    if (m.isRequest() && m.method !== 'ACK' && this.autoAnswer !== null) {
      this.sendMessage(createResponse(m, this.autoAnswer, undefined, newTag()));
    }
  }

  sendRaw(data: string | Uint8Array): void {
    const buf = typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data);
    if (this.#udp) this.#udp.send(buf, this.serverPort, '127.0.0.1');
    else this.#tcp!.write(buf);
  }

  sendMessage(m: SipMessage): void {
    this.sendRaw(serializeMessage(m));
  }

  /** Builds and sends a request; returns its Call-ID and branch. */
  request(spec: RequestSpec): { callId: string; branch: string; text: string } {
    const callId = spec.callId ?? newCallId('test');
    const branch = spec.branch ?? newBranch();
    const body = spec.body === undefined ? Buffer.alloc(0) : typeof spec.body === 'string' ? Buffer.from(spec.body, 'utf8') : Buffer.from(spec.body);
    const lines = [
      `${spec.method} ${spec.uri} SIP/2.0`,
      `Via: ${this.via};branch=${branch};rport`,
      `Max-Forwards: ${spec.maxForwards ?? 70}`,
      `From: ${spec.from};tag=${spec.fromTag ?? newTag()}`,
      `To: ${spec.to}`,
      `Call-ID: ${callId}`,
      `CSeq: ${spec.cseq ?? 1} ${spec.method}`,
      ...(spec.headers ?? []).map(([n, v]) => `${n}: ${v}`),
      ...(spec.contentType ? [`Content-Type: ${spec.contentType}`] : []),
      `Content-Length: ${body.length}`,
    ];
    const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'utf8');
    this.sendRaw(Buffer.concat([head, body]));
    return { callId, branch, text: head.toString('utf8') };
  }

  /** REGISTERs `user` with this client's Contact (auth none) and waits for the final response. */
  register(user: string, expires = 3600, timeoutMs = 5000): Promise<SipResponse> {
    const { callId } = this.request({
      method: 'REGISTER', uri: 'sip:127.0.0.1', from: `<sip:${user}@127.0.0.1>`, to: `<sip:${user}@127.0.0.1>`,
      headers: [['Contact', this.contact], ['Expires', String(expires)]],
    });
    return this.final(callId, 'REGISTER', timeoutMs);
  }

  /**
   * REGISTER → 401 → REGISTER with digest credentials of `password`: the final status of the second, or of the first
   * when it is no challenge (0: no answer within `timeoutMs`).
   */
  async registerWithPassword(user: string, password: string, timeoutMs = 2000): Promise<number> {
    const spec = { method: 'REGISTER', uri: 'sip:127.0.0.1', from: `<sip:${user}@127.0.0.1>`, to: `<sip:${user}@127.0.0.1>`, headers: [['Contact', this.contact]] as Array<[string, string]> };
    const first = this.request(spec);
    let challenge: SipResponse;
    try {
      challenge = await this.final(first.callId, 'REGISTER', timeoutMs);
    } catch {
      return 0;
    }
    if (challenge.status !== 401) return challenge.status;
    const params = parseAuthParams(challenge.header('www-authenticate')!).params;
    const authz = buildAuthorization({ challenge: params, user, password, method: 'REGISTER', uri: spec.uri, nc: 1, cnonce: 'bf' });
    const second = this.request({ ...spec, callId: first.callId, cseq: 2, headers: [...spec.headers, ['Authorization', authz]] });
    try {
      return (await this.final(second.callId, 'REGISTER', timeoutMs)).status;
    } catch {
      return 0;
    }
  }

  /** Waits for a message that passes `test` (already received or still to come). */
  waitFor(test: (m: SipMessage) => boolean, timeoutMs = 5000): Promise<SipMessage> {
    const have = this.received.find(test);
    if (have) {
      this.received.splice(this.received.indexOf(have), 1);
      return Promise.resolve(have);
    }
    return new Promise((resolve, reject) => {
      const w = {
        test,
        resolve: (m: SipMessage) => {
          clearTimeout(t);
          this.received.splice(this.received.indexOf(m), 1);
          resolve(m);
        },
      };
      const t = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        reject(new Error(`timed out waiting for a message (${this.received.length} others received)`));
      }, timeoutMs);
      this.#waiters.push(w);
    });
  }

  /** The final response (status >= 200) with this Call-ID and CSeq method. */
  async final(callId: string, method?: string, timeoutMs = 5000): Promise<SipResponse> {
    return (await this.waitFor((m) => !m.isRequest() && (m as SipResponse).status >= 200 && m.callId === callId
      && (method === undefined || (m.header('cseq') ?? '').endsWith(method)), timeoutMs)) as SipResponse;
  }

  async nextRequest(method: string, timeoutMs = 5000): Promise<SipRequest> {
    return (await this.waitFor((m) => m.isRequest() && (m as SipRequest).method === method, timeoutMs)) as SipRequest;
  }

  async close(): Promise<void> {
    for (const w of this.#waiters.splice(0)) void w;
    if (this.#udp) {
      const s = this.#udp;
      this.#udp = null;
      await new Promise<void>((r) => s.close(() => r()));
    }
    if (this.#tcp) {
      const s = this.#tcp;
      this.#tcp = null;
      s.destroy();
      if (!s.closed) await once(s, 'close');
    }
  }
}
