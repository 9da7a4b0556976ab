// ffmpeg as child processes (no native modules): a video encoder from a test pattern or a file (one child decoding the
// source into raw pictures, another encoding them: H.264 by libx264, an Annex B byte stream on its stdout split into
// access units, or VP8 by libvpx, an IVF stream split into frames; a keyframe on request by switching to a waiting
// encoder); and a recorder taking received H.264 (Annex B) or VP8 (IVF) on its stdin into a container (.mkv) without
// re-encoding. Every child is killed by stop(); a missing ffmpeg is a clear error.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { TvphoneError } from '../errors.ts';
import { performance } from 'node:perf_hooks';
import { joinAnnexB, NAL_AUD, NAL_IDR, nalType, splitAnnexB } from './h264-rtp.ts';
import { isVp8Keyframe, ivfFileHeader, ivfFrame, splitIvf, vp8KeyframeSize } from './vp8-rtp.ts';

export type VideoCodecName = 'H264' | 'VP8';

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

export interface VideoEncoderOptions extends Partial<VideoFormat> {
  /** 'testsrc' (ffmpeg's lavfi test pattern) or a file to loop */
  source: string;
  /** default H.264 */
  codec?: VideoCodecName;
  /** target bitrate, kbit/s (a ceiling for H.264, libvpx's target for VP8); default: H.264 by quality, VP8 500 */
  bitrateKbps?: number;
  /** seconds between the encoder's own keyframes (default KEYFRAME_INTERVAL_S) */
  keyframeIntervalS?: number;
  /** the least time between two keyframes given on request (default MIN_KEYFRAME_ON_REQUEST_MS) */
  minKeyframeOnRequestMs?: number;
  /** the ffmpeg binary (default 'ffmpeg' on PATH) */
  ffmpegPath?: string;
}

/**
 * Seconds between keyframes nobody asked for. A keyframe costs several predicted pictures' bits, and a receiver that
 * lost one asks for another (RFC 4585 §6.3.1 PLI, RFC 5104 §4.3.1 FIR), which requestKeyframe() gives at once: the
 * periodic one is only for a receiver that never asks, so it can be as rare as hardware phones make it.
 */
export const KEYFRAME_INTERVAL_S = 10;
/**
 * The least time between two keyframes on request: a receiver repeats its PLI until the keyframe has come (ours
 * every 300 ms), and a keyframe each time would spend the stream's bitrate on keyframes alone.
 */
export const MIN_KEYFRAME_ON_REQUEST_MS = 500;
/** raw frames waiting for an encoder that does not keep up before more are dropped (one second at 15 fps) */
const MAX_QUEUED_FRAMES = 15;

const base = ['-hide_banner', '-loglevel', 'error', '-nostdin'];
const formatOf = (o: Partial<VideoFormat>): VideoFormat => ({ ...DEFAULT_VIDEO_FORMAT, ...Object.fromEntries(Object.entries({ width: o.width, height: o.height, fps: o.fps }).filter(([, v]) => v !== undefined)) });

/**
 * The ffmpeg arguments of the source: testsrc or the file (looped) decoded in real time (-re), scaled to the format,
 * out as raw yuv420p pictures (width × height × 3/2 bytes each) for the encoders.
 */
export function sourceArgs(o: VideoEncoderOptions): string[] {
  const f = formatOf(o);
  const input = o.source === 'testsrc'
    ? ['-f', 'lavfi', '-i', `testsrc=size=${f.width}x${f.height}:rate=${f.fps}`]
    : ['-stream_loop', '-1', '-i', o.source];
  return [...base, '-re', ...input, '-an', '-vf', `scale=${f.width}:${f.height},fps=${f.fps},format=yuv420p`, '-f', 'rawvideo', 'pipe:1'];
}

/**
 * The ffmpeg arguments of an encoder, taking the source's raw pictures on stdin: its first picture is a keyframe.
 * H.264: Constrained Baseline (RFC 6184 profile-level-id 42e0..), one slice, an AUD before each access unit. VP8: libvpx
 * in real time, no alt-ref or lagged frames (each frame out as it is captured), error resilient (a loss spoils less),
 * IVF out.
 */
export function encoderArgs(o: VideoEncoderOptions): string[] {
  const f = formatOf(o);
  const gop = Math.max(1, Math.round(f.fps * (o.keyframeIntervalS ?? KEYFRAME_INTERVAL_S)));
  const head = [...base, '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${f.width}x${f.height}`, '-r', String(f.fps), '-i', 'pipe:0', '-an'];
  const kbps = o.bitrateKbps !== undefined ? Math.max(16, Math.round(o.bitrateKbps)) : undefined;
  if (o.codec === 'VP8') {
    return [
      ...head, '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-threads', '1', '-g', String(gop), '-keyint_min', String(gop),
      '-auto-alt-ref', '0', '-lag-in-frames', '0', '-error-resilient', '1', '-b:v', `${kbps ?? 500}k`,
      '-flush_packets', '1', '-f', 'ivf', 'pipe:1',
    ];
  }
  // a ceiling with a one-second buffer (VBV): x264 keeps the stream under the remote's limit
  const rate = kbps !== undefined ? ['-maxrate', `${kbps}k`, '-bufsize', `${kbps}k`] : [];
  return [
    ...head, ...rate,
    '-c:v', 'libx264', '-profile:v', 'baseline', '-level:v', '3.1', '-preset', 'ultrafast', '-tune', 'zerolatency',
    '-threads', '1', '-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0',
    '-bsf:v', 'h264_metadata=aud=insert', '-flush_packets', '1', '-f', 'h264', 'pipe:1',
  ];
}

/** The ffmpeg arguments of the recorder: Annex B (H.264) or IVF (VP8) on stdin, copied into `file` (the container from its extension). */
export function recorderArgs(file: string, fps: number, codec: VideoCodecName = 'H264'): string[] {
  const input = codec === 'VP8' ? ['-f', 'ivf'] : ['-f', 'h264', '-framerate', String(fps)];
  return ['-hide_banner', '-loglevel', 'error', '-fflags', '+genpts', ...input, '-i', 'pipe:0', '-c', 'copy', '-y', file];
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

export interface VideoEncoderEvents {
  /** one frame: H.264, an access unit's NAL units (the AUD left out); VP8, [frame]; in order */
  accessUnit: [nals: Uint8Array[]];
  /** the source or an encoder exited on its own, or failed */
  error: [err: Error];
}

/** One encoder child: raw pictures in on stdin, H.264 (Annex B) or VP8 (IVF) out, split into frames. */
class EncoderProcess {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly #vp8: boolean;
  /** pictures written to it, and frames of it given out */
  written = 0;
  given = 0;
  /** it was switched to on a keyframe request */
  onRequest = false;
  /** its frames not yet given out (those of the encoder before it are still coming) */
  readonly out: Uint8Array[][] = [];
  /** its input was closed by us (switched away from): it finishes its last frames and exits */
  ended = false;
  /** it has exited: every frame it gave is in `out` */
  exited = false;
  stderr = '';
  #pending: Uint8Array = new Uint8Array(0);
  #unit: Uint8Array[] = [];
  #ivfHeaderSeen = false;
  #killTimer: NodeJS.Timeout | undefined;

  constructor(path: string, args: string[], vp8: boolean, on: { output: () => void; exit: (code: number | null, signal: string | null) => void; bad: (err: Error) => void }) {
    this.#vp8 = vp8;
    this.child = spawn(path, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.ready = spawned(this.child, path);
    this.ready.catch(() => { /* reported by whoever awaits it, or at exit */ });
    this.child.stdin?.on('error', () => { /* it went away: its exit is reported */ });
    this.child.stdout?.on('data', (b: Buffer) => { if (this.#data(b, on.bad)) on.output(); });
    this.child.stderr?.on('data', (b: Buffer) => { this.stderr = (this.stderr + b.toString()).slice(-2000); });
    this.child.once('close', (code, signal) => {
      clearTimeout(this.#killTimer);
      if (!this.#vp8) {
        // the stream's end ends its last NAL unit and access unit
        for (const nal of splitAnnexB(this.#pending, true).nals) this.#nal(nal);
        this.#flush();
      }
      this.#pending = new Uint8Array(0);
      this.exited = true;
      on.exit(code, signal);
    });
  }

  /** Closes its input: ffmpeg encodes what it was given and exits (killed if it has not within `graceMs`). */
  end(graceMs = 2_000): void {
    this.ended = true;
    this.child.stdin?.end();
    this.#killTimer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
  }

  /** True when a frame was completed. */
  #data(b: Buffer, bad: (err: Error) => void): boolean {
    const before = this.out.length;
    const buf = new Uint8Array(this.#pending.length + b.length);
    buf.set(this.#pending);
    buf.set(b, this.#pending.length);
    if (this.#vp8) {
      let r: ReturnType<typeof splitIvf>;
      try {
        r = splitIvf(buf, this.#ivfHeaderSeen, MAX_PENDING_BYTES);
      } catch (err) {
        this.#pending = new Uint8Array(0);
        bad(err as Error);
        return false;
      }
      this.#ivfHeaderSeen = r.headerSeen;
      this.#pending = r.rest.slice();
      for (const frame of r.frames) this.out.push([frame]);
      return this.out.length > before;
    }
    const { nals, rest } = splitAnnexB(buf, false);
    this.#pending = rest.slice();
    if (this.#pending.length > MAX_PENDING_BYTES) { this.#pending = new Uint8Array(0); this.#unit = []; }
    for (const nal of nals) this.#nal(nal);
    return this.out.length > before;
  }

  #nal(nal: Uint8Array): void {
    // the h264_metadata bitstream filter puts an access unit delimiter before each access unit (H.264 §7.4.1.2.3)
    if (nalType(nal) === NAL_AUD) return this.#flush();
    if (this.#unit.length >= MAX_NALS_PER_UNIT) { this.#unit = []; return; }
    this.#unit.push(nal.slice());
  }

  #flush(): void {
    const unit = this.#unit;
    this.#unit = [];
    if (unit.length > 0) this.out.push(unit);
  }

  isKeyframe(units: readonly Uint8Array[]): boolean {
    return this.#vp8 ? units[0] !== undefined && isVp8Keyframe(units[0]) : units.some((n) => nalType(n) === NAL_IDR);
  }
}

/**
 * The video to send, by ffmpeg children: a source (testsrc or a file, paced in real time) giving raw pictures, which
 * are written to an encoder (H.264 or VP8); `accessUnit` fires for each encoded picture. A second encoder waits idle
 * (blocked on its empty stdin). ffmpeg's command line cannot be asked for a keyframe while it runs, but an encoder's
 * first picture is always one: requestKeyframe() writes the next picture to the waiting encoder instead, gives out its
 * frames after the last ones of the encoder before it, closes that one and starts another to wait.
 */
export class VideoEncoder extends EventEmitter<VideoEncoderEvents> {
  readonly options: VideoEncoderOptions;
  readonly format: VideoFormat;
  readonly #frameBytes: number;
  readonly #children = new Set<ChildProcess>();
  #source: ChildProcess | null = null;
  #sourceStderr = '';
  /** the encoders whose frames are still to come, in order: the first one's go out, the last is written to */
  readonly #chain: EncoderProcess[] = [];
  #spare: EncoderProcess | null = null;
  /** the raw picture being read from the source */
  #raw: Buffer | null = null;
  #rawBytes = 0;
  /** a keyframe was asked for and is not given yet (not in flight either) */
  #owed = false;
  #lastSwitchAt = -Infinity;
  #stopped = false;
  /** keyframes given on request (by switching to the waiting encoder), and pictures dropped by an encoder behind */
  keyframesOnRequest = 0;
  droppedPictures = 0;

  constructor(o: VideoEncoderOptions) {
    super();
    this.options = o;
    this.format = formatOf(o);
    this.#frameBytes = (this.format.width * this.format.height * 3) / 2;
  }

  /** Spawns ffmpeg (the encoder, the one waiting, the source); rejects with TvphoneError ERR_FFMPEG_MISSING when there is no ffmpeg. */
  async start(): Promise<void> {
    if (this.#stopped) return; // stopped before it started: nothing to spawn
    const path = this.options.ffmpegPath ?? 'ffmpeg';
    const first = this.#newEncoder();
    this.#chain.push(first);
    await first.ready;
    if (this.#stopped) return;
    this.#spare = this.#newEncoder();
    const source = spawn(path, sourceArgs({ ...this.options, ...this.format }), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#source = source;
    this.#children.add(source);
    await spawned(source, path);
    source.stdout?.on('data', (b: Buffer) => this.#sourceData(b));
    source.stderr?.on('data', (b: Buffer) => { this.#sourceStderr = (this.#sourceStderr + b.toString()).slice(-2000); });
    source.once('close', (code, signal) => {
      this.#children.delete(source);
      if (!this.#stopped) this.#emit('error', new TvphoneError('ERR_FFMPEG', `the video source exited (${signal ?? code}): ${this.#sourceStderr.trim() || 'no message'}`));
    });
  }

  /**
   * RFC 4585 §6.3.1 PLI, RFC 5104 §4.3.1 FIR: a keyframe as soon as possible, from the next picture on. A request while
   * a keyframe is on its way is answered by that one; keyframes on request are at least minKeyframeOnRequestMs apart.
   */
  requestKeyframe(): void {
    const current = this.#chain.at(-1);
    if (this.#stopped || current === undefined) return;
    // an encoder's first frame is a keyframe: one that has given none yet is answering already
    if (current.given === 0) return;
    this.#owed = true;
  }

  #newEncoder(): EncoderProcess {
    const path = this.options.ffmpegPath ?? 'ffmpeg';
    const p: EncoderProcess = new EncoderProcess(path, encoderArgs({ ...this.options, ...this.format }), this.options.codec === 'VP8', {
      output: () => this.#pump(),
      bad: (err) => this.#emit('error', err),
      exit: (code, signal) => {
        this.#children.delete(p.child);
        if (this.#stopped) return;
        if (p.ended) return this.#pump();
        // the waiting one gone: requests wait for the periodic keyframe
        if (p === this.#spare) this.#spare = null;
        this.#emit('error', new TvphoneError('ERR_FFMPEG', `the video encoder exited (${signal ?? code}): ${p.stderr.trim() || 'no message'}`));
      },
    });
    this.#children.add(p.child);
    return p;
  }

  /** The source's bytes, cut into raw pictures (yuv420p: width × height × 3/2 bytes). */
  #sourceData(b: Buffer): void {
    let o = 0;
    while (o < b.length) {
      this.#raw ??= Buffer.allocUnsafe(this.#frameBytes);
      const n = b.copy(this.#raw, this.#rawBytes, o);
      o += n;
      this.#rawBytes += n;
      if (this.#rawBytes < this.#frameBytes) continue;
      const picture = this.#raw;
      this.#raw = null;
      this.#rawBytes = 0;
      this.#picture(picture);
    }
  }

  #picture(picture: Buffer): void {
    if (this.#stopped) return;
    const now = performance.now();
    const minMs = this.options.minKeyframeOnRequestMs ?? MIN_KEYFRAME_ON_REQUEST_MS;
    if (this.#owed && this.#spare !== null && now - this.#lastSwitchAt >= minMs) this.#switch(now);
    const enc = this.#chain.at(-1);
    const stdin = enc?.child.stdin;
    if (!enc || !stdin || stdin.destroyed) return;
    if (stdin.writableLength >= MAX_QUEUED_FRAMES * this.#frameBytes) { this.droppedPictures++; return; }
    stdin.write(picture);
    enc.written++;
  }

  /** The next picture goes to the waiting encoder (its first frame a keyframe); the one before finishes and exits. */
  #switch(now: number): void {
    const next = this.#spare as EncoderProcess;
    const old = this.#chain.at(-1) as EncoderProcess;
    this.#owed = false;
    this.#lastSwitchAt = now;
    next.onRequest = true;
    this.#chain.push(next);
    old.end();
    this.#spare = this.#newEncoder();
  }

  /** Gives out the frames in order: the first encoder's, and once it has exited, the next one's. */
  #pump(): void {
    while (this.#chain.length > 0) {
      const head = this.#chain[0];
      for (const units of head.out.splice(0)) {
        if (head.given++ === 0 && head.onRequest) this.keyframesOnRequest++;
        else if (this.#owed && head.isKeyframe(units)) this.#owed = false; // a periodic keyframe came first
        this.#emit('accessUnit', units);
      }
      if (!head.exited || this.#chain.length === 1) return;
      this.#chain.shift();
    }
  }

  #emit<K extends keyof VideoEncoderEvents>(event: K, ...args: VideoEncoderEvents[K]): void {
    try { (this.emit as (e: K, ...a: VideoEncoderEvents[K]) => boolean)(event, ...args); } catch { /* a throwing listener must not stop the encoder */ }
  }

  /** Kills every ffmpeg child. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all([...this.#children].map((c) => kill(c)));
  }

  /** the process ids of the source, the encoders and the one waiting (for measurements) */
  get pids(): { source?: number; encoders: number[]; spare?: number } {
    return { ...(this.#source?.pid !== undefined ? { source: this.#source.pid } : {}), encoders: this.#chain.flatMap((e) => (e.child.pid === undefined ? [] : [e.child.pid])), ...(this.#spare?.child.pid !== undefined ? { spare: this.#spare.child.pid } : {}) };
  }
}

/**
 * A child process (ffmpeg, ffplay) fed the received frames on stdin: H.264 as Annex B, VP8 as IVF. A child that cannot
 * keep up loses pictures rather than buffering without bound.
 */
abstract class FramePipe {
  readonly #codec: VideoCodecName;
  readonly #format: VideoFormat;
  readonly #command: string;
  #child: ChildProcess | null = null;
  #stopping: Promise<void> | null = null;
  #stderr = '';
  /** access units written */
  units = 0;

  constructor(command: string, o: { fps?: number; codec?: VideoCodecName; width?: number; height?: number }) {
    this.#command = command;
    this.#codec = o.codec ?? 'H264';
    // IVF's header names a size (the container keeps it): that of the first keyframe received, else this
    const fps = o.fps ?? DEFAULT_VIDEO_FORMAT.fps;
    this.#format = { width: o.width ?? DEFAULT_VIDEO_FORMAT.width, height: o.height ?? DEFAULT_VIDEO_FORMAT.height, fps };
  }

  protected abstract args(): string[];
  protected get fps(): number { return this.#format.fps; }
  protected get codec(): VideoCodecName { return this.#codec; }

  async start(): Promise<void> {
    if (this.#stopping) return; // stopped before it started: nothing to spawn
    const child = spawn(this.#command, this.args(), { stdio: ['pipe', 'ignore', 'pipe'] });
    this.#child = child;
    await spawned(child, this.#command);
    child.stderr?.on('data', (b: Buffer) => { this.#stderr = (this.#stderr + b.toString()).slice(-2000); });
    child.stdin?.on('error', () => { /* the child went away; stop() reports */ });
  }

  /** One received frame: H.264, an access unit's NAL units; VP8, [frame]. */
  write(nals: readonly Uint8Array[]): void {
    const stdin = this.#child?.stdin;
    if (!stdin || this.#stopping || stdin.destroyed) return;
    if (stdin.writableLength > 8 << 20) return;
    if (this.#codec === 'VP8' && this.units === 0) {
      const size = vp8KeyframeSize(nals[0] ?? new Uint8Array(0)) ?? this.#format;
      stdin.write(ivfFileHeader(size.width, size.height, this.#format.fps));
    }
    stdin.write(this.#codec === 'VP8' ? ivfFrame(nals[0] ?? new Uint8Array(0), this.units) : joinAnnexB(nals));
    this.units++;
  }

  /** Closes the child's input so it finishes; killed if it has not within 5 s. Idempotent. */
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

  /** the child's last error output (for diagnostics) */
  get stderr(): string { return this.#stderr; }
}

/** ffmpeg writing received frames into a file without re-encoding. */
export class VideoRecorder extends FramePipe {
  readonly file: string;

  constructor(file: string, o: { fps?: number; ffmpegPath?: string; codec?: VideoCodecName; width?: number; height?: number } = {}) {
    super(o.ffmpegPath ?? 'ffmpeg', o);
    this.file = file;
  }

  protected args(): string[] { return recorderArgs(this.file, this.fps, this.codec); }
}

/** ffplay showing received frames in a window as they come (--show-video): no buffering, late pictures dropped. */
export class VideoPlayer extends FramePipe {
  readonly title: string;

  constructor(title: string, o: { fps?: number; ffplayPath?: string; codec?: VideoCodecName } = {}) {
    super(o.ffplayPath ?? 'ffplay', o);
    this.title = title;
  }

  protected args(): string[] { return playerArgs(this.title, this.fps, this.codec); }
}

/** The ffplay arguments of the player: Annex B (H.264) or IVF (VP8) on stdin, shown at once, to the input's end. */
export function playerArgs(title: string, fps: number, codec: VideoCodecName = 'H264'): string[] {
  const input = codec === 'VP8' ? ['-f', 'ivf'] : ['-f', 'h264', '-framerate', String(fps)];
  // shown as soon as it can be: no probing of the stream beyond its first bytes (its format is known), late pictures
  // dropped; -fflags nobuffer is not used: with it ffplay 5.1 showed one picture of a piped stream
  return ['-hide_banner', '-loglevel', 'error', '-autoexit', '-an', '-framedrop', '-probesize', '32', '-analyzeduration', '0',
    '-flags', 'low_delay', '-window_title', title, ...input, '-i', 'pipe:0'];
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

/** The names of the H.264-only first versions, for code written against them. */
export { VideoEncoder as H264Encoder, VideoRecorder as H264Recorder };
export type { VideoEncoderOptions as H264EncoderOptions };
