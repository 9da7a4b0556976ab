// The video part of npm run bench:media: N concurrent 720p30 H.264 streams packetised and depacketised by one process,
// ffmpeg's own encode and decode excluded.
//
// Setup: ffmpeg encodes 2 s of testsrc2 at 1280×720, 30 fps, 2.5 Mbit/s, a keyframe a second (libx264, Annex B with
// access unit delimiters), once before the steps; the access units are then sent in a loop. N VideoSessions (the TV
// agent's video RTP: RFC 6184 packetisation, the send history for NACKs, the receive path with its reorder window,
// depacketiser, RTCP) in pairs on 127.0.0.1: each sends one stream to its partner and receives one, so N streams are
// sent and N received. Frame n of a stream is due at t0 + n × 33.3 ms; streams start at random phases within a frame.
//
// "Late": a frame completed (its access unit reassembled) more than one frame interval after it was due. A step
// passes if fewer than 0.1 % of the frames are late and no packet or frame is lost.
//
// Reference, in the same run: the same packets (the same sizes, 12-byte RTP header and the same payloads) sent by N
// raw node:dgram sockets on the same schedule, the receiver reading only the header. CPU per stream of the sessions ÷
// CPU per stream of the reference = what our video RTP costs over bare sockets.
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { runFfmpeg } from '../src/media/ffmpeg.ts';
import { NAL_AUD, nalType, packetizeH264, splitAnnexB } from '../src/media/h264-rtp.ts';
import { VideoSession } from '../src/media/video-session.ts';

const FPS = 30;
const FRAME_MS = 1000 / FPS;
const MTU = 1200;

export interface VideoStepResult {
  streams: number;
  frames: number;
  late: number;
  lostPackets: number;
  droppedFrames: number;
  /** bits per second of RTP payload, all streams, one way */
  mbps: number;
  cpuPctTotal: number;
  cpuPctPerStream: number;
}

/** The access units (NAL units without their AUDs) of 2 s of 720p30 testsrc2, encoded once by ffmpeg. */
export async function prepareAccessUnits(): Promise<Uint8Array[][]> {
  const es = await runFfmpeg('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=${FPS}`, '-t', '2',
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-b:v', '2500k', '-maxrate', '2500k', '-bufsize', '2500k',
    '-g', String(FPS), '-pix_fmt', 'yuv420p', '-x264-params', 'aud=1', '-f', 'h264', '-'], 64 << 20, 60_000);
  const units: Uint8Array[][] = [];
  for (const nal of splitAnnexB(es).nals) {
    if (nalType(nal) === NAL_AUD) units.push([]);
    else units.at(-1)?.push(nal);
  }
  return units.filter((u) => u.length > 0);
}

async function measure(o: { streams: number; seconds: number; warmupMs: number; counting: (on: boolean) => void; lost: () => { packets: number; frames: number };
  octets: () => number; stop: () => Promise<void>; tally: () => { frames: number; late: number } }): Promise<VideoStepResult> {
  await sleep(o.warmupMs);
  const lost0 = o.lost();
  const oct0 = o.octets();
  o.counting(true);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(o.seconds * 1000);
  const cpu = process.cpuUsage(c0);
  const wallUs = (performance.now() - t0) * 1000;
  o.counting(false);
  const lost = o.lost();
  const octets = o.octets() - oct0;
  await o.stop();
  const pct = ((cpu.user + cpu.system) / wallUs) * 100;
  const t = o.tally();
  return {
    streams: o.streams, frames: t.frames, late: t.late, lostPackets: lost.packets - lost0.packets, droppedFrames: lost.frames - lost0.frames,
    mbps: (octets * 8) / (wallUs / 1e6) / 1e6, cpuPctTotal: pct, cpuPctPerStream: pct / o.streams,
  };
}

/** Calls `send(n)` for frame n of a stream at t0 + n × FRAME_MS until stopped; returns t0 and the stop. */
function schedule(send: (n: number) => void): { t0: number; stop: () => void } {
  const t0 = performance.now() + Math.random() * FRAME_MS;
  let n = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const tick = (): void => {
    if (stopped) return;
    while (t0 + n * FRAME_MS <= performance.now()) send(n++);
    timer = setTimeout(tick, Math.max(0, t0 + n * FRAME_MS - performance.now()));
  };
  timer = setTimeout(tick, Math.max(0, t0 - performance.now()));
  return { t0, stop: () => { stopped = true; clearTimeout(timer); } };
}

export async function videoSessionStep(units: Uint8Array[][], streams: number, seconds: number, warmupMs: number): Promise<VideoStepResult> {
  const sessions: VideoSession[] = [];
  for (let i = 0; i < streams; i++) {
    const s = new VideoSession({ localIp: '127.0.0.1', payloadMtu: MTU });
    await s.bind();
    sessions.push(s);
  }
  let counting = false;
  let frames = 0;
  let late = 0;
  const senders: Array<{ t0: number; stop: () => void }> = [];
  for (let i = 0; i < streams; i++) {
    const peer = sessions[i % 2 === 0 ? i + 1 : i - 1];
    sessions[i].start({ remoteIp: '127.0.0.1', remotePort: peer.localPort, payloadType: 96, feedback: { nack: true, pli: true } });
  }
  for (let i = 0; i < streams; i++) {
    const s = sessions[i];
    senders[i] = schedule((n) => s.sendAccessUnit(units[n % units.length], n * FRAME_MS));
  }
  for (let i = 0; i < streams; i++) {
    const sender = i % 2 === 0 ? i + 1 : i - 1;
    let k = 0; // the k-th access unit from the sender is its frame k (none is lost on loopback; losses are counted)
    sessions[i].on('accessUnit', () => {
      const due = senders[sender].t0 + k++ * FRAME_MS;
      if (!counting) return;
      frames++;
      if (performance.now() - due > FRAME_MS) late++;
    });
  }
  const all = (f: (s: VideoSession) => number): number => sessions.reduce((a, s) => a + f(s), 0);
  return measure({
    streams, seconds, warmupMs, counting: (on) => { counting = on; },
    lost: () => ({ packets: all((s) => s.stats().received.lost), frames: all((s) => s.stats().received.droppedFrames) }),
    octets: () => all((s) => s.stats().sent.octets),
    stop: async () => { senders.forEach((x) => x.stop()); await Promise.all(sessions.map((s) => s.stop())); },
    tally: () => ({ frames, late }),
  });
}

export async function videoReferenceStep(units: Uint8Array[][], streams: number, seconds: number, warmupMs: number): Promise<VideoStepResult> {
  // the same payloads, packetised once, each behind a 12-byte header
  const frames = units.map((u) => packetizeH264(u, MTU));
  const socks: dgram.Socket[] = [];
  for (let i = 0; i < streams; i++) {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    socks.push(s);
  }
  let counting = false;
  let got = 0;
  let late = 0;
  let octets = 0;
  const senders: Array<{ t0: number; stop: () => void }> = [];
  for (let i = 0; i < streams; i++) {
    const sender = i % 2 === 0 ? i + 1 : i - 1;
    socks[i].on('message', (m) => {
      if (!counting || (m[1] & 0x80) === 0) return; // a frame ends at the marker
      got++;
      const n = m.readUInt32BE(4); // the frame number, in the timestamp field
      if (performance.now() - (senders[sender].t0 + n * FRAME_MS) > FRAME_MS) late++;
    });
  }
  for (let i = 0; i < streams; i++) {
    const port = socks[i % 2 === 0 ? i + 1 : i - 1].address().port;
    let seq = 0;
    senders[i] = schedule((n) => {
      const payloads = frames[n % frames.length];
      payloads.forEach((p, j) => {
        const b = Buffer.allocUnsafe(12 + p.length); // a fresh packet, as each real one is
        b[0] = 0x80;
        b[1] = 96 | (j === payloads.length - 1 ? 0x80 : 0);
        b.writeUInt16BE(seq++ & 0xffff, 2);
        b.writeUInt32BE(n, 4);
        b.writeUInt32BE(0x1234 + i, 8);
        b.set(p, 12);
        socks[i].send(b, port, '127.0.0.1');
        octets += p.length;
      });
    });
  }
  return measure({
    streams, seconds, warmupMs, counting: (on) => { counting = on; }, lost: () => ({ packets: 0, frames: 0 }), octets: () => octets,
    stop: async () => { senders.forEach((x) => x.stop()); await Promise.all(socks.map((s) => new Promise<void>((r) => s.close(() => r())))); },
    tally: () => ({ frames: got, late }),
  });
}
