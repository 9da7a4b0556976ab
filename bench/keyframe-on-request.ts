// A keyframe on request (the TV agent's VideoEncoder: a source ffmpeg, an encoder ffmpeg and one waiting idle), two
// figures: `node bench/keyframe-on-request.ts [--requests 10] [--idle-seconds 10]`.
//
// 1. PLI → keyframe: testsrc (320x240, 15 fps, the encoder's own keyframes 10 s apart) from one VideoSession to another
//    on 127.0.0.1; the receiver sends a PLI (H.264) or a FIR (VP8, a remote taking only `ccm fir`) every 0.8–1 s, and
//    the time from its requestKeyframe() to the keyframe reassembled on its side is taken: the wait for the next
//    picture (up to 1/15 s), the switch to the waiting encoder, its first encode, H.264's one-picture wait for the next
//    access unit delimiter, packetising and the loopback.
// 2. What the waiting encoder costs: CPU (from /proc/PID/stat, utime + stime), RSS (/proc/PID/status VmRSS), the
//    private memory (/proc/PID/smaps_rollup Private_Clean + Private_Dirty: RSS less the pages shared with other
//    processes, ffmpeg's libav* and libx264 mostly: what one more ffmpeg beside the others costs) and PSS (shared pages
//    divided among their sharers) of each child over `--idle-seconds` of a running stream, and, as the baseline, the
//    one-process ffmpeg that encoded the source directly before the split (the same arguments). Other ffmpeg
//    processes on the machine share the library pages too, so private and PSS figures depend on what else runs.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_VIDEO_FORMAT, encoderArgs, sourceArgs, VideoEncoder, type VideoCodecName } from '../src/media/ffmpeg.ts';
import { H264_RTP, VideoSession, vp8RtpCodec } from '../src/media/video-session.ts';

const argv = process.argv.slice(2);
const opt = (name: string, d: number): number => { const i = argv.indexOf(`--${name}`); return i >= 0 ? Number(argv[i + 1]) : d; };
const REQUESTS = opt('requests', 10);
const IDLE_S = opt('idle-seconds', 10);
const { fps } = DEFAULT_VIDEO_FORMAT;
const CLK_TCK = 100; // Linux's USER_HZ

/** CPU seconds used by a process so far, its resident memory and the part of it no other process shares (MiB). */
function usage(pid: number): { cpuS: number; rssMiB: number; privateMiB: number; pssMiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuS = (Number(f[11]) + Number(f[12])) / CLK_TCK; // fields 14 and 15: utime, stime
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  const smaps = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(smaps)?.[1] ?? NaN);
  return { cpuS, rssMiB: rss ? Number(rss[1]) / 1024 : NaN, privateMiB: (kb('Private_Clean') + kb('Private_Dirty')) / 1024, pssMiB: kb('Pss') / 1024 };
}

/** CPU % (of one core) and RSS of each pid over `seconds`. */
async function sample(pids: Record<string, number>, seconds: number): Promise<Record<string, { cpuPct: number; rssMiB: number; privateMiB: number; pssMiB: number }>> {
  const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, usage(p)]));
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const dt = (performance.now() - t0) / 1000;
  return Object.fromEntries(Object.entries(pids).map(([k, p]) => {
    const u = usage(p);
    return [k, { cpuPct: (100 * (u.cpuS - before[k].cpuS)) / dt, rssMiB: u.rssMiB, privateMiB: u.privateMiB, pssMiB: u.pssMiB }];
  }));
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

async function latency(codec: VideoCodecName): Promise<number[]> {
  const tx = new VideoSession({ rtcpIntervalMs: 1000 });
  const rx = new VideoSession({ rtcpIntervalMs: 1000 });
  await tx.bind();
  await rx.bind();
  const feedback = codec === 'VP8' ? { nack: false, pli: false, fir: true } : { nack: false, pli: true, fir: false };
  const rtp = (): typeof H264_RTP => (codec === 'VP8' ? vp8RtpCodec() : H264_RTP);
  tx.start({ remoteIp: '127.0.0.1', remotePort: rx.localPort, payloadType: 96, direction: 'sendonly', codec: rtp(), feedback });
  rx.start({ remoteIp: '127.0.0.1', remotePort: tx.localPort, payloadType: 96, direction: 'recvonly', codec: rtp(), feedback });
  const enc = new VideoEncoder({ source: 'testsrc', codec });
  tx.on('keyframeRequested', () => enc.requestKeyframe());
  let frame = 0;
  enc.on('accessUnit', (units) => tx.sendAccessUnit(units, (frame++ * 1000) / fps));
  let askedAt: number | undefined;
  const ms: number[] = [];
  rx.on('accessUnit', (u) => { if (u.keyframe && askedAt !== undefined) { ms.push(performance.now() - askedAt); askedAt = undefined; } });
  await enc.start();
  while (frame < fps) await sleep(20);
  for (let i = 0; i < REQUESTS; i++) {
    askedAt = performance.now();
    rx.requestKeyframe();
    await sleep(800 + Math.random() * 200);
  }
  const st = tx.stats();
  await enc.stop();
  await tx.stop();
  await rx.stop();
  if (ms.length !== REQUESTS || st.keyframesOnRequest !== REQUESTS) throw new Error(`${codec}: ${ms.length} keyframes for ${REQUESTS} requests (${st.keyframesOnRequest} counted)`);
  return ms;
}

async function idleCost(codec: VideoCodecName): Promise<void> {
  const enc = new VideoEncoder({ source: 'testsrc', codec });
  let frames = 0;
  enc.on('accessUnit', () => frames++);
  await enc.start();
  while (frames < fps) await sleep(20);
  const p = enc.pids;
  const r = await sample({ source: p.source as number, encoder: p.encoders[0], spare: p.spare as number }, IDLE_S);
  await enc.stop();
  // the baseline: one ffmpeg from the source straight to the encoder, as before the split
  const src = sourceArgs({ source: 'testsrc' });
  const enc1 = encoderArgs({ source: 'testsrc', codec });
  const one = [...src.slice(0, src.indexOf('-vf') + 2), ...enc1.slice(enc1.indexOf('-an') + 1)];
  const child = spawn('ffmpeg', one, { stdio: ['ignore', 'ignore', 'ignore'] });
  await sleep(1000);
  const b = await sample({ one: child.pid as number }, IDLE_S);
  child.kill('SIGKILL');
  const mib = (x: number): string => `${x.toFixed(1).padStart(6)} MiB`;
  const row = (k: string, v: { cpuPct: number; rssMiB: number; privateMiB: number; pssMiB: number }): string =>
    `  ${k.padEnd(32)} ${v.cpuPct.toFixed(2).padStart(6)} % CPU ${mib(v.rssMiB)} RSS ${mib(v.privateMiB)} private ${mib(v.pssMiB)} PSS`;
  console.log(`${codec}, ${IDLE_S} s of a running stream:`);
  console.log(row('source (testsrc → raw yuv420p)', r.source));
  console.log(row('encoder (running)', r.encoder));
  console.log(row('waiting encoder (idle spare)', r.spare));
  console.log(row('one-process ffmpeg (before)', b.one));
  const total = r.source.cpuPct + r.encoder.cpuPct + r.spare.cpuPct;
  const pss = r.source.pssMiB + r.encoder.pssMiB + r.spare.pssMiB;
  console.log(`  all three: ${total.toFixed(2)} % CPU, ${pss.toFixed(1)} MiB PSS; before: ${b.one.cpuPct.toFixed(2)} %, ${b.one.pssMiB.toFixed(1)} MiB PSS`);
}

for (const codec of ['H264', 'VP8'] as const) {
  const ms = await latency(codec);
  console.log(`${codec} ${codec === 'VP8' ? 'FIR' : 'PLI'} → keyframe received, ${REQUESTS} requests: median ${median(ms).toFixed(0)} ms, min ${Math.min(...ms).toFixed(0)}, max ${Math.max(...ms).toFixed(0)} (${ms.map((x) => x.toFixed(0)).join(' ')})`);
}
for (const codec of ['H264', 'VP8'] as const) await idleCost(codec);
