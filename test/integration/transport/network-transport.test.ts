// Real sockets on 127.0.0.1, port 0: UDP, TCP and TLS through the transport and the transaction layer.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { SipRequest, SipResponse } from '../../../src/sip/message.ts';
import { parseMessage } from '../../../src/sip/parser.ts';
import { createResponse } from '../../../src/sip/response.ts';
import { NetworkTransport } from '../../../src/transport/network-transport.ts';
import { StreamFramer } from '../../../src/transport/stream-framer.ts';
import type { Source } from '../../../src/transport/transport.ts';
import { TransactionLayer } from '../../../src/transaction/transaction-layer.ts';

function options(branch: string, transport = 'UDP', host = 'client.invalid:5099;rport', extraHeaders = '', body = ''): string {
  return (
    `OPTIONS sip:server@127.0.0.1 SIP/2.0\r\n` +
    `Via: SIP/2.0/${transport} ${host};branch=${branch}\r\n` +
    `Max-Forwards: 70\r\n` +
    `From: <sip:alice@example.com>;tag=a1\r\n` +
    `To: <sip:server@127.0.0.1>\r\n` +
    `Call-ID: ${branch}@test\r\n` +
    `CSeq: 1 OPTIONS\r\n` +
    extraHeaders +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n` +
    body
  );
}

/** Reads SIP messages (and CRLF pongs) from a stream socket. */
class StreamReader {
  messages: (SipRequest | SipResponse)[] = [];
  raw = '';
  closed = false;
  private waiters: (() => void)[] = [];
  private framer = new StreamFramer(
    {
      onFrame: (m) => {
        this.messages.push(parseMessage(m));
        this.wake();
      },
      onPing: () => {},
      onFramingError: () => {},
    },
    65535,
  );
  constructor(socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.raw += d.toString('latin1');
      this.framer.push(d);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }
  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  async until(cond: () => boolean, what: string, ms = 3000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }
}

async function until(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('transport: NetworkTransport on real sockets (127.0.0.1)', function () {
  let transport: NetworkTransport;
  let layer: TransactionLayer;
  let closers: (() => unknown)[] = [];
  let received: { req: SipRequest; source: Source }[];
  let closedConnections: number[];

  async function start(extra: Partial<Parameters<typeof NetworkTransport.listen>[0]> = {}) {
    transport = await NetworkTransport.listen({
      listeners: [
        { transport: 'udp', host: '127.0.0.1', port: 0 },
        { transport: 'tcp', host: '127.0.0.1', port: 0 },
      ],
      ...extra,
    });
    received = [];
    closedConnections = [];
    transport.onConnectionClosed((id) => closedConnections.push(id));
    layer = new TransactionLayer(transport, {
      onRequest(req, st) {
        received.push({ req, source: st.source });
        st.respond(createResponse(req, 200, undefined, 'srv'));
      },
    });
  }

  afterEach(async () => {
    layer?.close();
    await transport?.close();
    for (const c of closers.splice(0).reverse()) await c();
  });

  function udpClient(): dgram.Socket {
    const s = dgram.createSocket('udp4');
    closers.push(() => new Promise<void>((r) => s.close(() => r())));
    return s;
  }

  async function tcpClient(port: number): Promise<{ socket: net.Socket; reader: StreamReader }> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    closers.push(() => socket.destroy());
    return { socket, reader: new StreamReader(socket) };
  }

  it('answers a UDP request to its source port with received and rport in the Via (RFC 3581)', async () => {
    await start();
    const client = udpClient();
    const got: SipResponse[] = [];
    client.on('message', (m) => got.push(parseMessage(m) as SipResponse));
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', r));
    const port = client.address().port;
    client.send(options('z9hG4bKudp1'), transport.listeners[0].port, '127.0.0.1');
    await until(() => got.length > 0, 'the 200');
    assert.equal(got[0].status, 200);
    assert.equal(got[0].header('via'), `SIP/2.0/UDP client.invalid:5099;branch=z9hG4bKudp1;received=127.0.0.1;rport=${port}`);
    assert.equal(received[0].source.transport, 'udp');
    assert.equal(received[0].source.port, port);
    assert.equal(transport.counters.received, 1);
    assert.equal(transport.counters.sent, 1);
  });

  it('answers an answerable bad UDP request with 400 and drops and counts garbage', async () => {
    await start();
    const client = udpClient();
    const got: SipResponse[] = [];
    client.on('message', (m) => got.push(parseMessage(m) as SipResponse));
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', r));
    client.send('\x00\x01garbage\r\n\r\n', transport.listeners[0].port, '127.0.0.1');
    client.send(options('z9hG4bKbad', 'UDP', 'client.invalid;rport', 'Max-Forwards: lots\r\n'), transport.listeners[0].port, '127.0.0.1');
    client.send(options('z9hG4bKgood'), transport.listeners[0].port, '127.0.0.1');
    await until(() => got.length >= 2, 'two responses');
    assert.equal(got.length, 2, 'garbage gets no answer');
    const byBranch = new Map(got.map((r) => [r.header('via')!.match(/branch=(\w+)/)![1], r.status]));
    assert.equal(byBranch.get('z9hG4bKgood'), 200);
    assert.equal(byBranch.get('z9hG4bKbad'), 400);
    assert.equal(got.find((r) => r.status === 400)!.reason, 'Bad Max-Forwards header');
    assert.ok(transport.counters.parseErrors >= 1);
    assert.ok(transport.counters.dropped >= 1);
  });

  it('frames two TCP messages that arrive in one chunk, and one message split over chunks', async () => {
    await start();
    const { socket, reader } = await tcpClient(transport.listeners[1].port);
    socket.write(options('z9hG4bKt1', 'TCP') + options('z9hG4bKt2', 'TCP'));
    await reader.until(() => reader.messages.length === 2, 'two responses');
    const split = options('z9hG4bKt3', 'TCP', 'client.invalid:5099', '', 'hello body');
    for (const part of [split.slice(0, 10), split.slice(10, 100), split.slice(100, split.length - 3), split.slice(split.length - 3)]) {
      socket.write(part);
      await new Promise((r) => setTimeout(r, 20));
    }
    await reader.until(() => reader.messages.length === 3, 'the third response');
    assert.deepEqual(reader.messages.map((m) => (m as SipResponse).status), [200, 200, 200]);
    assert.equal(received.length, 3);
    assert.equal(new TextDecoder().decode(received[2].req.body), 'hello body');
    assert.equal(received[0].source.connectionId, received[2].source.connectionId);
  });

  it('answers a CRLFCRLF keep-alive ping with a CRLF pong (RFC 5626 §3.5.1)', async () => {
    await start();
    const { socket, reader } = await tcpClient(transport.listeners[1].port);
    socket.write('\r\n\r\n');
    await reader.until(() => reader.raw === '\r\n', 'the pong');
  });

  it('answers garbage on a TCP connection with 400 and closes it, while another client keeps being served', async () => {
    await start();
    const bad = await tcpClient(transport.listeners[1].port);
    const good = await tcpClient(transport.listeners[1].port);
    // no Content-Length on a stream (RFC 3261 §18.3)
    bad.socket.write(options('z9hG4bKnocl', 'TCP').replace(/Content-Length: 0\r\n/, ''));
    await bad.reader.until(() => bad.reader.closed, 'the bad connection to close');
    assert.equal(bad.reader.messages.length, 1);
    assert.equal((bad.reader.messages[0] as SipResponse).status, 400);
    await until(() => closedConnections.length === 1, 'connectionClosed');
    good.socket.write(options('z9hG4bKok', 'TCP'));
    await good.reader.until(() => good.reader.messages.length === 1, 'the good response');
    assert.equal((good.reader.messages[0] as SipResponse).status, 200);
    // binary garbage: nothing answerable, closed
    const worse = await tcpClient(transport.listeners[1].port);
    worse.socket.write(Buffer.from([0, 1, 2, 3, 13, 10, 13, 10]));
    await worse.reader.until(() => worse.reader.closed, 'the garbage connection to close');
    assert.equal(worse.reader.messages.length, 0);
  });

  it('reports a closed connection with its id (the registrar marks users offline)', async () => {
    await start();
    const { socket, reader } = await tcpClient(transport.listeners[1].port);
    socket.write(options('z9hG4bKc1', 'TCP'));
    await reader.until(() => reader.messages.length === 1, 'the response');
    const id = received[0].source.connectionId!;
    assert.equal(transport.hasConnection(id), true);
    socket.end();
    await until(() => closedConnections.includes(id), 'connectionClosed');
    assert.equal(transport.hasConnection(id), false);
  });

  it('sends a request over the connection a contact registered on (connectionId)', async () => {
    await start();
    const { socket, reader } = await tcpClient(transport.listeners[1].port);
    socket.write(options('z9hG4bKreg', 'TCP'));
    await reader.until(() => reader.messages.length === 1, 'the response');
    const id = received[0].source.connectionId!;
    const req = parseMessage(Buffer.from(options('z9hG4bKfromsrv', 'TCP', '127.0.0.1:' + transport.listeners[1].port))) as SipRequest;
    transport.send(req, { transport: 'tcp', address: '198.51.100.1', port: 5060, connectionId: id });
    await reader.until(() => reader.messages.length === 2, 'the request on the same connection');
    assert.equal((reader.messages[1] as SipRequest).method, 'OPTIONS');
  });

  it('sends a CRLFCRLF keep-alive on the open connection to a target, and none on UDP (RFC 5626 §3.5.1)', async () => {
    await start();
    const chunks: Buffer[] = [];
    const peer = net.createServer((s) => s.on('data', (d) => chunks.push(d)));
    await new Promise<void>((r) => peer.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => peer.close(() => r())));
    const port = (peer.address() as net.AddressInfo).port;
    const target = { transport: 'tcp' as const, address: '127.0.0.1', port };
    assert.equal(transport.keepAlive(target), false, 'no connection yet');
    transport.send(parseMessage(Buffer.from(options('z9hG4bKka', 'TCP'))), target);
    for (let i = 0; i < 100 && Buffer.concat(chunks).length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const before = Buffer.concat(chunks).length;
    assert.equal(transport.keepAlive(target), true);
    for (let i = 0; i < 100 && Buffer.concat(chunks).length === before; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(Buffer.concat(chunks).subarray(before).toString('latin1'), '\r\n\r\n');
    assert.equal(transport.keepAlive({ transport: 'udp', address: '127.0.0.1', port }), false);
  });

  it('closes idle connections after the configured time', async () => {
    await start({ idleTimeout: 100 });
    const { reader } = await tcpClient(transport.listeners[1].port);
    await reader.until(() => reader.closed, 'the idle close', 3000);
    await until(() => transport.connectionCount === 0, 'the server side to forget it');
    assert.deepEqual(closedConnections.length, 1);
  });

  it('asks the kernel for udpReceiveBuffer on each UDP listener, and leaves its default without one', async () => {
    // 100 kB is below every kernel's net.core.rmem_max default (212,992): granted whole (Linux reports it doubled)
    await start({ udpReceiveBuffer: 100_000 });
    const [asked] = transport.udpReceiveBuffers();
    assert.equal(asked!.listener.transport, 'udp');
    assert.equal(asked!.bytes, process.platform === 'linux' ? 200_000 : 100_000);
    layer.close();
    await transport.close();
    await start();
    const rmemDefault = Number(readFileSync('/proc/sys/net/core/rmem_default', 'utf8'));
    assert.equal(transport.udpReceiveBuffers()[0]!.bytes, rmemDefault);
  });

  it('refuses connections beyond maxConnections', async () => {
    await start({ maxConnections: 1 });
    const first = await tcpClient(transport.listeners[1].port);
    const second = await tcpClient(transport.listeners[1].port);
    await second.reader.until(() => second.reader.closed, 'the refused connection to close');
    first.socket.write(options('z9hG4bKmax', 'TCP'));
    await first.reader.until(() => first.reader.messages.length === 1, 'the first client to be served');
  });

  it('refuses a source beyond maxConnectionsPerSource while other sources and freed places are served', async () => {
    await start({ maxConnectionsPerSource: 2 });
    const port = transport.listeners[1].port;
    const a = await tcpClient(port);
    const b = await tcpClient(port);
    const c = await tcpClient(port);
    await c.reader.until(() => c.reader.closed, 'the third connection from 127.0.0.1 to be refused');
    a.socket.destroy();
    await until(() => transport.connectionCount === 1, 'the closed place to be freed');
    const d = await tcpClient(port);
    d.socket.write(options('z9hG4bKpersrc', 'TCP'));
    await d.reader.until(() => d.reader.messages.length === 1, 'a new connection to be served once a place is free');
    b.socket.destroy();
  });

  /** A self-signed certificate for localhost in a temp folder removed after the test; skips the test without openssl. */
  function selfSigned(ctx: Mocha.Context): { cert: Buffer; key: Buffer } {
    const dir = mkdtempSync(join(tmpdir(), 'tvphone-tls-'));
    closers.push(() => rmSync(dir, { recursive: true, force: true }));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore', timeout: 15000 });
    } catch {
      ctx.skip(); // no openssl binary
    }
    return { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) };
  }

  it('drops a TLS handshake that does not finish within tlsHandshakeTimeout', async function () {
    transport = await NetworkTransport.listen({
      listeners: [{ transport: 'tls', host: '127.0.0.1', port: 0, tls: selfSigned(this) }],
      tlsHandshakeTimeout: 300,
    });
    const silent = net.connect(transport.listeners[0].port, '127.0.0.1'); // connects, never says ClientHello
    closers.push(() => silent.destroy());
    let closed = false;
    silent.on('close', () => (closed = true)).on('error', () => {});
    await until(() => closed, 'the silent handshake to be dropped', 3000);
  });

  it('sends a request larger than 1300 bytes for a UDP target over TCP, with TCP in its Via (RFC 3261 §18.1.1)', async () => {
    await start();
    const chunks: Buffer[] = [];
    const peer = net.createServer((s) => s.on('data', (d) => chunks.push(d)));
    await new Promise<void>((r) => peer.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => peer.close(() => r())));
    const big = parseMessage(Buffer.from(options('z9hG4bKbig', 'UDP', '127.0.0.1:5060', '', 'x'.repeat(1400)))) as SipRequest;
    const errors: Error[] = [];
    transport.send(big, { transport: 'udp', address: '127.0.0.1', port: (peer.address() as net.AddressInfo).port }, (e) => errors.push(e));
    await until(() => Buffer.concat(chunks).length >= 1400, 'the request on TCP');
    const text = Buffer.concat(chunks).toString('latin1');
    assert.match(text, /^OPTIONS sip:server@127\.0\.0\.1 SIP\/2\.0\r\nVia: SIP\/2\.0\/TCP 127\.0\.0\.1:5060;branch=z9hG4bKbig\r\n/);
    assert.equal(errors.length, 0);
    assert.equal(transport.connectionCount, 1);
  });

  it('serves TLS with a certificate and key (self-signed, generated for the test)', async function () {
    const { cert, key } = selfSigned(this);
    transport = await NetworkTransport.listen({ listeners: [{ transport: 'tls', host: '127.0.0.1', port: 0, tls: { cert, key } }] });
    received = [];
    layer = new TransactionLayer(transport, {
      onRequest(req, st) {
        received.push({ req, source: st.source });
        st.respond(createResponse(req, 200, undefined, 'srv'));
      },
    });
    const socket = tls.connect({ host: '127.0.0.1', port: transport.listeners[0].port, ca: cert, servername: 'localhost', checkServerIdentity: () => undefined });
    closers.push(() => socket.destroy());
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    const reader = new StreamReader(socket);
    socket.write(options('z9hG4bKtls', 'TLS'));
    await reader.until(() => reader.messages.length === 1, 'the TLS response');
    assert.equal((reader.messages[0] as SipResponse).status, 200);
    assert.equal(received[0].source.transport, 'tls');
  });

  it('connects to a named TLS next hop with SNI and the certificate checked against the name; the connection carries only that name\'s requests (RFC 5922 §7.3)', async function () {
    const { cert, key } = selfSigned(this); // CN=localhost
    const names: string[] = [];
    let secured = 0;
    let text = '';
    const peer = tls.createServer({ cert, key, SNICallback: (name, cb) => { names.push(name); cb(null, tls.createSecureContext({ cert, key })); } }, (s) => {
      secured++;
      s.on('data', (d: Buffer) => (text += d.toString('latin1'))).on('error', () => {});
      closers.push(() => s.destroy());
    });
    peer.on('tlsClientError', () => {});
    await new Promise<void>((r) => peer.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => peer.close(() => r())));
    await start({ tlsClient: { ca: cert } });
    const to = { transport: 'tls' as const, address: '127.0.0.1', port: (peer.address() as net.AddressInfo).port };
    const errors: Error[] = [];
    const send = (branch: string, serverName?: string): void =>
      void transport.send(parseMessage(Buffer.from(options(branch, 'TLS'))), serverName === undefined ? to : { ...to, serverName }, (e) => errors.push(e));

    send('z9hG4bKnamed', 'LOCALHOST');
    await until(() => text.includes('z9hG4bKnamed'), 'the request over the connection opened for localhost');
    assert.deepEqual(names, ['localhost']);
    send('z9hG4bKnameless');
    await until(() => text.includes('z9hG4bKnameless'), 'a request with no name over the same connection');
    assert.equal(secured, 1);
    send('z9hG4bKother', 'other.example');
    await until(() => errors.length === 1, 'the connection for another name to fail');
    assert.equal((errors[0] as NodeJS.ErrnoException).code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.deepEqual(names, ['localhost', 'other.example'], 'a new connection was tried for the other name');
    assert.ok(!text.includes('z9hG4bKother'), 'its request went nowhere');
  });

  it('binds IPv6 loopback when available and reports the bound port', async function () {
    let t: NetworkTransport;
    try {
      t = await NetworkTransport.listen({ listeners: [{ transport: 'udp', host: '::1', port: 0 }, { transport: 'tcp', host: '[::1]', port: 0 }] });
    } catch {
      this.skip(); // no IPv6 on this host
    }
    closers.push(() => t.close());
    assert.ok(t!.listeners[0].port > 0 && t!.listeners[1].port > 0);
    assert.deepEqual(t!.sentBy({ transport: 'udp', address: '::1', port: 5060 }), { transport: 'udp', host: '[::1]', port: t!.listeners[0].port });
  });
});
