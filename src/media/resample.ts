// Sample-rate conversion to the 8 kHz of G.711, and stereo→mono downmix.
// Windowed-sinc interpolation (Blackman window): a low-pass at 0.45 × the lower of the two rates
// removes what would alias above the new Nyquist frequency.
import type { WavAudio } from './wav.ts';

/** Averages interleaved channels to one. */
export function downmixToMono(interleaved: Int16Array, channels: number): Int16Array {
  if (channels === 1) return interleaved;
  const frames = Math.floor(interleaved.length / channels);
  const out = new Int16Array(frames);
  for (let i = 0; i < frames; i++) {
    let s = 0;
    for (let c = 0; c < channels; c++) s += interleaved[i * channels + c];
    out[i] = Math.round(s / channels);
  }
  return out;
}

export interface ResampleOptions {
  /** zero crossings of the sinc on each side, at the lower rate (default 16: ~−70 dB stop band) */
  halfTaps?: number;
  /** cut-off as a fraction of the lower rate (default 0.45, i.e. 3600 Hz at 8 kHz) */
  cutoff?: number;
}

/** Resamples mono 16-bit PCM from `fromRate` to `toRate` (default 8000) with a windowed-sinc low-pass. */
export function resample(input: Int16Array, fromRate: number, toRate = 8000, options: ResampleOptions = {}): Int16Array {
  if (!(fromRate > 0) || !(toRate > 0)) throw new RangeError(`bad sample rates ${fromRate} → ${toRate}`);
  if (fromRate === toRate) return input.slice();
  const halfTaps = options.halfTaps ?? 16;
  const cutoff = options.cutoff ?? 0.45;
  const ratio = toRate / fromRate;
  // Filter cut-off in cycles per input sample, and the half length in input samples.
  const fc = (cutoff * Math.min(fromRate, toRate)) / fromRate;
  const half = Math.ceil(halfTaps / (2 * fc));
  const outLength = Math.floor(input.length * ratio);
  const out = new Int16Array(outLength);
  const step = fromRate / toRate;
  for (let n = 0; n < outLength; n++) {
    const x = n * step; // position in input samples
    const center = Math.floor(x);
    let acc = 0;
    let wsum = 0;
    const lo = Math.max(0, center - half + 1);
    const hi = Math.min(input.length - 1, center + half);
    for (let k = lo; k <= hi; k++) {
      const t = x - k;
      const arg = 2 * fc * t;
      const sinc = arg === 0 ? 1 : Math.sin(Math.PI * arg) / (Math.PI * arg);
      const u = t / half; // −1..1 across the window
      const blackman = 0.42 + 0.5 * Math.cos(Math.PI * u) + 0.08 * Math.cos(2 * Math.PI * u);
      const h = sinc * blackman;
      acc += input[k] * h;
      wsum += h;
    }
    // Normalising by the tap sum gives unity gain at DC (and at the edges, where taps are cut).
    const y = wsum !== 0 ? acc / wsum : 0;
    out[n] = y > 32767 ? 32767 : y < -32768 ? -32768 : Math.round(y);
  }
  return out;
}

/** WAV audio of any supported rate and channel count → 8 kHz mono, ready for G.711. */
export function toTelephonyPcm(audio: WavAudio): Int16Array {
  return resample(downmixToMono(audio.samples, audio.channels), audio.sampleRate, 8000);
}
