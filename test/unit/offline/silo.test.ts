import assert from 'node:assert/strict';
import { SipRequest, SipResponse } from '../../../src/sip/message.ts';
import { StoreUnavailableError } from '../../../src/errors.ts';
import type { Binding } from '../../../src/store/store.ts';
import { Silo, MESSAGE_ID_HEADER, retryDelay, type SiloOptions } from '../../../src/offline/silo.ts';
import { parseMissedCallNotice } from '../../../src/formats/missed-call-notice.ts';
import { FakeClock, FakeStore, binding, settle } from '../../helpers/fake-message-store.ts';
import { answerOf } from '../../helpers/replies.ts';

const DAY = 24 * 3600_000;

function message(body: Uint8Array | string, contentType = 'text/plain; charset=utf-8', from = '"Alice" <sip:1001@example.com>;tag=abc'): SipRequest {
  const req = new SipRequest('MESSAGE', 'sip:1002@example.com');
  req.addHeader('Via', 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1');
  req.addHeader('From', from);
  req.addHeader('To', '<sip:1002@example.com>');
  req.addHeader('Call-ID', 'm1@127.0.0.1');
  req.addHeader('CSeq', '1 MESSAGE');
  req.addHeader('Content-Type', contentType);
  req.body = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  return req;
}

function ok(status = 200): SipResponse {
  return new SipResponse(status, status === 200 ? 'OK' : 'Failed');
}

interface Sent {
  req: SipRequest;
  binding: Binding;
  at: number;
}

describe('offline/silo (RFC 3428 store-and-forward)', () => {
  let store: FakeStore;
  let clock: FakeClock;
  let sent: Sent[];
  let reply: (req: SipRequest) => SipResponse | null;
  let online: boolean;
  let silo: Silo;

  function make(extra: Partial<SiloOptions> = {}): Silo {
    void silo?.close(); // the one made by beforeEach: its timers must not run on in this test
    return new Silo({
      store,
      clock,
      domain: 'example.com',
      isOnline: () => online,
      send: async (req, b) => {
        sent.push({ req, binding: b, at: clock.now() });
        return reply(req);
      },
      ...extra,
    });
  }

  beforeEach(() => {
    store = new FakeStore();
    clock = new FakeClock();
    sent = [];
    reply = () => ok();
    online = true;
    silo = undefined as unknown as Silo;
    silo = make();
  });
  afterEach(async () => {
    await silo.close();
  });
  /** silo.store's answer as routing sends it (a 503 with the Retry-After the silo used to set itself) */
  const keep = (req: SipRequest, user: string) => answerOf(req, silo.store(req, user), { retryAfterSeconds: 30 });

  describe('store', () => {
    it('answers 202 Accepted only after store.storeMessage resolved (durable)', async () => {
      let open!: () => void;
      store.storeGate = new Promise<void>((r) => (open = r));
      let answered: SipResponse | null = null;
      const p = keep(message('hi'), '1002').then((r) => (answered = r));
      await settle();
      assert.equal(answered, null, 'no answer while the write is not durable');
      assert.equal(store.messages.length, 0);
      open();
      await p;
      assert.equal(answered!.status, 202);
      assert.equal(answered!.reason, 'Accepted');
      assert.match(answered!.header('to')!, /;tag=/);
      assert.equal(store.messages.length, 1);
    });

    it('keeps From header, To, Content-Type and body byte for byte for any MIME type', async () => {
      const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x00, 0x0d, 0x0a, 0xff, 0xd9]);
      const multipart = '--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n--x\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--x--\r\n';
      const latin1 = new Uint8Array([0x63, 0x61, 0x66, 0xe9]); // "café" in ISO-8859-1
      await keep(message(jpeg, 'image/jpeg'), '1002');
      await keep(message(multipart, 'multipart/mixed; boundary=x'), '1002');
      await keep(message(latin1, 'text/plain; charset=ISO-8859-1'), '1002');
      const [a, b, c] = store.messages;
      assert.deepEqual(a.body, jpeg);
      assert.equal(a.contentType, 'image/jpeg');
      assert.equal(a.fromHeader, '"Alice" <sip:1001@example.com>;tag=abc');
      assert.equal(a.fromUri, 'sip:1001@example.com');
      assert.equal(a.toUri, 'sip:1002@example.com');
      assert.equal(new TextDecoder().decode(b.body), multipart);
      assert.equal(b.contentType, 'multipart/mixed; boundary=x');
      assert.deepEqual(c.body, latin1);
      assert.equal(a.expiresAt - a.receivedAt, 7 * DAY);
    });

    it('answers 486 "Busy Here (message quota for USER full)" when the count quota is full', async () => {
      silo = make({ quotaCount: 2 });
      assert.equal((await keep(message('1'), '1002')).status, 202);
      assert.equal((await keep(message('2'), '1002')).status, 202);
      const res = await keep(message('3'), '1002');
      assert.equal(res.status, 486);
      assert.equal(res.reason, 'Busy Here (message quota for 1002 full)');
      assert.equal(store.messages.length, 2);
    });

    it('answers 486 when the byte quota would be exceeded', async () => {
      silo = make({ quotaBytes: 10 });
      assert.equal((await keep(message('12345678'), '1002')).status, 202);
      assert.equal((await keep(message('123'), '1002')).status, 486);
    });

    it('answers 513 Message Too Large above the maximum size, storing nothing', async () => {
      silo = make({ maxMessageBytes: 4 });
      const res = await keep(message('12345'), '1002');
      assert.equal(res.status, 513);
      assert.match(res.reason, /^Message Too Large/);
      assert.equal(store.messages.length, 0);
    });

    it('answers 503 with Retry-After when the store is unavailable', async () => {
      store.failWith = new StoreUnavailableError('db down');
      const res = await keep(message('x'), '1002');
      assert.equal(res.status, 503);
      assert.equal(res.header('retry-after'), '30');
    });

    it('shortens the expiry to an Expires header on the MESSAGE (RFC 3428 §8)', async () => {
      const req = message('x');
      req.addHeader('Expires', '60');
      await keep(req, '1002');
      assert.equal(store.messages[0].expiresAt - store.messages[0].receivedAt, 60_000);
    });
  });

  describe('dump', () => {
    async function queue(n: number): Promise<void> {
      for (let i = 0; i < n; i++) {
        await keep(message(`message ${i}`), '1002');
        clock.time += 1000;
      }
    }

    it('delivers 100 queued messages in arrival order, one at a time, and marks each delivered', async () => {
      await queue(100);
      let inFlight = 0;
      let maxInFlight = 0;
      silo = make({
        send: async (req, b) => {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await settle();
          sent.push({ req, binding: b, at: clock.now() });
          inFlight--;
          return ok();
        },
      });
      const result = await silo.dumpMessages('1002', binding('1002'));
      assert.equal(result.delivered, 100);
      assert.equal(result.stop, 'done');
      assert.equal(maxInFlight, 1);
      assert.deepEqual(sent.map((s) => new TextDecoder().decode(s.req.body)), Array.from({ length: 100 }, (_, i) => `message ${i}`));
      assert.ok(store.messages.every((m) => m.state === 'delivered'));
    });

    it('takes what is kept as the REGISTER\'s commit read it, without asking the store again; asks when not told', async () => {
      await queue(2);
      let asked = 0;
      const keptFor = store.keptFor.bind(store);
      store.keptFor = (user: string) => (asked++, keptFor(user));
      const told = await silo.dump('1002', binding('1002'), { messages: true, missedCalls: false });
      assert.equal(told.messages.delivered, 2);
      assert.equal(asked, 0);
      await queue(1);
      const none = await silo.dump('1002', binding('1002'), { messages: false, missedCalls: false });
      assert.equal(none.messages.delivered, 0, 'told nothing is kept: nothing read, nothing sent');
      assert.equal(asked, 0);
      assert.equal((await silo.dump('1002', binding('1002'))).messages.delivered, 1);
      assert.equal(asked, 1);
    });

    it('sends to the binding contact with the original From, the AoR in To, Content-Type and body', async () => {
      const jpeg = new Uint8Array([0xff, 0xd8, 0x00, 0xff, 0xd9]);
      await keep(message(jpeg, 'image/jpeg'), '1002');
      const b = { ...binding('1002'), path: ['<sip:edge.example.com;lr>'] };
      await silo.dumpMessages('1002', b);
      const req = sent[0].req;
      assert.equal(req.method, 'MESSAGE');
      assert.equal(req.uri, b.contact);
      assert.deepEqual(req.headerValues('route'), ['<sip:edge.example.com;lr>']);
      assert.match(req.header('from')!, /^"Alice" <sip:1001@example.com>;tag=(?!abc)[0-9a-f]+$/);
      assert.equal(req.header('to'), '<sip:1002@example.com>');
      assert.equal(req.header('content-type'), 'image/jpeg');
      assert.deepEqual(req.body, jpeg);
    });

    it('carries a Date header (RFC 3261 §20.17) with the time the message was first received', async () => {
      await keep(message('x'), '1002');
      clock.time += 3 * 3600_000;
      await silo.dumpMessages('1002', binding('1002'));
      assert.equal(sent[0].req.header('date'), 'Wed, 01 Jan 2025 10:00:00 GMT');
    });

    it('keeps a stable X-Tvphone-Message-Id and Call-ID on redelivery, with a new From tag and CSeq', async () => {
      await keep(message('x'), '1002');
      reply = () => null; // first attempt: no answer (e.g. the TV crashed before replying)
      const p = silo.dumpMessages('1002', binding('1002'));
      await settle();
      reply = () => ok();
      await clock.tick(5_000);
      await p;
      assert.equal(sent.length, 2);
      const [a, b] = sent.map((s) => s.req);
      assert.equal(a.header(MESSAGE_ID_HEADER), '1');
      assert.equal(b.header(MESSAGE_ID_HEADER), '1');
      assert.equal(a.callId, 'tvphone-msg-1@example.com');
      assert.equal(b.callId, a.callId);
      assert.equal(a.header('cseq'), '1 MESSAGE');
      assert.equal(b.header('cseq'), '2 MESSAGE');
      assert.notEqual(a.header('from'), b.header('from'));
    });

    it('retries with back-off (5 s, 10 s, 20 s) on 480 and marks delivered only on 2xx', async () => {
      await keep(message('x'), '1002');
      let n = 0;
      reply = () => (++n <= 3 ? ok(480) : ok(200));
      const start = clock.now();
      const p = silo.dumpMessages('1002', binding('1002'));
      await settle();
      assert.equal(store.messages[0].state, 'pending');
      assert.equal(store.messages[0].nextAttemptAt, start + 5_000);
      await clock.tick(60_000);
      const result = await p;
      assert.deepEqual(sent.map((s) => s.at - start), [0, 5_000, 15_000, 35_000]);
      assert.equal(result.delivered, 1);
      assert.equal(result.failures, 3);
      assert.equal(store.messages[0].state, 'delivered');
      assert.equal(retryDelay(20, 5_000, 300_000), 300_000, 'capped');
    });

    it('stops retrying when the user goes offline, leaving the message pending', async () => {
      await keep(message('x'), '1002');
      reply = () => ok(480);
      const p = silo.dumpMessages('1002', binding('1002'));
      await settle();
      online = false;
      await clock.tick(5_000);
      const result = await p;
      assert.equal(result.stop, 'offline');
      assert.equal(sent.length, 1);
      assert.equal(store.messages[0].state, 'pending');
      assert.equal(clock.pending, 1, 'only the housekeeping timer is left');
    });

    it('skips a message refused with a permanent error so the ones behind it are delivered', async () => {
      await queue(2);
      reply = (req) => (new TextDecoder().decode(req.body) === 'message 0' ? ok(415) : ok());
      const result = await silo.dumpMessages('1002', binding('1002'));
      assert.equal(result.delivered, 1);
      assert.equal(result.skipped, 1);
      assert.deepEqual(store.messages.map((m) => m.state), ['pending', 'delivered']);
    });

    it('expires messages older than the expiry (default 7 days) instead of delivering them', async () => {
      await keep(message('old'), '1002');
      clock.time += 7 * DAY;
      await keep(message('new'), '1002');
      const result = await silo.dumpMessages('1002', binding('1002'));
      assert.equal(result.expired, 1);
      assert.equal(result.delivered, 1);
      assert.deepEqual(sent.map((s) => new TextDecoder().decode(s.req.body)), ['new']);
      assert.deepEqual(store.messages.map((m) => m.state), ['expired', 'delivered']);
    });

    it('runs only one dump per user at a time; a second REGISTER joins it and moves it to the new binding', async () => {
      await keep(message('x'), '1002');
      reply = () => ok(480);
      const p1 = silo.dumpMessages('1002', binding('1002'));
      await settle();
      assert.equal(silo.runningDumps, 1);
      reply = () => ok();
      const moved = binding('1002', 'sip:1002@127.0.0.1:5080');
      const p2 = silo.dumpMessages('1002', moved);
      assert.equal(p1, p2);
      await p2;
      assert.equal(sent.length, 2);
      assert.equal(sent[1].req.uri, 'sip:1002@127.0.0.1:5080', 'the back-off is cut short and the new contact used');
      assert.equal(silo.runningDumps, 0);
    });

    it('purges history past the retention and expires on a periodic timer', async () => {
      silo = make({ retentionMs: 10 * DAY, housekeepingMs: DAY });
      await keep(message('a'), '1002');
      await silo.dumpMessages('1002', binding('1002'));
      await keep(message('b'), '1002');
      assert.equal(store.messages.length, 2);
      await clock.tick(11 * DAY);
      assert.deepEqual(store.messages.map((m) => m.state), [], 'delivered purged; the pending one expired after 7 days, then purged');
    });
  });

  describe('missed calls', () => {
    beforeEach(async () => {
      const t = clock.now();
      await store.recordCall({ userId: '1001', otherUserId: '1002', callDate: t, callId: 'a', outcome: 'offline' });
      await store.recordCall({ userId: '1003', otherUserId: '1002', callDate: t + 1000, callId: 'b', outcome: 'no-answer' });
      await store.recordCall({ userId: '1001', otherUserId: '1002', callDate: t + 2000, callId: 'c', outcome: 'offline' });
      await store.recordCall({ userId: '1001', otherUserId: '1002', callDate: t + 3000, callId: 'd', outcome: 'answered' });
      await store.recordCall({ userId: '1002', otherUserId: '1001', callDate: t + 4000, callId: 'e', outcome: 'offline' });
    });

    it('sends one notice grouped per caller with a text/plain and an application/json part, then marks the calls notified', async () => {
      const result = await silo.dumpMissedCalls('1002', binding('1002'));
      assert.equal(result.delivered, 1);
      assert.equal(sent.length, 1);
      const req = sent[0].req;
      assert.equal(req.header('to'), '<sip:1002@example.com>');
      assert.match(req.header('from')!, /^<sip:tvphone@example.com>;tag=/);
      assert.match(req.header('content-type')!, /^multipart\/alternative; boundary=/);
      const text = new TextDecoder().decode(req.body);
      assert.match(text, /Content-Type: text\/plain; charset=utf-8\r\n\r\nYou missed 3 calls while offline:\r\n- 1001: 2 times/);
      const notice = parseMissedCallNotice(req.header('content-type')!, req.body);
      assert.deepEqual(notice?.calls.map((c) => [c.from, c.count]), [['1001', 2], ['1003', 1]]);
      assert.deepEqual(store.calls.map((c) => c.notifiedAt !== null), [true, true, true, false, false]);
    });

    it('retries the notice with back-off and marks nothing until a 2xx', async () => {
      reply = () => null;
      const p = silo.dumpMissedCalls('1002', binding('1002'));
      await settle();
      assert.ok(store.calls.every((c) => c.notifiedAt === null));
      reply = () => ok(202);
      await clock.tick(5_000);
      await p;
      assert.equal(sent.length, 2);
      assert.equal(sent[0].req.callId, sent[1].req.callId);
      assert.equal(store.calls.filter((c) => c.notifiedAt !== null).length, 3);
    });

    it('sends nothing when no call was missed', async () => {
      await store.markCallsNotified([1, 2, 3], clock.now());
      const result = await silo.dumpMissedCalls('1002', binding('1002'));
      assert.equal(sent.length, 0);
      assert.equal(result.stop, 'done');
    });
  });
});
