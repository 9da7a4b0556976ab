// A tls trunk named by host name (RFC 5922 §7.3): tvphone sends the name as SNI and takes the carrier's certificate
// only when it is for that name and chains to a trusted CA. The carrier is an in-process TLS registrar with a
// certificate of a test CA (made with openssl in a temp dir) behind a TCP relay that keeps every byte tvphone sends,
// so the test also sees that no REGISTER ever leaves in clear. DNS is not touched: the server's resolver maps the
// carrier's name to 127.0.0.1.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { SipRequest } from '../../../src/sip/message.ts';
import { parseMessage } from '../../../src/sip/parser.ts';
import { createResponse } from '../../../src/sip/response.ts';
import { serializeMessage } from '../../../src/sip/serializer.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { until } from '../../helpers/until.ts';
import { needPeers } from '../../helpers/peers.ts';

const NAME = 'carrier.test';

interface Pki {
  dir: string;
  caFile: string;
  /** a certificate for `name` issued by the test CA: its PEM files */
  issue(name: string): { cert: string; key: string };
}

/** A test CA in a temp dir (EC keys: quick to make). */
function testPki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'tvphone-trunk-tls-'));
  const run = (args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore', timeout: 15_000 });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const caFile = join(dir, 'ca.pem');
  run(['req', '-x509', ...ec, '-keyout', join(dir, 'ca.key'), '-out', caFile, '-days', '1', '-subj', '/CN=tvphone test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return {
    dir, caFile,
    issue(name) {
      const base = join(dir, name);
      run(['req', ...ec, '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${name}`]);
      writeFileSync(`${base}.ext`, `subjectAltName=DNS:${name}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
      run(['x509', '-req', '-in', `${base}.csr`, '-CA', caFile, '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-days', '1',
        '-extfile', `${base}.ext`, '-out', `${base}.pem`]);
      return { cert: `${base}.pem`, key: `${base}.key` };
    },
  };
}

interface TlsCarrier {
  /** the relay's port: where the trunk points */
  port: number;
  /** the SNI of every ClientHello */
  serverNames: (string | false)[];
  /** requests read after a handshake */
  requests: SipRequest[];
  /** every byte tvphone sent, as it went over the wire */
  wire(): string;
  close(): Promise<void>;
}

/** A carrier registrar over TLS (200 to REGISTER and OPTIONS) behind a TCP relay that records what tvphone sends. */
async function tlsCarrier(files: { cert: string; key: string }): Promise<TlsCarrier> {
  const context = tls.createSecureContext({ cert: readFileSync(files.cert), key: readFileSync(files.key) });
  const serverNames: (string | false)[] = [];
  const requests: SipRequest[] = [];
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({
    SNICallback: (servername, cb) => {
      serverNames.push(servername);
      cb(null, context);
    },
    cert: readFileSync(files.cert), key: readFileSync(files.key),
  }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s)).on('error', () => {});
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/\r\ncontent-length[ \t]*:[ \t]*(\d+)/i.exec(buf.subarray(0, end).toString('latin1'))?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        const m = parseMessage(buf.subarray(0, end + 4 + length));
        buf = buf.subarray(end + 4 + length);
        if (!m.isRequest()) continue;
        requests.push(m);
        const res = createResponse(m, 200, undefined, 'carrier');
        if (m.method === 'REGISTER') res.addHeader('Contact', `${m.header('contact')};expires=120`);
        s.write(serializeMessage(res));
      }
    });
  });
  server.on('tlsClientError', () => {});
  server.on('connection', (s: net.Socket) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const carrierPort = (server.address() as net.AddressInfo).port;
  const wire: Buffer[] = [];
  const relay = net.createServer((down) => {
    const up = net.connect(carrierPort, '127.0.0.1');
    sockets.add(down).add(up);
    down.on('data', (d: Buffer) => wire.push(d));
    down.pipe(up).pipe(down);
    for (const s of [down, up]) s.on('error', () => {}).on('close', () => { down.destroy(); up.destroy(); sockets.delete(s); });
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  return {
    port: (relay.address() as net.AddressInfo).port, serverNames, requests,
    wire: () => Buffer.concat(wire).toString('latin1'),
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all([server, relay].map((x) => new Promise<void>((r) => x.close(() => r()))));
    },
  };
}

describe('trunks: tls to a carrier named by host name (SNI, certificate checked against the name)', function () {
  this.timeout(30_000);
  let pki: Pki | null = null;
  let ts: TestServer | null = null;
  let carrier: TlsCarrier | null = null;

  before(function () {
    try {
      execFileSync('openssl', ['version'], { stdio: 'ignore' });
    } catch {
      needPeers(this, false, 'openssl');
    }
    pki = testPki();
  });

  after(() => {
    if (pki !== null) rmSync(pki.dir, { recursive: true, force: true });
  });

  afterEach(async () => {
    await ts?.close();
    ts = null;
    await carrier?.close();
    carrier = null;
  });

  /** tvphone with a tls listener and one registering tls trunk to `host` at the carrier's relay */
  async function server(trunk: Record<string, unknown>): Promise<TestServer> {
    const listener = pki!.issue('tvphone.test');
    ts = await startTestServer({
      // the carrier's name is known to no DNS: tvphone's resolver is told it (and only it)
      resolve: async (host) => (host === NAME ? '127.0.0.1' : null),
      profile: {
        listeners: [{ transport: 'udp', host: '127.0.0.1', port: 0 }, { transport: 'tcp', host: '127.0.0.1', port: 0 },
          { transport: 'tls', host: '127.0.0.1', port: 0, cert: listener.cert, key: listener.key }],
        trunks: [{
          name: 'carrier', host: NAME, port: carrier!.port, transport: 'tls', register: true, username: 'acct', password: 'pw',
          realm: NAME, expires: 120, retrySeconds: 600, ...trunk,
        }],
      },
    });
    return ts;
  }

  const state = (): { state: string; lastStatus: number | null } => ts!.server.trunks.status()[0];

  it('registers over TLS with SNI = the trunk\'s host name when the carrier\'s certificate is for that name and chains to caFile', async () => {
    carrier = await tlsCarrier(pki!.issue(NAME));
    await server({ caFile: pki!.caFile });
    await until(() => state().state === 'REGED', 5000, 'the trunk to be REGED');
    assert.deepEqual(carrier.requests.map((r) => r.method), ['REGISTER']);
    assert.match(carrier.requests[0].header('contact') ?? '', /;transport=tls/);
    assert.ok(carrier.serverNames.length > 0 && carrier.serverNames.every((n) => n === NAME), `SNI sent: ${JSON.stringify(carrier.serverNames)}`);
    assert.ok(!carrier.wire().includes('REGISTER'), 'the REGISTER went encrypted');
  });

  it('is FAILED and sends no REGISTER (not even in clear) when the certificate is for another name', async () => {
    carrier = await tlsCarrier(pki!.issue('other.test'));
    await server({ caFile: pki!.caFile });
    await until(() => state().state === 'FAILED', 5000, 'the trunk to be FAILED');
    assert.ok(carrier.serverNames.length > 0 && carrier.serverNames.every((n) => n === NAME), `SNI sent: ${JSON.stringify(carrier.serverNames)}`);
    assert.deepEqual(carrier.requests, []);
    assert.ok(!carrier.wire().includes('REGISTER'), 'no REGISTER on the wire');
  });

  it('is FAILED when the carrier\'s CA is not trusted (no caFile: the system roots only)', async () => {
    carrier = await tlsCarrier(pki!.issue(NAME));
    await server({});
    await until(() => state().state === 'FAILED', 5000, 'the trunk to be FAILED');
    assert.ok(carrier.serverNames.length > 0, 'a handshake was tried');
    assert.deepEqual(carrier.requests, []);
    assert.ok(!carrier.wire().includes('REGISTER'), 'no REGISTER on the wire');
  });
});
