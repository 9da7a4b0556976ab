// --show-video: the received video goes to ffplay as it comes. The real ffplay runs, with SDL's dummy video driver
// (no window here) and its showinfo filter added by a wrapper first on PATH, so the frames it decoded are counted.
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TvAgent, TvAgentOptions } from '../../../src/terminal/tv-agent.ts';
import { envHasDisplay } from '../../../src/config/env.ts';
import { sleep, waitFor } from '../../helpers/tv-events.ts';
import { useTvAgents } from '../../helpers/tv-agents.ts';
import { haveFfmpeg } from '../../helpers/video.ts';
import { needPeers } from '../../helpers/peers.ts';

describe('tvphone tv --show-video (integration, ffplay)', function () {
  this.timeout(60_000);
  const tv = useTvAgents({ dirPrefix: 'tvphone-show-' });
  const agent = (user: '1001' | '1002', o: Partial<TvAgentOptions> = {}): TvAgent => tv.agent(user, o);
  const saved = { PATH: process.env.PATH, SDL_VIDEODRIVER: process.env.SDL_VIDEODRIVER, DISPLAY: process.env.DISPLAY, WAYLAND_DISPLAY: process.env.WAYLAND_DISPLAY };
  before(function () { needPeers(this, haveFfmpeg, 'ffmpeg'); });
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
  });

  it('ffplay decodes the frames the TV receives (H.264), and ends with the call', async () => {
    const log = join(tv.dir, 'ffplay.log');
    // the real ffplay, its arguments as the agent gave them, plus a filter logging each frame it decoded
    writeFileSync(join(tv.dir, 'ffplay'), `#!/bin/sh\nprintf '%s\\n' "$@" > '${join(tv.dir, 'args')}'\nexec /usr/bin/ffplay "$@" -vf showinfo -loglevel info 2>>'${log}'\n`);
    chmodSync(join(tv.dir, 'ffplay'), 0o755);
    process.env.PATH = `${tv.dir}:${saved.PATH ?? ''}`;
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
    const args = readFileSync(join(tv.dir, 'args'), 'utf8').split('\n');
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
