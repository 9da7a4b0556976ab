// G.711 (ITU-T G.711) µ-law and A-law companding of 16-bit linear PCM, via alawmulaw.
// RFC 3551 §4.5.14: PCMU is static payload type 0, PCMA is 8; both 8000 Hz, one octet per sample.
import alawmulaw from 'alawmulaw';

export type G711Codec = 'PCMU' | 'PCMA';

/** RFC 3551 table 4: static payload types. */
export const PT_PCMU = 0;
export const PT_PCMA = 8;
export const G711_CLOCK_RATE = 8000;

/** The G.711 codec of a static payload type, or undefined. */
export function codecOfPayloadType(payloadType: number): G711Codec | undefined {
  if (payloadType === PT_PCMU) return 'PCMU';
  if (payloadType === PT_PCMA) return 'PCMA';
  return undefined;
}

/** Encodes 16-bit linear PCM (8 kHz mono) to G.711 bytes, one per sample. */
export function encodeG711(codec: G711Codec, pcm: Int16Array): Uint8Array {
  return codec === 'PCMU' ? alawmulaw.mulaw.encode(pcm) : alawmulaw.alaw.encode(pcm);
}

/** Decodes G.711 bytes to 16-bit linear PCM, one sample per byte. */
export function decodeG711(codec: G711Codec, bytes: Uint8Array): Int16Array {
  return codec === 'PCMU' ? alawmulaw.mulaw.decode(bytes) : alawmulaw.alaw.decode(bytes);
}

/** The G.711 byte that encodes silence (linear 0): 0xFF for µ-law, 0xD5 for A-law. */
export function silenceByte(codec: G711Codec): number {
  return codec === 'PCMU' ? 0xff : 0xd5;
}
