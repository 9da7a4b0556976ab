// MWI (RFC 3842) over real sockets: a phone SUBSCRIBEs (digest, default profile) to its own mailbox's
// message-summary and hears Messages-Waiting: no, then yes with Voice-Message 1/0 when a caller leaves a voice
// message, then no with 0/1 once the message is delivered; refresh and Expires: 0 as for presence; nobody else may
// subscribe to the mailbox; the 489 for an unknown package lists both packages.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TvAgent } from '../../../src/terminal/tv-agent.ts';
import type { TestServer } from '../../helpers/test-server.ts';
import { startDefaultProfileServer } from '../../helpers/default-profile-server.ts';
import { startTestServer } from '../../helpers/test-server.ts';
import { until } from '../../helpers/until.ts';
import type { RawClient } from '../../helpers/raw-client.ts';
import type { SipRequest, SipResponse } from '../../../src/sip/message.ts';
import { parseAuthParams, parseCSeq, parseNameAddr, tagOf } from '../../../src/sip/headers.ts';
import { buildAuthorization } from '../../../src/sip/digest.ts';
import { newTag } from '../../../src/sip/ids.ts';
import { MESSAGE_SUMMARY_CONTENT_TYPE, parseMessageSummary, type MessageSummary } from '../../../src/formats/message-summary.ts';
import { sleep, waitFor } from '../../helpers/tv-events.ts';

const PASSWORDS: Record<string, string> = { 1001: 'pw1', 1002: 'pw2' };
/** the built-in greeting and beep last 1.6 s (media-server/greeting.ts) */
const GREETING_MS = 1600;

interface Dialog { callId: string; fromTag: string; toTag: string | null; cseq: number; target: string }

describe('MWI: SUBSCRIBE message-summary for a voice mailbox (RFC 3842, integration)', function () {
  this.timeout(40_000);
  let srv: TestServer;
  let dir: string;
  const agents: TvAgent[] = [];
  const clients: RawClient[] = [];

  beforeEach(async () => {
    srv = await startDefaultProfileServer({ voicemail: { enabled: true, maxSeconds: 20, silenceSeconds: 0 } });
    await srv.addUser('1001', 'pw1');
    await srv.addUser('1002', 'pw2');
    dir = mkdtempSync(join(tmpdir(), 'tvphone-mwi-'));
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.stop();
    for (const c of clients.splice(0)) await c.close();
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function phone(): Promise<RawClient> {
    const c = await srv.client('udp');
    clients.push(c);
    return c;
  }

  function agent(user: string): TvAgent {
    const a = new TvAgent({
      user, password: PASSWORDS[user], server: `sip:127.0.0.1:${srv.tcp.port}`, transport: 'tcp',
      downloadDir: join(dir, user), rtcpIntervalMs: 300, timerValues: { t1: 100, t2: 400, t4: 500 }, toneHz: 440,
    });
    agents.push(a);
    return a;
  }

  /** One SUBSCRIBE (answering a 407 with user's credentials), initial when `d` has no To tag. */
  async function subscribe(c: RawClient, user: string, mailbox: string, o: { dialog?: Dialog; expires?: number; event?: string } = {}): Promise<{ res: SipResponse; dialog: Dialog }> {
    const d = o.dialog ?? { callId: `mwi-${newTag()}`, fromTag: newTag(), toTag: null, cseq: 0, target: `sip:${mailbox}@127.0.0.1` };
    const send = (auth?: string) => {
      d.cseq++;
      c.request({
        method: 'SUBSCRIBE', uri: d.target, from: `<sip:${user}@127.0.0.1>`, fromTag: d.fromTag,
        to: `<sip:${mailbox}@127.0.0.1>${d.toTag ? `;tag=${d.toTag}` : ''}`, callId: d.callId, cseq: d.cseq,
        headers: [['Contact', c.contact], ['Event', o.event ?? 'message-summary'], ['Accept', MESSAGE_SUMMARY_CONTENT_TYPE],
          ['Expires', String(o.expires ?? 600)], ...(auth ? [['Proxy-Authorization', auth] as [string, string]] : [])],
      });
      return c.final(d.callId, 'SUBSCRIBE');
    };
    let res = await send();
    if (res.status === 407) {
      const auth = buildAuthorization({
        challenge: parseAuthParams(res.header('proxy-authenticate')!).params, user, password: PASSWORDS[user],
        method: 'SUBSCRIBE', uri: d.target, nc: 1, cnonce: newTag(),
      });
      res = await send(auth);
    }
    if (res.status === 200 && d.toTag === null) {
      d.toTag = tagOf(res.header('to')!);
      d.target = parseNameAddr(res.header('contact')!).uri;
    }
    return { res, dialog: d };
  }

  function nextNotify(c: RawClient, callId: string, timeoutMs = 8000): Promise<SipRequest> {
    return c.waitFor((m) => m.isRequest() && (m as SipRequest).method === 'NOTIFY' && m.callId === callId, timeoutMs) as Promise<SipRequest>;
  }

  function summaryOf(n: SipRequest): MessageSummary {
    assert.equal(n.header('event'), 'message-summary');
    assert.equal(n.header('content-type'), MESSAGE_SUMMARY_CONTENT_TYPE);
    return parseMessageSummary(n.body);
  }

  async function leaveMessage(from: TvAgent, to: string): Promise<void> {
    const answered = waitFor(from, 'call-answered');
    const ended = waitFor(from, 'call-ended', () => true, 15_000);
    await from.dial(to);
    await answered;
    await sleep(GREETING_MS + 1500);
    await from.hangup();
    await ended;
  }

  it('tells the phone no, then yes (1/0) when a voice message is kept, then no (0/1) once it is delivered', async () => {
    const p = await phone();
    const { res, dialog } = await subscribe(p, '1002', '1002');
    assert.equal(res.status, 200);
    assert.equal(res.header('expires'), '600');
    const first = await nextNotify(p, dialog.callId);
    assert.match(first.header('subscription-state')!, /^active;expires=\d+/);
    assert.equal(tagOf(first.header('from')!), dialog.toTag, 'the NOTIFY is in the dialog the 200 created');
    const s0 = summaryOf(first);
    assert.equal(s0.waiting, false);
    assert.match(s0.account ?? '', /^sip:1002@/);
    assert.deepEqual(s0.counts['voice-message'], { new: 0, old: 0, urgentNew: 0, urgentOld: 0 });

    const caller = agent('1001');
    await caller.start();
    await leaveMessage(caller, '1002');
    const s1 = summaryOf(await nextNotify(p, dialog.callId));
    assert.equal(s1.waiting, true);
    assert.deepEqual(s1.counts['voice-message'], { new: 1, old: 0, urgentNew: 0, urgentOld: 0 });

    // the TV registers and takes the message: delivered = heard
    const tv = agent('1002');
    const got = waitFor(tv, 'voice-message', () => true, 10_000);
    await tv.start();
    await got;
    const s2 = summaryOf(await nextNotify(p, dialog.callId));
    assert.equal(s2.waiting, false);
    assert.deepEqual(s2.counts['voice-message'], { new: 0, old: 1, urgentNew: 0, urgentOld: 0 });
  });

  it('refreshes in the dialog and ends on Expires: 0 with a final NOTIFY that still carries the summary', async () => {
    const p = await phone();
    const { res, dialog } = await subscribe(p, '1002', '1002');
    assert.equal(res.status, 200);
    const n0 = await nextNotify(p, dialog.callId);
    const refreshed = await subscribe(p, '1002', '1002', { dialog, expires: 300 });
    assert.equal(refreshed.res.status, 200);
    assert.equal(refreshed.res.header('expires'), '300');
    const n1 = await nextNotify(p, dialog.callId);
    assert.match(n1.header('subscription-state')!, /^active;expires=(300|299)$/);
    assert.ok(parseCSeq(n1.header('cseq')!).seq > parseCSeq(n0.header('cseq')!).seq);

    const ended = await subscribe(p, '1002', '1002', { dialog, expires: 0 });
    assert.equal(ended.res.status, 200);
    const last = await nextNotify(p, dialog.callId);
    assert.match(last.header('subscription-state')!, /^terminated/);
    assert.equal(summaryOf(last).waiting, false);
    assert.deepEqual(await srv.server.store.subscriptionsFor('1002', Date.now()), []);
  });

  it('lets a user subscribe to their own mailbox only (403 for another user\'s)', async () => {
    const p = await phone();
    const { res, dialog } = await subscribe(p, '1001', '1002');
    assert.equal(res.status, 403);
    await sleep(200);
    assert.equal(p.received.filter((m) => m.isRequest() && m.callId === dialog.callId).length, 0, 'no NOTIFY follows');
    assert.deepEqual(await srv.server.store.subscriptionsFor('1002', Date.now()), []);
  });

  it('answers an unknown event package 489 with Allow-Events naming presence and message-summary (RFC 6665 §4.2.1.1)', async () => {
    const p = await phone();
    const { res } = await subscribe(p, '1002', '1002', { event: 'dialog' });
    assert.equal(res.status, 489);
    assert.deepEqual((res.header('allow-events') ?? '').split(/\s*,\s*/).sort(), ['message-summary', 'presence']);
  });
});

describe('MWI unsolicited (voicemail.unsolicitedMwi: a phone that never subscribes, RFC 3842 §3)', function () {
  this.timeout(40_000);
  it('tells each registered binding at its REGISTER and at each change of the mailbox, out of any dialog', async () => {
    const srv = await startTestServer({
      profile: { voicemail: { enabled: true, maxSeconds: 20, silenceSeconds: 0, httpHost: '127.0.0.1', httpPort: 0, unsolicitedMwi: true } },
    });
    const dir = mkdtempSync(join(tmpdir(), 'tvphone-mwi-'));
    const agents: TvAgent[] = [];
    const agent = (user: string) => {
      const a = new TvAgent({
        user, password: 'x', server: `sip:127.0.0.1:${srv.tcp.port}`, transport: 'tcp', downloadDir: join(dir, user), rtcpIntervalMs: 300,
        timerValues: { t1: 100, t2: 400, t4: 500 }, toneHz: 440,
      });
      agents.push(a);
      return a;
    };
    const notify = (c: RawClient) => c.waitFor((m) => m.isRequest() && (m as SipRequest).method === 'NOTIFY', 8000) as Promise<SipRequest>;
    const summary = (n: SipRequest) => {
      assert.equal(n.header('event'), 'message-summary');
      assert.equal(n.header('subscription-state'), undefined, 'no subscription: none is named');
      assert.equal(tagOf(n.header('to')!), null, 'out of any dialog');
      return parseMessageSummary(n.body);
    };
    try {
      const phone = await srv.client('udp');
      assert.equal((await phone.register('1002')).status, 200);
      const s0 = summary(await notify(phone));
      assert.equal(s0.waiting, false);
      assert.equal((await phone.register('1002', 0)).status, 200); // the phone is off: calls go to the mailbox

      const caller = agent('1001');
      await caller.start();
      const answered = waitFor(caller, 'call-answered');
      const ended = waitFor(caller, 'call-ended', () => true, 15_000);
      await caller.dial('1002');
      await answered;
      await sleep(GREETING_MS + 1500);
      await caller.hangup();
      await ended;
      await until(async () => (await srv.server.store.listVoicemails({ toUser: '1002' })).length === 1, 5000, 'the voice message kept');

      assert.equal((await phone.register('1002')).status, 200); // on again: told at once
      // The REGISTER's NOTIFY says yes (1/0); the REGISTER also delivers the voice message to the phone (it answers
      // 200): heard, and the phone is told no (0/1). On a slow store the REGISTER's may already read 0/1: what
      // counts is that the phone heard yes while the message was new, and that the last word is no.
      const seen: string[] = [];
      for (let i = 0; i < 4 && seen.at(-1) !== 'no 0/1'; i++) {
        const s = summary(await notify(phone));
        const c = s.counts['voice-message'] ?? { new: -1, old: -1 };
        seen.push(`${s.waiting ? 'yes' : 'no'} ${c.new}/${c.old}`);
      }
      await phone.waitFor((m) => m.isRequest() && (m as SipRequest).method === 'MESSAGE', 8000);
      assert.equal(seen.at(-1), 'no 0/1', `the last NOTIFY: ${seen.join(', ')}`);
      assert.ok(seen.every((x) => x === 'yes 1/0' || x === 'no 0/1'), `only the two true states: ${seen.join(', ')}`);
      assert.ok(seen.includes('yes 1/0') || seen.length === 1, `told yes while it was new, unless the delivery came first: ${seen.join(', ')}`);
    } finally {
      for (const a of agents) await a.stop();
      await srv.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
