// Store-and-forward over real UDP and TCP sockets (issue 4): MESSAGEs to an offline user are answered 202,
// kept byte for byte, and delivered in order when the user registers; limits answer 513 and 486; a delivery
// answered 480 is retried and marked delivered only after the 2xx; missed calls become one notice; the CLI
// lists what is pending and what was missed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer, storeBackend, type TestServer, type TestServerOptions } from '../../helpers/test-server.ts';
import { RawClient } from '../../helpers/raw-client.ts';
import type { TestDatabase } from '../../helpers/pg-database.ts';
import type { SipRequest, SipResponse } from '../../../src/sip/message.ts';
import { parseMissedCallNotice, splitMultipart } from '../../../src/formats/missed-call-notice.ts';
import { parseCSeq } from '../../../src/sip/headers.ts';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../../bin/tvphone', import.meta.url));

// SQLite in the first pass of `npm test`, PostgreSQL in its second (TVPHONE_TEST_STORE).
const backends = [storeBackend()];

for (const backend of backends) describe(`store-and-forward over UDP and TCP (offline users, ${backend.name})`, function () {
  this.timeout(20_000);
  let ts: TestServer | undefined;
  let pg: TestDatabase | null = null;

  async function start(o: TestServerOptions = {}): Promise<TestServer> {
    pg = await backend.db();
    ts = await startTestServer({ auth: 'none', dbUrl: pg?.url, ...o });
    return ts;
  }

  const client = (transport: 'udp' | 'tcp' = 'udp'): Promise<RawClient> => ts!.client(transport);

  const register = (c: RawClient, user: string, expires = 3600): Promise<SipResponse> => c.register(user, expires);

  /** Makes `user` known to the server but offline (auth none creates users on REGISTER). */
  async function makeOffline(c: RawClient, user: string): Promise<void> {
    assert.equal((await register(c, user, 0)).status, 200);
  }

  function sendMessage(c: RawClient, to: string, body: string | Uint8Array, contentType = 'text/plain;charset=utf-8', from = '<sip:1001@127.0.0.1>'): Promise<SipResponse> {
    const { callId } = c.request({ method: 'MESSAGE', uri: `sip:${to}@127.0.0.1`, from, to: `<sip:${to}@127.0.0.1>`, body, contentType });
    return c.final(callId, 'MESSAGE');
  }

  async function until(cond: () => Promise<boolean>, what: string, ms = 5000): Promise<void> {
    for (const t0 = Date.now(); Date.now() - t0 < ms;) {
      if (await cond()) return;
      await sleep(25);
    }
    assert.fail(`timed out waiting until ${what}`);
  }

  afterEach(async () => {
    await ts?.close();
    ts = undefined;
    await pg?.drop();
    pg = null;
  });

  it('answers 202 for an offline user and delivers at REGISTER with the original From, body and Date', async () => {
    await start();
    const sender = await client();
    await makeOffline(sender, '2002');
    const before = Math.floor(Date.now() / 1000) * 1000;
    const res = await sendMessage(sender, '2002', 'bonsoir, téléviseur', 'text/plain;charset=utf-8', '"Alice Smith" <sip:1001@127.0.0.1>');
    const after = Date.now();
    assert.equal(res.status, 202);
    await sleep(1100); // the delivery is later than the arrival: Date must still say when it arrived
    const tv = await client();
    assert.equal((await register(tv, '2002')).status, 200);
    const m = await tv.nextRequest('MESSAGE');
    assert.match(m.header('from')!, /^"Alice Smith" <sip:1001@127\.0\.0\.1>;tag=/);
    assert.equal(Buffer.from(m.body).toString('utf8'), 'bonsoir, téléviseur');
    assert.equal(m.header('content-type'), 'text/plain;charset=utf-8');
    const date = Date.parse(m.header('date')!);
    assert.ok(date >= before && date <= after, `Date ${m.header('date')} is the arrival time, not the delivery time`);
    assert.ok(m.header('x-tvphone-message-id'));
  });

  it('delivers a 50 KB picture byte-identical over the TCP connection the user registered on', async () => {
    await start();
    const sender = await client('tcp');
    await makeOffline(sender, '2003');
    const picture = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), randomBytes(50 * 1024)]);
    assert.equal((await sendMessage(sender, '2003', picture, 'image/png')).status, 202);
    const tv = await client('tcp');
    assert.equal((await register(tv, '2003')).status, 200);
    const m = await tv.nextRequest('MESSAGE');
    assert.equal(m.header('content-type'), 'image/png');
    assert.equal(Number(m.header('content-length')), picture.length);
    assert.ok(Buffer.from(m.body).equals(picture), 'the picture arrives byte for byte');
    await until(async () => (await ts!.server.store.listMessages({ toUser: '2003', state: 'delivered' })).length === 1, 'the picture is marked delivered');
  });

  it('skips a stored message too large for the UDP flow of the user and delivers the ones behind it', async () => {
    await start();
    const sender = await client('tcp'); // 100 KB can only be sent on a stream
    await makeOffline(sender, '2011');
    const big = randomBytes(100_000); // larger than any datagram; the user has no TCP listener to fall back on
    assert.equal((await sendMessage(sender, '2011', big, 'application/octet-stream')).status, 202);
    assert.equal((await sendMessage(sender, '2011', 'small one')).status, 202);
    const tv = await client('udp');
    await register(tv, '2011');
    const got = await tv.nextRequest('MESSAGE', 8000);
    assert.equal(Buffer.from(got.body).toString('utf8'), 'small one');
    await until(async () => (await ts!.server.store.listMessages({ toUser: '2011', state: 'delivered' })).length === 1, 'the small one is delivered');
    const pending = await ts!.server.store.listMessages({ toUser: '2011', state: 'pending' });
    assert.equal(pending.length, 1, 'the large one stays pending for a later registration over TCP');
    assert.equal(pending[0].body.length, 100_000);
  });

  it('keeps the order of 100 queued messages', async () => {
    await start();
    const sender = await client();
    await makeOffline(sender, '2004');
    for (let i = 0; i < 100; i++) assert.equal((await sendMessage(sender, '2004', `message ${i}`)).status, 202);
    assert.equal((await ts!.server.store.pendingUsage('2004')).count, 100);
    const tv = await client();
    await register(tv, '2004');
    const got: string[] = [];
    const ids: number[] = [];
    for (let i = 0; i < 100; i++) {
      const m = await tv.nextRequest('MESSAGE');
      got.push(Buffer.from(m.body).toString('utf8'));
      ids.push(Number(m.header('x-tvphone-message-id')));
    }
    assert.deepEqual(got, Array.from({ length: 100 }, (_, i) => `message ${i}`));
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'message ids ascend in arrival order');
    await until(async () => (await ts!.server.store.pendingUsage('2004')).count === 0, 'all 100 are delivered');
  });

  it('answers 513 to a message larger than messages.maxBytes and keeps nothing', async () => {
    await start({ profile: { messages: { maxBytes: 1000 } } });
    const sender = await client();
    await makeOffline(sender, '2005');
    const res = await sendMessage(sender, '2005', 'x'.repeat(1001));
    assert.equal(res.status, 513);
    assert.match(res.reason, /1000/, 'the reason phrase names the limit');
    assert.equal((await sendMessage(sender, '2005', 'x'.repeat(1000))).status, 202, 'a message at the limit is kept');
    assert.equal((await ts!.server.store.pendingUsage('2005')).count, 1);
  });

  it('answers 486 with a reason naming the full quota once messages.quotaCount messages wait', async () => {
    await start({ profile: { messages: { quotaCount: 3 } } });
    const sender = await client();
    await makeOffline(sender, '2006');
    for (let i = 0; i < 3; i++) assert.equal((await sendMessage(sender, '2006', `m${i}`)).status, 202);
    const res = await sendMessage(sender, '2006', 'one too many');
    assert.equal(res.status, 486);
    assert.match(res.reason, /quota/i, `reason phrase says why: "${res.reason}"`);
    assert.equal((await ts!.server.store.pendingUsage('2006')).count, 3);
  });

  it('holds messages.quotaCount when MESSAGEs arrive at the same time (the check and the insert are one transaction)', async () => {
    await start({ profile: { messages: { quotaCount: 3 } } });
    const sender = await client();
    await makeOffline(sender, '2010');
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => sendMessage(sender, '2010', `m${i}`)));
    assert.equal(answers.filter((r) => r.status === 202).length, 3);
    assert.equal((await ts!.server.store.pendingUsage('2010')).count, 3);
  });

  it('retries a delivery answered 480, marks it delivered only after the 2xx, with the same X-Tvphone-Message-Id', async function () {
    this.timeout(20_000); // the silo's first back-off is 5 s
    await start();
    const sender = await client();
    await makeOffline(sender, '2007');
    assert.equal((await sendMessage(sender, '2007', 'try again')).status, 202);
    const tv = await client();
    tv.autoAnswer = 480;
    await register(tv, '2007');
    const first = await tv.nextRequest('MESSAGE');
    tv.autoAnswer = 200;
    const id = first.header('x-tvphone-message-id');
    assert.ok(id);
    await until(async () => (await ts!.server.store.listMessages({ toUser: '2007' }))[0]?.attempts === 1, 'the failed attempt is recorded');
    const [stored] = await ts!.server.store.listMessages({ toUser: '2007' });
    assert.equal(stored.state, 'pending', 'a 480 does not mark the message delivered');
    const second = await tv.nextRequest('MESSAGE', 12_000);
    assert.equal(second.header('x-tvphone-message-id'), id, 'the redelivery carries the same message id');
    assert.equal(second.callId, first.callId, 'and the same Call-ID');
    assert.equal(Buffer.from(second.body).toString('utf8'), 'try again');
    assert.ok(parseCSeq(second.header('cseq')!).seq > parseCSeq(first.header('cseq')!).seq, 'a new CSeq for the new attempt');
    await until(async () => (await ts!.server.store.listMessages({ toUser: '2007' }))[0]?.state === 'delivered', 'delivered after the 200');
  });

  it('sends one missed-call notice (multipart/alternative: text/plain and application/json) after offline INVITEs', async () => {
    await start();
    const caller = await client();
    await register(caller, '1001');
    await makeOffline(caller, '2008');
    for (let i = 0; i < 3; i++) {
      const inv = caller.request({ method: 'INVITE', uri: 'sip:2008@127.0.0.1', from: '<sip:1001@127.0.0.1>', to: '<sip:2008@127.0.0.1>', headers: [['Contact', caller.contact]] });
      assert.equal((await caller.final(inv.callId, 'INVITE')).status, 480);
    }
    const tv = await client();
    await register(tv, '2008');
    const notice = await tv.nextRequest('MESSAGE');
    const ct = notice.header('content-type')!;
    assert.match(ct, /^multipart\/alternative;\s*boundary=/);
    const parts = splitMultipart(ct, Buffer.from(notice.body).toString('utf8'));
    assert.deepEqual(parts.map((p) => p.contentType.split(';')[0].trim()), ['text/plain', 'application/json']);
    assert.match(parts[0].body, /missed 3 calls/);
    assert.match(parts[0].body, /1001/);
    const json = parseMissedCallNotice(ct, notice.body);
    assert.equal(json?.to, '2008');
    assert.deepEqual(json?.calls.map((c) => [c.from, c.count]), [['1001', 3]]);
    await until(async () => (await ts!.server.store.listCalls({ missedBy: '2008', unnotified: true })).length === 0, 'the calls are marked notified');
    await sleep(300);
    assert.equal(tv.received.filter((m) => m.isRequest() && (m as SipRequest).method === 'MESSAGE').length, 0, 'only one notice');
  });

  it('lists pending messages and missed calls with `tvphone messages --pending --json` and `tvphone calls --missed --json`', async () => {
    await start();
    const sender = await client();
    await register(sender, '1001');
    await makeOffline(sender, '2009');
    assert.equal((await sendMessage(sender, '2009', 'first')).status, 202);
    assert.equal((await sendMessage(sender, '2009', Uint8Array.of(0, 1, 2, 255), 'application/octet-stream')).status, 202);
    const inv = sender.request({ method: 'INVITE', uri: 'sip:2009@127.0.0.1', from: '<sip:1001@127.0.0.1>', to: '<sip:2009@127.0.0.1>', headers: [['Contact', sender.contact]] });
    assert.equal((await sender.final(inv.callId, 'INVITE')).status, 480);

    const env = { ...process.env, TVPHONE_DB: '' };
    const msgs = JSON.parse((await run(process.execPath, [BIN, 'messages', '--db', ts!.dbUrl, '--user', '2009', '--pending', '--json'], { env, timeout: 15_000 })).stdout) as Array<Record<string, unknown>>;
    assert.equal(msgs.length, 2);
    assert.deepEqual(msgs.map((m) => [m.to, m.from, m.state, m.contentType]), [
      ['2009', 'sip:1001@127.0.0.1', 'pending', 'text/plain;charset=utf-8'],
      ['2009', 'sip:1001@127.0.0.1', 'pending', 'application/octet-stream'],
    ]);
    assert.deepEqual(msgs.map((m) => Buffer.from(m.body as string, 'base64')), [Buffer.from('first'), Buffer.from([0, 1, 2, 255])]);

    const calls = JSON.parse((await run(process.execPath, [BIN, 'calls', '--db', ts!.dbUrl, '--user', '2009', '--missed', '--json'], { env, timeout: 15_000 })).stdout) as Array<Record<string, unknown>>;
    assert.equal(calls.length, 1);
    assert.equal(calls[0].caller, '1001');
    assert.equal(calls[0].callee, '2009');
    assert.equal(calls[0].outcome, 'offline');
    assert.equal(calls[0].callId, inv.callId);
    assert.equal(calls[0].notified, null);
  });
});
