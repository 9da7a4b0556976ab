// Two TV agents in an H.264 video call through tvphone, their video through a lossy relay: agent A's SIP goes to
// the server through a TCP hop of the test that rewrites the m=video port of each SDP body (A's own to a relay
// port pair that forwards to A, the peer's to one that forwards to B; Content-Length fixed), so both video streams
// cross a UDP relay on 127.0.0.1 that drops 5 % of the RTP packets (every 20th of each leg) and forwards all RTCP. The NACKs
// (RFC 4585 §6.2.1) the agents negotiated bring the lost packets back: each recording holds the frames sent and
// matches testsrc (PSNR > 30 dB), and the figures at hang-up show the packets recovered. Through the same relay
// without loss, a PLI and a FIR sent to an agent get a keyframe from it at once.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { TvAgent, type TvAgentOptions } from '../../../src/terminal/tv-agent.ts';
import { DEFAULT_VIDEO_FORMAT } from '../../../src/media/ffmpeg.ts';
import { buildRtcpCompound } from '../../../src/media/rtcp.ts';
import { parseRtpPacket } from '../../../src/media/rtp-packet.ts';
import { sleep, waitFor } from '../../helpers/tv-events.ts';
import type { TestServer } from '../../helpers/test-server.ts';
import { startDefaultProfileServer } from '../../helpers/default-profile-server.ts';
import { bestPsnr, framesOf, haveFfmpeg } from '../../helpers/video.ts';
import { needPeers } from '../../helpers/peers.ts';

const { fps } = DEFAULT_VIDEO_FORMAT;
const LOSS = 0.05;

/** One side of the relay: an even RTP port and RTCP on +1, forwarding to `to` (set once the SDP names it). */
interface RelayLeg { rtp: dgram.Socket; rtcp: dgram.Socket; port: number; to: number | null; dropped: number; passed: number }

async function bindPair(): Promise<{ rtp: dgram.Socket; rtcp: dgram.Socket; port: number }> {
  for (let i = 0; i < 40; i++) {
    const rtp = dgram.createSocket('udp4');
    rtp.bind(0, '127.0.0.1');
    await once(rtp, 'listening');
    const port = rtp.address().port;
    if (port % 2 === 0 && port < 65535) {
      const rtcp = dgram.createSocket('udp4');
      const ok = await new Promise<boolean>((resolve) => {
        rtcp.once('error', () => resolve(false));
        rtcp.bind(port + 1, '127.0.0.1', () => resolve(true));
      });
      if (ok) return { rtp, rtcp, port };
      rtcp.close();
    }
    rtp.close();
  }
  throw new Error('no even/odd UDP port pair on 127.0.0.1');
}

/**
 * A TCP hop for SIP between agent A and the server: messages framed by Content-Length (CRLF keep-alives passed
 * as they are), the m=video port of a body rewritten by `rewrite`.
 */
function sipHop(serverPort: number, rewrite: (body: string, fromA: boolean) => string): Promise<net.Server> {
  const frame = (fromA: boolean, out: net.Socket) => {
    let buf = Buffer.alloc(0);
    return (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      for (let n = 0; n < 1000; n++) {
        let lead = 0;
        while (buf[lead] === 0x0d || buf[lead] === 0x0a) lead++;
        if (lead > 0) { out.write(buf.subarray(0, lead)); buf = buf.subarray(lead); }
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const len = Number(/^(?:content-length|l)\s*:\s*(\d+)/im.exec(head)?.[1] ?? '0');
        if (buf.length < end + 4 + len) return;
        let body = buf.subarray(end + 4, end + 4 + len).toString('latin1');
        buf = buf.subarray(end + 4 + len);
        body = len > 0 ? rewrite(body, fromA) : body;
        const newHead = head.replace(/^(content-length|l)(\s*:\s*)\d+/im, (_m, k: string, sep: string) => `${k}${sep}${Buffer.byteLength(body, 'latin1')}`);
        out.write(Buffer.from(`${newHead}\r\n\r\n${body}`, 'latin1'));
      }
    };
  };
  const server = net.createServer((a) => {
    const s = net.connect(serverPort, '127.0.0.1');
    a.on('data', frame(true, s));
    s.on('data', frame(false, a));
    const close = (): void => { a.destroy(); s.destroy(); };
    a.on('close', close);
    s.on('close', close);
    a.on('error', close);
    s.on('error', close);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('tvphone tv: an H.264 video call through a relay dropping 5 % of the RTP (integration, ffmpeg)', function () {
  this.timeout(60_000);
  let srv: TestServer;
  let dir: string;
  const agents: TvAgent[] = [];
  const closers: Array<() => void> = [];

  before(function () { needPeers(this, haveFfmpeg, 'ffmpeg'); });
  beforeEach(async () => {
    srv = await startDefaultProfileServer();
    await srv.addUser('1001', 'pw1');
    await srv.addUser('1002', 'pw2');
    dir = mkdtempSync(join(tmpdir(), 'tvphone-video-loss-'));
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.stop();
    for (const c of closers.splice(0)) c();
    await srv?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function agent(user: string, o: Partial<TvAgentOptions>): TvAgent {
    const a = new TvAgent({
      user, password: user === '1001' ? 'pw1' : 'pw2', server: `sip:127.0.0.1:${srv.tcp.port}`, localIp: '127.0.0.1',
      downloadDir: join(dir, user), rtcpIntervalMs: 300, timerValues: { t1: 100, t2: 400, t4: 500 }, ...o,
    });
    agents.push(a);
    return a;
  }

  /**
   * A call between A and B, both sending testsrc, their video through the relay; `drop` says whether a leg drops the
   * RTP packet it has (passed + dropped) so far; `tap` sees each RTP packet a leg forwards.
   */
  async function relayedCall(drop: (n: number) => boolean, tap: (leg: 'toA' | 'toB', m: Buffer) => void = () => {}): Promise<{ a: TvAgent; b: TvAgent; legs: { toA: RelayLeg; toB: RelayLeg } }> {
    // toA forwards to A's real video port, toB to B's
    const legs: { toA: RelayLeg; toB: RelayLeg } = { toA: { ...(await bindPair()), to: null, dropped: 0, passed: 0 }, toB: { ...(await bindPair()), to: null, dropped: 0, passed: 0 } };
    for (const [name, leg] of [['toA', legs.toA], ['toB', legs.toB]] as const) {
      closers.push(() => { leg.rtp.close(); leg.rtcp.close(); });
      leg.rtp.on('message', (m) => {
        if (leg.to === null) return;
        if (drop(leg.passed + leg.dropped)) { leg.dropped++; return; }
        leg.passed++;
        tap(name, m);
        leg.rtp.send(m, leg.to, '127.0.0.1');
      });
      leg.rtcp.on('message', (m) => { if (leg.to !== null) leg.rtcp.send(m, leg.to + 1, '127.0.0.1'); });
    }
    const hop = await sipHop(srv.tcp.port, (body, fromA) => body.replace(/^m=video (\d+) /m, (_m, p: string) => {
      // A's SDP: the peer is to send to toA; the peer's SDP: A is to send to toB
      const leg = fromA ? legs.toA : legs.toB;
      leg.to = Number(p);
      return `m=video ${leg.port} `;
    }));
    closers.push(() => hop.close());
    const hopPort = (hop.address() as net.AddressInfo).port;
    // the server's URI names the domain; the hop is only where A's SIP goes (an outbound proxy that is no SIP node)
    const a = agent('1001', { outboundProxy: `sip:127.0.0.1:${hopPort};transport=tcp`, video: 'testsrc', recordVideo: join(dir, 'a.mkv') });
    const b = agent('1002', { autoAnswer: true, video: 'testsrc', recordVideo: join(dir, 'b.mkv') });
    await a.start();
    await b.start();
    const aVideo = waitFor(a, 'video-started');
    const bVideo = waitFor(b, 'video-started');
    assert.equal(await a.dial('1002'), true);
    const [va, vb] = [await aVideo, await bVideo];
    assert.deepEqual([va.remoteRtp, vb.remoteRtp], [`127.0.0.1:${legs.toB.port}`, `127.0.0.1:${legs.toA.port}`], 'both video streams go through the relay');
    assert.deepEqual([va.feedback.nack, vb.feedback.nack], [true, true]);
    return { a, b, legs };
  }

  it('NACK recovers the lost packets both ways: the recordings hold the frames sent and match testsrc (PSNR > 30 dB)', async () => {
    // each leg drops 5 % of the RTP it forwards: every 20th packet of its own (a draw from one shared random sequence
    // depended on how the two legs' packets interleaved, and a loaded run got 1 drop in 80)
    const { a, b, legs } = await relayedCall((n) => n % Math.round(1 / LOSS) === Math.round(1 / LOSS) / 2);
    await sleep(4000);
    const aEnded = waitFor(a, 'call-ended');
    const bEnded = waitFor(b, 'call-ended');
    await a.hangup();
    const ea = (await aEnded).video;
    const eb = (await bEnded).video;
    assert.ok(ea && eb);
    for (const [who, rx, tx, leg, file] of [['A', ea, eb, legs.toA, join(dir, 'a.mkv')], ['B', eb, ea, legs.toB, join(dir, 'b.mkv')]] as const) {
      const figures = `${who}: relay ${leg.passed} passed, ${leg.dropped} dropped; NACKs ${rx.nacksSent} naming ${rx.nackedPackets}, ${tx.retransmittedPackets} resent, ${rx.recoveredPackets} recovered; PLIs ${rx.plisSent}; lost ${rx.received.lost}; frames ${rx.received.frames} of ${tx.sent.frames} (${rx.received.droppedFrames} dropped)`;
      console.log(`      ${figures}`);
      assert.ok(leg.dropped >= 2, `too few drops to say anything: ${figures}`);
      assert.ok(rx.nacksSent > 0 && rx.recoveredPackets > 0 && tx.nacksReceived > 0 && tx.retransmittedPackets > 0, figures);
      assert.ok(rx.recoveredPackets >= 0.8 * leg.dropped - 2, figures);
      assert.ok(tx.sent.frames >= fps, figures);
      const frames = framesOf(file);
      assert.ok(frames >= 0.85 * tx.sent.frames, `${who} recorded ${frames} frames of ${tx.sent.frames} (${figures})`);
      const { best, offset, far } = bestPsnr(file);
      console.log(`      ${who}: recorded ${frames} frames, PSNR ${best.toFixed(1)} dB (offset ${offset}), 5 off ${far.toFixed(1)} dB`);
      assert.ok(best > 30, `${who}: PSNR ${best} dB`);
      assert.ok(far < best - 6, `${who}: 5 frames off gives ${far} dB, aligned ${best} dB`);
    }
  });

  it('a PLI, then a FIR, to an agent gets a keyframe from it within 1.5 s (RFC 4585 §6.3.1, RFC 5104 §4.3.1), not at its encoder\'s own next one, 10 s on', async () => {
    // B's keyframes as they cross the relay towards A: an IDR, or the STAP-A of SPS and PPS before one, or an FU-A of
    // an IDR's first fragment (RFC 6184 §5.6-5.8), one a timestamp
    const keyframes: number[] = [];
    let bSsrc: number | undefined;
    let lastTs: number | undefined;
    const { a, b, legs } = await relayedCall(() => false, (leg, m) => {
      const p = leg === 'toA' ? parseRtpPacket(m) : undefined;
      if (!p || p.payload.length < 2) return;
      bSsrc = p.ssrc;
      const t = p.payload[0] & 0x1f;
      const key = t === 5 || t === 24 || (t === 28 && (p.payload[1] & 0x80) !== 0 && (p.payload[1] & 0x1f) === 5);
      if (key && p.timestamp !== lastTs) { lastTs = p.timestamp; keyframes.push(performance.now()); }
    });
    for (let i = 0; i < 1000 && keyframes.length === 0; i++) await sleep(20);
    await sleep(1000);
    const poke = dgram.createSocket('udp4');
    closers.push(() => poke.close());
    poke.bind(0, '127.0.0.1');
    await once(poke, 'listening');
    /** Sends `rtcp` to B's RTCP port; how long until B's next keyframe crossed the relay (Infinity: not within 2 s). */
    const ask = async (rtcp: Uint8Array): Promise<number> => {
      const t = performance.now();
      poke.send(rtcp, (legs.toB.to as number) + 1, '127.0.0.1');
      for (let i = 0; i < 200; i++) {
        const k = keyframes.find((at) => at >= t);
        if (k !== undefined) return k - t;
        await sleep(10);
      }
      return Infinity;
    };
    const before = b.videoStats();
    assert.ok(before && bSsrc !== undefined);
    const pliMs = await ask(buildRtcpCompound({ ssrc: 0x7e57, cname: 'test@127.0.0.1', reports: [], pli: { mediaSsrc: bSsrc } }));
    await sleep(600);
    const firMs = await ask(buildRtcpCompound({ ssrc: 0x7e57, cname: 'test@127.0.0.1', reports: [], fir: { mediaSsrc: bSsrc, seq: 1 } }));
    const after = b.videoStats();
    assert.ok(after);
    const aEnded = waitFor(a, 'call-ended');
    await a.hangup();
    const ea = (await aEnded).video;
    console.log(`      B: PLI → keyframe at the relay in ${pliMs.toFixed(0)} ms, FIR in ${firMs.toFixed(0)} ms; keyframes on request ${after.keyframesOnRequest - before.keyframesOnRequest} of ${after.sent.keyframes - before.sent.keyframes}`);
    assert.ok(pliMs <= 1500 && firMs <= 1500, `PLI ${pliMs} ms, FIR ${firMs} ms`);
    const d = (k: (s: NonNullable<typeof after>) => number): number => k(after) - k(before);
    assert.deepEqual([d((s) => s.plisReceived), d((s) => s.firsReceived), d((s) => s.keyframesOnRequest), d((s) => s.sent.keyframes)], [1, 1, 2, 2]);
    assert.equal(ea?.received.lost, 0, 'A received B\'s stream whole across the switches');
  });
});
