// Two video sessions, or a session and raw sockets, on 127.0.0.1 (real UDP: media/ is node:dgram).
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { packetizeH264, type AccessUnit } from '../../../src/media/h264-rtp.ts';
import { buildRtpPacket } from '../../../src/media/rtp-packet.ts';
import { parseRtcpCompound } from '../../../src/media/rtcp.ts';
import { VideoSession } from '../../../src/media/video-session.ts';

const nal = (type: number, len: number): Uint8Array => { const n = new Uint8Array(len).fill(0x33); n[0] = 0x60 | type; return n; };
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
});
