import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { MediaSession } from '../../../src/media/rtp-session.ts';
import { PcmRecorder, PcmSource, ToneSource } from '../../../src/media/audio-io.ts';
import { dominantFrequency, rms } from '../../../src/media/goertzel.ts';
import { LocalMedia } from '../../../src/media/sdp.ts';
import { parseRtpPacket } from '../../../src/media/rtp-packet.ts';
import { generateTone } from '../../../src/media/tone.ts';

describe('media/rtp-session on 127.0.0.1', function () {
  this.timeout(15000);
  let sessions: MediaSession[] = [];
  let sockets: dgram.Socket[] = [];
  afterEach(async () => {
    await Promise.all(sessions.map((s) => s.stop()));
    await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
    sessions = [];
    sockets = [];
  });
  const session = (opts: ConstructorParameters<typeof MediaSession>[0] = {}): MediaSession => {
    const s = new MediaSession({ localIp: '127.0.0.1', ...opts });
    sessions.push(s);
    return s;
  };

  it('binds an even RTP port with RTCP on the next port', async () => {
    const s = session();
    const port = await s.bind('127.0.0.1', 0);
    assert.equal(port % 2, 0);
    assert.equal(s.localPort, port);
    assert.equal(s.localRtcpPort, port + 1);
  });

  it('exchanges a 1000 Hz tone one way and 440 Hz the other for ~1 s; frequencies arrive within 1 Hz, RTCP shows 0 loss', async () => {
    const a = session({ rtcpIntervalMs: 300 });
    const b = session({ rtcpIntervalMs: 300 });
    await a.bind();
    await b.bind();
    // Negotiate with SDP, as the agent will: A offers, B answers.
    const la = new LocalMedia({ ip: a.localIp, port: a.localPort });
    const lb = new LocalMedia({ ip: b.localIp, port: b.localPort });
    const answer = lb.createAnswer(la.createOffer());
    const accepted = la.acceptAnswer(answer.sdp);
    assert.equal(accepted.payloadType, 0);
    const recA = new PcmRecorder();
    const recB = new PcmRecorder();
    a.start({ remoteIp: accepted.remote.ip, remotePort: accepted.remote.port, payloadType: accepted.payloadType, telephoneEventPayloadType: accepted.telephoneEventPayloadType, source: new ToneSource({ frequency: 1000, amplitude: 0.5 }), sink: recA });
    b.start({ remoteIp: answer.remote.ip, remotePort: answer.remote.port, payloadType: answer.payloadType, telephoneEventPayloadType: answer.telephoneEventPayloadType, source: new ToneSource({ frequency: 440, amplitude: 0.5 }), sink: recB });
    await sleep(1200);
    const byeAtB = new Promise<void>((resolve) => b.once('bye', () => resolve()));
    const statsA = await a.stop();
    await Promise.race([byeAtB, sleep(1000)]); // the BYE datagram is delivered asynchronously
    const statsB = await b.stop();

    assert.ok(recB.length >= 8000 * 0.9, `B recorded ${recB.length} samples`);
    assert.ok(recA.length >= 8000 * 0.9, `A recorded ${recA.length} samples`);
    const heardByB = recB.samples().subarray(800, 8800); // skip the first 100 ms
    const heardByA = recA.samples().subarray(800, 8800);
    assert.ok(Math.abs(dominantFrequency(heardByB) - 1000) < 1, `B heard ${dominantFrequency(heardByB)} Hz`);
    assert.ok(Math.abs(dominantFrequency(heardByA) - 440) < 1, `A heard ${dominantFrequency(heardByA)} Hz`);
    assert.ok(rms(heardByB) > 10000, 'the tone arrives at its level (no gaps)');

    for (const [name, s] of [['A', statsA], ['B', statsB]] as const) {
      assert.ok(s.sent.packets >= 55 && s.sent.packets <= 65, `${name} sent ${s.sent.packets} packets in ~1.2 s`);
      assert.ok(s.received.packets >= 50, `${name} received ${s.received.packets}`);
      assert.equal(s.received.lost, 0);
      assert.equal(s.received.late, 0);
      assert.ok(s.remote, `${name} got RTCP reports from the peer`);
      assert.equal(s.remote.cumulativeLost, 0);
      assert.equal(s.remote.fractionLost, 0);
      assert.ok(s.remote.jitterMs < 20);
      assert.ok(s.remote.rttMs !== undefined && s.remote.rttMs < 100, `${name} RTT ${s.remote.rttMs}`);
    }
    assert.equal(statsB.remoteBye, true, 'A\'s stop() sent RTCP BYE');
  });

  it('sends RTP with correct headers: PT, SSRC, +1 sequence numbers, +160 timestamps, marker on the first packet', async () => {
    const sock = dgram.createSocket('udp4');
    sockets.push(sock);
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const got: NonNullable<ReturnType<typeof parseRtpPacket>>[] = [];
    sock.on('message', (m) => { const p = parseRtpPacket(m); if (p) got.push(p); });
    const s = session();
    await s.bind();
    s.start({ remoteIp: '127.0.0.1', remotePort: sock.address().port, payloadType: 8, source: new ToneSource({ frequency: 1000 }) });
    await sleep(300);
    await s.stop();
    assert.ok(got.length >= 10);
    assert.equal(got[0].marker, true);
    assert.equal(got[0].timestamp, s.sendClock.timestamp0);
    for (let i = 1; i < got.length; i++) {
      assert.equal(got[i].payloadType, 8);
      assert.equal(got[i].ssrc, s.ssrc);
      assert.equal(got[i].marker, false);
      assert.equal(got[i].sequenceNumber, (got[i - 1].sequenceNumber + 1) & 0xffff);
      assert.equal(got[i].timestamp, (got[i - 1].timestamp + 160) >>> 0);
      assert.equal(got[i].payload.length, 160);
    }
  });

  it('paces by absolute time: after 1 s the packet count matches the clock (no drift)', async () => {
    const sock = dgram.createSocket('udp4');
    sockets.push(sock);
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    let n = 0;
    sock.on('message', () => { n++; });
    const s = session();
    await s.bind();
    const t0 = performance.now();
    s.start({ remoteIp: '127.0.0.1', remotePort: sock.address().port, payloadType: 0 });
    await sleep(1000);
    const elapsed = performance.now() - t0;
    await s.stop();
    const expected = Math.floor(elapsed / 20) + 1;
    assert.ok(Math.abs(n - expected) <= 2, `${n} packets for ${elapsed.toFixed(0)} ms`);
  });

  it('carries DTMF as RFC 4733 events and reports each digit once', async () => {
    const a = session();
    const b = session();
    await a.bind();
    await b.bind();
    const digits: string[] = [];
    b.on('dtmf', (d) => digits.push(d));
    a.start({ remoteIp: '127.0.0.1', remotePort: b.localPort, payloadType: 0, telephoneEventPayloadType: 101 });
    b.start({ remoteIp: '127.0.0.1', remotePort: a.localPort, payloadType: 0, telephoneEventPayloadType: 101 });
    a.sendDtmf('1#9');
    await sleep(800);
    const sa = await a.stop();
    assert.deepEqual(digits, ['1', '#', '9']);
    assert.equal(sa.sent.dtmfPackets, 3 * 7);
    const sb = await b.stop();
    assert.equal(sb.received.lost, 0, 'DTMF packets share the sequence space without counting as loss');
  });

  it('stops sending on hold and resumes after', async () => {
    const a = session();
    const b = session();
    await a.bind();
    await b.bind();
    const rec = new PcmRecorder();
    a.start({ remoteIp: '127.0.0.1', remotePort: b.localPort, payloadType: 8, source: new ToneSource({ frequency: 1000 }) });
    b.start({ remoteIp: '127.0.0.1', remotePort: a.localPort, payloadType: 8, sink: rec, direction: 'recvonly' });
    await sleep(200);
    a.hold(true);
    await sleep(50);
    const before = b.stats().received.packets;
    await sleep(300);
    assert.equal(b.stats().received.packets, before, 'no RTP while on hold');
    a.hold(false);
    await sleep(200);
    assert.ok(b.stats().received.packets > before + 5);
    assert.equal(a.direction, 'sendrecv');
  });

  it('accepts media only from the SDP address (symmetric RTP) and never throws on garbage', async () => {
    const s = session();
    await s.bind();
    const rec = new PcmRecorder();
    s.start({ remoteIp: '127.0.0.2', remotePort: 9, payloadType: 0, sink: rec, direction: 'recvonly' });
    const sock = dgram.createSocket('udp4');
    sockets.push(sock);
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const send = (b: Uint8Array, port: number): Promise<void> => new Promise((r) => sock.send(b, port, '127.0.0.1', () => r()));
    await send(new Uint8Array([0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff]), s.localPort);
    await send(new TextEncoder().encode('garbage'), s.localPort);
    await send(new Uint8Array([0x80, 0xc8, 0xff]), s.localRtcpPort);
    await sleep(100);
    const st = s.stats();
    assert.equal(st.received.packets, 0);
    assert.equal(st.received.discarded, 3);
  });

  it('plays a PCM source once, then reports sourceEnded', async () => {
    const a = session();
    const b = session();
    await a.bind();
    await b.bind();
    let ended = false;
    a.on('sourceEnded', () => { ended = true; });
    const rec = new PcmRecorder();
    a.start({ remoteIp: '127.0.0.1', remotePort: b.localPort, payloadType: 0, source: new PcmSource(generateTone({ frequency: 700, samples: 1600 })) });
    b.start({ remoteIp: '127.0.0.1', remotePort: a.localPort, payloadType: 0, sink: rec });
    await sleep(500);
    assert.equal(ended, true);
    assert.ok(Math.abs(dominantFrequency(rec.samples().subarray(0, rec.length)) - 700) < 2);
  });

  it('stop() is idempotent and returns the same stats', async () => {
    const s = session();
    await s.bind();
    const [x, y] = await Promise.all([s.stop(), s.stop()]);
    assert.equal(x, y);
  });
});
