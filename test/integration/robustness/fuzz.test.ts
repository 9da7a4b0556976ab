// Nothing a peer sends can crash the server: mutated and truncated real messages, and random bytes, over UDP and
// TCP, then the server still answers (RFC 3261 §16.3 / §21.4.1: a bad request gets 400 where it can be answered).
import assert from 'node:assert/strict';
import fc from 'fast-check';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { RawClient } from '../../helpers/raw-client.ts';

import { mutate, mutation } from '../../helpers/fuzz-input.ts';
import { createLogger } from '../../../src/log/logger.ts';

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

  it('keeps serving after 400 mutated or truncated messages and 100 random datagrams over UDP, and logs no error or stack for them', async () => {
    const lines: string[] = [];
    ts = await startTestServer({ log: createLogger('info', { write: (l: string) => void lines.push(l) }) });
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
    const bad = lines.filter((l) => (JSON.parse(l) as { level: number }).level >= 50 || /"stack"/.test(l));
    assert.deepEqual(bad, [], 'peer input is never an error or a stack trace in the log');
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
