// Two video sessions, or a session and raw sockets, on 127.0.0.1 (real UDP: media/ is node:dgram).
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { packetizeH264, type AccessUnit } from '../../../src/media/h264-rtp.ts';
import { buildRtpPacket } from '../../../src/media/rtp-packet.ts';
import { parseRtcpCompound } from '../../../src/media/rtcp.ts';
import { VideoSession } from '../../../src/media/video-session.ts';

const nal = (type: number, len: number): Uint8Array => { const n = new Uint8Array(len).fill(0x33); n[0] = 0x60 | type; return n; };
/** the sessions' minimum interval between keyframe requests, and a little more */
const MIN_REPEAT_MS = 350;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('media/video-session (RFC 6184 over RFC 3550, RFC 4585 PLI)', () => {
  const open: Array<{ stop?: () => Promise<unknown>; close?: () => void }> = [];
  afterEach(async () => { for (const o of open.splice(0)) { if (o.stop) await o.stop(); else o.close?.(); } });

  it('carries access units both ways with 90 kHz timestamps, and a PLI reaches the sender as keyframeRequested', async () => {
    const a = new VideoSession({ rtcpIntervalMs: 100 });
    const b = new VideoSession({ rtcpIntervalMs: 100 });
    open.push(a, b);
    await a.bind();
    await b.bind();
    a.start({ remoteIp: '127.0.0.1', remotePort: b.localPort, payloadType: 96 });
    b.start({ remoteIp: '127.0.0.1', remotePort: a.localPort, payloadType: 96 });
    const got: AccessUnit[] = [];
    b.on('accessUnit', (u) => got.push(u));
    const units = [[nal(7, 20), nal(8, 5), nal(5, 5000)], [nal(1, 800)], [nal(1, 3000)]];
    for (const [i, u] of units.entries()) a.sendAccessUnit(u, (i * 1000) / 15);
    await sleep(100);
    assert.deepEqual(got.map((u) => u.nals), units);
    assert.deepEqual(got.map((u) => (u.timestamp - got[0].timestamp) >>> 0), [0, 6000, 12000]);
    const asked = once(a, 'keyframeRequested');
    b.requestKeyframe();
    await asked;
    const sa = await a.stop();
    const sb = await b.stop();
    assert.deepEqual([sa.sent.frames, sa.sent.keyframes, sa.plisReceived], [3, 1, 1]);
    assert.deepEqual([sb.received.frames, sb.received.keyframes, sb.received.lost, sb.plisSent], [3, 1, 0, 1]);
  });

  it('a lost packet drops the frame and sends one PLI for the sender\'s SSRC; frames resume at the next keyframe', async () => {
    const rx = new VideoSession({ rtcpIntervalMs: 60_000 });
    const rtp = dgram.createSocket('udp4');
    const rtcp = dgram.createSocket('udp4');
    open.push(rx, rtp, rtcp);
    rtp.bind(0, '127.0.0.1');
    await once(rtp, 'listening');
    rtcp.bind(0, '127.0.0.1');
    await once(rtcp, 'listening');
    await rx.bind();
    rx.start({ remoteIp: '127.0.0.1', remotePort: rtp.address().port, remoteRtcpPort: rtcp.address().port, payloadType: 96 });
    const got: AccessUnit[] = [];
    rx.on('accessUnit', (u) => got.push(u));
    const plis: unknown[] = [];
    rtcp.on('message', (m) => plis.push(...parseRtcpCompound(m).filter((i) => i.kind === 'pli')));
    let seq = 100;
    const send = (u: Uint8Array[], ts: number, drop = -1): void => {
      const ps = packetizeH264(u, 1000);
      ps.forEach((payload, i) => {
        const s = seq++;
        if (i !== drop) rtp.send(buildRtpPacket({ payloadType: 96, marker: i === ps.length - 1, sequenceNumber: s, timestamp: ts, ssrc: 0xabcdef01, payload }), rx.localPort, '127.0.0.1');
      });
    };
    send([nal(5, 3000)], 0);
    send([nal(1, 3000)], 6000, 1); // its middle fragment lost
    send([nal(1, 500)], 12000); // a P-frame referring to the lost one
    await sleep(120);
    send([nal(5, 2000)], 18000);
    await sleep(80);
    assert.deepEqual(got.map((u) => [u.timestamp, u.keyframe]), [[0, true], [18000, true]]);
    assert.deepEqual(plis, [{ kind: 'pli', senderSsrc: rx.ssrc, mediaSsrc: 0xabcdef01 }]);
    const s = await rx.stop();
    assert.deepEqual([s.received.lost, s.received.droppedFrames, s.plisSent], [1, 2, 1]);
  });

  /** Two sessions through a UDP relay on 127.0.0.1 that forwards RTCP both ways and drops the A→B RTP packets `drop` says. */
  async function relayed(drop: (seq: number, n: number) => boolean, feedback = { nack: true, pli: true, fir: true }): Promise<{ a: VideoSession; b: VideoSession; dropped: number[] }> {
    const a = new VideoSession({ rtcpIntervalMs: 60_000 });
    const b = new VideoSession({ rtcpIntervalMs: 60_000 });
    open.push(a, b);
    await a.bind();
    await b.bind();
    const sock = async (): Promise<dgram.Socket> => { const x = dgram.createSocket('udp4'); open.push(x); x.bind(0, '127.0.0.1'); await once(x, 'listening'); return x; };
    const [toBRtp, toBRtcp, toARtp, toARtcp] = [await sock(), await sock(), await sock(), await sock()];
    const dropped: number[] = [];
    let n = 0;
    toBRtp.on('message', (m) => {
      const seq = m.readUInt16BE(2);
      if (drop(seq, n++)) { dropped.push(seq); return; }
      toBRtp.send(m, b.localPort, '127.0.0.1');
    });
    toBRtcp.on('message', (m) => toBRtcp.send(m, b.localPort + 1, '127.0.0.1'));
    toARtp.on('message', (m) => toARtp.send(m, a.localPort, '127.0.0.1'));
    toARtcp.on('message', (m) => toARtcp.send(m, a.localPort + 1, '127.0.0.1'));
    a.start({ remoteIp: '127.0.0.1', remotePort: toBRtp.address().port, remoteRtcpPort: toBRtcp.address().port, payloadType: 96, feedback });
    b.start({ remoteIp: '127.0.0.1', remotePort: toARtp.address().port, remoteRtcpPort: toARtcp.address().port, payloadType: 96, feedback });
    return { a, b, dropped };
  }

  it('RFC 4585 §6.2.1: a lost packet is NACKed and sent again from the history; the frame arrives whole, no PLI', async () => {
    let first = true;
    // the 2nd packet (a middle fragment of the keyframe) is lost once; its retransmission passes
    const { a, b, dropped } = await relayed((_seq, n) => { if (n === 1 && first) { first = false; return true; } return false; });
    const got: AccessUnit[] = [];
    b.on('accessUnit', (u) => got.push(u));
    const units = [[nal(5, 4000)], [nal(1, 900)], [nal(1, 900)]];
    for (const [i, u] of units.entries()) a.sendAccessUnit(u, (i * 1000) / 15);
    for (let i = 0; i < 50 && got.length < 3; i++) await sleep(20);
    assert.equal(dropped.length, 1);
    assert.deepEqual(got.map((u) => u.nals), units);
    const sa = await a.stop();
    const sb = await b.stop();
    assert.deepEqual([sb.nacksSent, sb.nackedPackets, sb.recoveredPackets, sb.plisSent, sb.received.lost, sb.received.droppedFrames], [1, 1, 1, 0, 0, 0]);
    assert.deepEqual([sa.nacksReceived, sa.retransmittedPackets], [1, 1]);
  });

  it('a packet lost again when resent is asked for twice, then given up: the frame is dropped and a PLI asks for a keyframe', async () => {
    let lostSeq: number | undefined;
    const { a, b } = await relayed((seq, n) => { if (n === 3) lostSeq = seq; return seq === lostSeq; });
    const got: AccessUnit[] = [];
    b.on('accessUnit', (u) => got.push(u));
    const asked = once(a, 'keyframeRequested');
    a.sendAccessUnit([nal(5, 2000)], 0);
    a.sendAccessUnit([nal(1, 2000)], 66); // packets 3-4 (of 2 each): its second one is lost for good
    a.sendAccessUnit([nal(1, 500)], 133);
    await asked;
    a.sendAccessUnit([nal(5, 500)], 200);
    for (let i = 0; i < 50 && got.length < 2; i++) await sleep(20);
    assert.deepEqual(got.map((u) => u.keyframe), [true, true]);
    const sb = await b.stop();
    const sa = await a.stop();
    assert.deepEqual([sb.nackedPackets, sb.recoveredPackets, sb.plisSent, sa.plisReceived, sa.retransmittedPackets], [2, 0, 1, 1, 2]);
  });

  it('RFC 5104 §4.3.1: a remote that accepts only FIR gets FIRs, with a new Seq nr each; a FIR reaches the sender as keyframeRequested', async () => {
    const { a, b } = await relayed(() => false, { nack: false, pli: false, fir: true });
    a.sendAccessUnit([nal(5, 100)], 0); // b hears a's SSRC (a keyframe: nothing to ask for yet)
    await sleep(50);
    const asked = once(a, 'keyframeRequested');
    b.requestKeyframe();
    await asked;
    await sleep(MIN_REPEAT_MS);
    const again = once(a, 'keyframeRequested');
    b.requestKeyframe();
    await again;
    const sa = await a.stop();
    const sb = await b.stop();
    assert.deepEqual([sb.firsSent, sb.plisSent, sa.firsReceived, sa.plisReceived], [2, 0, 2, 0]);
  });
});
