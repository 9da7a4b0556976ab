// Nothing a peer sends can crash the server: mutated and truncated real messages, and random bytes, over UDP and
// TCP, then the server still answers (RFC 3261 §16.3 / §21.4.1: a bad request gets 400 where it can be answered).
import assert from 'node:assert/strict';
import fc from 'fast-check';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { RawClient } from '../../helpers/raw-client.ts';

const SEEDS = [
  'INVITE sip:1002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKf1;rport\r\nMax-Forwards: 70\r\nFrom: "A" <sip:1001@127.0.0.1>;tag=a1\r\nTo: <sip:1002@127.0.0.1>\r\nCall-ID: f1@x\r\nCSeq: 1 INVITE\r\nContact: <sip:1001@127.0.0.1:5999>\r\nContent-Type: application/sdp\r\nContent-Length: 31\r\n\r\nv=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n',
  'REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKf2\r\nMax-Forwards: 70\r\nFrom: <sip:1003@127.0.0.1>;tag=r1\r\nTo: <sip:1003@127.0.0.1>\r\nCall-ID: f2@x\r\nCSeq: 7 REGISTER\r\nContact: <sip:1003@127.0.0.1:5999>;expires=60;q=0.5, *\r\nExpires: 60\r\nContent-Length: 0\r\n\r\n',
  'MESSAGE sip:1004@127.0.0.1 SIP/2.0\r\nv: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKf3\r\nf: <sip:1001@127.0.0.1>;tag=m1\r\nt: <sip:1004@127.0.0.1>\r\ni: f3@x\r\nCSeq: 1 MESSAGE\r\nc: text/plain\r\nRoute: <sip:127.0.0.1;lr>\r\nl: 5\r\n\r\nhello',
  'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKf4\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>;tag=2\r\nCall-ID: f4@x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n',
];

const mutation = fc.record({
  seed: fc.nat({ max: SEEDS.length - 1 }),
  cuts: fc.array(fc.tuple(fc.nat(), fc.nat({ max: 8 }), fc.uint8Array({ maxLength: 8 })), { maxLength: 4 }),
  truncate: fc.option(fc.nat(), { nil: undefined }),
});

function mutate(m: { seed: number; cuts: Array<[number, number, Uint8Array]>; truncate?: number }): Buffer {
  let b = Buffer.from(SEEDS[m.seed], 'latin1');
  for (const [at, del, ins] of m.cuts) {
    const i = at % (b.length + 1);
    b = Buffer.concat([b.subarray(0, i), Buffer.from(ins), b.subarray(Math.min(b.length, i + del))]);
  }
  if (m.truncate !== undefined) b = b.subarray(0, m.truncate % (b.length + 1));
  return b;
}

describe('robustness: mutated and random input over UDP and TCP', function () {
  this.timeout(60000);
  let ts: TestServer;
  const clients: RawClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    await ts?.close();
  });

  async function stillServing(): Promise<void> {
    const c = await RawClient.open('udp', ts.udp.port);
    clients.push(c);
    const { callId } = c.request({ method: 'OPTIONS', uri: `sip:127.0.0.1:${ts.udp.port}`, from: '<sip:probe@127.0.0.1>', to: `<sip:127.0.0.1:${ts.udp.port}>` });
    assert.equal((await c.final(callId)).status, 200);
  }

  it('keeps serving after 400 mutated or truncated messages and 100 random datagrams over UDP', async () => {
    ts = await startTestServer();
    const c = await RawClient.open('udp', ts.udp.port);
    c.autoAnswer = null;
    clients.push(c);
    const samples = fc.sample(mutation, { numRuns: 400, seed: 4475 });
    for (const [i, m] of samples.entries()) {
      c.sendRaw(mutate(m));
      if (i % 50 === 49) await sleep(20); // let the server drain its socket
    }
    for (const r of fc.sample(fc.uint8Array({ minLength: 1, maxLength: 1400 }), { numRuns: 100, seed: 7 })) c.sendRaw(r);
    await sleep(300);
    await stillServing();
    assert.ok(ts.server.transport.counters.parseErrors > 0, 'the bad ones were seen and counted');
  });

  it('keeps serving other clients after mutated messages on TCP connections (each bad stream is closed)', async () => {
    ts = await startTestServer();
    const samples = fc.sample(mutation, { numRuns: 60, seed: 3261 });
    for (const m of samples) {
      const s = net.connect(ts.tcp.port, '127.0.0.1');
      s.on('error', () => {});
      await new Promise<void>((r) => s.once('connect', () => r()));
      s.write(mutate(m));
      s.end();
      await new Promise<void>((r) => { s.once('close', () => r()); setTimeout(r, 500); });
      s.destroy();
    }
    await stillServing();
  });
});
