// RFC 4475 torture messages sent to a running server over UDP and TCP, with the answer caught where RFC 3261 §18.2.2
// sends it. Only the top Via's transport and sent-by are rewritten, to a test socket on 127.0.0.1 (and rport added or
// removed), so nothing is ever sent to the fixtures' 192.0.2.x or example.com hosts: a spy on the transport refuses
// and counts any send to another address. test/unit/transport/rfc4475-answers.test.ts checks the fixtures' own Vias.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../../src/log/logger.ts';
import { StreamFramer } from '../../../src/transport/stream-framer.ts';
import type { Target } from '../../../src/transport/transport.ts';
import { ANSWERS, type Answer } from '../../fixtures/rfc4475/answers.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';

const dir = new URL('../../fixtures/rfc4475/', import.meta.url);
const load = (name: string) => readFileSync(new URL(`${name}.dat`, dir));

/** The fixture with its top Via's transport and sent-by replaced by ours; its parameters kept, rport added or removed. */
function withVia(bytes: Buffer, transport: 'UDP' | 'TCP', port: number, rport: boolean): Buffer {
  const s = bytes.toString('latin1');
  const field = /\r\n(?:via|v)[ \t]*:/i.exec(s);
  assert.ok(field, 'a Via header field');
  const at = field.index + field[0].length;
  // sent-protocol (LWS and folding allowed, RFC 4475 §3.1.1.1), sent-by, then the rest of the first via-parm on this line
  const m = /^(\s*SIP\s*\/\s*[\d.]+\s*\/\s*)[A-Za-z]+(\s+)(?:\[[^\]]*\]|[^\s;,:]+)(?:\s*:\s*\d+)?([^,\r\n]*)/.exec(s.slice(at));
  assert.ok(m, 'a sent-by to rewrite');
  const params = m[3].replace(/;\s*rport(?:\s*=\s*\d*)?(?=\s*(?:;|$))/i, '');
  const via = `${m[1]}${transport}${m[2]}127.0.0.1:${port}${rport ? ';rport' : ''}${params}`;
  return Buffer.from(s.slice(0, at) + via + s.slice(at + m[0].length), 'latin1');
}

/** Status line and top Via of an answer, read without our parser (a 400 to §3.3.1 insuf has no From, To or Call-ID). */
interface Heard { status: number; reason: string; via: string; text: string }
function hear(buf: Buffer): Heard {
  const text = buf.toString('latin1').replace(/\r\n[ \t]+/g, ' '); // RFC 3261 §7.3.1: unfold
  const line = /^SIP\/2\.0 (\d{3}) ([^\r\n]*)\r\n/.exec(text);
  assert.ok(line, `a response: ${JSON.stringify(text.slice(0, 80))}`);
  return { status: Number(line[1]), reason: line[2], via: /\r\n(?:via|v)[ \t]*:[ \t]*([^\r\n]*)/i.exec(text)?.[1] ?? '', text };
}

/** Collects what arrives on a socket; `next()` waits for the next one. */
class Inbox {
  readonly got: Heard[] = [];
  private waiters: (() => void)[] = [];
  push(buf: Buffer): void {
    this.got.push(hear(buf));
    for (const w of this.waiters.splice(0)) w();
  }
  wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  async until(cond: () => boolean, what: string, ms = 3000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (got ${JSON.stringify(this.got.map((h) => `${h.status} ${h.reason}`))})`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }
}

let probes = 0;
/** An OPTIONS to the server itself (answered 200): the server still serves, and what it sent before has been sent. */
function probe(transport: 'UDP' | 'TCP', port: number, serverPort: number): Buffer {
  const n = ++probes;
  return Buffer.from([
    `OPTIONS sip:127.0.0.1:${serverPort} SIP/2.0`, `Via: SIP/2.0/${transport} 127.0.0.1:${port};branch=z9hG4bK-probe${n};rport`, 'Max-Forwards: 70',
    `From: <sip:probe@127.0.0.1>;tag=p${n}`, `To: <sip:127.0.0.1:${serverPort}>`, `Call-ID: probe${n}@rfc4475-wire`, 'CSeq: 1 OPTIONS', 'Content-Length: 0', '', '',
  ].join('\r\n'));
}

function expectAnswer(h: Heard, a: Answer): void {
  assert.equal(h.status, a.status);
  if (a.reason !== undefined) assert.match(h.reason, a.reason);
  if (a.also !== undefined) assert.match(h.text, a.also);
}

describe('RFC 4475 on the wire: every message over UDP and TCP, answered where RFC 3261 §18.2.2 says', function () {
  this.timeout(20000);
  let ts: TestServer;
  const logged: { level: number; msg?: string; err?: { stack?: string } }[] = [];
  /** sends the server was asked to make to any address but 127.0.0.1 (refused), and how many it made */
  const refused: Target[] = [];
  let spied = 0;
  const closers: (() => Promise<void> | void)[] = [];

  before(async () => {
    const log = createLogger('debug', { write: (line: string) => void logged.push(JSON.parse(line)) });
    ts = await startTestServer({ log });
    const transport = ts.server.transport;
    const send = transport.send.bind(transport);
    transport.send = (msg, target, onError) => {
      spied++;
      if (target.address !== '127.0.0.1') return void refused.push(target);
      send(msg, target, onError);
    };
  });
  afterEach(async () => {
    for (const c of closers.splice(0)) await c();
    assert.deepEqual(refused, [], 'nothing is sent beyond 127.0.0.1');
  });
  after(async () => {
    await ts?.close();
  });

  async function udpSocket(): Promise<{ port: number; inbox: Inbox; send: (b: Buffer) => void }> {
    const s = dgram.createSocket('udp4');
    const inbox = new Inbox();
    s.on('message', (m) => inbox.push(m));
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => s.close(() => r())));
    return { port: s.address().port, inbox, send: (b) => s.send(b, ts.udp.port, '127.0.0.1') };
  }

  async function tcpConnection(): Promise<{ port: number; inbox: Inbox; closed: () => boolean; send: (b: Buffer) => void }> {
    const s = net.connect(ts.tcp.port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
    const inbox = new Inbox();
    let closed = false;
    const framer = new StreamFramer({ onFrame: (f) => inbox.push(Buffer.from(f)), onPing: () => {}, onFramingError: () => s.destroy() }, 1 << 20);
    s.on('data', (d) => framer.push(d));
    s.on('error', () => {});
    s.on('close', () => {
      closed = true;
      inbox.wake();
    });
    closers.push(() => void s.destroy());
    return { port: s.localPort!, inbox, closed: () => closed, send: (b) => s.write(b) };
  }

  it('has an expected answer for every fixture', () => {
    const names = [...readdirSync(dir).filter((f) => f.endsWith('.dat')), ...readdirSync(new URL('compat/', dir)).map((f) => `compat/${f}`)]
      .map((f) => f.slice(0, -4));
    assert.deepEqual(names.sort(), Object.keys(ANSWERS).sort());
  });

  for (const [name, a] of Object.entries(ANSWERS)) {
    const what = a.status === null ? 'no answer' : `${a.status}`;

    it(`§${a.section} ${name} over UDP: ${what}, at the Via's sent-by port (no rport)`, async () => {
      const source = await udpSocket();
      const sentBy = await udpSocket();
      source.send(withVia(load(name), 'UDP', sentBy.port, false));
      if (a.status !== null) {
        await sentBy.inbox.until(() => sentBy.inbox.got.length > 0, `the ${a.status}`);
        expectAnswer(sentBy.inbox.got[0], a);
        assert.match(sentBy.inbox.got[0].via, new RegExp(`127\\.0\\.0\\.1:${sentBy.port}(?![\\d])`));
        assert.doesNotMatch(sentBy.inbox.got[0].via, /rport/);
      }
      source.send(probe('UDP', source.port, ts.udp.port));
      await source.inbox.until(() => source.inbox.got.length > 0, 'the probe\'s 200');
      assert.deepEqual(source.inbox.got.map((h) => h.status), [200], 'the source port gets only the probe\'s answer');
      if (a.status === null) assert.deepEqual(sentBy.inbox.got, []);
    });

    it(`§${a.section} ${name} over UDP: ${what}, at the source port (rport, RFC 3581)`, async () => {
      const source = await udpSocket();
      const sentBy = await udpSocket();
      source.send(withVia(load(name), 'UDP', sentBy.port, true));
      if (a.status !== null) {
        await source.inbox.until(() => source.inbox.got.length > 0, `the ${a.status}`);
        expectAnswer(source.inbox.got[0], a);
        assert.match(source.inbox.got[0].via, new RegExp(`;received=127\\.0\\.0\\.1;rport=${source.port}(?![\\d])`));
      }
      source.send(probe('UDP', source.port, ts.udp.port));
      await source.inbox.until(() => source.inbox.got.some((h) => h.status === 200), 'the probe\'s 200');
      assert.deepEqual(source.inbox.got.map((h) => h.status), a.status === null ? [200] : [a.status, 200]);
      assert.deepEqual(sentBy.inbox.got, [], 'nothing at the sent-by port');
    });

    const tcp = a.tcp;
    // a message that exists only as one datagram (its reason in the table) has no TCP case: no test, not a pending one
    if (typeof tcp === 'object' && 'skip' in tcp) continue;
    const t: Answer = typeof tcp === 'object' ? { ...a, ...tcp } : a;
    const tWhat = tcp === 'incomplete' ? 'nothing while the body is incomplete' : t.status === null ? 'no answer' : `${t.status}`;
    it(`§${a.section} ${name} over TCP: ${tWhat}, on the same connection`, async () => {
      const c = await tcpConnection();
      c.send(withVia(load(name), 'TCP', c.port, false));
      if (tcp === 'incomplete') {
        // RFC 3261 §18.3: on a stream, Content-Length frames the message; the missing octets are waited for
        await sleep(300);
        assert.deepEqual([c.inbox.got, c.closed()], [[], false]);
        return;
      }
      if (t.status !== null) {
        await c.inbox.until(() => c.inbox.got.length > 0, `the ${t.status}`);
        expectAnswer(c.inbox.got[0], t);
      }
      if (t.parseError) {
        // bad bytes on a stream: the answer (if any), then the connection is closed
        await c.inbox.until(() => c.closed(), 'the connection to close');
        assert.equal(c.inbox.got.length, t.status === null ? 0 : 1);
        return;
      }
      c.send(probe('TCP', c.port, ts.udp.port));
      await c.inbox.until(() => c.inbox.got.some((h) => h.status === 200), 'the probe\'s 200');
      assert.deepEqual(c.inbox.got.map((h) => h.status), t.status === null ? [200] : [t.status, 200]);
    });
  }

  it('logged no error and no stack trace for any of it; every answer went through the spy', () => {
    assert.ok(spied >= 100, `${spied} sends seen`);
    const bad = logged.filter((l) => l.level >= 40 || l.err?.stack !== undefined);
    assert.deepEqual(bad, []);
  });
});
