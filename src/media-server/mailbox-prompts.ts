// The prompts of the voicemail access number, generated like the greeting (greeting.ts: nothing recorded is shipped):
// distinct tone patterns, one per state, 8 kHz PCM. README, "Voice messages: the access number", names them.
//   counts      one 1200 Hz pip per new message, a pause, one 600 Hz pip per old message (at most 9 pips each)
//   empty       600 Hz then 400 Hz (nothing kept): the call ends
//   message     a 1400 Hz pip, then the message itself
//   menu        two 880 Hz pips: the message was heard, a key is awaited (1 2 7 9 #)
//   saved       one 784 Hz tone;  deleted: one 330 Hz tone;  no more messages: 600 Hz then 400 Hz
import { concat, silence, tone } from './greeting.ts';

export const NEW_PIP_HZ = 1200;
export const OLD_PIP_HZ = 600;
export const MESSAGE_PIP_HZ = 1400;
export const MENU_HZ = 880;
export const SAVED_HZ = 784;
export const DELETED_HZ = 330;
export const END_TONES_HZ: readonly number[] = [600, 400];
/** more than this many messages of a kind still gives this many pips */
export const MAX_PIPS = 9;

function pips(hz: number, n: number): Int16Array[] {
  const out: Int16Array[] = [];
  for (let i = 0; i < Math.min(n, MAX_PIPS); i++) out.push(tone(hz, 120), silence(120));
  return out;
}

/** The counts of the mailbox (RFC 3842's new and old), as pips; nothing kept at all is the `empty` prompt. */
export function countsPrompt(newCount: number, oldCount: number): Int16Array {
  if (newCount === 0 && oldCount === 0) return endPrompt();
  return concat([silence(200), ...pips(NEW_PIP_HZ, newCount), silence(400), ...pips(OLD_PIP_HZ, oldCount), silence(300)]);
}

export function messagePrompt(message: Int16Array): Int16Array {
  return concat([tone(MESSAGE_PIP_HZ, 150), silence(250), message]);
}

export function menuPrompt(): Int16Array {
  return concat([silence(300), tone(MENU_HZ, 100), silence(80), tone(MENU_HZ, 100)]);
}

export function savedPrompt(): Int16Array {
  return concat([tone(SAVED_HZ, 250), silence(200)]);
}

export function deletedPrompt(): Int16Array {
  return concat([tone(DELETED_HZ, 300), silence(200)]);
}

/** nothing (more) to hear */
export function endPrompt(): Int16Array {
  return concat([silence(200), ...END_TONES_HZ.flatMap((hz) => [tone(hz, 250), silence(50)])]);
}
