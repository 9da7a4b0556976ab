// Interop (video) with Debian 12's baresip 1.0 through tvphone's default profile: the TV agent (TCP, --video
// testsrc, --record-video) calls baresip (UDP, auto answer, the vp8 module, fakevideo as camera and display, the
// snapshot filter). VP8 both ways (this baresip has no H.264 module): the TV records baresip's generated
// picture (ffprobe), and baresip's snapshot command writes the next picture it decoded from the TV as a PNG, whose
// size is the TV's 320×240 (baresip's own camera sends 352×288, which is what the TV records).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestServer } from '../helpers/test-server.ts';
import { startDefaultProfileServer } from '../helpers/default-profile-server.ts';
import { until } from '../helpers/until.ts';
import { waitFor } from '../helpers/tv-events.ts';
import { codecOf, haveFfmpeg } from '../helpers/video.ts';
import { generateTone } from '../../src/media/tone.ts';
import { writeWav } from '../../src/media/wav.ts';
import { TvAgent } from '../../src/terminal/tv-agent.ts';
import { baresipAvailable, startBaresip } from './lib/baresip.ts';
import { installed, killAll, LOOPBACK, sleep } from './lib/proc.ts';
import { needPeers } from '../helpers/peers.ts';

const REGISTERED = /200 OK \(\) \[1 binding\]/;
const MODULES = ['vp8.so', 'fakevideo.so', 'snapshot.so'];

describe('interop: baresip 1.0 video calls with the TV agent', function () {
  this.timeout(60_000);
  let ts: TestServer | null = null;
  let work: string;
  const agents: TvAgent[] = [];

  before(function () {
    needPeers(this, installed('baresip') && baresipAvailable() && haveFfmpeg && MODULES.every((m) => existsSync(`/usr/lib/baresip/modules/${m}`)), 'baresip with its video modules, or ffmpeg');
  });
  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'tvphone-baresip-video-'));
    writeFileSync(join(work, 'bob.wav'), writeWav(generateTone({ frequency: 1000, amplitude: 0.4, samples: 8000 * 20 }), 8000));
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.stop();
    await killAll();
    await ts?.close();
    ts = null;
    rmSync(work, { recursive: true, force: true });
  });

  it('the TV calls baresip with video: VP8 both ways, the TV records baresip\'s picture, baresip decodes the TV\'s (a 320x240 snapshot)', async () => {
    ts = await startDefaultProfileServer();
    await ts.addUser('bob', 'bob-pw');
    await ts.addUser('1003', 'pw-1003');
    const bob = await startBaresip({ dir: work, user: 'bob', password: 'bob-pw', serverPort: ts.udp.port, source: join(work, 'bob.wav'), quitAfterS: 30, interactive: true, video: true });
    await bob.proc.waitFor(REGISTERED, 10000);
    const a = new TvAgent({
      user: '1003', password: 'pw-1003', server: `sip:${LOOPBACK}:${ts.tcp.port}`, transport: 'tcp', downloadDir: join(work, 'tv'),
      video: 'testsrc', recordVideo: join(work, 'tv.mkv'), rtcpIntervalMs: 500, timerValues: { t1: 100, t2: 400, t4: 500 },
    });
    agents.push(a);
    const reg = waitFor(a, 'registered');
    await a.start();
    await reg;
    const video = waitFor(a, 'video-started');
    assert.equal(await a.dial('bob'), true);
    const v = await video;
    assert.deepEqual([v.codec, v.sending, v.receiving, v.feedback.pli], ['VP8', true, true, true]);
    await sleep(2500);
    bob.command('/snapshot');
    // snapshot-recv-*.png: the next picture decoded; snapshot-send-*.png: the next one of its own camera
    const pngs = (): string[] => readdirSync(join(work, 'bob')).filter((f) => /^snapshot-recv-.*\.png$/.test(f));
    await until(() => pngs().length > 0, 5000, `a snapshot from baresip: ${bob.proc.stdout().slice(-800)}`);
    await sleep(1000);
    const ended = waitFor(a, 'call-ended');
    await a.hangup();
    const stats = (await ended).video;
    assert.ok(stats);
    const sizeOf = (file: string): string => execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', file], { encoding: 'utf8' }).trim();
    const size = sizeOf(join(work, 'bob', pngs()[0]!));
    console.log(`      TV sent ${stats.sent.frames} frames, received ${stats.received.frames} (${stats.received.keyframes} keyframes), lost ${stats.received.lost}; baresip's snapshot ${size}`);
    assert.equal(size, '320,240', 'baresip decoded the TV\'s testsrc (its own camera is 352x288)');
    assert.equal(sizeOf(join(work, 'tv.mkv')), '352,288', 'the TV recorded baresip\'s camera');
    assert.ok(stats.sent.frames > 30, `the TV sent ${stats.sent.frames}`);
    assert.ok(stats.received.frames > 10 && stats.received.keyframes > 0, `the TV received ${stats.received.frames} frames from baresip`);
    assert.equal(codecOf(join(work, 'tv.mkv')), 'vp8');
  });
});
