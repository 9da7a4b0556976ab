// tvphone with a TLS listener (a self-signed certificate made with openssl in a temp dir) and a node:tls
// client that checks the certificate against that CA and REGISTERs over TLS (RFC 3261 §26.2, sips/TLS).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';
import { parseMessage } from '../../src/sip/parser.ts';
import { StreamFramer } from '../../src/transport/stream-framer.ts';
import type { SipResponse } from '../../src/sip/message.ts';
import { installed, LOOPBACK } from './lib/proc.ts';
import { needPeers } from '../helpers/peers.ts';

describe('interop: REGISTER over TLS', function () {
  this.timeout(20000);
  let ts: TestServer | null = null;
  let dir: string;
  let sock: tls.TLSSocket | null = null;

  before(function () {
    needPeers(this, installed('openssl'), 'openssl');
  });

  afterEach(async () => {
    sock?.destroy();
    sock = null;
    await ts?.close();
    ts = null;
    rmSync(dir, { recursive: true, force: true });
  });

  /** A self-signed certificate for 127.0.0.1 and a server with a tls listener using it. */
  async function tlsServer(): Promise<{ cert: string; port: number }> {
    dir = mkdtempSync(join(tmpdir(), 'tvphone-tls-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore', timeout: 15000 });
    ts = await startTestServer({ auth: 'none', profile: { listeners: [{ transport: 'tls', host: LOOPBACK, port: 0, cert, key }] } });
    return { cert, port: ts.server.listeners.find((x) => x.transport === 'tls')!.port };
  }

  it('refuses TLS 1.1 and suites without forward secrecy (AES128-SHA), and negotiates TLS 1.3 or an ECDHE suite', async () => {
    const { cert, port } = await tlsServer();
    const handshake = (o: tls.ConnectionOptions) => new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ host: LOOPBACK, port, ca: readFileSync(cert), ...o });
      s.once('secureConnect', () => resolve(s));
      s.once('error', reject);
    });
    await assert.rejects(handshake({ ciphers: 'AES128-SHA', maxVersion: 'TLSv1.2' }));
    await assert.rejects(handshake({ minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }));
    const ok = await handshake({ maxVersion: 'TLSv1.2' });
    assert.match(ok.getCipher().name, /^ECDHE-/);
    ok.destroy();
    const v13 = await handshake({});
    assert.equal(v13.getProtocol(), 'TLSv1.3');
    v13.destroy();
  });

  it('answers a REGISTER sent over TLS with 200 and keeps a tls binding', async () => {
    const { cert, port: tlsPort } = await tlsServer();
    const l = { port: tlsPort };
    assert.ok(l, 'a tls listener');

    const s = tls.connect({ host: LOOPBACK, port: l.port, ca: readFileSync(cert), servername: undefined });
    sock = s;
    await new Promise<void>((resolve, reject) => {
      s.once('secureConnect', () => resolve());
      s.once('error', reject);
    });
    assert.ok(s.authorized, `certificate verified: ${String(s.authorizationError)}`);
    const got = new Promise<SipResponse>((resolve) => {
      const framer = new StreamFramer({ onFrame: (f) => {
        const m = parseMessage(f);
        if (!m.isRequest()) resolve(m as SipResponse);
      }, onPing: () => {}, onFramingError: () => s.destroy() }, 1 << 20);
      s.on('data', (d) => framer.push(d));
    });
    const port = s.localPort;
    s.write([
      `REGISTER sips:${LOOPBACK}:${l.port} SIP/2.0`,
      `Via: SIP/2.0/TLS ${LOOPBACK}:${port};branch=z9hG4bK-tls-${process.pid};rport`,
      'Max-Forwards: 70',
      `From: <sips:erin@${LOOPBACK}>;tag=tls1`,
      `To: <sips:erin@${LOOPBACK}>`,
      `Call-ID: tls-${process.pid}@${LOOPBACK}`,
      'CSeq: 1 REGISTER',
      `Contact: <sips:erin@${LOOPBACK}:${port}>`,
      'Expires: 300',
      'Content-Length: 0',
      '', '',
    ].join('\r\n'));
    const res = await got;
    assert.equal(res.status, 200);
    assert.match(res.header('contact') ?? '', /erin@127\.0\.0\.1/);
    const b = await ts!.server.store.getBindings('erin', Date.now());
    assert.equal(b.length, 1);
    assert.equal(b[0]!.flow.transport.toLowerCase(), 'tls');
  });
});
