// ffmpeg as a child process (no native modules): an H.264 encoder from a test pattern or a file to an Annex B byte
// stream on its stdout, split into access units; and a recorder taking received Annex B on its stdin into a
// container (.mkv) without re-encoding. Every child is killed by stop(); a missing ffmpeg is a clear error.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { TvphoneError } from '../errors.ts';
import { joinAnnexB, NAL_AUD, nalType, splitAnnexB } from './h264-rtp.ts';

/** Bytes read from the encoder without a complete NAL unit before it is treated as broken. */
const MAX_PENDING_BYTES = 4 << 20;
/** NAL units in one access unit before it is treated as broken. */
const MAX_NALS_PER_UNIT = 256;

export interface VideoFormat {
  width: number;
  height: number;
  fps: number;
}

export const DEFAULT_VIDEO_FORMAT: VideoFormat = { width: 320, height: 240, fps: 15 };

export interface H264EncoderOptions extends Partial<VideoFormat> {
  /** 'testsrc' (ffmpeg's lavfi test pattern) or a file to loop */
  source: string;
  /** seconds between keyframes (default 1) */
  keyframeIntervalS?: number;
  /** the ffmpeg binary (default 'ffmpeg' on PATH) */
  ffmpegPath?: string;
}

/** The ffmpeg arguments of the encoder: Constrained Baseline (RFC 6184 profile-level-id 42e0..), one slice, an AUD before each access unit. */
export function encoderArgs(o: H264EncoderOptions): string[] {
  const f = { ...DEFAULT_VIDEO_FORMAT, ...o };
  const gop = Math.max(1, Math.round(f.fps * (o.keyframeIntervalS ?? 1)));
  const input = o.source === 'testsrc'
    ? ['-f', 'lavfi', '-i', `testsrc=size=${f.width}x${f.height}:rate=${f.fps}`]
    : ['-stream_loop', '-1', '-i', o.source];
  return [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-re', ...input, '-an',
    '-vf', `scale=${f.width}:${f.height},fps=${f.fps},format=yuv420p`,
    '-c:v', 'libx264', '-profile:v', 'baseline', '-level:v', '3.1', '-preset', 'ultrafast', '-tune', 'zerolatency',
    '-threads', '1', '-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0',
    '-bsf:v', 'h264_metadata=aud=insert', '-flush_packets', '1', '-f', 'h264', 'pipe:1',
  ];
}

/** The ffmpeg arguments of the recorder: Annex B on stdin, copied into `file` (the container from its extension). */
export function recorderArgs(file: string, fps: number): string[] {
  return ['-hide_banner', '-loglevel', 'error', '-fflags', '+genpts', '-f', 'h264', '-framerate', String(fps), '-i', 'pipe:0', '-c', 'copy', '-y', file];
}

/** Rejects with ERR_FFMPEG_MISSING when `path` cannot be run (checked once at start by what needs video). */
export async function checkFfmpeg(path = 'ffmpeg'): Promise<void> {
  const child = spawn(path, ['-hide_banner', '-version'], { stdio: 'ignore' });
  await spawned(child, path);
  await exited(child);
}

function spawned(child: ChildProcess, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT'
        ? new TvphoneError('ERR_FFMPEG_MISSING', `video needs ffmpeg, and "${path}" was not found (install it: apt-get install ffmpeg)`, { cause: err })
        : new TvphoneError('ERR_FFMPEG', `cannot start ${path}: ${err.message}`, { cause: err }));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('close', () => resolve());
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child is gone. */
async function kill(child: ChildProcess, graceMs = 2_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = exited(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

export interface H264EncoderEvents {
  /** one access unit (its NAL units, the AUD left out), in order */
  accessUnit: [nals: Uint8Array[]];
  /** the encoder exited on its own or failed */
  error: [err: Error];
}

/** ffmpeg encoding to H.264; `accessUnit` fires for each encoded picture as ffmpeg paces it (-re: real time). */
export class H264Encoder extends EventEmitter<H264EncoderEvents> {
  readonly options: H264EncoderOptions;
  readonly format: VideoFormat;
  #child: ChildProcess | null = null;
  #pending: Uint8Array = new Uint8Array(0);
  #unit: Uint8Array[] = [];
  #stopped = false;
  #stderr = '';

  constructor(o: H264EncoderOptions) {
    super();
    this.options = o;
    this.format = { ...DEFAULT_VIDEO_FORMAT, ...Object.fromEntries(Object.entries({ width: o.width, height: o.height, fps: o.fps }).filter(([, v]) => v !== undefined)) };
  }

  /** Spawns ffmpeg; rejects with TvphoneError ERR_FFMPEG_MISSING when there is no ffmpeg. */
  async start(): Promise<void> {
    if (this.#stopped) return; // stopped before it started: nothing to spawn
    const path = this.options.ffmpegPath ?? 'ffmpeg';
    const child = spawn(path, encoderArgs({ ...this.options, ...this.format }), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    await spawned(child, path);
    child.stdout?.on('data', (b: Buffer) => this.#data(b));
    child.stderr?.on('data', (b: Buffer) => { this.#stderr = (this.#stderr + b.toString()).slice(-2000); });
    child.once('close', (code, signal) => {
      if (this.#stopped) return;
      this.#emit('error', new TvphoneError('ERR_FFMPEG', `the video encoder exited (${signal ?? code}): ${this.#stderr.trim() || 'no message'}`));
    });
  }

  #data(b: Buffer): void {
    const buf = new Uint8Array(this.#pending.length + b.length);
    buf.set(this.#pending);
    buf.set(b, this.#pending.length);
    const { nals, rest } = splitAnnexB(buf, false);
    this.#pending = rest.slice();
    if (this.#pending.length > MAX_PENDING_BYTES) { this.#pending = new Uint8Array(0); this.#unit = []; }
    for (const nal of nals) {
      // the h264_metadata bitstream filter puts an access unit delimiter before each access unit (H.264 §7.4.1.2.3)
      if (nalType(nal) === NAL_AUD) { this.#flush(); continue; }
      if (this.#unit.length >= MAX_NALS_PER_UNIT) { this.#unit = []; continue; }
      this.#unit.push(nal.slice());
    }
  }

  #flush(): void {
    const unit = this.#unit;
    this.#unit = [];
    if (unit.length > 0) this.#emit('accessUnit', unit);
  }

  #emit<K extends keyof H264EncoderEvents>(event: K, ...args: H264EncoderEvents[K]): void {
    try { (this.emit as (e: K, ...a: H264EncoderEvents[K]) => boolean)(event, ...args); } catch { /* a throwing listener must not stop the encoder */ }
  }

  /** Kills ffmpeg. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#child) await kill(this.#child);
  }
}

/** ffmpeg writing received access units (Annex B) into a file without re-encoding. */
export class H264Recorder {
  readonly file: string;
  readonly #fps: number;
  readonly #ffmpegPath: string;
  #child: ChildProcess | null = null;
  #stopping: Promise<void> | null = null;
  #stderr = '';
  /** access units written */
  units = 0;

  constructor(file: string, o: { fps?: number; ffmpegPath?: string } = {}) {
    this.file = file;
    this.#fps = o.fps ?? DEFAULT_VIDEO_FORMAT.fps;
    this.#ffmpegPath = o.ffmpegPath ?? 'ffmpeg';
  }

  async start(): Promise<void> {
    if (this.#stopping) return; // stopped before it started: nothing to spawn
    const child = spawn(this.#ffmpegPath, recorderArgs(this.file, this.#fps), { stdio: ['pipe', 'ignore', 'pipe'] });
    this.#child = child;
    await spawned(child, this.#ffmpegPath);
    child.stderr?.on('data', (b: Buffer) => { this.#stderr = (this.#stderr + b.toString()).slice(-2000); });
    child.stdin?.on('error', () => { /* ffmpeg went away; stop() reports */ });
  }

  write(nals: readonly Uint8Array[]): void {
    const stdin = this.#child?.stdin;
    if (!stdin || this.#stopping || stdin.destroyed) return;
    // a recorder that cannot keep up loses pictures rather than buffering without bound
    if (stdin.writableLength > 8 << 20) return;
    stdin.write(joinAnnexB(nals));
    this.units++;
  }

  /** Closes ffmpeg's input so it finishes the file; killed if it has not within 5 s. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      const child = this.#child;
      if (!child) return;
      const gone = exited(child);
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await gone;
      clearTimeout(timer);
    })();
    return this.#stopping;
  }

  /** ffmpeg's last error output (for diagnostics). */
  get stderr(): string { return this.#stderr; }
}

/** Runs ffmpeg or ffprobe with `args`, collecting stdout (at most maxBytes); rejects on failure or after timeoutMs. */
export function runFfmpeg(cmd: 'ffmpeg' | 'ffprobe', args: string[], maxBytes = 64 * 1024 * 1024, timeoutMs = 15_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    let bytes = 0;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (b: Buffer) => {
      bytes += b.length;
      if (bytes <= maxBytes) chunks.push(b);
      else child.kill('SIGKILL');
    });
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(Buffer.concat(chunks));
      else reject(new Error(`${cmd} exited ${code}`));
    });
  });
}

/** The length of a media file from its container (ffprobe); 0 when it cannot be told. */
export async function probeDurationMs(file: string): Promise<number> {
  try {
    const out = await runFfmpeg('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'default=nw=1:nk=1', file]);
    const s = Number(out.toString('utf8').trim());
    return Number.isFinite(s) ? Math.round(s * 1000) : 0;
  } catch {
    return 0;
  }
}

/** The audio of a media file (a video message's Matroska), 8 kHz mono 16-bit, decoded by ffmpeg. */
export async function audioTrackOf(file: string): Promise<Int16Array> {
  const pcm = await runFfmpeg('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-i', file, '-vn', '-ac', '1', '-ar', '8000', '-f', 's16le', 'pipe:1']);
  const out = new Int16Array(pcm.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = pcm.readInt16LE(i * 2);
  return out;
}
