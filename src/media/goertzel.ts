// Frequency measurement with the Goertzel algorithm (a single DFT bin evaluated at any frequency).

/**
 * Power of `samples` at `frequency` (Goertzel; a Hann window is applied when `window` is given).
 * Returns |X(f)|² normalised by N².
 */
export function goertzelPower(samples: ArrayLike<number>, frequency: number, sampleRate: number, window?: Float64Array): number {
  const n = samples.length;
  if (n === 0) return 0;
  const coeff = 2 * Math.cos((2 * Math.PI * frequency) / sampleRate);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const x = window ? samples[i] * window[i] : samples[i];
    const s0 = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (n * n);
}

export function hannWindow(n: number): Float64Array {
  const w = new Float64Array(n);
  if (n === 1) w[0] = 1;
  for (let i = 0; i < n && n > 1; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1));
  return w;
}

export interface DominantFrequencyOptions {
  /** lowest frequency searched, Hz (default 50) */
  minHz?: number;
  /** highest frequency searched, Hz (default sampleRate/2 - 50) */
  maxHz?: number;
  /** coarse grid step, Hz (default: the window's bin width, sampleRate/N, at least 1 Hz) */
  stepHz?: number;
}

/**
 * The frequency of the strongest sinusoid in `samples`: a coarse Goertzel scan over a grid, then a
 * golden-section refinement around the best grid point (to ~0.01 Hz). Uses at most the first
 * `sampleRate` × 4 samples (a bounded amount of work).
 */
export function dominantFrequency(samples: ArrayLike<number>, sampleRate = 8000, options: DominantFrequencyOptions = {}): number {
  const n = Math.min(samples.length, sampleRate * 4);
  if (n < 16) throw new RangeError(`need at least 16 samples to measure a frequency, got ${samples.length}`);
  const x = Float64Array.from({ length: n }, (_, i) => samples[i]);
  const win = hannWindow(n);
  const minHz = options.minHz ?? 50;
  const maxHz = options.maxHz ?? sampleRate / 2 - 50;
  const step = options.stepHz ?? Math.max(1, sampleRate / n);
  let best = minHz;
  let bestP = -1;
  for (let f = minHz; f <= maxHz; f += step) {
    const p = goertzelPower(x, f, sampleRate, win);
    if (p > bestP) { bestP = p; best = f; }
  }
  // Golden-section search for the maximum on [best - step, best + step] (the peak is unimodal there).
  let a = Math.max(minHz, best - step);
  let b = Math.min(maxHz, best + step);
  const g = (Math.sqrt(5) - 1) / 2;
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  let pc = goertzelPower(x, c, sampleRate, win);
  let pd = goertzelPower(x, d, sampleRate, win);
  for (let i = 0; i < 40 && b - a > 0.005; i++) {
    if (pc > pd) { b = d; d = c; pd = pc; c = b - g * (b - a); pc = goertzelPower(x, c, sampleRate, win); }
    else { a = c; c = d; pc = pd; d = a + g * (b - a); pd = goertzelPower(x, d, sampleRate, win); }
  }
  return (a + b) / 2;
}

/** Root-mean-square level of the samples (same unit as the samples). */
export function rms(samples: ArrayLike<number>): number {
  if (samples.length === 0) return 0;
  let s = 0;
  for (let i = 0; i < samples.length; i++) s += samples[i] * samples[i];
  return Math.sqrt(s / samples.length);
}
