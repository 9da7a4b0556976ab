// Lip sync on real sessions (RFC 3550 §6.4.1): one sender's audio and video reach a receiver with different network
// delays; the receiver places them by the capture times its SRs give, not by arrival.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { ToneSource } from '../../../src/media/audio-io.ts';
import { audioDelayMs, type StreamStart } from '../../../src/media/lip-sync.ts';
import { MediaSession } from '../../../src/media/rtp-session.ts';
import { VideoSession } from '../../../src/media/video-session.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const nal = (type: number, len: number): Uint8Array => { const n = new Uint8Array(len).fill(0x33); n[0] = 0x60 | type; return n; };
/** the audio path's extra delay: a relay holds each audio RTP packet this long */
const AUDIO_DELAY_MS = 250;

describe('media: lip sync of one sender\'s audio and video by their SRs (RFC 3550 §6.4.1)', () => {
  const stops: Array<() => unknown> = [];
  afterEach(async () => { for (const s of stops.splice(0).reverse()) await s(); });

  it('gives the capture offset of the first sample and the first picture within a few ms, where arrival is 250 ms off', async () => {
    const rxA = new MediaSession({ rtcpIntervalMs: 100 });
    const rxV = new VideoSession({ rtcpIntervalMs: 100 });
    const txA = new MediaSession({ rtcpIntervalMs: 100 });
    const txV = new VideoSession({ rtcpIntervalMs: 100 });
    for (const s of [rxA, rxV, txA, txV]) { await s.bind(); stops.push(() => s.stop()); }
    const relay = dgram.createSocket('udp4');
    await new Promise<void>((r) => relay.bind(0, '127.0.0.1', () => r()));
    const timers = new Set<NodeJS.Timeout>();
    stops.push(() => { for (const t of timers) clearTimeout(t); return new Promise<void>((r) => relay.close(() => r())); });
    relay.on('message', (m) => {
      const t = setTimeout(() => { timers.delete(t); relay.send(m, rxA.localPort, '127.0.0.1'); }, AUDIO_DELAY_MS);
      timers.add(t);
    });

    let audio: StreamStart | undefined;
    let video: StreamStart | undefined;
    rxA.on('rtp', (p) => { audio ??= { rtpTimestamp: p.timestamp, clock: undefined, arrivedAt: performance.now() }; });
    rxV.on('accessUnit', (u) => { video ??= { rtpTimestamp: u.timestamp, clock: undefined, arrivedAt: performance.now() }; });
    rxA.start({ remoteIp: '127.0.0.1', remotePort: txA.localPort, payloadType: 0 });
    rxV.start({ remoteIp: '127.0.0.1', remotePort: txV.localPort, payloadType: 96 });

    // the sender: audio from now (RTP to the relay, RTCP straight to the receiver); the video session starts 50 ms
    // later and its encoder's first picture comes 100 ms after that
    const audioCaptured = performance.now();
    txA.start({ remoteIp: '127.0.0.1', remotePort: relay.address().port, remoteRtcpPort: rxA.localPort + 1, payloadType: 0, source: new ToneSource({ frequency: 440 }) });
    await sleep(50);
    txV.start({ remoteIp: '127.0.0.1', remotePort: rxV.localPort, payloadType: 96 });
    await sleep(100);
    const videoCaptured = performance.now();
    txV.sendAccessUnit([nal(7, 20), nal(8, 5), nal(5, 3000)], 0);
    const frames = setInterval(() => txV.sendAccessUnit([nal(1, 800)], performance.now() - videoCaptured), 66);
    stops.push(() => clearInterval(frames));

    const deadline = Date.now() + 5000;
    while ((audio === undefined || video === undefined || rxA.remoteClock === undefined || rxV.remoteClock === undefined) && Date.now() < deadline) await sleep(20);
    assert.ok(audio && video, 'both streams arrived');
    assert.ok(rxA.remoteClock && rxV.remoteClock, 'both streams sent an SR');
    const truth = audioCaptured - videoCaptured; // about -150: the audio began first
    const bySr = audioDelayMs({ ...audio, clock: rxA.remoteClock }, { ...video, clock: rxV.remoteClock });
    const byArrival = audioDelayMs(audio, video);
    assert.equal(bySr.by, 'sr');
    assert.equal(byArrival.by, 'arrival');
    assert.ok(Math.abs(bySr.ms - truth) < 10, `by SR ${bySr.ms.toFixed(1)} ms, truth ${truth.toFixed(1)} ms`);
    assert.ok(Math.abs(byArrival.ms - truth) > AUDIO_DELAY_MS - 60, `by arrival ${byArrival.ms.toFixed(1)} ms, truth ${truth.toFixed(1)} ms`);
  });
});
