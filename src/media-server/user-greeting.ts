// A user's own voicemail greeting (`tvphone users greeting USER FILE.wav`): the uploaded WAV is checked and converted
// once, at upload, to what the media server plays (16-bit PCM mono at 8 kHz, kept in the greetings table, schema 8);
// at a call the stored WAV is read back and followed by the beep.
import { TvphoneError } from '../errors.ts';
import { rms } from '../media/goertzel.ts';
import { toTelephonyPcm } from '../media/resample.ts';
import { readWav, writeWav } from '../media/wav.ts';
import type { GreetingStore } from '../store/store.ts';
import { greetingThenBeep } from './greeting.ts';
import { SILENCE_RMS } from './recording.ts';

/** The longest greeting kept: a caller waits this long for the beep at most. */
export const MAX_GREETING_SECONDS = 60;
/** Shorter than this is no greeting (an empty or cut file). */
export const MIN_GREETING_SECONDS = 0.2;

/**
 * The WAV to keep for an uploaded file: G.711 (A-law, µ-law) or linear PCM (8 or 16-bit), mono or stereo, any rate
 * readWav knows, converted to 16-bit mono at 8 kHz. Throws TvphoneError ERR_WAV_FORMAT with one line saying why not.
 */
export function greetingWav(file: Uint8Array): Uint8Array {
  const audio = readWav(file);
  const pcm = toTelephonyPcm(audio);
  const seconds = pcm.length / 8000;
  if (seconds < MIN_GREETING_SECONDS) throw new TvphoneError('ERR_WAV_FORMAT', `greeting too short (${seconds.toFixed(2)} s, at least ${MIN_GREETING_SECONDS} s)`);
  if (seconds > MAX_GREETING_SECONDS) throw new TvphoneError('ERR_WAV_FORMAT', `greeting too long (${seconds.toFixed(1)} s, at most ${MAX_GREETING_SECONDS} s)`);
  if (rms(pcm) < SILENCE_RMS) throw new TvphoneError('ERR_WAV_FORMAT', 'greeting is silence (nothing a caller would hear)');
  return writeWav(pcm, 8000);
}

/** What the media server plays to a caller of `userId`: the user's greeting and the beep, or null (the built-in one). */
export async function storedGreeting(store: Pick<GreetingStore, 'greeting'>, userId: string): Promise<Int16Array | null> {
  const wav = await store.greeting(userId);
  if (wav === null) return null;
  const audio = readWav(wav);
  return greetingThenBeep(toTelephonyPcm(audio));
}
