// RTP packets (RFC 3550 §5.1) built and parsed with rtp.js.
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |V=2|P|X|  CC   |M|     PT      |       sequence number         |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                           timestamp                           |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |           synchronization source (SSRC) identifier            |
// +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
import { packets } from 'rtp.js';

export interface RtpFields {
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  marker: boolean;
  payload: Uint8Array;
}

/**
 * A reusable builder: one rtp.js RtpPacket per stream, serialized alternately into two scratch
 * buffers (rtp.js refuses to serialize into the buffer it currently uses); each build() returns a
 * fresh copy (safe to hand to send(), which may still hold it after the next build()).
 */
export class RtpPacketBuilder {
  #packet = new packets.RtpPacket();
  #scratch = [new ArrayBuffer(1500), new ArrayBuffer(1500)];
  #flip = 0;

  build(f: RtpFields): Uint8Array {
    const p = this.#packet;
    p.setPayloadType(f.payloadType);
    p.setSequenceNumber(f.sequenceNumber & 0xffff);
    p.setTimestamp(f.timestamp >>> 0);
    p.setSsrc(f.ssrc >>> 0);
    p.setMarker(f.marker);
    p.setPayload(new DataView(f.payload.buffer, f.payload.byteOffset, f.payload.byteLength));
    const length = p.getByteLength();
    this.#flip ^= 1;
    if (length > this.#scratch[this.#flip].byteLength) this.#scratch[this.#flip] = new ArrayBuffer(length);
    const scratch = this.#scratch[this.#flip];
    p.serialize(scratch, 0);
    return new Uint8Array(scratch, 0, length).slice();
  }
}

export function buildRtpPacket(f: RtpFields): Uint8Array {
  return new RtpPacketBuilder().build(f);
}

/** Parses an RTP packet; undefined if the bytes are not RTP version 2 (never throws). Padding is removed. */
export function parseRtpPacket(bytes: Uint8Array): RtpFields | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 12 || !packets.isRtp(view)) return undefined;
  try {
    const p = new packets.RtpPacket(view);
    const pv = p.getPayload();
    return {
      payloadType: p.getPayloadType(), sequenceNumber: p.getSequenceNumber(), timestamp: p.getTimestamp(),
      ssrc: p.getSsrc(), marker: p.getMarker(), payload: new Uint8Array(pv.buffer, pv.byteOffset, pv.byteLength),
    };
  } catch {
    return undefined;
  }
}

/**
 * RFC 3550 §A.1: how sequence number `seq` follows `last`, the last one taken (16-bit, wrapping): -1 for a duplicate
 * or an older packet (drop it), else how many packets were lost before it (0: in order, or the first).
 */
export function sequenceGap(last: number | undefined, seq: number): number {
  if (last === undefined) return 0;
  const delta = (seq - last) & 0xffff;
  return delta === 0 || delta >= 0x8000 ? -1 : delta - 1;
}
