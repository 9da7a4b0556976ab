// Test tone generator: a sine of given frequency and amplitude, as 16-bit PCM.

export interface ToneOptions {
  /** Hz */
  frequency: number;
  /** 0..1 of full scale (default 0.5) */
  amplitude?: number;
  /** Hz (default 8000) */
  sampleRate?: number;
}

/** `count` samples of a sine tone starting at phase 0. */
export function generateTone(options: ToneOptions & { samples: number }): Int16Array {
  const gen = new ToneGenerator(options);
  const out = new Int16Array(options.samples);
  gen.fill(out);
  return out;
}

/** A continuous tone: successive fill() calls continue the phase, so frames join without clicks. */
export class ToneGenerator {
  readonly frequency: number;
  readonly amplitude: number;
  readonly sampleRate: number;
  #phase = 0;

  constructor(options: ToneOptions) {
    if (!(options.frequency > 0)) throw new RangeError(`tone frequency must be > 0, got ${options.frequency}`);
    const amplitude = options.amplitude ?? 0.5;
    if (!(amplitude >= 0 && amplitude <= 1)) throw new RangeError(`tone amplitude must be in 0..1, got ${amplitude}`);
    this.frequency = options.frequency;
    this.amplitude = amplitude;
    this.sampleRate = options.sampleRate ?? 8000;
    if (options.frequency >= this.sampleRate / 2) throw new RangeError(`tone frequency ${options.frequency} Hz is not below Nyquist (${this.sampleRate / 2} Hz)`);
  }

  /** Fills `out` with the next samples of the tone. */
  fill(out: Int16Array): void {
    const w = (2 * Math.PI * this.frequency) / this.sampleRate;
    const a = this.amplitude * 32767;
    let phase = this.#phase;
    for (let i = 0; i < out.length; i++) {
      out[i] = Math.round(a * Math.sin(phase));
      phase += w;
    }
    this.#phase = phase % (2 * Math.PI); // wrapped once per call: keeps precision over hours
  }
}
