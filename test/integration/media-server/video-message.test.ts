// Video messages (issue 13): a TV agent sending H.264 (ffmpeg's testsrc, packetised by the project's RFC 6184 code)
// calls an offline TV; the media server accepts the video (receive only), keeps it with the audio as one Matroska
// file, `tvphone voicemail export` writes it, and ffmpeg decodes it: its pictures match testsrc (PSNR > 30 dB, and
// not when misaligned), its audio is the caller's tone. The callee's agent fetches it by content indirection
// (RFC 4483, video/x-matroska), lists it as video and plays its sound.
//
// The caller here is the project's own UA (the TV agent: ffmpeg testsrc payloads, RFC 6184 packets, SIP through the
// proxy); test/interop/sipp-video-message.test.ts has sipp as the caller.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PcmRecorder } from '../../../src/media/audio-io.ts';
import { DEFAULT_VIDEO_FORMAT } from '../../../src/media/ffmpeg.ts';
import { dominantFrequency } from '../../../src/media/goertzel.ts';
import { VIDEO_MESSAGE_TYPE } from '../../../src/media-server/message-types.ts';
import type { TvAgent, TvAgentOptions } from '../../../src/terminal/tv-agent.ts';
import { useTvAgents } from '../../helpers/tv-agents.ts';
import { sleep, waitFor } from '../../helpers/tv-events.ts';
import { until } from '../../helpers/until.ts';
import { framesOf, haveFfmpeg, psnrAgainstTestsrc } from '../../helpers/video.ts';
import { needPeers } from '../../helpers/peers.ts';

const BIN = fileURLToPath(new URL('../../../bin/tvphone', import.meta.url));
const GREETING_MS = 1600;
const { fps } = DEFAULT_VIDEO_FORMAT;

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** The streams ffprobe finds in `file`: codec names and, for audio, the sample rate. */
function streamsOf(file: string): Array<{ codec_type: string; codec_name: string; sample_rate?: string }> {
  const r = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name,sample_rate', '-of', 'json', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as { streams: Array<{ codec_type: string; codec_name: string; sample_rate?: string }> }).streams;
}

/** The audio track of `file` decoded by ffmpeg, 8 kHz mono. */
function audioOf(file: string): Int16Array {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', file, '-vn', '-ac', '1', '-ar', '8000', '-f', 's16le', 'pipe:1'], { maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, String(r.stderr));
  const b = r.stdout;
  return new Int16Array(b.buffer, b.byteOffset, b.length >> 1);
}

describe('video messages: the media server records an H.264 caller for an offline TV (integration, ffmpeg)', function () {
  this.timeout(60_000);
  const tv = useTvAgents({ dirPrefix: 'tvphone-vmvideo-', server: () => ({ voicemail: { enabled: true, maxSeconds: 20, silenceSeconds: 0 } }) });
  const agent = (user: '1001' | '1002', o: Partial<TvAgentOptions> = {}): TvAgent => tv.agent(user, o);
  before(function () { needPeers(this, haveFfmpeg, 'ffmpeg'); });

  it('keeps testsrc and the tone as one Matroska file: exported, decoded by ffmpeg, PSNR > 30 dB against testsrc; delivered to the TV as video', async () => {
    const a = agent('1001', { toneHz: 440, video: 'testsrc' });
    await a.start();
    const started = waitFor(a, 'video-started');
    const ended = waitFor(a, 'call-ended', () => true, 20_000);
    assert.equal(await a.dial('1002'), true);
    const v = await started;
    // the media server takes the video and sends none (RFC 3264 §6.1: recvonly answers sendrecv)
    assert.deepEqual([v.payloadType, v.profileLevelId, v.sending, v.receiving], [96, '42e01f', true, false]);
    await sleep(GREETING_MS + 3000);
    await a.hangup();
    const sent = (await ended).video!.sent;
    assert.ok(sent.frames >= fps, `the caller sent ${sent.frames} frames`);

    await until(async () => (await tv.srv.server.store.listVoicemails({ toUser: '1002' })).length === 1, 15_000, 'video message kept');
    const [vm] = await tv.srv.server.store.listVoicemails({ toUser: '1002' });
    assert.equal(vm.contentType, VIDEO_MESSAGE_TYPE);
    assert.match(vm.codec, /^PCM[UA]\+H264$/);
    assert.ok(vm.durationMs > 2300 && vm.durationMs < 3800, `${vm.durationMs} ms of audio`);

    // tvphone voicemail export: the file ffmpeg decodes; a .wav name for it is refused
    const file = join(tv.dir, 'message.mkv');
    const out = await cli(['voicemail', 'export', String(vm.id), file, '--db', tv.srv.dbUrl]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^video message \d+: \d+ bytes written to .*\(Matroska: H\.264 video, PCM audio\)/);
    assert.equal(readFileSync(file).length, vm.bytes);
    const refused = await cli(['voicemail', 'export', String(vm.id), join(tv.dir, 'message.wav'), '--db', tv.srv.dbUrl]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /video message \(Matroska\): name the file \.mkv/);

    const streams = streamsOf(file);
    assert.deepEqual(streams.map((s) => [s.codec_type, s.codec_name]), [['video', 'h264'], ['audio', 'pcm_s16le']]);
    assert.equal(streams[1].sample_rate, '8000');
    const frames = framesOf(file);
    assert.ok(Math.abs(frames - sent.frames) <= Math.max(2, 0.1 * sent.frames), `kept ${frames} frames of ${sent.frames} sent`);
    // the pictures are testsrc's (aligned: ffmpeg's encode is best aligned at 0-3), and 5 frames off they are not
    const byOffset = [0, 1, 2, 3].map((k) => psnrAgainstTestsrc(file, k));
    const best = Math.max(...byOffset);
    const offset = byOffset.indexOf(best);
    assert.ok(best > 30, `PSNR ${best} dB against testsrc (offset ${offset})`);
    const far = psnrAgainstTestsrc(file, offset + 5);
    assert.ok(far < best - 6, `5 frames off gives ${far} dB, aligned ${best} dB`);
    const sound = audioOf(file);
    assert.ok(Math.abs(dominantFrequency(sound) - 440) < 15, `the audio track at ${dominantFrequency(sound)} Hz`);
    console.log(`      ${frames} frames kept of ${sent.frames} sent, PSNR ${best.toFixed(1)} dB (offset ${offset}), 5 off ${far.toFixed(1)} dB, ${vm.bytes} bytes`);

    // the callee's TV fetches it (RFC 4483: video/x-matroska), saves the .mkv, lists it as video and plays its sound
    const speaker = new PcmRecorder();
    const b = agent('1002', { speaker });
    const got = waitFor(b, 'voice-message', () => true, 15_000);
    await b.start();
    const m = await got;
    assert.equal(m.video, true);
    assert.match(m.file, /\.mkv$/);
    assert.deepEqual(readFileSync(m.file), readFileSync(file));
    assert.ok(Math.abs(m.durationMs - vm.durationMs) < 1500, `listed as ${m.durationMs} ms`);
    assert.deepEqual(b.voiceMessages().map((x) => [x.id, x.video, x.played]), [[String(vm.id), true, false]]);
    const played = await b.playVoiceMessage();
    assert.equal(played?.id, String(vm.id));
    assert.ok(Math.abs(dominantFrequency(speaker.samples()) - 440) < 15, 'its sound played');
  });
});
