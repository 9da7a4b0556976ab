// The video of a video message: the caller's H.264 access units (RFC 6184, depacketised by media/h264-rtp.ts) or VP8
// frames (RFC 7741, media/vp8-rtp.ts) kept as they came, from the first keyframe on, with their 90 kHz timestamps, up
// to maxSeconds and maxBytes. At the commit they are muxed with the recorded audio into Matroska
// (media/matroska-mux.ts). Pure: units in, Annex B (H.264) or IVF (VP8) out.
import { joinAnnexB, type AccessUnit } from '../media/h264-rtp.ts';
import type { MuxVideo } from '../media/matroska-mux.ts';
import type { VideoCodecName } from '../media/sdp.ts';
import { vp8KeyframeSize, writeIvf } from '../media/vp8-rtp.ts';

/** when the timestamps tell nothing (fewer than two pictures) */
const DEFAULT_FPS = 15;
const CLOCK_RATE = 90_000;

export interface VideoRecordingOptions {
  /** default H264 */
  codec?: VideoCodecName;
  maxSeconds: number;
  maxBytes: number;
  /** now, ms (the arrival time of the first picture, to place the audio against it) */
  now: () => number;
}

export class VideoRecording {
  readonly #o: VideoRecordingOptions;
  readonly #chunks: Uint8Array[] = [];
  /** 90 kHz ticks of each kept picture from the first */
  readonly #pts: number[] = [];
  #size: { width: number; height: number } | null = null;
  #bytes = 0;
  #frames = 0;
  #keyframes = 0;
  #lastTs = 0;
  /** 90 kHz ticks from the first picture to the last, RTP timestamps unwrapped (RFC 3550 §5.1: modulo 2^32) */
  #span = 0;
  #firstAt: number | null = null;
  #firstTimestamp = 0;
  #full = false;

  constructor(o: VideoRecordingOptions) {
    this.#o = o;
  }

  write(unit: AccessUnit): void {
    if (this.#full) return;
    // a decoder starts at a keyframe: what comes before the first one is not kept
    if (this.#frames === 0 && !unit.keyframe) return;
    const bytes = this.codec === 'VP8' ? unit.nals[0] : joinAnnexB(unit.nals);
    if (this.codec === 'VP8' && this.#frames === 0) this.#size = vp8KeyframeSize(bytes) ?? null;
    if (this.#frames > 0) {
      const delta = (unit.timestamp - this.#lastTs) >>> 0;
      // a timestamp going back (reordering was done before us, so a sender's jump) adds nothing to the span
      if (delta < 0x8000_0000) this.#span += delta;
      if (this.#span / CLOCK_RATE > this.#o.maxSeconds || this.#bytes + bytes.length > this.#o.maxBytes) {
        this.#full = true;
        return;
      }
    } else {
      this.#firstAt = this.#o.now();
      this.#firstTimestamp = unit.timestamp;
    }
    this.#lastTs = unit.timestamp;
    this.#chunks.push(bytes);
    this.#pts.push(this.#span);
    this.#bytes += bytes.length;
    this.#frames++;
    if (unit.keyframe) this.#keyframes++;
  }

  get codec(): VideoCodecName { return this.#o.codec ?? 'H264'; }
  get frames(): number { return this.#frames; }
  get keyframes(): number { return this.#keyframes; }
  get bytes(): number { return this.#bytes; }
  /** when the first kept picture arrived (ms of `now`), null before */
  get firstAt(): number | null { return this.#firstAt; }
  /** RTP timestamp of the first kept picture (0 before) */
  get firstTimestamp(): number { return this.#firstTimestamp; }

  /** Pictures per second, from the timestamps of those kept (rounded to 1/1000). */
  fps(): number {
    if (this.#frames < 2 || this.#span === 0) return DEFAULT_FPS;
    return Math.round(((this.#frames - 1) * CLOCK_RATE / this.#span) * 1000) / 1000;
  }

  /** What ffmpeg reads: H.264 as Annex B at the stream's frame rate; VP8 as IVF with each frame's timestamp. */
  container(): MuxVideo {
    if (this.codec === 'H264') return { format: 'h264', bytes: this.annexB(), fps: this.fps() };
    const frames = this.#chunks.map((data, i) => ({ pts: this.#pts[i], data }));
    return { format: 'ivf', bytes: writeIvf(frames, this.#size?.width ?? 0, this.#size?.height ?? 0) };
  }

  /** The pictures kept, as one H.264 Annex B byte stream. */
  annexB(): Uint8Array {
    const out = new Uint8Array(this.#bytes);
    let at = 0;
    for (const c of this.#chunks) { out.set(c, at); at += c.length; }
    return out;
  }
}

