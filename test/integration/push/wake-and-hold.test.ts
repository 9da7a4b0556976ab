// RFC 8599 wake and hold (Kamailio tsilo) end to end: a TV registered with push parameters goes to standby (its TCP
// connection drops); a call to it pushes the test gateway and is held with 180; the TV registers and the call rings
// there — or the hold expires (480), or the caller CANCELs (487).
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { startGateway } from '../../helpers/push-gateway.ts';
import type { RawClient } from '../../helpers/raw-client.ts';
import { until } from '../../helpers/until.ts';
import { createResponse } from '../../../src/sip/response.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TvAgent } from '../../../src/terminal/tv-agent.ts';
import { sleep, waitFor } from '../../helpers/tv-events.ts';
import type { SipRequest, SipResponse } from '../../../src/sip/message.ts';

const isResponse = (callId: string, status: number) => (m: { isRequest(): boolean; callId: string }) =>
  !m.isRequest() && (m as SipResponse).status === status && m.callId === callId;

describe('wake and hold (RFC 8599 push, tsilo)', function () {
  this.timeout(20_000);
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let t: TestServer;

  beforeEach(async () => {
    gw = await startGateway();
    t = await startTestServer({ profile: { push: { url: gw.url, holdSeconds: 2, timeoutMs: 1000, retries: 1 } } });
  });
  afterEach(async () => {
    await t.close();
    await gw.close();
  });

  /** REGISTER over TCP with push parameters in the Contact URI (RFC 8599 §4.1). */
  async function registerWithPush(tv: RawClient, cseq = 1): Promise<SipResponse> {
    const { callId } = tv.request({
      method: 'REGISTER', uri: 'sip:127.0.0.1', from: '<sip:tv@127.0.0.1>', to: '<sip:tv@127.0.0.1>', cseq,
      headers: [['Contact', `<sip:tv@127.0.0.1:${tv.port};transport=tcp;pn-provider=tvphone;pn-prid=tv-42;pn-param=box>`], ['Expires', '3600']],
    });
    return tv.final(callId, 'REGISTER');
  }

  /** The TV registers with push parameters, then its connection drops: it is in standby. */
  async function standby(): Promise<void> {
    const tv = await t.client('tcp');
    assert.equal((await registerWithPush(tv)).status, 200);
    await tv.close();
    await until(async () => (await t.server.registrar.lookup('tv')).kind === 'offline', 5000, 'the binding dropped with the connection');
  }

  function invite(caller: RawClient): { callId: string; branch: string } {
    return caller.request({
      method: 'INVITE', uri: 'sip:tv@127.0.0.1', from: '<sip:alice@127.0.0.1>', to: '<sip:tv@127.0.0.1>',
      headers: [['Contact', caller.contact]], contentType: 'application/sdp', body: 'v=0\r\n',
    });
  }

  it('pushes the TV in standby, holds the call with 180, and rings the binding it registers; the answer reaches the caller', async () => {
    await standby();
    let tv: RawClient | null = null;
    gw.onPush = () => {
      void (async () => {
        const c = await t.client('tcp');
        c.autoAnswer = null; // the test answers the INVITE itself
        tv = c;
        await registerWithPush(c, 2);
      })();
    };
    const caller = await t.client('udp');
    const inv = invite(caller);
    const ringing = await caller.waitFor(isResponse(inv.callId, 180)) as SipResponse;
    assert.match(ringing.header('to') ?? '', /;tag=/);
    await until(() => gw.pushes.length === 1, 5000, 'the gateway received the push');
    assert.deepEqual(gw.pushes[0], { provider: 'tvphone', prid: 'tv-42', param: 'box', caller: 'alice', callId: inv.callId, type: 'call' });
    await until(() => tv !== null, 5000, 'the TV woke');
    const forked = await tv!.nextRequest('INVITE') as SipRequest;
    assert.equal(forked.callId, inv.callId);
    assert.match(forked.uri, /pn-prid=tv-42/, 'the held INVITE goes to the new binding (ts_append)');
    tv!.sendMessage(createResponse(forked, 180, 'Ringing', 'tvtag'));
    const ok = createResponse(forked, 200, 'OK', 'tvtag');
    ok.addHeader('Contact', tv!.contact);
    tv!.sendMessage(ok);
    const final = await caller.final(inv.callId, 'INVITE');
    assert.equal(final.status, 200);
    assert.match(final.header('to') ?? '', /tag=tvtag/);
  });

  it('ends the hold with 480 (voicemail off) when the TV does not register in holdSeconds, with the 180\'s To tag', async () => {
    await standby();
    const caller = await t.client('udp');
    const inv = invite(caller);
    const ringing = await caller.waitFor(isResponse(inv.callId, 180)) as SipResponse;
    const final = await caller.final(inv.callId, 'INVITE', 6000);
    assert.equal(final.status, 480);
    assert.equal(final.header('to'), ringing.header('to'), 'RFC 3261 §8.2.6.2: one To tag for all our responses');
    assert.equal(gw.pushes.length, 1);
    const calls = await t.server.store.listCalls({ missedBy: 'tv' });
    assert.deepEqual(calls.map((c) => [c.callId, c.outcome]), [[inv.callId, 'offline']], 'the missed call waits for the next REGISTER');
  });

  it('answers a CANCEL during the hold with 200 and the INVITE with 487; the TV registering later gets no INVITE', async () => {
    await standby();
    const caller = await t.client('udp');
    const inv = invite(caller);
    await caller.waitFor(isResponse(inv.callId, 180));
    caller.sendRaw([
      'CANCEL sip:tv@127.0.0.1 SIP/2.0', `Via: ${caller.via};branch=${inv.branch};rport`, 'Max-Forwards: 70',
      'From: <sip:alice@127.0.0.1>;tag=x', 'To: <sip:tv@127.0.0.1>', `Call-ID: ${inv.callId}`, 'CSeq: 1 CANCEL', 'Content-Length: 0', '', '',
    ].join('\r\n'));
    assert.equal((await caller.final(inv.callId, 'CANCEL')).status, 200);
    assert.equal((await caller.final(inv.callId, 'INVITE')).status, 487);
    const tv = await t.client('tcp'); // answers the missed-call notice the REGISTER brings (200)
    assert.equal((await registerWithPush(tv, 2)).status, 200);
    await assert.rejects(tv.waitFor((m) => m.isRequest() && (m as SipRequest).method === 'INVITE', 500), /timed out/);
  });

  it('a MESSAGE to a TV in standby pushes it (type message) and is stored as for an offline user (202)', async () => {
    await standby();
    const sender = await t.client('udp');
    const { callId } = sender.request({
      method: 'MESSAGE', uri: 'sip:tv@127.0.0.1', from: '<sip:alice@127.0.0.1>', to: '<sip:tv@127.0.0.1>', contentType: 'text/plain', body: 'hi',
    });
    assert.equal((await sender.final(callId, 'MESSAGE')).status, 202);
    await until(() => gw.pushes.length === 1, 5000, 'the gateway received the push');
    assert.equal(gw.pushes[0].type, 'message');
    assert.equal((await t.server.store.pendingMessages('tv', 10)).length, 1);
  });

  it('the TV agent in standby (--push, --standby) is woken by the push through its wake listener, registers, rings and answers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tvphone-push-'));
    const agents: TvAgent[] = [];
    const agent = (user: string, o: Partial<ConstructorParameters<typeof TvAgent>[0]> = {}) => {
      const a = new TvAgent({
        user, password: 'x', server: `sip:127.0.0.1:${t.tcp.port}`, transport: 'tcp', localIp: '127.0.0.1', downloadDir: join(dir, user),
        rtcpIntervalMs: 300, timerValues: { t1: 100, t2: 400, t4: 500 }, ...o,
      });
      agents.push(a);
      return a;
    };
    try {
      const tv = agent('tv', { push: 'tv-7', autoAnswer: true });
      await tv.start();
      const wakeUrl = await tv.listenForWake();
      tv.standby();
      assert.equal(tv.inStandby, true);
      await until(async () => (await t.server.registrar.lookup('tv')).kind === 'offline', 5000, 'the TV in standby has no binding');
      // the test gateway delivers the push to the TV, as a PNS would wake it
      gw.onPush = (p) => {
        if (p.prid === 'tv-7') void fetch(wakeUrl, { method: 'POST', body: JSON.stringify(p) });
      };
      const woken = waitFor(tv, 'woken');
      const incoming = waitFor(tv, 'call-incoming', () => true, 10_000);
      const alice = agent('alice');
      await alice.start();
      const answered = waitFor(alice, 'call-answered', () => true, 10_000);
      await alice.dial('tv');
      await woken;
      assert.equal((await incoming).from.includes('alice'), true);
      const a = await answered;
      assert.match(a.codec, /^PCM[UA]$/);
      assert.deepEqual(gw.pushes.map((p) => [p.provider, p.prid, p.type]), [['tvphone', 'tv-7', 'call']]);
      await alice.hangup();
    } finally {
      for (const a of agents) await a.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an offline user with no push registration is not pushed: 480 at once, no 180', async () => {
    const plain = await t.client('udp');
    assert.equal((await plain.register('bob')).status, 200);
    assert.equal((await plain.register('bob', 0)).status, 200);
    const caller = await t.client('udp');
    const { callId } = caller.request({ method: 'INVITE', uri: 'sip:bob@127.0.0.1', from: '<sip:alice@127.0.0.1>', to: '<sip:bob@127.0.0.1>', headers: [['Contact', caller.contact]] });
    assert.equal((await caller.final(callId, 'INVITE')).status, 480);
    assert.equal(caller.received.some((m) => isResponse(callId, 180)(m)), false);
    assert.equal(gw.pushes.length, 0);
  });
});

describe('wake and hold with voice messages on', function () {
  this.timeout(20_000);
  it('a call held for a TV that does not wake goes to the media server at the hold\'s end (voicemail)', async () => {
    const gw = await startGateway();
    const t = await startTestServer({
      profile: { push: { url: gw.url, holdSeconds: 1, retries: 0 }, voicemail: { enabled: true, maxSeconds: 5, silenceSeconds: 0 } },
    });
    const dir = mkdtempSync(join(tmpdir(), 'tvphone-push-'));
    const agents: TvAgent[] = [];
    try {
      const mk = (user: string, push?: string) => {
        const a = new TvAgent({
          user, password: 'x', server: `sip:127.0.0.1:${t.tcp.port}`, transport: 'tcp', localIp: '127.0.0.1', downloadDir: join(dir, user),
          rtcpIntervalMs: 300, timerValues: { t1: 100, t2: 400, t4: 500 }, ...(push ? { push } : {}),
        });
        agents.push(a);
        return a;
      };
      const tv = mk('tv', 'tv-9');
      await tv.start();
      tv.standby();
      await until(async () => (await t.server.registrar.lookup('tv')).kind === 'offline', 5000, 'the TV in standby has no binding');
      const alice = mk('alice');
      await alice.start();
      const ringing = waitFor(alice, 'call-ringing', () => true, 5000);
      const answered = waitFor(alice, 'call-answered', () => true, 10_000);
      const dialled = Date.now();
      await alice.dial('tv');
      assert.equal((await ringing).status, 180, 'held: 180 to the caller');
      await answered;
      assert.ok(Date.now() - dialled >= 900, 'answered by the media server only once the hold expired');
      assert.equal(gw.pushes.length, 1);
      await sleep(2500); // the greeting (1.6 s), then a second of the caller's tone is recorded
      await alice.hangup();
      await until(async () => (await t.server.store.listVoicemails({ toUser: 'tv' })).length === 1, 5000, 'the voice message is kept');
      await until(async () => (await t.server.store.listCalls({ userId: 'tv' })).some((c) => c.outcome === 'voicemail'),
        5000, 'the call is recorded as a voicemail call');
    } finally {
      for (const a of agents) await a.stop();
      await t.close();
      await gw.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
