// What a received video recording holds, by ffprobe and ffmpeg: its frame count, and how close it is to ffmpeg's
// testsrc pattern (the sender's source in the video tests).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { DEFAULT_VIDEO_FORMAT } from '../../src/media/ffmpeg.ts';

export const haveFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0 && spawnSync('ffprobe', ['-version']).status === 0;
const { width, height, fps } = DEFAULT_VIDEO_FORMAT;

/** The frames ffprobe decodes in `file` (its size checked to be the default format's). */
export function framesOf(file: string): number {
  const out = execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames,width,height,codec_name', '-of', 'json', file], { encoding: 'utf8' });
  const s = (JSON.parse(out) as { streams: Array<{ nb_read_frames: string; width: number; height: number }> }).streams[0];
  assert.deepEqual([s.width, s.height], [width, height]);
  return Number(s.nb_read_frames);
}

/** The codec ffprobe names for `file`'s video stream (h264, vp8). */
export function codecOf(file: string): string {
  const out = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name', '-of', 'json', file], { encoding: 'utf8' });
  return (JSON.parse(out) as { streams: Array<{ codec_name: string }> }).streams[0].codec_name;
}

/** Average PSNR (dB) of `file`'s frames against testsrc's, frame n against frame n + offset. */
export function psnrAgainstTestsrc(file: string, offset: number): number {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-nostats', '-i', file, '-f', 'lavfi', '-i', `testsrc=size=${width}x${height}:rate=${fps}:duration=30`,
    '-lavfi', `[0:v]setpts=N/(${fps}*TB)[a];[1:v]trim=start_frame=${offset},setpts=N/(${fps}*TB)[b];[a][b]psnr=shortest=1`, '-f', 'null', '-'], { encoding: 'utf8' });
  const m = /PSNR .*average:([0-9.]+|inf)/.exec(r.stderr);
  assert.ok(m, `no PSNR in ffmpeg's output: ${r.stderr.slice(-500)}`);
  return m[1] === 'inf' ? Infinity : Number(m[1]);
}

/** The best PSNR against testsrc over offsets 0-3 (ffmpeg's encode is best aligned a frame on), and 5 frames past it. */
export function bestPsnr(file: string): { best: number; offset: number; far: number } {
  const byOffset = [0, 1, 2, 3].map((k) => psnrAgainstTestsrc(file, k));
  const best = Math.max(...byOffset);
  const offset = byOffset.indexOf(best);
  return { best, offset, far: psnrAgainstTestsrc(file, offset + 5) };
}
