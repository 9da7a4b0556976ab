// Video through a lossy relay on 127.0.0.1: ffmpeg encodes testsrc, one video session sends it through a UDP relay
// that drops 5 % of the RTP packets (a seeded pseudo-random choice, retransmissions included) and forwards RTCP both
// ways, another session receives and ffmpeg records it. With Generic NACK (RFC 4585 §6.2.1) the lost packets come
// again and the recording matches testsrc; with PLI only (§6.3.1) frames are lost until the keyframe the PLI gets, and
// the recording still decodes.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_VIDEO_FORMAT, VideoEncoder, VideoRecorder, type VideoCodecName } from '../../../src/media/ffmpeg.ts';
import type { VideoFeedback } from '../../../src/media/sdp.ts';
import { H264_RTP, VideoSession, vp8RtpCodec, type VideoStats } from '../../../src/media/video-session.ts';
import { bestPsnr, codecOf, framesOf, haveFfmpeg } from '../../helpers/video.ts';
import { needPeers } from '../../helpers/peers.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** mulberry32: a small seeded PRNG, so that a run's losses can be replayed */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('media: video through a relay that drops 5 % of RTP (RFC 4585 NACK and PLI; ffmpeg)', function () {
  this.timeout(60_000);
  let dir: string;
  const open: Array<{ stop?: () => Promise<unknown>; close?: () => void }> = [];

  before(function () { needPeers(this, haveFfmpeg, 'ffmpeg'); });
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'tvphone-video-loss-')); });
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) { if (o.stop) await o.stop(); else o.close?.(); }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function socket(): Promise<dgram.Socket> {
    const s = dgram.createSocket('udp4');
    open.push(s);
    s.bind(0, '127.0.0.1');
    await once(s, 'listening');
    return s;
  }

  /** Sends `seconds` of testsrc from one session to the other through the relay; returns both sides' figures. */
  async function run(codec: VideoCodecName, feedback: VideoFeedback, seconds: number, seed: number): Promise<{ tx: VideoStats; rx: VideoStats; relayed: number; dropped: number; file: string }> {
    const tx = new VideoSession({ rtcpIntervalMs: 500 });
    const rx = new VideoSession({ rtcpIntervalMs: 500 });
    await tx.bind();
    await rx.bind();
    const [toRxRtp, toRxRtcp, toTxRtp, toTxRtcp] = [await socket(), await socket(), await socket(), await socket()];
    const random = prng(seed);
    let relayed = 0;
    let dropped = 0;
    toRxRtp.on('message', (m) => {
      if (random() < 0.05) { dropped++; return; }
      relayed++;
      toRxRtp.send(m, rx.localPort, '127.0.0.1');
    });
    toRxRtcp.on('message', (m) => toRxRtcp.send(m, rx.localPort + 1, '127.0.0.1'));
    toTxRtp.on('message', (m) => toTxRtp.send(m, tx.localPort, '127.0.0.1'));
    toTxRtcp.on('message', (m) => toTxRtcp.send(m, tx.localPort + 1, '127.0.0.1'));
    const rtp = (): typeof H264_RTP => (codec === 'VP8' ? vp8RtpCodec() : H264_RTP);
    tx.start({ remoteIp: '127.0.0.1', remotePort: toRxRtp.address().port, remoteRtcpPort: toRxRtcp.address().port, payloadType: 96, direction: 'sendonly', codec: rtp(), feedback });
    rx.start({ remoteIp: '127.0.0.1', remotePort: toTxRtp.address().port, remoteRtcpPort: toTxRtcp.address().port, payloadType: 96, direction: 'recvonly', codec: rtp(), feedback });
    const file = join(dir, `${codec}.mkv`);
    const rec = new VideoRecorder(file, { codec });
    const enc = new VideoEncoder({ source: 'testsrc', codec });
    open.push(rec, enc, tx, rx);
    await rec.start();
    rx.on('accessUnit', (u) => rec.write(u.nals));
    // a PLI or FIR gets a keyframe at once (the encoder's own come only every 10 s), as the TV agent wires it
    tx.on('keyframeRequested', () => enc.requestKeyframe());
    let frame = 0;
    enc.on('accessUnit', (units) => tx.sendAccessUnit(units, (frame++ * 1000) / DEFAULT_VIDEO_FORMAT.fps));
    await enc.start();
    // a number of frames, not a time: a loaded machine starts ffmpeg late (bounded by the test's timeout)
    const want = Math.round(seconds * DEFAULT_VIDEO_FORMAT.fps);
    for (let i = 0; i < 600 && frame < want; i++) await sleep(50);
    await enc.stop();
    await sleep(400); // the last NACKs and their retransmissions
    const txStats = await tx.stop();
    const rxStats = await rx.stop();
    await rec.stop();
    return { tx: txStats, rx: rxStats, relayed, dropped, file };
  }

  it('H.264 with NACK: the lost packets are NACKed and resent, the recording holds the frames sent and matches testsrc (PSNR > 30 dB)', async () => {
    const { tx, rx, relayed, dropped, file } = await run('H264', { nack: true, pli: true, fir: true }, 4, 15);
    const figures = `relay: ${relayed} passed, ${dropped} dropped; NACKs ${rx.nacksSent} naming ${rx.nackedPackets} packets, ${tx.retransmittedPackets} resent, ${rx.recoveredPackets} recovered; PLIs ${rx.plisSent}; lost for good ${rx.received.lost}; frames ${rx.received.frames} of ${tx.sent.frames} (${rx.received.droppedFrames} dropped)`;
    console.log(`      ${figures}`);
    assert.ok(dropped >= 3, `the relay dropped ${dropped} packets: too few to say anything (${figures})`);
    assert.ok(rx.nacksSent > 0 && rx.recoveredPackets > 0, figures);
    assert.ok(tx.nacksReceived > 0 && tx.retransmittedPackets >= rx.recoveredPackets, figures);
    // a retransmission is lost 5 % of the time too, and then asked for again: most come back
    assert.ok(rx.recoveredPackets >= 0.8 * dropped - 2, figures);
    assert.ok(rx.received.lost <= dropped - rx.recoveredPackets + 1, figures);
    assert.equal(codecOf(file), 'h264');
    const frames = framesOf(file);
    assert.ok(frames >= 0.85 * tx.sent.frames, `${frames} frames recorded of ${tx.sent.frames} sent (${figures})`);
    const { best, offset, far } = bestPsnr(file);
    console.log(`      recorded ${frames} frames, PSNR ${best.toFixed(1)} dB (offset ${offset}), 5 off ${far.toFixed(1)} dB`);
    assert.ok(best > 30, `PSNR ${best} dB against testsrc`);
    assert.ok(far < best - 6, `5 frames off gives ${far} dB, aligned ${best} dB`);
  });

  it('VP8 with PLI only (no NACK negotiated): nothing is resent, a loss drops frames until a keyframe and sends a PLI, which gets one; what is recorded decodes', async () => {
    const { tx, rx, dropped, file } = await run('VP8', { nack: false, pli: true, fir: false }, 4, 15);
    const figures = `relay dropped ${dropped}; NACKs ${rx.nacksSent}; PLIs ${rx.plisSent} sent, ${tx.plisReceived} received; keyframes sent ${tx.sent.keyframes} (${tx.keyframesOnRequest} on request); lost ${rx.received.lost}; frames ${rx.received.frames} of ${tx.sent.frames} (${rx.received.droppedFrames} dropped), ${rx.received.keyframes} keyframes`;
    console.log(`      ${figures}`);
    assert.ok(dropped >= 3, figures);
    assert.deepEqual([rx.nacksSent, tx.retransmittedPackets, rx.recoveredPackets], [0, 0, 0], figures);
    assert.ok(rx.plisSent > 0 && tx.plisReceived > 0, figures);
    // in 4 s the encoder gives only its first keyframe of its own: the others were asked for
    assert.ok(tx.keyframesOnRequest > 0 && tx.sent.keyframes === tx.keyframesOnRequest + 1, figures);
    assert.ok(rx.received.droppedFrames > 0 && rx.received.lost > 0, figures);
    assert.ok(rx.received.frames > 0 && rx.received.frames < tx.sent.frames, figures);
    assert.equal(codecOf(file), 'vp8');
    assert.ok(Math.abs(framesOf(file) - rx.received.frames) <= 1, `recorded ${framesOf(file)}, depacketised ${rx.received.frames}`);
  });
});
