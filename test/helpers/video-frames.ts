// What ffmpeg says about a recorded video: its frame count (ffprobe) and its PSNR against ffmpeg's own testsrc render
// (the pattern the TV agents send with --video testsrc), frame n against source frame n + offset.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { DEFAULT_VIDEO_FORMAT } from '../../src/media/ffmpeg.ts';

export const haveFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0 && spawnSync('ffprobe', ['-version']).status === 0;
const { width, height, fps } = DEFAULT_VIDEO_FORMAT;

/** The decoded frames of `file`'s first video stream; its size is asserted to be the agents' format. */
export function framesOf(file: string): number {
  const out = execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames,width,height', '-of', 'json', file], { encoding: 'utf8' });
  const s = (JSON.parse(out) as { streams: Array<{ nb_read_frames: string; width: number; height: number }> }).streams[0];
  assert.deepEqual([s.width, s.height], [width, height]);
  return Number(s.nb_read_frames);
}

/** Average PSNR (dB) of `file`'s frames against testsrc's, frame n against frame n + offset. */
export function psnrAgainstTestsrc(file: string, offset: number): number {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-nostats', '-i', file, '-f', 'lavfi', '-i', `testsrc=size=${width}x${height}:rate=${fps}:duration=30`,
    '-lavfi', `[0:v]setpts=N/(${fps}*TB)[a];[1:v]trim=start_frame=${offset},setpts=N/(${fps}*TB)[b];[a][b]psnr=shortest=1`, '-f', 'null', '-'], { encoding: 'utf8' });
  const m = /PSNR .*average:([0-9.]+|inf)/.exec(r.stderr);
  assert.ok(m, `no PSNR in ffmpeg's output: ${r.stderr.slice(-500)}`);
  return m[1] === 'inf' ? Infinity : Number(m[1]);
}
