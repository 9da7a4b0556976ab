import assert from 'node:assert/strict';
import { encoderArgs, KEYFRAME_INTERVAL_S, recorderArgs, sourceArgs } from '../../../src/media/ffmpeg.ts';

/** The value after the last `flag` in ffmpeg's arguments (an output option comes after the input's), or undefined. */
const arg = (args: string[], flag: string): string | undefined => { const i = args.lastIndexOf(flag); return i >= 0 ? args[i + 1] : undefined; };

describe('media/ffmpeg: encoder and recorder arguments', () => {
  it('the source: testsrc or the file (looped) in real time, scaled, raw yuv420p pictures out', () => {
    const t = sourceArgs({ source: 'testsrc' });
    assert.deepEqual([arg(t, '-f'), t.includes('-re'), arg(t, '-vf'), t.at(-1)], ['rawvideo', true, 'scale=320:240,fps=15,format=yuv420p', 'pipe:1']);
    assert.equal(arg(t, '-i'), 'testsrc=size=320x240:rate=15');
    const f = sourceArgs({ source: 'clip.mp4', fps: 10 });
    assert.deepEqual([arg(f, '-stream_loop'), arg(f, '-i'), arg(f, '-vf')], ['-1', 'clip.mp4', 'scale=320:240,fps=10,format=yuv420p']);
  });

  it('an encoder reads raw yuv420p pictures of the format on stdin', () => {
    const a = encoderArgs({ source: 'testsrc', width: 640, height: 360, fps: 25 });
    assert.deepEqual([a[a.indexOf('-f') + 1], arg(a, '-pix_fmt'), arg(a, '-s'), arg(a, '-r'), arg(a, '-i')], ['rawvideo', 'yuv420p', '640x360', '25', 'pipe:0']);
  });

  it('H.264: Constrained Baseline, a keyframe every KEYFRAME_INTERVAL_S (others on request), AUDs, Annex B out; no rate cap without a limit', () => {
    const a = encoderArgs({ source: 'testsrc' });
    assert.deepEqual([arg(a, '-c:v'), arg(a, '-profile:v'), arg(a, '-g'), arg(a, '-bsf:v'), arg(a, '-f')], ['libx264', 'baseline', String(15 * KEYFRAME_INTERVAL_S), 'h264_metadata=aud=insert', 'h264']);
    assert.equal(arg(encoderArgs({ source: 'testsrc', keyframeIntervalS: 1 }), '-g'), '15');
    assert.equal(arg(a, '-maxrate'), undefined);
  });

  it('RFC 3890 / RFC 4566 §5.8: the peer\'s limit caps H.264 with a one-second VBV buffer', () => {
    const a = encoderArgs({ source: 'testsrc', bitrateKbps: 384 });
    assert.deepEqual([arg(a, '-maxrate'), arg(a, '-bufsize')], ['384k', '384k']);
    assert.equal(arg(encoderArgs({ source: 'testsrc', bitrateKbps: 2 }), '-maxrate'), '16k', 'a floor: an encoder cannot go to nothing');
  });

  it('VP8: libvpx in real time, no lagged or alt-ref frames, error resilient, IVF out; 500 kbit/s unless the peer asks for less', () => {
    const a = encoderArgs({ source: 'clip.mp4', codec: 'VP8', fps: 10 });
    assert.deepEqual([arg(a, '-c:v'), arg(a, '-deadline'), arg(a, '-lag-in-frames'), arg(a, '-auto-alt-ref'), arg(a, '-error-resilient'), arg(a, '-g'), arg(a, '-f')],
      ['libvpx', 'realtime', '0', '0', '1', String(10 * KEYFRAME_INTERVAL_S), 'ivf']);
    assert.equal(arg(a, '-b:v'), '500k');
    assert.equal(arg(encoderArgs({ source: 'testsrc', codec: 'VP8', bitrateKbps: 256.4 }), '-b:v'), '256k');
  });

  it('the recorder copies Annex B (H.264, at the frame rate given) or IVF (VP8) into the file', () => {
    const h = recorderArgs('/tmp/x.mkv', 15);
    assert.deepEqual([arg(h, '-f'), arg(h, '-framerate'), arg(h, '-i'), arg(h, '-c'), h.at(-1)], ['h264', '15', 'pipe:0', 'copy', '/tmp/x.mkv']);
    const v = recorderArgs('/tmp/x.mkv', 15, 'VP8');
    assert.deepEqual([arg(v, '-f'), arg(v, '-framerate'), arg(v, '-i'), arg(v, '-c'), v.at(-1)], ['ivf', undefined, 'pipe:0', 'copy', '/tmp/x.mkv']);
  });
});
