// --show-video: the received video goes to ffplay as it comes. The real ffplay runs, with SDL's dummy video driver
// (no window here) and its showinfo filter added by a wrapper first on PATH, so the frames it decoded are counted.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TvAgent, type TvAgentOptions } from '../../../src/terminal/tv-agent.ts';
import { envHasDisplay } from '../../../src/config/env.ts';
import { sleep, waitFor } from '../../helpers/tv-events.ts';
import type { TestServer } from '../../helpers/test-server.ts';
import { startDefaultProfileServer } from '../../helpers/default-profile-server.ts';
import { haveFfmpeg } from '../../helpers/video.ts';

describe('tvphone tv --show-video (integration, ffplay)', function () {
  this.timeout(60_000);
  let srv: TestServer;
  let dir: string;
  const agents: TvAgent[] = [];
  const saved = { PATH: process.env.PATH, SDL_VIDEODRIVER: process.env.SDL_VIDEODRIVER, DISPLAY: process.env.DISPLAY, WAYLAND_DISPLAY: process.env.WAYLAND_DISPLAY };
  const restore = (): void => {
    for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
  };

  before(function () { if (!haveFfmpeg) this.skip(); });
  beforeEach(async () => {
    srv = await startDefaultProfileServer();
    await srv.addUser('1001', 'pw1');
    await srv.addUser('1002', 'pw2');
    dir = mkdtempSync(join(tmpdir(), 'tvphone-show-'));
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.stop();
    restore();
    await srv?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function agent(user: string, o: Partial<TvAgentOptions> = {}): TvAgent {
    const a = new TvAgent({
      user, password: user === '1001' ? 'pw1' : 'pw2', server: `sip:127.0.0.1:${srv.tcp.port}`, localIp: '127.0.0.1',
      downloadDir: join(dir, user), rtcpIntervalMs: 300, timerValues: { t1: 100, t2: 400, t4: 500 }, ...o,
    });
    agents.push(a);
    return a;
  }

  it('ffplay decodes the frames the TV receives (H.264), and ends with the call', async () => {
    const log = join(dir, 'ffplay.log');
    // the real ffplay, its arguments as the agent gave them, plus a filter logging each frame it decoded
    writeFileSync(join(dir, 'ffplay'), `#!/bin/sh\nprintf '%s\\n' "$@" > '${join(dir, 'args')}'\nexec /usr/bin/ffplay "$@" -vf showinfo -loglevel info 2>>'${log}'\n`);
    chmodSync(join(dir, 'ffplay'), 0o755);
    process.env.PATH = `${dir}:${saved.PATH ?? ''}`;
    delete process.env.DISPLAY;
    delete process.env.WAYLAND_DISPLAY;
    process.env.SDL_VIDEODRIVER = 'dummy';
    const a = agent('1001', { video: 'testsrc', videoCodecs: ['H264'] });
    const b = agent('1002', { autoAnswer: true, showVideo: true });
    await a.start();
    await b.start();
    const started = waitFor(b, 'video-started');
    assert.equal(await a.dial('1002'), true);
    const v = await started;
    assert.deepEqual([v.codec, v.sending, v.receiving], ['H264', false, true]);
    // what the call screen shows: the size of the pictures received and their rate
    const stats = await waitFor(b, 'video-stats', (x) => x.receivedFrames > 0, 6000);
    assert.deepEqual([stats.width, stats.height, stats.receiving, stats.sending], [320, 240, true, false]);
    assert.ok(stats.fps >= 10 && stats.fps <= 17, `${stats.fps} frames a second received`);
    await sleep(1000);
    const ended = waitFor(b, 'call-ended');
    await a.hangup();
    const e = await ended;
    const received = e.video?.received.frames ?? 0;
    assert.ok(received >= 20, `B received ${received} frames`);
    // ffplay has read its input to the end (-autoexit) once the call has ended: its frames are all logged
    const shown = (readFileSync(log, 'utf8').match(/\bn:\s*\d+/g) ?? []).length;
    assert.ok(shown >= received - 2 && shown <= received + 1, `ffplay decoded ${shown} of the ${received} frames received`);
    const args = readFileSync(join(dir, 'args'), 'utf8').split('\n');
    assert.deepEqual(args.slice(args.indexOf('-window_title'), args.indexOf('-window_title') + 2), ['-window_title', 'tvphone: 1001']);
  });

  it('refuses to start without a display: one error, nothing bound', async () => {
    delete process.env.DISPLAY;
    delete process.env.WAYLAND_DISPLAY;
    delete process.env.SDL_VIDEODRIVER;
    assert.equal(envHasDisplay(), false);
    const b = agent('1002', { showVideo: true });
    await assert.rejects(b.start(), (err: Error & { code?: string }) => err.code === 'ERR_NO_DISPLAY' && /needs a display/.test(err.message));
  });
});
