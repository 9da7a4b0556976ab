// SIP over WebSocket (RFC 7118) through the whole server on 127.0.0.1, port 0: the handshake, one SIP message per
// WebSocket message, the WebSocket as the flow of the bindings registered over it, and the proxy leaving it for UDP.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import type { SipMessage, SipRequest, SipResponse } from '../../../src/sip/message.ts';
import { parseMessage } from '../../../src/sip/parser.ts';
import { createResponse } from '../../../src/sip/response.ts';
import { serializeMessage } from '../../../src/sip/serializer.ts';
import { newBranch, newCallId, newTag } from '../../../src/sip/ids.ts';
import type { ListenerInfo } from '../../../src/transport/transport.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { needPeers } from '../../helpers/peers.ts';

const LISTENERS = [
  { transport: 'udp', host: '127.0.0.1', port: 0 },
  { transport: 'tcp', host: '127.0.0.1', port: 0 },
  { transport: 'ws', host: '127.0.0.1', port: 0 },
];

/** A SIP-over-WebSocket peer as a browser page is one: its Via and Contact host is a made-up `.invalid` name. */
class WsPeer {
  readonly ws: WebSocket;
  readonly received: SipMessage[] = [];
  /** the kind of WebSocket frame of every message received */
  readonly frames: Array<'text' | 'binary'> = [];
  readonly raw: string[] = [];
  readonly host = `${newTag()}.invalid`;
  closed = false;

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.frames.push(isBinary ? 'binary' : 'text');
      this.raw.push(data.toString('utf8'));
      try {
        this.received.push(parseMessage(data));
      } catch {
        // a CRLF pong
      }
    });
    ws.on('close', () => {
      this.closed = true;
    });
  }

  static async open(port: number, protocols: string[] = ['sip'], scheme: 'ws' | 'wss' = 'ws'): Promise<WsPeer> {
    const ws = new WebSocket(`${scheme}://127.0.0.1:${port}`, protocols, { rejectUnauthorized: false });
    const peer = new WsPeer(ws);
    await once(ws, 'open');
    return peer;
  }

  get contact(): string {
    return `<sip:c@${this.host};transport=ws>`;
  }

  request(method: string, uri: string, user: string, to: string, headers: Array<[string, string]> = [], body = ''): string {
    const callId = newCallId('ws');
    this.ws.send([
      `${method} ${uri} SIP/2.0`,
      `Via: SIP/2.0/WS ${this.host};branch=${newBranch()}`,
      'Max-Forwards: 70',
      `From: <sip:${user}@127.0.0.1>;tag=${newTag()}`,
      `To: ${to}`,
      `Call-ID: ${callId}`,
      `CSeq: 1 ${method}`,
      ...headers.map(([n, v]) => `${n}: ${v}`),
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ].join('\r\n'));
    return callId;
  }

  async register(user: string, expires = 3600): Promise<SipResponse> {
    const callId = this.request('REGISTER', 'sip:127.0.0.1', user, `<sip:${user}@127.0.0.1>`, [['Contact', this.contact], ['Expires', String(expires)]]);
    return this.final(callId);
  }

  async waitFor(test: (m: SipMessage) => boolean, what: string, ms = 5000): Promise<SipMessage> {
    const end = Date.now() + ms;
    for (;;) {
      const m = this.received.find(test);
      if (m !== undefined) return m;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async final(callId: string): Promise<SipResponse> {
    return (await this.waitFor((m) => !m.isRequest() && m.callId === callId && (m as SipResponse).status >= 200, `final response to ${callId}`)) as SipResponse;
  }

  send(m: SipMessage): void {
    this.ws.send(serializeMessage(m).toString('utf8'));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.ws.close();
    await once(this.ws, 'close');
  }
}

async function until(test: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The HTTP status a WebSocket handshake is refused with. */
function refusedWith(port: number, protocols: string[], path = '/'): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, protocols);
    ws.on('unexpected-response', (_req: http.ClientRequest, res: http.IncomingMessage) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => {
      ws.close();
      reject(new Error('the handshake was accepted'));
    });
    ws.on('error', () => {});
  });
}

describe('transport: SIP over WebSocket (RFC 7118) on a ws listener', function () {
  this.timeout(15000);
  let ts: TestServer | null = null;
  const peers: WsPeer[] = [];
  let wsl: ListenerInfo;

  async function start(profile: Record<string, unknown> = {}): Promise<TestServer> {
    ts = await startTestServer({ profile: { listeners: LISTENERS, ...profile } });
    wsl = ts.server.listeners.find((l) => l.transport === 'ws')!;
    return ts;
  }

  async function peer(): Promise<WsPeer> {
    const p = await WsPeer.open(wsl.port);
    peers.push(p);
    return p;
  }

  afterEach(async () => {
    for (const p of peers.splice(0)) await p.close();
    await ts?.close();
    ts = null;
  });

  it('refuses a handshake that does not offer the sip subprotocol (RFC 7118 §4.1), and plain HTTP', async () => {
    await start();
    assert.equal(await refusedWith(wsl.port, []), 400);
    assert.equal(await refusedWith(wsl.port, ['chat']), 400);
    const res = await fetch(`http://127.0.0.1:${wsl.port}/`);
    assert.equal(res.status, 426);
    await res.text();
    const p = await peer();
    assert.equal(p.ws.protocol, 'sip', 'the server selects sip');
  });

  it('accepts handshakes only on the listener path when one is configured', async () => {
    await start({ listeners: [{ transport: 'udp', host: '127.0.0.1', port: 0 }, { transport: 'ws', host: '127.0.0.1', port: 0, path: '/sip' }] });
    assert.equal(await refusedWith(wsl.port, ['sip'], '/other'), 404);
    const ws = new WebSocket(`ws://127.0.0.1:${wsl.port}/sip`, ['sip']);
    await once(ws, 'open');
    ws.close();
    await once(ws, 'close');
  });

  it('answers a REGISTER over the WebSocket it came on, in a text frame; the binding keeps the flow', async () => {
    await start();
    const p = await peer();
    const res = await p.register('bob');
    assert.equal(res.status, 200);
    assert.deepEqual(p.frames, ['text'], 'RFC 7118 §4.2: a UTF-8 message in a text frame');
    assert.match(res.header('via') ?? '', /^SIP\/2\.0\/WS [^;]+\.invalid;branch=z9hG4bK[^;]+;received=127\.0\.0\.1$/);
    const [b] = await ts!.server.store.getBindings('bob', Date.now());
    assert.equal(b?.flow.transport, 'ws');
    assert.ok(b !== undefined && b.flow.connectionId !== null && ts!.server.transport.hasConnection(b.flow.connectionId), 'the binding names the open WebSocket');
    assert.equal((await ts!.server.store.getPresence('bob'))?.netstate, 1);
  });

  it('takes a SIP message in a binary frame too (RFC 7118 §4.2)', async () => {
    await start();
    const p = await peer();
    const callId = newCallId('bin');
    p.ws.send(Buffer.from([
      'OPTIONS sip:127.0.0.1 SIP/2.0', `Via: SIP/2.0/WS ${p.host};branch=${newBranch()}`, 'Max-Forwards: 70',
      `From: <sip:a@127.0.0.1>;tag=${newTag()}`, 'To: <sip:127.0.0.1>', `Call-ID: ${callId}`, 'CSeq: 1 OPTIONS', 'Content-Length: 0', '', '',
    ].join('\r\n')), { binary: true });
    assert.equal((await p.final(callId)).status, 200);
  });

  it('answers a malformed message with 400 on that WebSocket and keeps serving it', async () => {
    await start();
    const p = await peer();
    const callId = newCallId('bad');
    p.ws.send([
      'OPTIONS sip:127.0.0.1 SIP/2.0', `Via: SIP/2.0/WS ${p.host};branch=${newBranch()}`, 'Max-Forwards: 70',
      `From: <sip:a@127.0.0.1>;tag=${newTag()}`, 'To: <sip:127.0.0.1>', `Call-ID: ${callId}`, 'CSeq: one OPTIONS', 'Content-Length: 0', '', '',
    ].join('\r\n'));
    // the 400 echoes the bad CSeq (RFC 3261 §8.2.6.2), so it is read as text
    await until(() => p.raw.some((r) => r.startsWith('SIP/2.0 400 ') && r.includes(callId)), 'the 400');
    p.ws.send('\u0001 garbage that is no SIP at all');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(p.closed, false, 'one message is one frame: a bad one does not lose the flow');
    assert.equal((await p.register('bob')).status, 200);
    assert.ok(ts!.server.transport.counters.parseErrors >= 2);
  });

  it('answers a CRLFCRLF keep-alive with a CRLF pong, as SIP.js sends it', async () => {
    await start();
    const p = await peer();
    p.ws.send('\r\n\r\n');
    await until(() => p.raw.includes('\r\n'), 'the pong');
  });

  it('delivers a request for a binding registered over a WebSocket over that WebSocket (RFC 7118 §5, RFC 5626 flow)', async () => {
    await start();
    const bob = await peer();
    assert.equal((await bob.register('bob')).status, 200);
    const alice = await ts!.client('udp');
    const { callId } = alice.request({
      method: 'MESSAGE', uri: 'sip:bob@127.0.0.1', from: '<sip:alice@127.0.0.1>', to: '<sip:bob@127.0.0.1>', body: 'over the web', contentType: 'text/plain',
    });
    const msg = (await bob.waitFor((m) => m.isRequest() && (m as SipRequest).method === 'MESSAGE', 'the MESSAGE over the WebSocket')) as SipRequest;
    assert.equal(msg.uri, `sip:c@${bob.host};transport=ws`);
    assert.equal(Buffer.from(msg.body).toString('utf8'), 'over the web');
    assert.match(msg.header('via') ?? '', new RegExp(`^SIP/2\\.0/WS 127\\.0\\.0\\.1:${wsl.port};`), 'our Via names the WS listener');
    bob.send(createResponse(msg, 200, undefined, newTag()));
    assert.equal((await alice.final(callId, 'MESSAGE')).status, 200);
  });

  it('record-routes twice when an INVITE from a WebSocket leaves over UDP (RFC 5658 §4)', async () => {
    await start();
    const alice = await peer();
    assert.equal((await alice.register('alice')).status, 200);
    const bob = await ts!.client('udp');
    bob.autoAnswer = null;
    assert.equal((await bob.register('bob')).status, 200);
    alice.request('INVITE', 'sip:bob@127.0.0.1', 'alice', '<sip:bob@127.0.0.1>', [['Contact', alice.contact]]);
    const inv = await bob.nextRequest('INVITE');
    assert.ok(inv.headerValues('record-route').every((v) => /;tvs=[\w-]{22}>$/.test(v)), 'each signed for the dialog');
    assert.deepEqual(inv.headerValues('record-route').map((v) => v.replace(/;tvs=[\w-]+/, '')), [
      `<sip:127.0.0.1:${ts!.udp.port};transport=udp;lr>`,
      `<sip:127.0.0.1:${wsl.port};transport=ws;lr>`,
    ]);
    bob.sendMessage(createResponse(inv, 486, undefined, newTag()));
    await alice.waitFor((m) => !m.isRequest() && (m as SipResponse).status === 486, 'the 486 over the WebSocket');
  });

  it('takes the user offline when its WebSocket closes, as for TCP', async () => {
    await start();
    const bob = await peer();
    assert.equal((await bob.register('bob')).status, 200);
    assert.equal((await ts!.server.store.getPresence('bob'))?.netstate, 1);
    await bob.close();
    await until(async () => (await ts!.server.store.getPresence('bob'))?.netstate === 0, 'bob offline');
    assert.deepEqual(await ts!.server.store.getBindings('bob', Date.now()), []);
  });

  it('closes an idle WebSocket after transport.tcpIdleSeconds, and refuses handshakes beyond maxConnections', async () => {
    await start({ transport: { tcpIdleSeconds: 1, maxConnections: 1 } });
    const p = await peer();
    assert.equal(await refusedWith(wsl.port, ['sip']), 503);
    await until(() => p.closed, 'the idle WebSocket closed', 4000);
  });

  it('serves wss with the certificate and key files of the listener (self-signed, generated for the test)', async function () {
    const dir = mkdtempSync(join(tmpdir(), 'tvphone-wss-'));
    try {
      try {
        execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1',
          '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore', timeout: 15000 });
      } catch {
        needPeers(this, false, 'openssl');
      }
      await start({ listeners: [{ transport: 'udp', host: '127.0.0.1', port: 0 }, { transport: 'wss', host: '127.0.0.1', port: 0, cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') }] });
      const port = ts!.server.listeners.find((l) => l.transport === 'wss')!.port;
      const p = await WsPeer.open(port, ['sip'], 'wss');
      peers.push(p);
      assert.equal((await p.register('bob')).status, 200);
      assert.equal((await ts!.server.store.getBindings('bob', Date.now()))[0]?.flow.transport, 'wss');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('closes a WebSocket whose message exceeds the largest message size (1009)', async () => {
    await start();
    const p = await peer();
    p.ws.send('x'.repeat(2 * 1024 * 1024));
    const [code] = (await once(p.ws, 'close')) as [number];
    assert.equal(code, 1009);
  });
});
