// The silo and the presence agent on the real SQLite backend (in memory): what the fakes stand for holds.
import assert from 'node:assert/strict';
import { SipRequest, SipResponse } from '../../../src/sip/message.ts';
import { openStore } from '../../../src/store/open.ts';
import type { Store } from '../../../src/store/store.ts';
import { Silo } from '../../../src/offline/silo.ts';
import { PresenceAgent } from '../../../src/presence/presence-agent.ts';
import { parsePidf } from '../../../src/formats/pidf.ts';
import { parseMissedCallNotice } from '../../../src/formats/missed-call-notice.ts';
import { FakeClock, binding } from '../../helpers/fake-message-store.ts';

function message(body: Uint8Array, contentType: string): SipRequest {
  const req = new SipRequest('MESSAGE', 'sip:1002@example.com');
  req.addHeader('Via', 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1');
  req.addHeader('From', '<sip:1001@example.com>;tag=abc');
  req.addHeader('To', '<sip:1002@example.com>');
  req.addHeader('Call-ID', 'm1@127.0.0.1');
  req.addHeader('CSeq', '1 MESSAGE');
  req.addHeader('Content-Type', contentType);
  req.body = body;
  return req;
}

describe('offline + presence on SQLite (sqlite::memory:)', () => {
  let store: Store;
  let clock: FakeClock;
  const closers: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    store = await openStore('sqlite::memory:');
    clock = new FakeClock();
  });
  afterEach(async () => {
    for (const c of closers.splice(0)) await c();
    await store.close();
  });

  it('stores any body byte for byte and delivers the messages in order, marking them delivered', async () => {
    const sent: SipRequest[] = [];
    const silo = new Silo({ store, clock, domain: 'example.com', isOnline: () => true, send: async (r) => (sent.push(r), new SipResponse(200, 'OK')) });
    closers.push(() => silo.close());
    const bytes = new Uint8Array(256).map((_, i) => i);
    assert.equal((await silo.store(message(bytes, 'image/png'), '1002')).status, 202);
    assert.equal((await silo.store(message(new TextEncoder().encode('second'), 'text/plain'), '1002')).status, 202);
    const result = await silo.dumpMessages('1002', binding('1002'));
    assert.equal(result.delivered, 2);
    assert.deepEqual(sent[0].body, bytes);
    assert.equal(sent[0].header('content-type'), 'image/png');
    assert.equal(sent[1].header('x-tvphone-message-id'), String(Number(sent[0].header('x-tvphone-message-id')) + 1));
    assert.deepEqual((await store.listMessages({ toUser: '1002' })).map((m) => m.state), ['delivered', 'delivered']);
  });

  it('delivers a missed-call notice and marks the calls notified', async () => {
    const sent: SipRequest[] = [];
    const silo = new Silo({ store, clock, domain: 'example.com', isOnline: () => true, send: async (r) => (sent.push(r), new SipResponse(200, 'OK')) });
    closers.push(() => silo.close());
    await store.recordCall({ userId: '1001', otherUserId: '1002', callDate: clock.now(), callId: 'a', outcome: 'offline' });
    await store.recordCall({ userId: '1001', otherUserId: '1002', callDate: clock.now() + 1, callId: 'b', outcome: 'offline' });
    await silo.dumpMissedCalls('1002', binding('1002'));
    assert.deepEqual(parseMissedCallNotice(sent[0].header('content-type')!, sent[0].body)?.calls.map((c) => c.count), [2]);
    assert.equal((await store.listCalls({ missedBy: '1002', unnotified: true })).length, 0);
  });

  it('keeps subscriptions in the store: a new agent (after a restart) NOTIFYs with the next CSeq', async () => {
    const sent: SipRequest[] = [];
    const options = {
      store, clock, domain: 'example.com', contact: 'sip:tvphone@127.0.0.1',
      sendInDialog: async (r: SipRequest) => (sent.push(r), new SipResponse(200, 'OK')),
    };
    const first = new PresenceAgent(options);
    const req = new SipRequest('SUBSCRIBE', 'sip:1002@example.com');
    req.addHeader('Via', 'SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK-s1');
    req.addHeader('From', '<sip:1001@example.com>;tag=w');
    req.addHeader('To', '<sip:1002@example.com>');
    req.addHeader('Call-ID', 'sub@x');
    req.addHeader('CSeq', '1 SUBSCRIBE');
    req.addHeader('Contact', '<sip:1001@127.0.0.1:5070>');
    req.addHeader('Event', 'presence');
    assert.equal((await first.subscribe(req, 'sip:1001@example.com', '1002', { transport: 'tcp', address: '127.0.0.1', port: 5070, connectionId: null })).status, 200);
    await clock.tick(0);
    await first.close();
    const second = new PresenceAgent(options);
    closers.push(() => second.close());
    await second.netstateChanged({ userId: '1002', bindings: [], presence: { userId: '1002', ip: '127.0.0.1', netstate: 1, since: clock.now() }, netstateChanged: true });
    assert.equal(sent.length, 2);
    assert.equal(sent[1].header('cseq'), '2 NOTIFY');
    assert.equal(parsePidf(sent[1].body).tuples[0].basic, 'open');
  });
});
