// Media capacity: how many concurrent G.711 20 ms streams one process can send AND receive.
// Run: npm run bench:media [-- --seconds 4 --max-streams 3000 --voicemail-calls 20,50,100 --video-streams 2,4,8,16,32
//      --only streams|voicemail|video]
//
// Setup: N MediaSessions in this process, in pairs on 127.0.0.1; each session sends one PCMU stream
// (a 1 kHz tone, encoded every frame) to its partner and receives one. So N streams are sent and N
// received. Streams start at random phases within one 20 ms frame, as real calls would.
//
// "Late" (printed with the results): a packet is late if it arrives more than 20 ms after the time
// its sender's absolute schedule said it was due (frame n of a stream is due at t0 + 20·n ms; same
// process, same clock). This counts both a late sender (event loop behind) and a slow receive path.
// A step passes if fewer than 0.1% of its packets are late and none are lost.
//
// Reference, measured in the same run: the same number of streams as raw node:dgram sockets sending
// pre-built 172-byte packets on the same absolute-time schedule, the receiver reading only the
// header's timestamp. CPU per stream of the sessions ÷ CPU per stream of the reference = the cost of
// our RTP stack (rtp.js build/parse, G.711, jitter buffer, statistics) over bare sockets.
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { MediaSession } from '../src/media/rtp-session.ts';
import { ToneSource } from '../src/media/audio-io.ts';
import { receiveReferenceStep, voicemailStep } from './media-voicemail.ts';
import { prepareAccessUnits, videoReferenceStep, videoSessionStep, type VideoStepResult } from './media-video.ts';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const SECONDS = arg('seconds', 4);
const WARMUP_MS = 1000;
const MAX_STREAMS = arg('max-streams', 3000);
const STEPS = [50, 100, 200, 400, 600, 800, 1000, 1400, 2000, 3000].filter((n) => n <= MAX_STREAMS);
const LATE_MS = 20;

interface StepResult { streams: number; packets: number; late: number; lost: number; maxLatenessMs: number; cpuPctPerStream: number; cpuPctTotal: number }

class Lateness {
  packets = 0;
  late = 0;
  max = 0;
  counting = false;
  add(lateness: number): void {
    if (!this.counting) return;
    this.packets++;
    if (lateness > LATE_MS) this.late++;
    if (lateness > this.max) this.max = lateness;
  }
}

async function measure(streams: number, run: () => Promise<void>, lat: Lateness, lost: () => number): Promise<StepResult> {
  await sleep(WARMUP_MS);
  const lost0 = lost();
  lat.counting = true;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(SECONDS * 1000);
  const cpu = process.cpuUsage(c0);
  const wall = (performance.now() - t0) * 1000;
  lat.counting = false;
  const lostN = lost() - lost0;
  await run();
  const pct = ((cpu.user + cpu.system) / wall) * 100;
  return { streams, packets: lat.packets, late: lat.late, lost: lostN, maxLatenessMs: lat.max, cpuPctPerStream: pct / streams, cpuPctTotal: pct };
}

async function sessionStep(streams: number): Promise<StepResult> {
  const lat = new Lateness();
  const sessions: MediaSession[] = [];
  for (let i = 0; i < streams; i++) {
    const s = new MediaSession({ localIp: '127.0.0.1', playoutDelayMs: 40 });
    await s.bind();
    sessions.push(s);
  }
  for (let i = 0; i < streams; i += 2) {
    const [a, b] = [sessions[i], sessions[i + 1]];
    for (const [rx, tx] of [[a, b], [b, a]] as const) {
      rx.on('rtp', (p) => {
        const clock = tx.sendClock;
        const due = clock.startedAtMs + (((p.timestamp - clock.timestamp0) >>> 0) / 160) * 20;
        lat.add(p.arrivalMs - due);
      });
    }
  }
  // random phases within one frame
  const order = sessions.map((s, i) => ({ s, i, at: Math.random() * 20 })).sort((x, y) => x.at - y.at);
  const t0 = performance.now();
  for (const { s, i, at } of order) {
    const wait = t0 + at - performance.now();
    if (wait > 1) await sleep(wait);
    const peer = sessions[i % 2 === 0 ? i + 1 : i - 1];
    s.start({ remoteIp: '127.0.0.1', remotePort: peer.localPort, payloadType: 0, source: new ToneSource({ frequency: 1000 }) });
  }
  const lostNow = (): number => sessions.reduce((n, s) => n + s.stats().received.lost, 0);
  return measure(streams, async () => { await Promise.all(sessions.map((s) => s.stop())); }, lat, lostNow);
}

async function referenceStep(streams: number): Promise<StepResult> {
  const lat = new Lateness();
  const socks: dgram.Socket[] = [];
  for (let i = 0; i < streams; i++) {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    socks.push(s);
  }
  const timers: NodeJS.Timeout[] = [];
  let stopped = false;
  const starts: number[] = [];
  const pkt = Buffer.alloc(172, 0xff);
  pkt[0] = 0x80;
  for (let i = 0; i < streams; i++) {
    const peer = socks[i % 2 === 0 ? i + 1 : i - 1];
    const port = peer.address().port;
    const me = i;
    socks[i].on('message', (m) => {
      const sender = i % 2 === 0 ? i + 1 : i - 1;
      const n = m.readUInt32BE(4); // frame index in the timestamp field
      lat.add(performance.now() - (starts[sender] + n * 20));
    });
    starts[me] = performance.now() + Math.random() * 20;
    let n = 0;
    const tick = (): void => {
      if (stopped) return;
      const now = performance.now();
      while (starts[me] + n * 20 <= now) {
        const b = Buffer.from(pkt); // a fresh copy, as each real packet would be
        b.writeUInt16BE(n & 0xffff, 2);
        b.writeUInt32BE(n, 4);
        socks[me].send(b, port, '127.0.0.1');
        n++;
      }
      timers[me] = setTimeout(tick, Math.max(0, starts[me] + n * 20 - performance.now()));
    };
    timers[me] = setTimeout(tick, Math.max(0, starts[me] - performance.now()));
  }
  return measure(streams, async () => {
    stopped = true;
    timers.forEach((t) => clearTimeout(t));
    await Promise.all(socks.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }, lat, () => 0);
}

function line(kind: string, r: StepResult): string {
  const latePct = r.packets ? (100 * r.late) / r.packets : 0;
  return `${kind.padEnd(10)} ${String(r.streams).padStart(6)} ${String(r.packets).padStart(9)} ${latePct.toFixed(3).padStart(7)}% ${String(r.lost).padStart(6)} ${r.maxLatenessMs.toFixed(1).padStart(9)} ${r.cpuPctTotal.toFixed(1).padStart(8)}% ${r.cpuPctPerStream.toFixed(3).padStart(10)}%`;
}

const ONLY = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : null;
const VOICEMAIL_CALLS = (process.argv.includes('--voicemail-calls') ? process.argv[process.argv.indexOf('--voicemail-calls') + 1] : '20,50,100')
  .split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);

/** Voicemail part (bench/media-voicemail.ts): N calls recorded by one MediaServer, against bare RTP receive. */
async function voicemailPart(): Promise<void> {
  console.log(`voicemail: N calls recorded by one MediaServer (SQLite store, 2 s checkpoints), ${SECONDS} s after ${WARMUP_MS} ms; pass = 0 lost, 0 late, all committed`);
  console.log('kind        calls  recorded s  committed  lost  late  CPU(1 core)  CPU/call');
  for (const n of VOICEMAIL_CALLS) {
    const v = await voicemailStep(n, SECONDS, WARMUP_MS);
    console.log(`voicemail  ${String(n).padStart(6)} ${v.recordedSeconds.toFixed(1).padStart(11)} ${String(v.committed).padStart(10)} ${String(v.lost).padStart(5)} ${String(v.late).padStart(5)} ${v.cpuPctTotal.toFixed(1).padStart(11)}% ${v.cpuPctPerCall.toFixed(3).padStart(8)}%`);
    const r = await receiveReferenceStep(n, SECONDS, WARMUP_MS);
    console.log(`rtp-recv   ${String(n).padStart(6)} ${''.padStart(11)} ${''.padStart(10)} ${''.padStart(5)} ${''.padStart(5)} ${r.cpuPctTotal.toFixed(1).padStart(11)}% ${r.cpuPctPerStream.toFixed(3).padStart(8)}%`);
    console.log(`           cost ratio: CPU per recorded call-second / CPU per bare received stream-second: ${(v.cpuPctPerCall / r.cpuPctPerStream).toFixed(2)}×`);
    if (v.lost > 0 || v.late > 0 || v.committed !== n) { console.log(`FAIL at ${n} calls`); break; }
  }
}

const VIDEO_STREAMS = (process.argv.includes('--video-streams') ? process.argv[process.argv.indexOf('--video-streams') + 1] : '2,4,8,16,32')
  .split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0 && n % 2 === 0);

function videoLine(kind: string, r: VideoStepResult): string {
  const latePct = r.frames ? (100 * r.late) / r.frames : 0;
  return `${kind.padEnd(10)} ${String(r.streams).padStart(6)} ${String(r.frames).padStart(7)} ${latePct.toFixed(3).padStart(7)}% ${String(r.lostPackets).padStart(5)} ${String(r.droppedFrames).padStart(7)} ${r.mbps.toFixed(1).padStart(7)} ${r.cpuPctTotal.toFixed(1).padStart(8)}% ${r.cpuPctPerStream.toFixed(3).padStart(10)}%`;
}

/** Video part (bench/media-video.ts): N 720p30 H.264 streams through VideoSessions, against bare sockets. */
async function videoPart(): Promise<void> {
  const units = await prepareAccessUnits();
  const bytes = units.reduce((n, u) => n + u.reduce((m, x) => m + x.length, 0), 0);
  console.log(`video: 720p30 H.264 (ffmpeg testsrc2, ${units.length} access units, ${((bytes * 8 * 30) / units.length / 1e6).toFixed(2)} Mbit/s) sent and received per stream, ${SECONDS} s after ${WARMUP_MS} ms; pass = late < 0.1% (a frame complete > 33 ms after due), 0 lost`);
  console.log('kind        streams  frames    late  lost dropped  Mbit/s  CPU(1 core)  CPU/stream');
  let best = 0;
  for (const n of VIDEO_STREAMS) {
    const s = await videoSessionStep(units, n, SECONDS, WARMUP_MS);
    console.log(videoLine('session', s));
    const ref = await videoReferenceStep(units, n, SECONDS, WARMUP_MS);
    console.log(videoLine('reference', ref));
    console.log(`           cost ratio session/reference CPU per stream: ${(s.cpuPctPerStream / ref.cpuPctPerStream).toFixed(2)}×`);
    const pass = s.frames > 0 && s.late / s.frames < 0.001 && s.lostPackets === 0 && s.droppedFrames === 0;
    if (!pass) { console.log(`FAIL at ${n} streams`); break; }
    best = n;
  }
  console.log(`RESULT: ${best} concurrent 720p30 H.264 streams sent and received with < 0.1% late frames and none lost (last passing step)`);
}

async function main(): Promise<void> {
  if (ONLY === null || ONLY === 'streams') await streamsPart();
  if (ONLY === null || ONLY === 'voicemail') await voicemailPart();
  if (ONLY === null || ONLY === 'video') await videoPart();
}

async function streamsPart(): Promise<void> {
  console.log(`media capacity: ${SECONDS} s per step after ${WARMUP_MS} ms warm-up; node ${process.version}`);
  console.log(`late = arrived > ${LATE_MS} ms after its sender's absolute schedule (t0 + 20 ms × frame); pass = late < 0.1% and 0 lost`);
  console.log('kind        streams   packets    late   lost  max late  CPU(1 core)  CPU/stream');
  let best = 0;
  for (const n of STEPS) {
    const s = await sessionStep(n);
    console.log(line('session', s));
    const ref = await referenceStep(n);
    console.log(line('reference', ref));
    console.log(`           cost ratio session/reference CPU per stream: ${(s.cpuPctPerStream / ref.cpuPctPerStream).toFixed(2)}×`);
    const pass = s.packets > 0 && s.late / s.packets < 0.001 && s.lost === 0;
    if (!pass) { console.log(`FAIL at ${n} streams`); break; }
    best = n;
  }
  console.log(`RESULT: ${best} concurrent streams sent and received with < 0.1% late packets (last passing step)`);
}

await main();
