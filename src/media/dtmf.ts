// RFC 4733 telephone-event payloads (DTMF carried in RTP).
//
// RFC 4733 §2.3:
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     event     |E|R| volume    |          duration             |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

export interface TelephoneEvent {
  /** 0-9 digits, 10 '*', 11 '#', 12-15 'A'-'D', 16 flash (RFC 4733 §3.2) */
  event: number;
  /** E bit: the last packet(s) of the event */
  end: boolean;
  /** power level in −dBm0, 0..63 */
  volume: number;
  /** in timestamp units since the event began */
  duration: number;
}

const DIGITS = '0123456789*#ABCD';

/** RFC 4733 §3.2 table 3: a DTMF digit (or '!' for flash) → event code. */
export function digitToEvent(digit: string): number {
  if (digit === '!') return 16;
  const i = DIGITS.indexOf(digit.toUpperCase());
  if (digit.length !== 1 || i < 0) throw new RangeError(`not a DTMF digit: ${JSON.stringify(digit)} (use 0-9 * # A-D, or ! for flash)`);
  return i;
}

/** Event code → digit ('!' for flash), or undefined for non-DTMF events. */
export function eventToDigit(event: number): string | undefined {
  if (event === 16) return '!';
  return event >= 0 && event < 16 ? DIGITS[event] : undefined;
}

export function encodeTelephoneEvent(e: TelephoneEvent): Uint8Array {
  if (!(e.event >= 0 && e.event <= 255)) throw new RangeError(`event ${e.event} out of range`);
  const out = new Uint8Array(4);
  out[0] = e.event;
  // RFC 4733 §2.3: the R bit is reserved, sent as 0.
  out[1] = (e.end ? 0x80 : 0) | (Math.min(63, Math.max(0, e.volume)) & 0x3f);
  const d = Math.min(0xffff, Math.max(0, Math.round(e.duration)));
  out[2] = d >> 8;
  out[3] = d & 0xff;
  return out;
}

/** Decodes a 4-byte event; undefined if the payload is too short. Extra bytes (RFC 4733 §2.5.1.5 redundancy) are ignored. */
export function decodeTelephoneEvent(payload: Uint8Array): TelephoneEvent | undefined {
  if (payload.length < 4) return undefined;
  return { event: payload[0], end: (payload[1] & 0x80) !== 0, volume: payload[1] & 0x3f, duration: (payload[2] << 8) | payload[3] };
}

export interface TelephoneEventPacket {
  payload: Uint8Array;
  /** RFC 4733 §2.5.1.3: the marker bit is set on the first packet of an event */
  marker: boolean;
  end: boolean;
}

/**
 * The packets of one event, one per `frameMs` (all with the event's start timestamp).
 * RFC 4733 §2.5.1.2-4: updates carry the growing duration; the final packet has the E bit and
 * SHOULD be sent a total of three times.
 */
export function telephoneEventPackets(digit: string, durationMs = 100, options: { frameMs?: number; clockRate?: number; volume?: number } = {}): TelephoneEventPacket[] {
  const event = digitToEvent(digit);
  const frameMs = options.frameMs ?? 20;
  const clockRate = options.clockRate ?? 8000;
  const volume = options.volume ?? 10;
  const frames = Math.max(1, Math.min(400, Math.round(durationMs / frameMs))); // ≤ 8 s: one duration field
  const perFrame = (clockRate * frameMs) / 1000;
  const out: TelephoneEventPacket[] = [];
  for (let i = 1; i < frames; i++) out.push({ payload: encodeTelephoneEvent({ event, end: false, volume, duration: i * perFrame }), marker: i === 1, end: false });
  for (let r = 0; r < 3; r++) out.push({ payload: encodeTelephoneEvent({ event, end: true, volume, duration: frames * perFrame }), marker: frames === 1 && r === 0, end: true });
  return out;
}

/**
 * Turns received telephone-event packets into digits, once per event: an event is identified by its
 * RTP timestamp (RFC 4733 §2.5.2.1), so updates and the three end packets report one digit.
 */
export class TelephoneEventReceiver {
  #lastTimestamp: number | undefined;

  /** The digit if this packet starts a new event, else undefined. */
  receive(timestamp: number, payload: Uint8Array): string | undefined {
    const e = decodeTelephoneEvent(payload);
    if (!e) return undefined;
    if (timestamp === this.#lastTimestamp) return undefined;
    this.#lastTimestamp = timestamp;
    return eventToDigit(e.event);
  }
}
