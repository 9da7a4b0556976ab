// Interop (issue 13): sipp leaves a video message. Its INVITE offers PCMU and H.264 to an offline user; after the
// media server's 200 sipp plays a pcap of a 440 Hz PCMU tone, and the test sends H.264 RTP made from ffmpeg's testsrc
// (encoded by ffmpeg, split into RFC 6184 packets by the project's packetiser) to the m=video port of that 200 (read
// from sipp's message trace). Why not a second pcap: sipp 3.6 runs one pcap play per call, and a play_pcap_video
// after the play_pcap_audio cancels it (seen here: the audio never left), so one stream has to come from elsewhere.
// `tvphone voicemail export` writes the kept Matroska; ffmpeg decodes it and its frames match testsrc (PSNR > 30 dB,
// computed by ffmpeg against a fresh testsrc render; 5 frames off they do not).
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { encodeG711 } from '../../src/media/g711.ts';
import { NAL_AUD, nalType, packetizeH264, splitAnnexB } from '../../src/media/h264-rtp.ts';
import { generateTone } from '../../src/media/tone.ts';
import { VIDEO_MESSAGE_TYPE } from '../../src/media-server/message-types.ts';
import { startDefaultProfileServer } from '../helpers/default-profile-server.ts';
import type { TestServer } from '../helpers/test-server.ts';
import { until } from '../helpers/until.ts';
import { framesOf, haveFfmpeg, psnrAgainstTestsrc } from '../helpers/video.ts';
import { freePort, installed, killAll, LOOPBACK } from './lib/proc.ts';
import { assertSippOk, SCENARIOS, startSipp } from './lib/sipp.ts';
import { needPeers } from '../helpers/peers.ts';

const BIN = fileURLToPath(new URL('../../bin/tvphone', import.meta.url));
const FPS = 15;

/** A pcap (Ethernet, IPv4, UDP 127.0.0.1 → 127.0.0.1) of RTP packets at their send times (seconds from 0). */
function pcap(packets: ReadonlyArray<{ at: number; rtp: Uint8Array }>, srcPort: number): Uint8Array {
  const chunks: Buffer[] = [];
  const global = Buffer.alloc(24);
  global.writeUInt32LE(0xa1b2c3d4, 0);
  global.writeUInt16LE(2, 4);
  global.writeUInt16LE(4, 6);
  global.writeUInt32LE(65535, 16);
  global.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  chunks.push(global);
  for (const p of packets) {
    const frame = Buffer.alloc(14 + 20 + 8 + p.rtp.length);
    frame.writeUInt16BE(0x0800, 12);
    frame[14] = 0x45;
    frame.writeUInt16BE(20 + 8 + p.rtp.length, 16);
    frame[22] = 64;
    frame[23] = 17;
    frame.set([127, 0, 0, 1], 26);
    frame.set([127, 0, 0, 1], 30);
    // sipp sends to the answer's port; the source is the pcap's, the port our SDP named (what the server expects)
    frame.writeUInt16BE(srcPort, 34);
    frame.writeUInt16BE(40002, 36);
    frame.writeUInt16BE(8 + p.rtp.length, 38);
    frame.set(p.rtp, 42);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(Math.floor(p.at), 0);
    rec.writeUInt32LE(Math.round((p.at % 1) * 1e6), 4);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    chunks.push(rec, frame);
  }
  return Buffer.concat(chunks);
}

function rtp(pt: number, seq: number, ts: number, marker: boolean, payload: Uint8Array): Uint8Array {
  const b = Buffer.alloc(12 + payload.length);
  b[0] = 0x80;
  b[1] = (marker ? 0x80 : 0) | pt;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(pt === 0 ? 0x1111 : 0x2222, 8);
  b.set(payload, 12);
  return b;
}

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('interop: sipp leaves a video message (sipp: SIP and a PCMU pcap; H.264 of ffmpeg testsrc by the project\'s packetiser)', function () {
  this.timeout(60_000);
  let ts: TestServer | null = null;
  let work: string;

  before(function () { needPeers(this, installed('sipp') && haveFfmpeg, 'sipp or ffmpeg'); });
  beforeEach(() => { work = mkdtempSync(join(tmpdir(), 'tvphone-sipp-video-')); });
  afterEach(async () => {
    await killAll();
    await ts?.close();
    ts = null;
    rmSync(work, { recursive: true, force: true });
  });

  it('video-message-uac.xml: the exported Matroska decodes with ffmpeg, its frames match testsrc (PSNR > 30 dB)', async () => {
    // the video: 4 s of testsrc, Constrained Baseline, a keyframe a second, one access unit delimiter per picture
    const h264 = join(work, 'testsrc.h264');
    const enc = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc=size=320x240:rate=${FPS}`, '-t', '4',
      '-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-profile:v', 'baseline', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', String(FPS),
      '-bsf:v', 'h264_metadata=aud=insert', '-f', 'h264', '-y', h264], { encoding: 'utf8' });
    assert.equal(enc.status, 0, enc.stderr);
    const units: Uint8Array[][] = [];
    for (const nal of splitAnnexB(readFileSync(h264)).nals) {
      if (nalType(nal) === NAL_AUD) units.push([]);
      else units.at(-1)?.push(nal);
    }
    const pictures = units.filter((u) => u.length > 0);
    assert.equal(pictures.length, 4 * FPS);
    const mediaPort = (await freePort()) & ~1;
    // the audio: 6 s of a 440 Hz tone, 20 ms PCMU packets
    const tone = encodeG711('PCMU', generateTone({ frequency: 440, samples: 8000 * 6 }));
    writeFileSync(join(work, 'audio.pcap'), pcap(Array.from({ length: 300 }, (_, n) => ({ at: n * 0.02, rtp: rtp(0, n, n * 160, n === 0, tone.subarray(n * 160, n * 160 + 160)) })), mediaPort));
    // sipp looks for the pcaps next to the scenario: both in the working directory
    copyFileSync(join(SCENARIOS, 'video-message-uac.xml'), join(work, 'video-message-uac.xml'));

    ts = await startDefaultProfileServer({ voicemail: { enabled: true, maxSeconds: 20, silenceSeconds: 0 } });
    await ts.addUser('caller', 'pw-sipp-video');
    await ts.addUser('tv', 'pw-sipp-video2');
    const trace = join(work, 'messages.log');
    const call = await startSipp({
      workDir: work, scenario: join(work, 'video-message-uac.xml'), target: `${LOOPBACK}:${ts.udp.port}`, timeoutS: 20,
      args: ['-s', 'tv', '-au', 'caller', '-ap', 'pw-sipp-video', '-d', '5600', '-mp', String(mediaPort), '-mi', LOOPBACK, '-trace_msg', '-message_file', trace],
    });
    // the media server's 200 (as sipp received it) names its video port
    let videoPort = 0;
    await until(async () => {
      const m = existsSync(trace) ? /SIP\/2\.0 200 [\s\S]*?m=video (\d+) RTP\/AVP 96/.exec(readFileSync(trace, 'latin1')) : null;
      videoPort = m ? Number(m[1]) : 0;
      return videoPort > 0;
    }, 10_000, 'the 200 with the video port');
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((res) => sock.bind(0, LOOPBACK, () => res()));
    try {
      let seq = 100;
      const t0 = performance.now();
      for (let i = 0; i < pictures.length; i++) {
        const wait = t0 + (i * 1000) / FPS - performance.now();
        if (wait > 0) await sleep(wait);
        const parts = packetizeH264(pictures[i], 1200);
        parts.forEach((p, k) => sock.send(rtp(96, seq++, 9000 + i * (90_000 / FPS), k === parts.length - 1, p), videoPort, LOOPBACK));
      }
    } finally {
      await new Promise<void>((res) => sock.close(() => res()));
    }
    assertSippOk(await call.result);

    await until(async () => (await ts!.server.store.listVoicemails({ toUser: 'tv' })).length === 1, 15_000, 'video message kept');
    const [vm] = await ts.server.store.listVoicemails({ toUser: 'tv' });
    assert.equal(vm.contentType, VIDEO_MESSAGE_TYPE, `kept as ${vm.contentType} (${vm.codec})`);
    assert.equal(vm.codec, 'PCMU+H264');
    const file = join(work, 'message.mkv');
    const out = await cli(['voicemail', 'export', String(vm.id), file, '--db', ts.dbUrl]);
    assert.equal(out.code, 0, out.stderr);
    const frames = framesOf(file);
    assert.ok(frames >= pictures.length - 2 && frames <= pictures.length, `${frames} frames kept of ${pictures.length} sent`);
    const byOffset = [0, 1, 2].map((k) => psnrAgainstTestsrc(file, k));
    const best = Math.max(...byOffset);
    assert.ok(best > 30, `PSNR ${best} dB against testsrc`);
    const far = psnrAgainstTestsrc(file, byOffset.indexOf(best) + 5);
    assert.ok(far < best - 6, `5 frames off gives ${far} dB, aligned ${best} dB`);
    console.log(`      sipp: ${frames} frames kept of ${pictures.length}, PSNR ${best.toFixed(1)} dB (offset ${byOffset.indexOf(best)}), 5 off ${far.toFixed(1)} dB`);
  });
});
