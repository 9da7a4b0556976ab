// Interop (video) with Debian 12's linphonec 5.1 through tvphone's default profile: linphonec (user 1002, UDP, -V,
// the StaticImage camera, VP8: this build has no H.264) calls the TV agent (user 1003, TCP, --video testsrc,
// --record-video), which answers VP8. The TV's recording of linphonec's picture is checked with ffprobe; that
// linphonec decodes the TV's frames is read from its log (-d 6): its VP8 decoder reports the size of the first
// picture it decoded, the TV's 320×240, and liblinphone the video bandwidth received each second.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDefaultProfileServer } from '../helpers/default-profile-server.ts';
import { REALM, type TestServer } from '../helpers/test-server.ts';
import { waitFor } from '../helpers/tv-events.ts';
import { codecOf, haveFfmpeg } from '../helpers/video.ts';
import { TvAgent } from '../../src/terminal/tv-agent.ts';
import { startLinphonec } from './lib/linphonec.ts';
import { installed, killAll, LOOPBACK, sleep } from './lib/proc.ts';
import { needPeers } from '../helpers/peers.ts';

const LP = { user: '1002', password: 'pw-1002' };
const TV = { user: '1003', password: 'pw-1003' };

/** Frames ffprobe decodes in `file`, whatever their size (linphonec's still picture is its own). */
function decodedFrames(file: string): { frames: number; width: number; height: number } {
  const out = execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames,width,height', '-of', 'json', file], { encoding: 'utf8' });
  const s = (JSON.parse(out) as { streams: Array<{ nb_read_frames: string; width: number; height: number }> }).streams[0];
  return { frames: Number(s.nb_read_frames), width: s.width, height: s.height };
}

describe('interop: linphonec 5.1 video calls with the TV agent', function () {
  this.timeout(60_000);
  let ts: TestServer | null = null;
  let work: string;
  const agents: TvAgent[] = [];

  before(function () {
    needPeers(this, installed('linphonec') && haveFfmpeg, 'linphonec or ffmpeg');
  });
  beforeEach(async () => {
    work = mkdtempSync(join(tmpdir(), 'tvphone-linphonec-video-'));
    ts = await startDefaultProfileServer();
    await ts.addUser(LP.user, LP.password);
    await ts.addUser(TV.user, TV.password);
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.stop();
    await killAll();
    await ts?.close();
    ts = null;
    rmSync(work, { recursive: true, force: true });
  });

  it('linphonec with its still-picture camera calls the TV: VP8 both ways, the TV records linphonec\'s frames, linphonec decodes the TV\'s', async () => {
    const a = new TvAgent({
      ...TV, server: `sip:${LOOPBACK}:${ts!.tcp.port}`, transport: 'tcp', downloadDir: join(work, 'tv'), autoAnswer: true,
      video: 'testsrc', recordVideo: join(work, 'tv.mkv'), rtcpIntervalMs: 500, timerValues: { t1: 100, t2: 400, t4: 500 },
    });
    agents.push(a);
    const reg = waitFor(a, 'registered');
    await a.start();
    await reg;
    const lp = await startLinphonec({ dir: work, name: 'lp', ...LP, realm: REALM, serverPort: ts!.udp.port, video: true, timeoutMs: 40_000 });
    await lp.registered();
    const video = waitFor(a, 'video-started');
    lp.command(`call sip:${TV.user}@${LOOPBACK}`);
    const v = await video;
    assert.deepEqual([v.codec, v.sending, v.receiving], ['VP8', true, true]);
    assert.equal(v.feedback.pli, true);
    await sleep(5000);
    const ended = waitFor(a, 'call-ended');
    lp.command('terminate');
    const e = await ended;
    await lp.quit();
    const stats = e.video;
    assert.ok(stats, 'video stats at hang-up');
    const log = readFileSync(lp.logFile, 'latin1');
    console.log(`      TV sent ${stats.sent.frames} frames, received ${stats.received.frames} (${stats.received.keyframes} keyframes), lost ${stats.received.lost}; PLIs ${stats.plisSent}/${stats.plisReceived}, FIRs ${stats.firsReceived}, NACKs ${stats.nacksReceived}`);
    // mediastreamer's VP8 decoder learns the picture size from the first frame it decodes and passes it on: the
    // TV's testsrc is 320×240 (linphonec's own camera sends 264×216)
    const decodedSize = /configure_itc\(\): format set to type=video;encoding=VP8;vsize=(\d+)x(\d+)/g;
    const sizes = [...log.matchAll(decodedSize)].map((m) => `${m[1]}x${m[2]}`);
    // liblinphone's bandwidth lines, each second: "Stream #1 (video) | ... RTP : [d=104.77,u=37.96]" (kbit/s)
    const down = [...log.matchAll(/Stream #\d+ \(video\) \|[^\n]*RTP : \[d=([0-9.]+),u=([0-9.]+)\]/g)].map((m) => Number(m[1]));
    console.log(`      linphonec: decoded picture sizes ${sizes.join(', ') || 'none'}; video received ${down.map((d) => d.toFixed(0)).join(', ')} kbit/s`);
    assert.ok(stats.sent.frames > 30, `the TV sent ${stats.sent.frames} frames`);
    assert.ok(stats.received.frames > 0 && stats.received.keyframes > 0, `the TV received ${stats.received.frames} frames`);
    assert.equal(codecOf(join(work, 'tv.mkv')), 'vp8');
    const rec = decodedFrames(join(work, 'tv.mkv'));
    assert.ok(Math.abs(rec.frames - stats.received.frames) <= 1, `recorded ${rec.frames}, depacketised ${stats.received.frames}`);
    assert.ok(rec.width > 0 && rec.height > 0);
    assert.ok(sizes.includes('320x240'), `linphonec's decoder never saw the TV's 320x240 picture: ${sizes.join(', ')}`);
    assert.ok(down.length >= 2 && Math.max(...down) > 20, `linphonec received ${down.join(', ')} kbit/s of video`);
  });
});
