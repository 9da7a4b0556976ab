// What the caller says after the beep: an AudioSink (media/audio-io.ts) that keeps 8 kHz PCM up to maxSeconds and
// tells when the caller has been silent for silenceSeconds (Asterisk app_voicemail's maxsilence). Pure: frames in,
// decisions out; the voicemail call acts on them.
import { rms } from '../media/goertzel.ts';
import type { AudioSink } from '../media/audio-io.ts';

const RATE = 8000;
/** RMS (of full scale 32767) below which a frame counts as silence: about -50 dBFS, far under speech or a tone */
export const SILENCE_RMS = 100;

export interface RecordingOptions {
  maxSeconds: number;
  /** 0: silence never ends the recording */
  silenceSeconds: number;
  /** the recording is full (maxSeconds) */
  onFull?: () => void;
  /** silenceSeconds of silence in a row */
  onSilence?: () => void;
}

export class Recording implements AudioSink {
  readonly #o: RecordingOptions;
  readonly #max: number;
  #chunks: Int16Array[] = [];
  #length = 0;
  /** samples up to the end of the last frame that was not silence */
  #voicedLength = 0;
  #silentRun = 0;
  #armed = false;
  #firstTimestamp: number | undefined;
  #done = false;

  constructor(o: RecordingOptions) {
    this.#o = o;
    this.#max = Math.floor(o.maxSeconds * RATE);
  }

  /** After the beep: from now on frames are kept. */
  arm(): void {
    this.#armed = true;
  }

  /** RTP timestamp of the first sample kept (lip sync of a video message), undefined before or when unknown */
  get firstTimestamp(): number | undefined {
    return this.#firstTimestamp;
  }

  get armed(): boolean {
    return this.#armed;
  }

  /** samples kept so far */
  get length(): number {
    return this.#length;
  }

  write(pcm: Int16Array, rtpTimestamp?: number): void {
    if (!this.#armed || this.#done) return;
    if (this.#length === 0) this.#firstTimestamp = rtpTimestamp;
    const room = this.#max - this.#length;
    const take = pcm.length <= room ? pcm : pcm.subarray(0, room);
    this.#chunks.push(take.slice());
    this.#length += take.length;
    if (rms(take) >= SILENCE_RMS) {
      this.#voicedLength = this.#length;
      this.#silentRun = 0;
    } else this.#silentRun += take.length;
    if (this.#length >= this.#max) {
      this.#done = true;
      this.#o.onFull?.();
    } else if (this.#o.silenceSeconds > 0 && this.#silentRun >= this.#o.silenceSeconds * RATE) {
      this.#done = true;
      this.#o.onSilence?.();
    }
  }

  /** What was said: the samples kept, without the trailing silence. */
  samples(): Int16Array {
    const out = new Int16Array(this.#voicedLength);
    let at = 0;
    for (const c of this.#chunks) {
      if (at >= out.length) break;
      const n = Math.min(c.length, out.length - at);
      out.set(c.subarray(0, n), at);
      at += n;
    }
    return out;
  }
}
