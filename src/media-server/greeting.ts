// The built-in voicemail prompt, generated (no recording shipped, nothing downloaded): three rising tones
// (C5 E5 G5, "leave a message") then, after a pause, the beep that says the recording starts (Asterisk's beep.gsm
// is a single tone too). 8 kHz 16-bit PCM, the rate of every media session.
import { generateTone } from '../media/tone.ts';

const RATE = 8000;
/** the greeting's tones, each GREETING_TONE_MS long with a GAP_MS gap */
export const GREETING_TONES_HZ: readonly number[] = [523, 659, 784];
export const GREETING_TONE_MS = 250;
const GAP_MS = 50;
const PAUSE_MS = 300;
/** the beep: recording starts when it has been played */
export const BEEP_HZ = 1000;
export const BEEP_MS = 400;

export function silence(ms: number): Int16Array {
  return new Int16Array((RATE * ms) / 1000);
}

/** A tone at 0.4 of full scale with 5 ms fades. */
export function tone(frequency: number, ms: number): Int16Array {
  const samples = generateTone({ frequency, amplitude: 0.4, samples: (RATE * ms) / 1000 });
  // 5 ms fades at both ends: no click at the edges
  const fade = RATE / 200;
  for (let i = 0; i < fade; i++) {
    samples[i] = Math.round((samples[i] * i) / fade);
    samples[samples.length - 1 - i] = Math.round((samples[samples.length - 1 - i] * i) / fade);
  }
  return samples;
}

export function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The greeting followed by the beep, ready for a PcmSource; the recording starts where it ends. */
export function builtInGreeting(): Int16Array {
  const parts: Int16Array[] = [];
  for (const f of GREETING_TONES_HZ) parts.push(tone(f, GREETING_TONE_MS), silence(GAP_MS));
  parts.push(silence(PAUSE_MS), tone(BEEP_HZ, BEEP_MS));
  return concat(parts);
}

/** A user's own greeting (8 kHz PCM), then the pause and the beep: the recording starts where it ends. */
export function greetingThenBeep(own: Int16Array): Int16Array {
  return concat([own, silence(PAUSE_MS), tone(BEEP_HZ, BEEP_MS)]);
}
