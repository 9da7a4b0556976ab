// Muxing a received H.264 stream (Annex B, as depacketised: RFC 6184) or VP8 stream (IVF, RFC 7741) with a WAV into one Matroska file, by ffmpeg as
// a child process without re-encoding (-c copy): what a video message is kept and delivered as. Matroska because it
// holds H.264 and 16-bit PCM as they are (MP4 would want the PCM re-encoded or a non-standard sample entry), and
// ffmpeg, VLC, browsers' media stacks and TVs read it. Raw H.264 carries no timestamps: the frame rate is the
// stream's (from its 90 kHz RTP timestamps), constant; IVF carries each frame's. The audio starts `audioDelayMs`
// after the first picture.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TvphoneError } from '../errors.ts';

/** The video to mux: H.264 Annex B (starting at a keyframe: SPS, PPS, IDR) at a frame rate, or an IVF file of VP8. */
export type MuxVideo = { format: 'h264'; bytes: Uint8Array; fps: number } | { format: 'ivf'; bytes: Uint8Array };

export interface MuxInput {
  video: MuxVideo;
  /** the audio (a WAV file's bytes) */
  wav: Uint8Array;
  /** the audio's start after the first picture (negative: before it) */
  audioDelayMs: number;
  ffmpegPath?: string;
  /** ffmpeg is killed after this (default 30 s) */
  timeoutMs?: number;
}

export function muxArgs(video: string, audio: string, out: string, input: { format: 'h264'; fps: number } | { format: 'ivf' }, audioDelayMs: number): string[] {
  const videoIn = input.format === 'h264' ? ['-fflags', '+genpts', '-f', 'h264', '-framerate', input.fps.toFixed(3)] : ['-f', 'ivf'];
  return [
    '-hide_banner', '-loglevel', 'error', '-nostdin', ...videoIn, '-i', video,
    '-itsoffset', (audioDelayMs / 1000).toFixed(3), '-i', audio, '-map', '0:v:0', '-map', '1:a:0', '-c', 'copy', '-f', 'matroska', '-y', out,
  ];
}

/** The Matroska file's bytes; rejects with TvphoneError (ERR_FFMPEG_MISSING, ERR_FFMPEG) when ffmpeg cannot make it. */
export async function muxMatroska(o: MuxInput): Promise<Uint8Array> {
  if (o.video.format === 'h264' && !(o.video.fps > 0 && o.video.fps <= 240)) throw new RangeError(`frame rate ${o.video.fps}`);
  const dir = await mkdtemp(join(tmpdir(), 'tvphone-mux-'));
  try {
    const [video, audio, out] = [join(dir, `v.${o.video.format}`), join(dir, 'a.wav'), join(dir, 'out.mkv')];
    await writeFile(video, o.video.bytes);
    await writeFile(audio, o.wav);
    const path = o.ffmpegPath ?? 'ffmpeg';
    await new Promise<void>((resolve, reject) => {
      const child = spawn(path, muxArgs(video, audio, out, o.video.format === 'h264' ? { format: 'h264', fps: o.video.fps } : { format: 'ivf' }, o.audioDelayMs), { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr?.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-2000); });
      const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 30_000);
      child.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(err.code === 'ENOENT'
          ? new TvphoneError('ERR_FFMPEG_MISSING', `video messages need ffmpeg, and "${path}" was not found (install it: apt-get install ffmpeg)`, { cause: err })
          : new TvphoneError('ERR_FFMPEG', `cannot start ${path}: ${err.message}`, { cause: err }));
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new TvphoneError('ERR_FFMPEG', `ffmpeg could not mux the video message (${signal ?? code}): ${stderr.trim() || 'no message'}`));
      });
    });
    return new Uint8Array(await readFile(out));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
