// Video added to and removed from a call between two TV agents by re-INVITE (RFC 3264 §8.1, §8.2), through the tvphone
// server: the call begins with voice only, one side adds video, the other removes it (port 0), the first adds it again.
// What B records is decoded by ffprobe; the audio is measured in the WAVs and by the RTP counts during the pause.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { TvAgent, TvAgentOptions } from '../../../src/terminal/tv-agent.ts';
import { DEFAULT_VIDEO_FORMAT } from '../../../src/media/ffmpeg.ts';
import type { TvAgentEvents } from '../../../src/terminal/events.ts';
import { sleep, waitFor, assertTone } from '../../helpers/tv-events.ts';
import { useTvAgents } from '../../helpers/tv-agents.ts';
import { framesOf, haveFfmpeg } from '../../helpers/video.ts';
import { createLogger } from '../../../src/log/logger.ts';
import { until } from '../../helpers/until.ts';
import { needPeers } from '../../helpers/peers.ts';

const { fps } = DEFAULT_VIDEO_FORMAT;

describe('tvphone tv: video added and removed by re-INVITE (RFC 3264 §8.1, §8.2; integration, ffmpeg)', function () {
  this.timeout(60_000);
  /** the start lines of the SIP messages the server received (its debug trace) */
  let heads: string[] = [];
  const tv = useTvAgents({
    dirPrefix: 'tvphone-video-reinvite-',
    server: () => {
      heads = [];
      return { log: createLogger('debug', { write: (line: string) => { const o = JSON.parse(line) as { dir?: string; head?: string }; if (o.dir === 'in' && o.head) heads.push(o.head); } }) };
    },
  });
  const agent = (user: '1001' | '1002', o: Partial<TvAgentOptions> = {}): TvAgent => tv.agent(user, o);
  before(function () { needPeers(this, haveFfmpeg, 'ffmpeg'); });

  /** Until `from` has sent a second of pictures and `to` received them (ffmpeg may take a while to start on a loaded machine). */
  async function flowing(from: TvAgent, to: TvAgent, what: string): Promise<void> {
    await until(() => (from.videoStats()?.sent.frames ?? 0) >= fps && (to.videoStats()?.received.frames ?? 0) >= fps, 20_000, what, 50);
  }

  /** Every event of these kinds, as [who, name, event]. */
  /** Both agents start, then A calls B for voice only; resolves, with the video events recorded from the start, once `answeredOn` saw the answer. */
  async function voiceCall(a: TvAgent, b: TvAgent, answeredOn: TvAgent = b): Promise<ReturnType<typeof record>> {
    await a.start();
    await b.start();
    const seen = record({ A: a, B: b });
    const answered = waitFor(answeredOn, 'call-answered');
    assert.equal(await a.dial('1002', { video: false }), true);
    await answered;
    return seen;
  }

  function record(named: Record<string, TvAgent>): Array<[string, string, Record<string, unknown>]> {
    const seen: Array<[string, string, Record<string, unknown>]> = [];
    for (const [who, a] of Object.entries(named)) {
      for (const name of ['video-started', 'video-changed', 'video-stopped'] as const) {
        a.on(name, (e: TvAgentEvents[typeof name][0]) => seen.push([who, name, e as Record<string, unknown>]));
      }
    }
    return seen;
  }

  it('a voice call gains video (B adds it: A answers in a new m-line), loses it (A: port 0; the voice goes on), and gains it again (A: the same slot); B records both streams and nothing between', async () => {
    const a = agent('1001', { toneHz: 440, record: join(tv.dir, 'a.wav'), video: 'testsrc', recordVideo: join(tv.dir, 'a.mkv') });
    const b = agent('1002', { toneHz: 1000, autoAnswer: true, record: join(tv.dir, 'b.wav'), video: 'testsrc', recordVideo: join(tv.dir, 'b.mkv') });
    const seen = await voiceCall(a, b);
    await sleep(500);
    assert.equal(seen.length, 0, 'a voice call: no video yet');
    assert.equal(a.hasVideo || b.hasVideo, false);

    // §8.1: B adds video; A, which has no port pair for it, binds one and answers sendrecv
    let aStarted = waitFor(a, 'video-started');
    assert.equal(await b.addVideo(), true);
    const started1 = Date.now();
    const [va] = [await aStarted];
    assert.deepEqual([va.codec, va.sending, va.receiving], ['H264', true, true]);
    assert.equal(a.hasVideo && b.hasVideo, true);
    assert.deepEqual(seen.map(([w, n, e]) => [w, n, e.sending, e.receiving]).sort(), [['A', 'video-started', true, true], ['B', 'video-started', true, true]]);
    await flowing(a, b, 'A\'s pictures at B');
    await flowing(b, a, 'B\'s pictures at A');
    await sleep(500);

    // §8.2: A removes it: both stop, the stream's figures say the frames flowed
    const aStopped = waitFor(a, 'video-stopped');
    const bStopped = waitFor(b, 'video-stopped');
    assert.equal(await a.removeVideo(), true);
    const stopped1 = Date.now();
    const sa = await aStopped;
    const sb = await bStopped;
    assert.deepEqual([sa.by, sb.by], ['local', 'remote']);
    assert.ok(sa.video.sent.frames >= fps, `A sent ${sa.video.sent.frames} frames in the first stream`);
    assert.ok(Math.abs(sb.video.received.frames - sa.video.sent.frames) <= 2, `B received ${sb.video.received.frames} of ${sa.video.sent.frames}`);
    assert.equal(a.hasVideo || b.hasVideo, false);
    assert.deepEqual([a.videoStats(), b.videoStats()], [null, null]);
    assert.equal(await a.removeVideo(), false, 'nothing left to remove');
    // the voice goes on without the video: RTP keeps coming both ways (20 ms packets)
    const before = [a.callStats()!.received.packets, b.callStats()!.received.packets];
    await sleep(1500);
    const during = [a.callStats()!.received.packets - before[0], b.callStats()!.received.packets - before[1]];
    assert.ok(during.every((n) => n >= 50), `voice packets in 1.5 s without video: A ${during[0]}, B ${during[1]}`);
    const paused = Date.now() - stopped1;

    // §8.1 again, from A this time: its offer puts the video back in the slot at port 0
    const bStarted = waitFor(b, 'video-started');
    aStarted = waitFor(a, 'video-started');
    assert.equal(await a.addVideo(), true);
    const started2 = Date.now();
    await bStarted;
    await aStarted;
    assert.equal(seen.filter(([, n]) => n === 'video-started').length, 4);
    await flowing(a, b, 'A\'s pictures at B again');
    await sleep(500);
    const aEnded = waitFor(a, 'call-ended');
    const bEnded = waitFor(b, 'call-ended');
    await a.hangup();
    const ea = await aEnded;
    const eb = await bEnded;
    const ended = Date.now();
    assert.ok(ea.video && eb.video, 'video figures at hang-up');
    // call-ended adds up the two streams: the second one flowed too
    const secondSent = ea.video.sent.frames - sa.video.sent.frames;
    assert.ok(secondSent >= fps, `A sent ${secondSent} frames in the second stream`);
    assert.ok(Math.abs(eb.video.received.frames - ea.video.sent.frames) <= 3, `B received ${eb.video.received.frames} of ${ea.video.sent.frames}`);
    assert.equal(eb.video.received.lost, 0);
    // B's recording holds both streams, decodable; no more frames than the two streams' time could hold, so none in the pause
    const recorded = framesOf(join(tv.dir, 'b.mkv'));
    const videoSeconds = (stopped1 - started1 + ended - started2) / 1000;
    console.log(`      B recorded ${recorded} frames (received ${eb.video.received.frames}); video ${videoSeconds.toFixed(1)} s, paused ${(paused / 1000).toFixed(1)} s`);
    assert.ok(recorded >= eb.video.received.frames - 2 && recorded <= eb.video.received.frames, `B's recording: ${recorded} of ${eb.video.received.frames}`);
    assert.ok(recorded <= videoSeconds * fps + 3, `${recorded} frames in ${videoSeconds.toFixed(1)} s of video at ${fps} fps: none during the pause`);
    await sleep(200);
    assertTone(join(tv.dir, 'b.wav'), 440);
    assertTone(join(tv.dir, 'a.wav'), 1000);
  });

  it('both sides add video at once: the crossing re-INVITEs each get 491 (RFC 3261 §14.2), the retry after §14.1\'s wait brings video up once', async () => {
    const a = agent('1001', { video: 'testsrc', recordVideo: join(tv.dir, 'a.mkv') });
    const b = agent('1002', { autoAnswer: true, video: 'testsrc', recordVideo: join(tv.dir, 'b.mkv') });
    const seen = await voiceCall(a, b);
    await sleep(300);
    const t0 = Date.now();
    const [ra, rb] = await Promise.all([a.addVideo(), b.addVideo()]);
    const took = Date.now() - t0;
    assert.equal(ra || rb, true, 'one of them added the video');
    // both re-INVITEs went out before either was answered: each side answered the other's 491 (§14.2)
    assert.equal(heads.filter((h) => h.startsWith('SIP/2.0 491')).length, 2, heads.join('\n'));
    assert.ok(took >= 0 && took < 8000, `${took} ms`);
    await sleep(1000);
    assert.equal(a.hasVideo && b.hasVideo, true);
    assert.deepEqual(seen.map(([w, n]) => `${w} ${n}`).sort(), ['A video-started', 'B video-started'], 'video started once on each side');
    console.log(`      addVideo: A ${ra}, B ${rb}, ${took} ms`);
    const bEnded = waitFor(b, 'call-ended');
    await a.hangup();
    const eb = await bEnded;
    assert.ok((eb.video?.received.frames ?? 0) > 0, 'B received video');
  });

  it('a callee that does no video answers the added m=video with port 0: addVideo is false, no video starts, the voice goes on', async () => {
    const a = agent('1001', { video: 'testsrc', recordVideo: join(tv.dir, 'a.mkv') });
    const b = agent('1002', { autoAnswer: true });
    const seen = await voiceCall(a, b, a);
    assert.equal(await a.addVideo(), false);
    assert.equal(a.hasVideo, false);
    const before = a.callStats()!.received.packets;
    await sleep(600);
    assert.ok(a.callStats()!.received.packets - before >= 20, 'the voice goes on');
    assert.equal(seen.length, 0);
    const ended = waitFor(a, 'call-ended');
    await a.hangup();
    assert.equal((await ended).video, undefined);
  });
});
