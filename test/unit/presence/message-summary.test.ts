// The message-summary package (RFC 3842) on the shared notifier, with fake store and clock: the mailbox's counts,
// its owner only, the package kept apart from presence in the same store, the watcher limit shared, bursts merged.
import assert from 'node:assert/strict';
import { SipRequest, SipResponse } from '../../../src/sip/message.ts';
import type { Subscription, VoicemailRecord } from '../../../src/store/store.ts';
import { PresenceAgent } from '../../../src/presence/presence-agent.ts';
import { mailboxCounts, MESSAGE_SUMMARY_EVENT, messageSummaryPackage } from '../../../src/presence/message-summary.ts';
import { parseMessageSummary } from '../../../src/formats/message-summary.ts';
import type { Flow } from '../../../src/flow.ts';
import { FakeClock, FakeStore } from '../../helpers/fake-message-store.ts';
import { answerOf } from '../../helpers/replies.ts';

const SOURCE: Flow = { transport: 'udp', address: '127.0.0.1', port: 5070, connectionId: null };

function subscribe(o: { event?: string; from?: string; callId?: string; expires?: number; accept?: string } = {}): SipRequest {
  const req = new SipRequest('SUBSCRIBE', 'sip:1002@example.com');
  req.addHeader('Via', 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-m1');
  req.addHeader('From', `<${o.from ?? 'sip:1002@example.com'}>;tag=ptag`);
  req.addHeader('To', '<sip:1002@example.com>');
  req.addHeader('Call-ID', o.callId ?? 'mwi-1');
  req.addHeader('CSeq', '1 SUBSCRIBE');
  req.addHeader('Contact', '<sip:1002@127.0.0.1:5070>');
  req.addHeader('Event', o.event ?? MESSAGE_SUMMARY_EVENT);
  req.addHeader('Expires', String(o.expires ?? 600));
  if (o.accept) req.addHeader('Accept', o.accept);
  return req;
}

function vm(id: number, state: VoicemailRecord['state']): VoicemailRecord {
  return {
    id, toUser: '1002', caller: '1001', fromUri: 'sip:1001@example.com', callId: `c${id}`, callRecordId: null, recordedAt: 0,
    durationMs: 1000, codec: 'PCMU', bytes: 100, state, deliveredAt: null, contentType: 'audio/wav',
  };
}

describe('presence/message-summary (RFC 3842 on the RFC 6665 notifier)', () => {
  let store: FakeStore;
  let clock: FakeClock;
  let kept: VoicemailRecord[];
  let sent: SipRequest[];
  let agent: PresenceAgent;

  beforeEach(() => {
    store = new FakeStore();
    clock = new FakeClock();
    kept = [];
    sent = [];
    const mailbox = { listVoicemails: async (q: { toUser?: string }) => kept.filter((v) => v.toUser === q.toUser) };
    agent = new PresenceAgent({
      store, clock, domain: 'example.com', contact: 'sip:tvphone@127.0.0.1:5060', maxWatchers: 2,
      sendInDialog: async (req: SipRequest, _sub: Subscription) => {
        sent.push(req);
        return new SipResponse(200, 'OK');
      },
      packages: [messageSummaryPackage({ store: mailbox, domain: 'example.com' })],
    });
  });
  afterEach(async () => {
    await agent.close();
  });

  const answer = (req: SipRequest, watcher = 'sip:1002@example.com') => answerOf(req, agent.subscribe(req, watcher, '1002', SOURCE));
  async function flush(): Promise<void> {
    await clock.tick(0);
    await agent.idle();
  }

  it('counts pending voice messages as new and delivered ones as old (expired ones not at all)', async () => {
    kept = [vm(1, 'pending'), vm(2, 'delivered'), vm(3, 'pending'), vm(4, 'expired'), { ...vm(5, 'pending'), toUser: '1003' }];
    assert.deepEqual(await mailboxCounts({ listVoicemails: async (q) => kept.filter((v) => v.toUser === q.toUser) }, '1002'),
      { new: 2, old: 1, urgentNew: 0, urgentOld: 0 });
  });

  it('answers its owner 200 and NOTIFYs the summary (no Accept means application/simple-message-summary)', async () => {
    kept = [vm(1, 'pending')];
    const res = await answer(subscribe());
    assert.equal(res.status, 200);
    await flush();
    assert.equal(sent.length, 1);
    assert.equal(sent[0].header('event'), 'message-summary');
    assert.equal(sent[0].header('content-type'), 'application/simple-message-summary');
    assert.equal(sent[0].header('from')?.startsWith('<sip:1002@example.com>;tag='), true);
    assert.deepEqual(parseMessageSummary(sent[0].body), {
      waiting: true, account: 'sip:1002@example.com', counts: { 'voice-message': { new: 1, old: 0, urgentNew: 0, urgentOld: 0 } },
    });
    assert.equal([...store.subscriptions.values()][0].event, 'message-summary');
  });

  it('refuses another user (403) and a subscriber that does not accept the summary (415)', async () => {
    assert.equal((await answer(subscribe({ from: 'sip:1001@example.com' }), 'sip:1001@example.com')).status, 403);
    assert.equal((await answer(subscribe({ accept: 'application/pidf+xml' }))).status, 415);
    await flush();
    assert.equal(sent.length, 0);
    assert.equal(store.subscriptions.size, 0);
  });

  it('keeps the packages apart: a netstate change NOTIFYs presence watchers only, a mailbox change MWI ones only', async () => {
    await answer(subscribe());
    await answer(subscribe({ event: 'presence', callId: 'pres-1' }));
    await flush();
    sent = [];
    await agent.netstateChanged({ userId: '1002', bindings: [], presence: { userId: '1002', ip: null, netstate: 1, since: 0 }, netstateChanged: true });
    assert.deepEqual(sent.map((r) => r.header('event')), ['presence']);
    sent = [];
    await agent.changed(MESSAGE_SUMMARY_EVENT, '1002');
    assert.deepEqual(sent.map((r) => r.header('event')), ['message-summary']);
  });

  it('counts MWI and presence subscriptions of a user against the same limit (503 beyond it)', async () => {
    assert.equal((await answer(subscribe())).status, 200);
    assert.equal((await answer(subscribe({ event: 'presence', callId: 'pres-1' }))).status, 200);
    assert.equal((await answer(subscribe({ callId: 'mwi-2' }))).status, 503);
  });

  it('merges a burst of mailbox changes into the NOTIFYs already queued, each reading the counts when it goes', async () => {
    await answer(subscribe());
    await flush();
    sent = [];
    kept = [vm(1, 'delivered'), vm(2, 'delivered'), vm(3, 'delivered')];
    await Promise.all([1, 2, 3, 4, 5].map(() => agent.changed(MESSAGE_SUMMARY_EVENT, '1002')));
    assert.ok(sent.length >= 1 && sent.length <= 2, `${sent.length} NOTIFYs for 5 changes`);
    assert.deepEqual(parseMessageSummary(sent.at(-1)!.body).counts['voice-message'], { new: 0, old: 3, urgentNew: 0, urgentOld: 0 });
  });
});
