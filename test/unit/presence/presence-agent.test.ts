import assert from 'node:assert/strict';
import { SipRequest, SipResponse } from '../../../src/sip/message.ts';
import type { BindingChange, Subscription } from '../../../src/store/store.ts';
import { PresenceAgent, presentityOf, type PresenceOptions } from '../../../src/presence/presence-agent.ts';
import type { Flow } from '../../../src/flow.ts';
import { parsePidf, overallBasic } from '../../../src/formats/pidf.ts';
import { FakeClock, FakeStore } from '../../helpers/fake-message-store.ts';
import { answerOf } from '../../helpers/replies.ts';

const SOURCE: Flow = { transport: 'tcp', address: '127.0.0.1', port: 5070, connectionId: 1 };
const WATCHER = 'sip:1001@example.com';

function subscribe(opts: { expires?: number | null; event?: string | null; toTag?: string; fromTag?: string; callId?: string; cseq?: number; accept?: string } = {}): SipRequest {
  const req = new SipRequest('SUBSCRIBE', 'sip:1002@example.com');
  req.addHeader('Via', 'SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK-s1');
  req.addHeader('From', `<${WATCHER}>;tag=${opts.fromTag ?? 'wtag'}`);
  req.addHeader('To', `<sip:1002@example.com>${opts.toTag ? `;tag=${opts.toTag}` : ''}`);
  req.addHeader('Call-ID', opts.callId ?? 'sub-1@127.0.0.1');
  req.addHeader('CSeq', `${opts.cseq ?? 1} SUBSCRIBE`);
  req.addHeader('Record-Route', '<sip:edge.example.com;lr>');
  req.addHeader('Contact', '<sip:1001@127.0.0.1:5070;transport=tcp>');
  if (opts.event !== null) req.addHeader('Event', opts.event ?? 'presence');
  if (opts.expires !== null) req.addHeader('Expires', String(opts.expires ?? 600));
  if (opts.accept) req.addHeader('Accept', opts.accept);
  return req;
}

function change(userId: string, netstate: 0 | 1, changed = true): BindingChange {
  return { userId, bindings: [], presence: { userId, ip: null, netstate, since: 0 }, netstateChanged: changed };
}

describe('presence/presence-agent (RFC 3856, RFC 6665)', () => {
  let store: FakeStore;
  let clock: FakeClock;
  let sent: { req: SipRequest; sub: Subscription }[];
  let reply: (req: SipRequest) => SipResponse | null;
  let agent: PresenceAgent;

  function make(extra: Partial<PresenceOptions> = {}): PresenceAgent {
    void agent?.close();
    return new PresenceAgent({
      store,
      clock,
      domain: 'example.com',
      contact: 'sip:tvphone@127.0.0.1:5060;transport=tcp',
      sendInDialog: async (req, sub) => {
        sent.push({ req, sub });
        return reply(req);
      },
      ...extra,
    });
  }
  /** agent.subscribe's answer as routing sends it: the 200, or the failure it threw as a reply */
  function subscribeAnswer(req: SipRequest, watcher: string, presentity: string, source: Flow): Promise<SipResponse> {
    return answerOf(req, agent.subscribe(req, watcher, presentity, source));
  }
  async function flush(): Promise<void> {
    await clock.tick(0);
    await agent.idle();
  }
  function basicOf(req: SipRequest): string {
    return overallBasic(parsePidf(req.body));
  }

  beforeEach(() => {
    store = new FakeStore();
    clock = new FakeClock();
    sent = [];
    reply = () => new SipResponse(200, 'OK');
    agent = undefined as unknown as PresenceAgent;
    agent = make();
    store.presence.set('1002', { userId: '1002', ip: '127.0.0.1', netstate: 1, since: clock.now() });
  });
  afterEach(async () => {
    await agent.close();
  });

  it('answers SUBSCRIBE Event: presence with 200 (To-tag, Expires, Contact), then NOTIFY active with PIDF open', async () => {
    const res = await subscribeAnswer(subscribe(), WATCHER, '1002', SOURCE);
    assert.equal(res.status, 200);
    const toTag = /;tag=([^;]+)$/.exec(res.header('to')!)?.[1];
    assert.ok(toTag);
    assert.equal(res.header('expires'), '600');
    assert.equal(res.header('contact'), '<sip:tvphone@127.0.0.1:5060;transport=tcp>');
    assert.equal(res.header('record-route'), '<sip:edge.example.com;lr>');
    assert.equal(sent.length, 0, 'the NOTIFY waits for the response to go out');
    await flush();
    assert.equal(sent.length, 1);
    const n = sent[0].req;
    assert.equal(n.method, 'NOTIFY');
    assert.equal(n.uri, 'sip:1001@127.0.0.1:5070;transport=tcp');
    assert.equal(n.header('route'), '<sip:edge.example.com;lr>');
    assert.equal(n.header('from'), `<sip:1002@example.com>;tag=${toTag}`);
    assert.equal(n.header('to'), `<${WATCHER}>;tag=wtag`);
    assert.equal(n.callId, 'sub-1@127.0.0.1');
    assert.equal(n.header('cseq'), '1 NOTIFY');
    assert.equal(n.header('event'), 'presence');
    assert.equal(n.header('subscription-state'), 'active;expires=600');
    assert.equal(n.header('content-type'), 'application/pidf+xml');
    assert.equal(parsePidf(n.body).entity, 'sip:1002@example.com');
    assert.equal(basicOf(n), 'open');
    assert.equal(store.subscriptions.size, 1, 'kept in the store so NOTIFYs survive a restart');
  });

  it('sends NOTIFY closed to every watcher when User_netstate changes, CSeq incrementing', async () => {
    await subscribeAnswer(subscribe(), WATCHER, '1002', SOURCE);
    await subscribeAnswer(subscribe({ callId: 'sub-2', fromTag: 'w2' }), 'sip:1003@example.com', '1002', SOURCE);
    await flush();
    sent = [];
    await agent.netstateChanged(change('1002', 0));
    assert.equal(sent.length, 2);
    for (const s of sent) {
      assert.equal(basicOf(s.req), 'closed');
      assert.equal(s.req.header('cseq'), '2 NOTIFY');
    }
    await agent.netstateChanged(change('1002', 1));
    assert.deepEqual(sent.slice(2).map((s) => [s.req.header('cseq'), basicOf(s.req)]), [['3 NOTIFY', 'open'], ['3 NOTIFY', 'open']]);
    await agent.netstateChanged(change('1002', 1, false));
    assert.equal(sent.length, 4, 'no NOTIFY when the netstate did not change');
  });

  it('takes the watchers the store read with the change instead of asking for them again', async () => {
    await subscribeAnswer(subscribe(), WATCHER, '1002', SOURCE);
    await flush();
    sent = [];
    const watchers = await store.subscriptionsFor('1002', clock.now());
    let asked = 0;
    const inner = store.subscriptionsFor.bind(store);
    store.subscriptionsFor = async (...args) => { asked++; return inner(...args); };
    await agent.netstateChanged({ ...change('1002', 0), watchers });
    assert.equal(sent.length, 1);
    assert.equal(basicOf(sent[0]!.req), 'closed');
    assert.equal(asked, 1, 'only the NOTIFY\'s own re-read of its subscription');
    await agent.netstateChanged(change('1002', 1));
    assert.equal(asked, 3, 'a change without watchers asks for them');
  });

  it('answers Expires: 0 with 200 and a final NOTIFY terminated;reason=timeout', async () => {
    const res = await subscribeAnswer(subscribe({ expires: 0 }), WATCHER, '1002', SOURCE);
    assert.equal(res.status, 200);
    assert.equal(res.header('expires'), '0');
    await flush();
    assert.equal(sent[0].req.header('subscription-state'), 'terminated;reason=timeout');
    assert.equal(basicOf(sent[0].req), 'open', 'a fetch still reports the state');
    assert.equal(store.subscriptions.size, 0);
  });

  it('ends a subscription on an in-dialog SUBSCRIBE with Expires: 0', async () => {
    const res = await subscribeAnswer(subscribe(), WATCHER, '1002', SOURCE);
    const toTag = /;tag=([^;]+)$/.exec(res.header('to')!)![1];
    await flush();
    const end = await subscribeAnswer(subscribe({ expires: 0, toTag, cseq: 2 }), WATCHER, '1002', SOURCE);
    assert.equal(end.status, 200);
    await flush();
    assert.equal(sent[1].req.header('subscription-state'), 'terminated;reason=timeout');
    assert.equal(sent[1].req.header('cseq'), '2 NOTIFY');
    assert.equal(store.subscriptions.size, 0);
  });

  it('refreshes a subscription matched by Call-ID and tags, updating its expiry', async () => {
    const res = await subscribeAnswer(subscribe(), WATCHER, '1002', SOURCE);
    const toTag = /;tag=([^;]+)$/.exec(res.header('to')!)![1];
    await flush();
    clock.time += 300_000;
    const again = await subscribeAnswer(subscribe({ toTag, cseq: 2, expires: 1200 }), WATCHER, '1002', SOURCE);
    assert.equal(again.status, 200);
    assert.equal(again.header('to'), `<sip:1002@example.com>;tag=${toTag}`);
    assert.equal(again.header('expires'), '1200');
    assert.equal(store.subscriptions.size, 1);
    assert.equal([...store.subscriptions.values()][0].expiresAt, clock.now() + 1_200_000);
    await flush();
    assert.equal(sent[1].req.header('subscription-state'), 'active;expires=1200');
  });

  it('answers 481 to an in-dialog SUBSCRIBE for an unknown subscription', async () => {
    const res = await subscribeAnswer(subscribe({ toTag: 'nope' }), WATCHER, '1002', SOURCE);
    assert.equal(res.status, 481);
  });

  it('answers 489 Bad Event with Allow-Events: presence to an unknown event package', async () => {
    for (const event of ['dialog', 'message-summary', null]) {
      const res = await subscribeAnswer(subscribe({ event }), WATCHER, '1002', SOURCE);
      assert.equal(res.status, 489);
      assert.equal(res.header('allow-events'), 'presence');
    }
    assert.equal((await subscribeAnswer(subscribe({ event: 'Presence;id=1' }), WATCHER, '1002', SOURCE)).status, 200);
  });

  it('answers 423 with Min-Expires below the minimum and cuts Expires above the maximum', async () => {
    const brief = await subscribeAnswer(subscribe({ expires: 30 }), WATCHER, '1002', SOURCE);
    assert.equal(brief.status, 423);
    assert.equal(brief.header('min-expires'), '60');
    const long = await subscribeAnswer(subscribe({ expires: 86400 }), WATCHER, '1002', SOURCE);
    assert.equal(long.header('expires'), '3600');
    const none = await subscribeAnswer(subscribe({ expires: null, callId: 'x' }), WATCHER, '1002', SOURCE);
    assert.equal(none.header('expires'), '3600', 'RFC 3856 §6.4 default');
  });

  it('asks the watch policy: by default another domain gets 403', async () => {
    assert.equal((await subscribeAnswer(subscribe(), 'sip:eve@evil.example', '1002', SOURCE)).status, 403);
    agent = make({ mayWatch: (w, p) => w === WATCHER && p === '1003' });
    assert.equal((await subscribeAnswer(subscribe(), WATCHER, '1002', SOURCE)).status, 403);
    assert.equal((await subscribeAnswer(subscribe(), WATCHER, '1003', SOURCE)).status, 200);
  });

  it('answers 415 when the watcher does not accept application/pidf+xml', async () => {
    const res = await subscribeAnswer(subscribe({ accept: 'application/xpidf+xml' }), WATCHER, '1002', SOURCE);
    assert.equal(res.status, 415);
    assert.equal(res.header('accept'), 'application/pidf+xml');
  });

  it('removes the subscription when a NOTIFY is answered 481', async () => {
    reply = () => new SipResponse(481, 'Call/Transaction Does Not Exist');
    await subscribeAnswer(subscribe(), WATCHER, '1002', SOURCE);
    assert.equal(store.subscriptions.size, 1);
    await flush();
    assert.equal(store.subscriptions.size, 0);
    sent = [];
    await agent.netstateChanged(change('1002', 0));
    assert.equal(sent.length, 0);
  });

  it('keeps the subscription when a NOTIFY gets another error (e.g. 500)', async () => {
    reply = () => new SipResponse(500, 'Oops');
    await subscribeAnswer(subscribe(), WATCHER, '1002', SOURCE);
    await flush();
    assert.equal(store.subscriptions.size, 1);
  });

  it('expires subscriptions on a timer with a final NOTIFY terminated;reason=timeout', async () => {
    await subscribeAnswer(subscribe({ expires: 60 }), WATCHER, '1002', SOURCE);
    await flush();
    await clock.tick(90_000);
    await agent.idle();
    assert.equal(store.subscriptions.size, 0);
    assert.equal(sent.length, 2);
    assert.equal(sent[1].req.header('subscription-state'), 'terminated;reason=timeout');
    assert.equal(sent[1].req.header('cseq'), '2 NOTIFY');
  });

  it('reads the presentity from the To URI (routing helper)', () => {
    assert.equal(presentityOf(subscribe()), '1002');
  });
});
