// Voice messages end to end, in-process over real sockets on 127.0.0.1: a TV agent calls an offline TV, the server
// answers (greeting, beep), records what the caller sends, keeps it with the text messages, and delivers it at the
// callee's REGISTER by content indirection (RFC 4483) — to a UDP-only TV too — which fetches, saves and plays it.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PcmRecorder } from '../../../src/media/audio-io.ts';
import { dominantFrequency, goertzelPower, rms } from '../../../src/media/goertzel.ts';
import { readWav } from '../../../src/media/wav.ts';
import { startRecordingsHttp } from '../../../src/media-server/recordings-http.ts';
import { fetchPath, fetchToken } from '../../../src/media-server/content-indirection.ts';
import { silentLogger } from '../../../src/log/logger.ts';
import { openStore } from '../../../src/store/open.ts';
import { TvAgent, type TvAgentOptions } from '../../../src/terminal/tv-agent.ts';
import type { TestServer } from '../../helpers/test-server.ts';
import { startDefaultProfileServer } from '../../helpers/default-profile-server.ts';
import { sleep, waitFor } from '../../helpers/tv-events.ts';
import { until } from '../../helpers/until.ts';

/** the built-in greeting and beep last 1.6 s (media-server/greeting.ts) */
const GREETING_MS = 1600;

describe('voice messages: the media server answers a call to an offline TV (integration)', function () {
  this.timeout(40_000);
  let srv: TestServer;
  let dir: string;
  const agents: TvAgent[] = [];

  beforeEach(async () => {
    srv = await startDefaultProfileServer({ voicemail: { enabled: true, maxSeconds: 20, silenceSeconds: 0 } });
    await srv.addUser('1001', 'pw1');
    await srv.addUser('1002', 'pw2');
    dir = mkdtempSync(join(tmpdir(), 'tvphone-vm-'));
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.stop();
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function agent(user: string, o: Partial<TvAgentOptions> = {}, transport: 'tcp' | 'udp' = 'tcp'): TvAgent {
    const a = new TvAgent({
      user, password: user === '1001' ? 'pw1' : 'pw2', server: `sip:127.0.0.1:${transport === 'tcp' ? srv.tcp.port : srv.udp.port}`, transport,
      downloadDir: join(dir, user), rtcpIntervalMs: 300, timerValues: { t1: 100, t2: 400, t4: 500 }, ...o,
    });
    agents.push(a);
    return a;
  }

  /** 1001 calls offline 1002, sends its 440 Hz tone for `talkMs` after the greeting, then `end` (hang up by default). */
  async function leaveMessage(a: TvAgent, talkMs: number, end: (a: TvAgent) => Promise<unknown> = (x) => x.hangup()) {
    const answered = waitFor(a, 'call-answered');
    const ended = waitFor(a, 'call-ended', () => true, 15_000);
    await a.dial('1002');
    const ans = await answered;
    await sleep(GREETING_MS + talkMs);
    await end(a);
    return { answered: ans, ended: await ended };
  }

  it('greets the caller, records its tone, and delivers it after the text sent before it to a UDP-only TV, which saves and plays it', async () => {
    const heard = join(dir, 'heard.wav');
    const a = agent('1001', { record: heard, toneHz: 440 });
    await a.start();
    assert.equal(await a.sendMessage('1002', 'before the call'), 202);
    const { answered, ended } = await leaveMessage(a, 3000);
    assert.match(answered.codec, /^PCM[UA]$/);
    assert.equal(ended.reason, 'local-hangup');

    // what the caller heard: the three greeting tones, then the 1000 Hz beep
    const greeting = readWav(readFileSync(heard)).samples.subarray(0, 8000 * 2);
    const power = (hz: number) => goertzelPower(greeting, hz, 8000);
    for (const hz of [523, 659, 784, 1000]) assert.ok(power(hz) > 50 * power(440), `${hz} Hz in the greeting (${power(hz)} vs ${power(440)} at 440 Hz)`);

    await until(async () => (await srv.server.store.listVoicemails({ toUser: '1002' })).length === 1, 5000, 'voice message kept');
    const [vm] = await srv.server.store.listVoicemails({ toUser: '1002' });
    assert.equal(vm.caller, '1001');
    assert.ok(vm.durationMs > 2300 && vm.durationMs < 3800, `recorded ${vm.durationMs} ms of a 3 s tone`);
    // the call record is closed just after the commit (its own write)
    const callOf = async () => (await srv.server.store.listCalls({ userId: '1001' })).find((c) => c.callId === vm.callId);
    await until(async () => (await callOf())?.endedAt != null, 3000, 'the call record closed');
    const call = (await callOf())!;
    assert.equal(call.outcome, 'voicemail');
    assert.equal(vm.callRecordId, call.id);
    assert.ok(call.durationMs! > 2300, `${call.durationMs} ms`);

    // the callee comes online over UDP only: the text first, then the voice message (arrival order)
    const speaker = new PcmRecorder();
    const b = agent('1002', { speaker }, 'udp');
    const order: string[] = [];
    b.on('message', (m) => order.push(`message ${m.text}`));
    b.on('voice-message', (m) => order.push(`voice ${m.from}`));
    const got = waitFor(b, 'voice-message', () => true, 10_000);
    await b.start();
    const v = await got;
    assert.deepEqual(order, ['message before the call', 'voice 1001']);
    const saved = readWav(readFileSync(v.file));
    assert.equal(saved.sampleRate, 8000);
    assert.ok(Math.abs(dominantFrequency(saved.samples) - 440) < 15, `saved audio at ${dominantFrequency(saved.samples)} Hz`);
    assert.ok(Math.abs(v.durationMs - vm.durationMs) < 30);
    await until(async () => (await srv.server.store.pendingMessages('1002', 10)).length === 0, 5000, 'delivered = acknowledged');
    assert.equal((await srv.server.store.getVoicemail(vm.id))?.state, 'delivered');
    assert.deepEqual(b.voiceMessages().map((x) => [x.id, x.played]), [[String(vm.id), false]]);

    const played = await b.playVoiceMessage();
    assert.equal(played?.id, String(vm.id));
    const out = speaker.samples();
    assert.ok(Math.abs(out.length - saved.samples.length) <= 160, 'the whole message is played');
    assert.ok(Math.abs(dominantFrequency(out) - 440) < 15);
    assert.deepEqual(b.voiceMessages().map((x) => x.played), [true]);
  });

  it('# (RFC 4733) ends the recording and the server hangs up; a caller gone during the greeting leaves a missed call only', async () => {
    const a = agent('1001');
    await a.start();
    const { ended } = await leaveMessage(a, 1500, async (x) => {
      assert.ok(x.sendDtmf('#'));
      await sleep(100);
    });
    assert.equal(ended.reason, 'remote-hangup', 'the server sent BYE after #');
    await until(async () => (await srv.server.store.listVoicemails({ toUser: '1002' })).length === 1, 5000, 'voice message kept');
    const [vm] = await srv.server.store.listVoicemails({ toUser: '1002' });
    assert.ok(vm.durationMs > 1000 && vm.durationMs < 2200, `recorded ${vm.durationMs} ms before #`);

    // hung up during the greeting: nothing recorded, the call stays a missed one (notice at REGISTER)
    const answered = waitFor(a, 'call-answered');
    await a.dial('1002');
    const { callId } = await answered;
    await sleep(500);
    await a.hangup();
    await until(async () => (await srv.server.store.listCalls({ userId: '1001' })).some((c) => c.callId === callId && c.outcome === 'offline' && c.endedAt !== null), 5000, 'the call ended, missed');
    assert.equal((await srv.server.store.listVoicemails({ toUser: '1002' })).length, 1);
    assert.equal(srv.server.voicemail?.media.activeCalls, 0);
  });

  it('answers 503 beyond voicemail.maxCalls and 486 when the callee\'s message quota is full, each call kept as missed', async () => {
    await srv.close();
    srv = await startDefaultProfileServer({ voicemail: { enabled: true, maxCalls: 1, maxSeconds: 4 } });
    for (const [u, p] of [['1001', 'pw1'], ['1002', 'pw2'], ['1003', 'pw1'], ['1004', 'pw1']]) await srv.addUser(u, p);
    const a = agent('1001');
    const c = agent('1003', { password: 'pw1' });
    await a.start();
    await c.start();
    const answered = waitFor(a, 'call-answered');
    await a.dial('1002');
    await answered;
    const refused = waitFor(c, 'call-ended');
    await c.dial('1002');
    assert.equal((await refused).status, 503);
    await a.hangup();
    await until(async () => (await srv.server.store.listCalls({ missedBy: '1002' })).some((x) => x.status === 503), 3000, 'the 503 call kept as missed');
    // 1004's quota (the shipped messages.quotaCount, 1000) full of text messages
    const quota = srv.server.store;
    await Promise.all(Array.from({ length: 1000 }, (_, i) => quota.storeMessage({
      toUser: '1004', fromUri: 'sip:x@y', fromHeader: '<sip:x@y>', toUri: 'sip:1004@y', contentType: 'text/plain', body: Uint8Array.of(i & 0xff),
      receivedAt: Date.now(), expiresAt: Date.now() + 600_000,
    })));
    const busy = waitFor(c, 'call-ended');
    await c.dial('1004');
    assert.equal((await busy).status, 486);
    await until(async () => (await srv.server.store.listCalls({ missedBy: '1004' })).length === 1, 3000, 'the refused call kept as missed');
  });

  it('keeps what was recorded when the server closes in the middle of a message', async () => {
    const a = agent('1001');
    await a.start();
    const answered = waitFor(a, 'call-answered');
    await a.dial('1002');
    await answered;
    await sleep(GREETING_MS + 1500);
    const ended = waitFor(a, 'call-ended', () => true, 10_000);
    await srv.server.close();
    assert.equal((await ended).reason, 'remote-hangup', 'the server sent BYE at close');
    const store = await openStore(srv.dbUrl);
    try {
      const [vm] = await store.listVoicemails({ toUser: '1002' });
      assert.ok(vm !== undefined, 'the message recorded before the close is kept');
      assert.ok(vm.durationMs > 1000 && vm.durationMs < 2500, `recorded ${vm.durationMs} ms`);
      assert.equal(vm.state, 'pending');
    } finally {
      await store.close();
    }
  });
});

describe('voice messages: the recordings HTTP endpoint (integration)', function () {
  it('serves a WAV only with the token of its id and an unexpired expiry: 403 otherwise, 404 for no such voice message', async () => {
    const secret = new Uint8Array(32).fill(7);
    let now = 1_000_000;
    const wav = Uint8Array.from({ length: 100 }, (_, i) => i);
    const http = await startRecordingsHttp({
      host: '127.0.0.1', port: 0, secret, clock: { now: () => now }, log: silentLogger(),
      store: { voicemailAudio: async (id) => (id === 5 ? wav : null) },
    });
    try {
      const base = `http://127.0.0.1:${http.address.port}`;
      const url = (id: number, e: number, t = fetchToken(secret, id, e)) => `${base}${fetchPath(id)}?e=${e}&t=${t}`;
      const ok = await fetch(url(5, now + 1000));
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get('content-type'), 'audio/wav');
      assert.deepEqual(new Uint8Array(await ok.arrayBuffer()), wav);
      assert.equal((await fetch(url(5, now + 1000, 'x'.repeat(43)))).status, 403, 'a forged token');
      assert.equal((await fetch(url(5, now + 1000).replace(`e=${now + 1000}`, `e=${now + 2000}`))).status, 403, 'another expiry');
      assert.equal((await fetch(url(6, now + 1000, fetchToken(secret, 5, now + 1000)))).status, 403, 'the token of another id');
      assert.equal((await fetch(url(9, now + 1000))).status, 404);
      assert.equal((await fetch(`${base}/metrics`)).status, 404);
      assert.equal((await fetch(url(5, now + 1000), { method: 'DELETE' })).status, 405);
      const late = url(5, now + 1000);
      now += 1000;
      assert.equal((await fetch(late)).status, 403, 'expired');
    } finally {
      await http.close();
    }
  });
});
