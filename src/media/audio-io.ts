// Audio sources and sinks for a media session: 8 kHz mono 16-bit PCM in 20 ms frames.
import { ToneGenerator, type ToneOptions } from './tone.ts';
import { writeWav } from './wav.ts';

/** Supplies PCM frames to send. */
export interface AudioSource {
  /** Fills `frame` (160 samples for 20 ms at 8 kHz); returns false when the source has ended (frame is then silence). */
  read(frame: Int16Array): boolean;
}

/** Receives decoded PCM frames, in playout order (lost frames arrive as silence). */
export interface AudioSink {
  /** one frame played out; `rtpTimestamp`: its RTP timestamp, when the stream has given one */
  write(pcm: Int16Array, rtpTimestamp?: number): void;
}

/** A never-ending tone. */
export class ToneSource implements AudioSource {
  readonly #gen: ToneGenerator;
  constructor(options: ToneOptions) { this.#gen = new ToneGenerator({ ...options, sampleRate: 8000 }); }
  read(frame: Int16Array): boolean { this.#gen.fill(frame); return true; }
}

/** PCM samples (e.g. a WAV converted with toTelephonyPcm), played once or looped. */
export class PcmSource implements AudioSource {
  readonly #samples: Int16Array;
  readonly #loop: boolean;
  #at = 0;
  constructor(samples: Int16Array, options: { loop?: boolean } = {}) {
    this.#samples = samples;
    this.#loop = options.loop ?? false;
  }
  read(frame: Int16Array): boolean {
    frame.fill(0);
    if (this.#samples.length === 0) return false;
    let i = 0;
    while (i < frame.length) {
      if (this.#at >= this.#samples.length) {
        if (!this.#loop) return i > 0;
        this.#at = 0;
      }
      const n = Math.min(frame.length - i, this.#samples.length - this.#at);
      frame.set(this.#samples.subarray(this.#at, this.#at + n), i);
      i += n;
      this.#at += n;
    }
    return true;
  }
}

/** Silence forever (the default source). */
export class SilenceSource implements AudioSource {
  read(frame: Int16Array): boolean { frame.fill(0); return true; }
}

/** Records what it is given, up to a bound (default 10 minutes at 8 kHz); the rest is counted and dropped. */
export class PcmRecorder implements AudioSink {
  readonly maxSamples: number;
  #chunks: Int16Array[] = [];
  #length = 0;
  #dropped = 0;
  constructor(options: { maxSeconds?: number } = {}) { this.maxSamples = Math.floor((options.maxSeconds ?? 600) * 8000); }
  write(pcm: Int16Array): void {
    const room = this.maxSamples - this.#length;
    if (room <= 0) { this.#dropped += pcm.length; return; }
    const take = pcm.length <= room ? pcm : pcm.subarray(0, room);
    this.#chunks.push(take.slice());
    this.#length += take.length;
    this.#dropped += pcm.length - take.length;
  }
  get length(): number { return this.#length; }
  get droppedSamples(): number { return this.#dropped; }
  samples(): Int16Array {
    const out = new Int16Array(this.#length);
    let at = 0;
    for (const c of this.#chunks) { out.set(c, at); at += c.length; }
    return out;
  }
  toWav(): Uint8Array { return writeWav(this.samples(), 8000); }
}
