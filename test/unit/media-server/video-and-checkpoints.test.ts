// The video of a video message (what is kept of the access units, the frame rate from their timestamps) and the
// checkpoints of a recording in progress (one at a time, stopped before the commit), with no sockets and a fake clock.
import assert from 'node:assert/strict';
import { FakeClock } from '../../../src/clock.ts';
import { muxArgs } from '../../../src/media/matroska-mux.ts';
import { RecordingCheckpointer } from '../../../src/media-server/recording-checkpoint.ts';
import { VideoRecording } from '../../../src/media-server/video-recording.ts';

const idr = Uint8Array.of(0x65, 1, 2, 3);
const sps = Uint8Array.of(0x67, 0x42, 0xe0, 0x1f);
const slice = Uint8Array.of(0x41, 9, 9);

describe('media-server: the video of a video message', function () {
  it('keeps access units from the first keyframe on, as Annex B, and tells the frame rate from the 90 kHz timestamps', function () {
    const v = new VideoRecording({ maxSeconds: 10, maxBytes: 1 << 20, now: () => 500 });
    v.write({ timestamp: 0, nals: [slice], keyframe: false });
    assert.equal(v.frames, 0, 'a decoder starts at a keyframe');
    assert.equal(v.firstAt, null);
    // RFC 3550 §5.1: the timestamp wraps modulo 2^32
    const t0 = 0xffff_ffff - 6000 + 1;
    v.write({ timestamp: t0, nals: [sps, idr], keyframe: true });
    for (let i = 1; i < 30; i++) v.write({ timestamp: (t0 + i * 6000) >>> 0, nals: [slice], keyframe: false });
    assert.deepEqual([v.frames, v.keyframes, v.firstAt], [30, 1, 500]);
    assert.equal(v.fps(), 15);
    const b = v.annexB();
    assert.deepEqual([...b.subarray(0, 12)], [0, 0, 0, 1, 0x67, 0x42, 0xe0, 0x1f, 0, 0, 0, 1]);
    assert.equal(b.length, v.bytes);
  });

  it('stops keeping pictures beyond maxSeconds or maxBytes', function () {
    const bySeconds = new VideoRecording({ maxSeconds: 1, maxBytes: 1 << 20, now: () => 0 });
    for (let i = 0; i < 40; i++) bySeconds.write({ timestamp: i * 6000, nals: [i === 0 ? idr : slice], keyframe: i === 0 });
    assert.equal(bySeconds.frames, 16, '0 … 1 s at 15 fps');
    const byBytes = new VideoRecording({ maxSeconds: 100, maxBytes: 40, now: () => 0 });
    for (let i = 0; i < 40; i++) byBytes.write({ timestamp: i * 6000, nals: [i === 0 ? idr : slice], keyframe: i === 0 });
    assert.ok(byBytes.bytes <= 40 && byBytes.frames === 5, `${byBytes.frames} frames, ${byBytes.bytes} bytes`);
  });

  it('muxes with ffmpeg -c copy into Matroska, the audio placed by -itsoffset', function () {
    const a = muxArgs('v.h264', 'a.wav', 'o.mkv', { format: 'h264', fps: 15 }, 1600);
    assert.deepEqual(a.slice(a.indexOf('-framerate'), a.indexOf('-framerate') + 2), ['-framerate', '15.000']);
    assert.deepEqual(a.slice(a.indexOf('-itsoffset'), a.indexOf('-itsoffset') + 4), ['-itsoffset', '1.600', '-i', 'a.wav']);
    assert.deepEqual(a.slice(-6), ['-c', 'copy', '-f', 'matroska', '-y', 'o.mkv']);
    const ivf = muxArgs('v.ivf', 'a.wav', 'o.mkv', { format: 'ivf' }, 0);
    assert.deepEqual(ivf.slice(ivf.indexOf('-f'), ivf.indexOf('-f') + 4), ['-f', 'ivf', '-i', 'v.ivf'], 'IVF carries its timestamps: no frame rate');
  });
});

describe('media-server: checkpoints of a recording in progress', function () {
  it('writes one checkpoint per interval, never two at once, and none once stopped (stop waits for the one in flight)', async function () {
    const clock = new FakeClock();
    const pending: Array<() => void> = [];
    let calls = 0;
    let nothing = true;
    const c = new RecordingCheckpointer({
      clock, intervalMs: 2000, onError: (err) => { throw err; },
      save: () => {
        if (nothing) return null;
        calls++;
        return new Promise<void>((resolve) => pending.push(resolve));
      },
    });
    c.start();
    await clock.tick(2000);
    assert.equal(calls, 0, 'nothing to write yet (the greeting)');
    nothing = false;
    await clock.tick(2000);
    assert.equal(calls, 1);
    await clock.tick(4000);
    assert.equal(calls, 1, 'a slow store is not written twice at once');
    pending.shift()!();
    await clock.tick(2000);
    assert.deepEqual([calls, c.written], [2, 1]);
    let stopped = false;
    const stop = c.stop().then(() => { stopped = true; });
    await clock.tick(0);
    assert.equal(stopped, false, 'stop() waits for the checkpoint being written');
    pending.shift()!();
    await stop;
    await clock.tick(10_000);
    assert.deepEqual([calls, c.written], [2, 2]);
  });
});
