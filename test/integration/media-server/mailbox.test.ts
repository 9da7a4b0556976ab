// A user's own greeting and the voicemail access number, in-process over real sockets on 127.0.0.1 with the shipped
// default profile: the caller of a user with a greeting hears it (not the built-in prompt), then the beep; a user
// dialling *97 hears the counts, its messages new first, and its keys (RFC 4733) save, skip and delete them.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goertzelPower } from '../../../src/media/goertzel.ts';
import { generateTone } from '../../../src/media/tone.ts';
import { readWav, writeWav } from '../../../src/media/wav.ts';
import { greetingWav } from '../../../src/media-server/user-greeting.ts';
import { MESSAGE_PIP_HZ, NEW_PIP_HZ, OLD_PIP_HZ } from '../../../src/media-server/mailbox-prompts.ts';
import { TvAgent, type TvAgentOptions } from '../../../src/terminal/tv-agent.ts';
import { parseAuthParams, parseNameAddr, tagOf } from '../../../src/sip/headers.ts';
import { buildAuthorization } from '../../../src/sip/digest.ts';
import { newTag } from '../../../src/sip/ids.ts';
import type { TestServer } from '../../helpers/test-server.ts';
import { startDefaultProfileServer } from '../../helpers/default-profile-server.ts';
import { sleep, waitFor } from '../../helpers/tv-events.ts';
import { until } from '../../helpers/until.ts';

/** `seconds` of a `hz` tone at 8 kHz, as a WAV of `rate` Hz */
function toneWav(hz: number, seconds: number, rate = 8000): Uint8Array {
  return writeWav(generateTone({ frequency: hz, amplitude: 0.5, samples: Math.round(rate * seconds), sampleRate: rate }), rate);
}

/** power at `hz` over `from`..`to` seconds of `pcm` (8 kHz) */
function powerIn(pcm: Int16Array, hz: number, from: number, to: number): number {
  return goertzelPower(pcm.subarray(Math.round(from * 8000), Math.round(to * 8000)), hz, 8000);
}

describe('voicemail greeting and access number (integration)', function () {
  this.timeout(60_000);
  let srv: TestServer;
  let dir: string;
  const agents: TvAgent[] = [];

  beforeEach(async () => {
    srv = await startDefaultProfileServer({ voicemail: { enabled: true, maxSeconds: 20, silenceSeconds: 0 } });
    await srv.addUser('1001', 'pw1');
    await srv.addUser('1002', 'pw2');
    dir = mkdtempSync(join(tmpdir(), 'tvphone-mailbox-'));
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.stop();
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function agent(user: string, o: Partial<TvAgentOptions> = {}): TvAgent {
    const a = new TvAgent({
      user, password: user === '1001' ? 'pw1' : 'pw2', server: `sip:127.0.0.1:${srv.tcp.port}`, transport: 'tcp',
      downloadDir: join(dir, user), rtcpIntervalMs: 300, timerValues: { t1: 100, t2: 400, t4: 500 }, ...o,
    });
    agents.push(a);
    return a;
  }

  /** 1001 calls offline 1002 for `ms`, sending a 1800 Hz tone, and hangs up: what it heard */
  async function callOffline(file: string, ms: number): Promise<Int16Array> {
    const a = agent('1001', { record: file, toneHz: 1800 });
    await a.start();
    const answered = waitFor(a, 'call-answered');
    const ended = waitFor(a, 'call-ended', () => true, 15_000);
    await a.dial('1002');
    await answered;
    await sleep(ms);
    await a.hangup();
    await ended;
    await a.stop();
    return readWav(readFileSync(file)).samples;
  }

  it("plays the callee's own greeting (a 440 Hz tone uploaded at 16 kHz) instead of the built-in one, then the beep; removed, the built-in one again", async () => {
    assert.equal(await srv.server.store.setGreeting('1002', greetingWav(toneWav(440, 1.5, 16000)), Date.now()), true);
    const heard = await callOffline(join(dir, 'own.wav'), 3500);
    // 0..1.5 s: the user's 440 Hz, not the built-in C5 (523 Hz); then the 1000 Hz beep after the pause (1.8..2.2 s)
    const own = powerIn(heard, 440, 0.1, 1.4);
    assert.ok(own > 50 * powerIn(heard, 523, 0.1, 1.4), `440 Hz heard (${own} vs ${powerIn(heard, 523, 0.1, 1.4)} at 523 Hz)`);
    assert.ok(powerIn(heard, 1000, 1.75, 2.25) > 50 * powerIn(heard, 440, 1.75, 2.25), 'the beep after the greeting');

    assert.equal(await srv.server.store.removeGreeting('1002'), true);
    const builtIn = await callOffline(join(dir, 'builtin.wav'), 2500);
    assert.ok(powerIn(builtIn, 523, 0, 0.3) > 50 * powerIn(builtIn, 440, 0, 0.3), 'the built-in greeting once removed');
  });

  /** a voice message for 1002 of a `hz` tone, kept as the media server keeps one */
  async function keep(hz: number, seconds: number): Promise<number> {
    const now = Date.now();
    const vm = await srv.server.store.storeVoicemail({
      message: {
        toUser: '1002', fromUri: 'sip:1001@127.0.0.1', fromHeader: '<sip:1001@127.0.0.1>;tag=x', toUri: 'sip:1002@127.0.0.1',
        contentType: 'audio/wav', body: toneWav(hz, seconds), receivedAt: now, expiresAt: now + 3_600_000,
      },
      caller: '1001', callId: `vm-${hz}`, callRecordId: null, durationMs: seconds * 1000, codec: 'PCMU',
    });
    return vm.id;
  }
  const stateOf = async (id: number) => (await srv.server.store.getVoicemail(id))?.state ?? 'gone';

  it('*97: the counts, then the new messages oldest first; each heard to its end is delivered (old); 2 plays the next, # ends (BYE)', async () => {
    const b = agent('1002', { record: join(dir, 'mailbox.wav') });
    await b.start(); // online: nothing kept yet, nothing delivered at its REGISTER
    const first = await keep(440, 1);
    const second = await keep(700, 1);
    const answered = waitFor(b, 'call-answered');
    const ended = waitFor(b, 'call-ended', () => true, 30_000);
    await b.dial('*97');
    await answered;
    // the first message plays to its end: heard
    await until(async () => (await stateOf(first)) === 'delivered', 10_000, 'the first message heard');
    assert.equal(await stateOf(second), 'pending', 'the second one not yet');
    await sleep(500);
    assert.ok(b.sendDtmf('2'));
    await until(async () => (await stateOf(second)) === 'delivered', 10_000, 'the second message heard after 2');
    await sleep(300);
    assert.ok(b.sendDtmf('#'));
    assert.equal((await ended).reason, 'remote-hangup', 'the server sent BYE after #');

    const heard = readWav(readFileSync(join(dir, 'mailbox.wav'))).samples;
    // the counts: two new pips (1200 Hz) and no old one (600 Hz) in the first second
    assert.ok(powerIn(heard, NEW_PIP_HZ, 0, 1) > 20 * powerIn(heard, OLD_PIP_HZ, 0, 1), 'new pips, no old ones');
    // then the message pip and 440 Hz, and later 700 Hz: in that order
    // the first 0.2 s window where `hz` stands ten times over the other tones of the call
    const others = [440, 700, NEW_PIP_HZ, MESSAGE_PIP_HZ, OLD_PIP_HZ, 880, 2500];
    const at = (hz: number) => {
      for (let s = 0; s + 0.2 < heard.length / 8000; s += 0.1) {
        const p = powerIn(heard, hz, s, s + 0.2);
        if (p > 0 && p > 10 * others.filter((f) => f !== hz).reduce((n, f) => n + powerIn(heard, f, s, s + 0.2), 0)) return s;
      }
      return -1;
    };
    const t440 = at(440);
    const t700 = at(700);
    assert.ok(at(MESSAGE_PIP_HZ) >= 0 && t440 > 0 && t700 > t440, `440 Hz at ${t440} s, 700 Hz at ${t700} s`);
  });

  it('*97: 7 deletes the message being played, 9 saves one; the mailbox then holds the saved one as old', async () => {
    const b = agent('1002');
    await b.start();
    const first = await keep(440, 4);
    const second = await keep(700, 4);
    const answered = waitFor(b, 'call-answered');
    const ended = waitFor(b, 'call-ended', () => true, 30_000);
    await b.dial('*97');
    await answered;
    await sleep(2500); // into the first message
    assert.ok(b.sendDtmf('7'));
    await until(async () => (await stateOf(first)) === 'gone', 5000, 'the first message deleted');
    await sleep(1000); // into the second
    assert.equal(await stateOf(second), 'pending');
    assert.ok(b.sendDtmf('9'));
    await until(async () => (await stateOf(second)) === 'delivered', 5000, 'the second saved (heard) before its end');
    await sleep(300);
    assert.ok(b.sendDtmf('#'));
    await ended;
    assert.deepEqual((await srv.server.store.listVoicemails({ toUser: '1002' })).map((v) => [v.id, v.state]), [[second, 'delivered']]);
    assert.equal(srv.server.voicemail?.media.activeCalls, 0);
  });

  it('*97 from a phone that sends its keys as SIP INFO (application/dtmf-relay): 9 saves the message playing, # ends with our BYE', async () => {
    const id = await keep(440, 8);
    const c = await srv.client('udp');
    try {
      const callId = `info-97-${newTag()}`;
      const fromTag = newTag();
      const uri = 'sip:*97@127.0.0.1';
      const sdp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n';
      const invite = (cseq: number, auth?: string) => {
        c.request({ method: 'INVITE', uri, from: '<sip:1002@127.0.0.1>', fromTag, to: `<${uri}>`, callId, cseq, body: sdp,
          headers: [['Contact', c.contact], ['Content-Type', 'application/sdp'], ...(auth ? [['Proxy-Authorization', auth] as [string, string]] : [])] });
        return c.final(callId, 'INVITE');
      };
      const challenge = await invite(1);
      assert.equal(challenge.status, 407);
      const auth = buildAuthorization({
        challenge: parseAuthParams(challenge.header('proxy-authenticate')!).params, user: '1002', password: 'pw2', method: 'INVITE', uri, nc: 1, cnonce: newTag(),
      });
      const ok = await invite(2, auth);
      assert.equal(ok.status, 200);
      const toTag = tagOf(ok.header('to')!)!;
      const target = parseNameAddr(ok.header('contact')!).uri;
      const inDialog = (method: string, cseq: number, o: { body?: string; type?: string } = {}) => c.request({
        method, uri: target, from: '<sip:1002@127.0.0.1>', fromTag, to: `<${uri}>;tag=${toTag}`, callId, cseq,
        headers: [['Contact', c.contact], ...(o.type ? [['Content-Type', o.type] as [string, string]] : [])], ...(o.body ? { body: o.body } : {}),
      });
      inDialog('ACK', 2);
      await sleep(2500); // the counts, then into the 8 s message
      assert.equal(await stateOf(id), 'pending');
      inDialog('INFO', 3, { type: 'application/dtmf-relay', body: 'Signal=9\r\nDuration=160\r\n' });
      assert.equal((await c.final(callId, 'INFO')).status, 200);
      await until(async () => (await stateOf(id)) === 'delivered', 3000, 'saved by the INFO 9 before the message ended');
      const bye = c.nextRequest('BYE', 5000);
      inDialog('INFO', 4, { type: 'application/dtmf-relay', body: 'Signal=#\r\nDuration=160\r\n' });
      assert.equal((await bye).callId, callId, 'the server hangs up after #');
    } finally {
      await c.close();
    }
  });

  it('*97 with an empty mailbox: the empty prompt, then BYE; an unauthenticated INVITE to *97 is challenged, never answered', async () => {
    const b = agent('1002');
    await b.start();
    const ended = waitFor(b, 'call-ended', () => true, 15_000);
    await b.dial('*97');
    assert.equal((await ended).reason, 'remote-hangup');

    const c = await srv.client('udp');
    try {
      c.request({ method: 'INVITE', uri: 'sip:*97@127.0.0.1', from: '<sip:1002@127.0.0.1>', fromTag: 'f1', to: '<sip:*97@127.0.0.1>', callId: 'unauth-97', cseq: 1,
        headers: [['Contact', c.contact], ['Content-Type', 'application/sdp']], body: 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n' });
      assert.equal((await c.final('unauth-97', 'INVITE')).status, 407);
    } finally {
      await c.close();
    }
  });
});
