// A keyframe on request (RFC 4585 §6.3.1 PLI, RFC 5104 §4.3.1 FIR): ffmpeg encodes testsrc with a keyframe only every
// 10 s; one video session sends it on 127.0.0.1 to another, which asks for a keyframe. The keyframe must come well
// before the encoder's next periodic one could (within 1.5 s), and the stream go on as one: same SSRC, no sequence
// number missing, the 90 kHz timestamps a frame apart across the switch of encoders.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { DEFAULT_VIDEO_FORMAT, VideoEncoder, type VideoCodecName } from '../../../src/media/ffmpeg.ts';
import type { AccessUnit } from '../../../src/media/h264-rtp.ts';
import { buildRtcpCompound } from '../../../src/media/rtcp.ts';
import { parseRtpPacket } from '../../../src/media/rtp-packet.ts';
import type { VideoFeedback } from '../../../src/media/sdp.ts';
import { H264_RTP, VideoSession, vp8RtpCodec } from '../../../src/media/video-session.ts';
import { haveFfmpeg } from '../../helpers/video.ts';
import { needPeers } from '../../helpers/peers.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const { fps } = DEFAULT_VIDEO_FORMAT;
/** the encoder's own keyframes, far apart: a keyframe within BOUND_MS of a request can only be one given on request */
const KEYFRAME_INTERVAL_S = 10;
const BOUND_MS = 1500;

describe('media: a keyframe at once on a PLI or FIR (RFC 4585 §6.3.1, RFC 5104 §4.3.1; ffmpeg)', function () {
  this.timeout(60_000);
  const open: Array<{ stop?: () => Promise<unknown>; close?: () => void }> = [];
  before(function () { needPeers(this, haveFfmpeg, 'ffmpeg'); });
  afterEach(async () => { for (const o of open.splice(0).reverse()) { if (o.stop) await o.stop(); else o.close?.(); } });

  /** testsrc from `tx` (a VideoEncoder) to `rx`; the frames rx receives, with when they came; and what tx sent on the wire. */
  async function call(codec: VideoCodecName, feedback: VideoFeedback) {
    const tx = new VideoSession({ rtcpIntervalMs: 500 });
    const rx = new VideoSession({ rtcpIntervalMs: 500 });
    await tx.bind();
    await rx.bind();
    // rx's RTP port is watched by a tap that forwards every packet: the sequence numbers and SSRCs on the wire
    const tap = dgram.createSocket('udp4');
    open.push(tap);
    tap.bind(0, '127.0.0.1');
    await once(tap, 'listening');
    const wire: Array<{ ssrc: number; seq: number }> = [];
    tap.on('message', (m) => {
      const p = parseRtpPacket(m);
      if (p) wire.push({ ssrc: p.ssrc, seq: p.sequenceNumber });
      tap.send(m, rx.localPort, '127.0.0.1');
    });
    const rtp = (): typeof H264_RTP => (codec === 'VP8' ? vp8RtpCodec() : H264_RTP);
    tx.start({ remoteIp: '127.0.0.1', remotePort: tap.address().port, remoteRtcpPort: rx.localPort + 1, payloadType: 96, direction: 'sendonly', codec: rtp(), feedback });
    rx.start({ remoteIp: '127.0.0.1', remotePort: tx.localPort, payloadType: 96, direction: 'recvonly', codec: rtp(), feedback });
    const enc = new VideoEncoder({ source: 'testsrc', codec, keyframeIntervalS: KEYFRAME_INTERVAL_S });
    open.push(enc, tx, rx);
    tx.on('keyframeRequested', () => enc.requestKeyframe());
    let frame = 0;
    enc.on('accessUnit', (units) => tx.sendAccessUnit(units, (frame++ * 1000) / fps));
    const got: Array<{ unit: AccessUnit; at: number }> = [];
    rx.on('accessUnit', (unit) => got.push({ unit, at: performance.now() }));
    await enc.start();
    return { tx, rx, enc, got, wire, sent: () => frame };
  }

  /** Waits until rx has `n` frames (bounded by the test's timeout: a loaded machine starts ffmpeg late). */
  async function frames(got: unknown[], n: number): Promise<void> {
    for (let i = 0; i < 1000 && got.length < n; i++) await sleep(20);
    assert.ok(got.length >= n, `only ${got.length} frames came`);
  }

  /** How long after `t` the first keyframe came to rx (Infinity: none within BOUND_MS). */
  async function keyframeAfter(got: Array<{ unit: AccessUnit; at: number }>, t: number): Promise<number> {
    for (let waited = 0; waited <= BOUND_MS + 200; waited += 10) {
      const k = got.find((g) => g.at >= t && g.unit.keyframe);
      if (k) return k.at - t;
      await sleep(10);
    }
    return Infinity;
  }

  /** The stream is one: one SSRC, consecutive sequence numbers, each frame's timestamp 90000/fps after the last. */
  function assertContinuous(got: Array<{ unit: AccessUnit }>, wire: Array<{ ssrc: number; seq: number }>): void {
    assert.equal(new Set(wire.map((w) => w.ssrc)).size, 1, 'one SSRC');
    for (let i = 1; i < wire.length; i++) assert.equal(wire[i].seq, (wire[i - 1].seq + 1) & 0xffff, `sequence number ${i}`);
    for (let i = 1; i < got.length; i++) assert.equal((got[i].unit.timestamp - got[i - 1].unit.timestamp) >>> 0, 90_000 / fps, `frame ${i}'s timestamp`);
  }

  it('H.264: a PLI gets a keyframe within 1.5 s (the periodic one is 10 s away), the stream going on as one', async () => {
    const { tx, rx, enc, got, wire } = await call('H264', { nack: false, pli: true, fir: false });
    await frames(got, Math.round(fps)); // a second of video: the first keyframe and predicted pictures after it
    assert.equal(got.filter((g) => g.unit.keyframe).length, 1, 'one keyframe so far: the first');
    const t = performance.now();
    rx.requestKeyframe();
    const ms = await keyframeAfter(got, t);
    assert.ok(ms <= BOUND_MS, `the keyframe came ${ms} ms after the PLI`);
    await frames(got, got.length + 5); // frames after it, from the new encoder
    const sa = tx.stats();
    console.log(`      PLI → keyframe in ${ms.toFixed(0)} ms; sent ${sa.sent.frames} frames, ${sa.sent.keyframes} keyframes (${sa.keyframesOnRequest} on request)`);
    assert.deepEqual([rx.stats().plisSent, sa.plisReceived, sa.keyframesOnRequest, enc.keyframesOnRequest, sa.sent.keyframes], [1, 1, 1, 1, 2]);
    assert.equal(rx.stats().received.lost, 0);
    assertContinuous(got, wire);
  });

  it('VP8 with FIR only: a FIR gets a keyframe within 1.5 s; a FIR repeating its sequence number gets none (RFC 5104 §4.3.1.2)', async () => {
    const { tx, rx, enc, got, wire } = await call('VP8', { nack: false, pli: false, fir: true });
    await frames(got, Math.round(fps));
    const t = performance.now();
    rx.requestKeyframe();
    const ms = await keyframeAfter(got, t);
    assert.ok(ms <= BOUND_MS, `the keyframe came ${ms} ms after the FIR`);
    assert.deepEqual([rx.stats().firsSent, tx.stats().firsReceived, enc.keyframesOnRequest], [1, 1, 1]);
    // a FIR of another sender, sent twice with the same Seq nr: the first is a request, the repetition is not
    const other = dgram.createSocket('udp4');
    open.push(other);
    other.bind(0, '127.0.0.1');
    await once(other, 'listening');
    const fir = buildRtcpCompound({ ssrc: 0x5eed, cname: 'other@127.0.0.1', reports: [], fir: { mediaSsrc: tx.ssrc, seq: 42 } });
    await sleep(600); // past the least time between keyframes on request
    const t2 = performance.now();
    other.send(fir, tx.localPort + 1, '127.0.0.1');
    const ms2 = await keyframeAfter(got, t2);
    assert.ok(ms2 <= BOUND_MS, `the other sender's FIR got its keyframe after ${ms2} ms`);
    await sleep(600);
    const keyframes = got.filter((g) => g.unit.keyframe).length;
    other.send(fir, tx.localPort + 1, '127.0.0.1');
    await sleep(BOUND_MS);
    const sa = tx.stats();
    console.log(`      FIR → keyframe in ${ms.toFixed(0)} ms, another sender's in ${ms2.toFixed(0)} ms; FIRs counted ${sa.firsReceived}, keyframes ${sa.sent.keyframes} (${sa.keyframesOnRequest} on request)`);
    assert.equal(got.filter((g) => g.unit.keyframe).length, keyframes, 'no keyframe for the repeated FIR');
    assert.deepEqual([sa.firsReceived, sa.keyframesOnRequest, enc.keyframesOnRequest, sa.sent.keyframes], [2, 2, 2, 3]);
    assertContinuous(got, wire);
  });

  it('requests are answered by the keyframe on its way, and keyframes on request are at least 500 ms apart', async () => {
    const { got, enc } = await call('H264', { nack: false, pli: true, fir: false });
    await frames(got, Math.round(fps));
    const t = performance.now();
    enc.requestKeyframe();
    enc.requestKeyframe(); // before the keyframe went out: the same one answers it
    const first = await keyframeAfter(got, t);
    assert.ok(first <= BOUND_MS, `${first} ms`);
    await sleep(50);
    const t2 = performance.now();
    enc.requestKeyframe(); // after it went out: a new one, but not before 500 ms from the last switch
    const second = await keyframeAfter(got, t2);
    console.log(`      first keyframe ${first.toFixed(0)} ms after the request, the next requested 50 ms after it came ${(second + first + 50).toFixed(0)} ms after the first request`);
    assert.ok(second <= BOUND_MS, `${second} ms`);
    assert.ok(first + 50 + second >= 500 - 1000 / fps, `the second came ${first + 50 + second} ms after the first request`);
    assert.equal(enc.keyframesOnRequest, 2);
    assert.equal(got.filter((g) => g.unit.keyframe).length, 3);
  });
});
