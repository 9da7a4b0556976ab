// VP8 over RTP (RFC 7741): the payload descriptor (§4.2) before each packet's part of a frame, keyframe detection
// from the VP8 payload header (§4.3), and VP8 frames in and out of IVF files (the container ffmpeg and libvpx
// stream). One home for VP8's RTP rules: what records VP8 (video messages) depacketises here too.
//
// Payload descriptor (§4.2):             VP8 payload header (§4.3), first 3 octets of a frame:
//        0 1 2 3 4 5 6 7                       0 1 2 3 4 5 6 7
//       +-+-+-+-+-+-+-+-+                     +-+-+-+-+-+-+-+-+
//       |X|R|N|S|R| PID | (REQUIRED)          |Size0|H| VER |P|
//       +-+-+-+-+-+-+-+-+                     +-+-+-+-+-+-+-+-+
//  X:   |I|L|T|K| RSV   | (OPTIONAL)          |     Size1     |
//       +-+-+-+-+-+-+-+-+                     +-+-+-+-+-+-+-+-+
//  I:   |M| PictureID   | (OPTIONAL)          |     Size2     |
//       +-+-+-+-+-+-+-+-+                     +-+-+-+-+-+-+-+-+
//  M:   |   PictureID   | (15 bits when M)    P: inverse key frame flag (0: a keyframe)
//       +-+-+-+-+-+-+-+-+
//  L:   |   TL0PICIDX   | (OPTIONAL)
//       +-+-+-+-+-+-+-+-+
//  T/K: |TID|Y| KEYIDX  | (OPTIONAL)
//       +-+-+-+-+-+-+-+-+
import { TvphoneError } from '../errors.ts';
import { FrameLossTracker } from './frame-loss.ts';

/** The fields of an RFC 7741 §4.2 payload descriptor. */
export interface Vp8Descriptor {
  /** N: a non-reference frame (may be discarded) */
  nonReference: boolean;
  /** S: the packet starts a VP8 partition */
  start: boolean;
  /** PID: the partition index (0-7) */
  partitionId: number;
  /** I: the picture ID, 7 or 15 bits */
  pictureId?: number;
  tl0PicIdx?: number;
  tid?: number;
  keyIdx?: number;
  /** bytes of the descriptor: the VP8 payload follows */
  length: number;
}

/** Parses the payload descriptor at the start of `b` (§4.2); undefined when it is truncated. */
export function parseVp8Descriptor(b: Uint8Array): Vp8Descriptor | undefined {
  if (b.length < 1) return undefined;
  const x = (b[0] & 0x80) !== 0;
  const d: Vp8Descriptor = { nonReference: (b[0] & 0x20) !== 0, start: (b[0] & 0x10) !== 0, partitionId: b[0] & 0x07, length: 1 };
  if (!x) return d;
  if (b.length < 2) return undefined;
  const ext = b[1];
  let o = 2;
  if (ext & 0x80) { // I
    if (o >= b.length) return undefined;
    if (b[o] & 0x80) { // M: 15-bit picture ID
      if (o + 1 >= b.length) return undefined;
      d.pictureId = ((b[o] & 0x7f) << 8) | b[o + 1];
      o += 2;
    } else {
      d.pictureId = b[o] & 0x7f;
      o += 1;
    }
  }
  if (ext & 0x40) { // L
    if (o >= b.length) return undefined;
    d.tl0PicIdx = b[o++];
  }
  if (ext & 0x30) { // T or K share one octet
    if (o >= b.length) return undefined;
    if (ext & 0x20) d.tid = b[o] >> 6;
    if (ext & 0x10) d.keyIdx = b[o] & 0x1f;
    o += 1;
  }
  d.length = o;
  return d;
}

/** §4.3: the P bit of a frame's first octet is 0 on a keyframe. */
export function isVp8Keyframe(frame: Uint8Array): boolean {
  return frame.length >= 3 && (frame[0] & 0x01) === 0;
}

/** RFC 6386 §9.1: a keyframe's picture size, from the 14-bit width and height after its start code 9d 01 2a. */
export function vp8KeyframeSize(frame: Uint8Array): { width: number; height: number } | undefined {
  if (!isVp8Keyframe(frame) || frame.length < 10 || frame[3] !== 0x9d || frame[4] !== 0x01 || frame[5] !== 0x2a) return undefined;
  return { width: (frame[6] | (frame[7] << 8)) & 0x3fff, height: (frame[8] | (frame[9] << 8)) & 0x3fff };
}

/**
 * The RTP payloads of one VP8 frame (§4.1: one frame per timestamp, the marker on its last packet), `mtu` bytes at
 * most each. We send the frame as one partition (PID 0; §4.4 allows a partition to span packets, a packet to hold
 * any part of one), S on its first packet, with the 15-bit picture ID `pictureId` (§4.2: receivers use it to spot
 * a lost frame).
 */
export function packetizeVp8(frame: Uint8Array, mtu: number, pictureId: number): Uint8Array[] {
  const header = 4; // X=1, then I with M: 15-bit PictureID
  if (!Number.isInteger(mtu) || mtu <= header) throw new TvphoneError('ERR_MEDIA_MTU', `a VP8 RTP payload budget must be more than ${header} bytes, got ${mtu}`);
  if (frame.length === 0) return [];
  const room = mtu - header;
  const out: Uint8Array[] = [];
  for (let o = 0; o < frame.length; o += room) {
    const part = frame.subarray(o, Math.min(frame.length, o + room));
    const p = new Uint8Array(header + part.length);
    // §4.2: X=1, N=0, S on the partition's first packet, PID 0; I=1; M=1 with the picture ID's 15 bits
    p[0] = 0x80 | (o === 0 ? 0x10 : 0);
    p[1] = 0x80;
    p[2] = 0x80 | ((pictureId >> 8) & 0x7f);
    p[3] = pictureId & 0xff;
    p.set(part, header);
    out.push(p);
  }
  return out;
}

export interface Vp8Frame {
  timestamp: number;
  frame: Uint8Array;
  keyframe: boolean;
}

export interface Vp8DepacketizerStats {
  frames: number;
  keyframes: number;
  /** frames dropped: a sequence gap, a missing start, too large */
  droppedFrames: number;
  lostPackets: number;
  /** payloads with a truncated descriptor, or a frame without a payload header */
  malformed: number;
}

/**
 * Reassembles VP8 frames from the RTP packets of one source in sequence order. A frame begins with S=1, PID=0
 * (§4.2) and ends at the marker (§4.1) or when a new timestamp begins. A sequence gap drops the open frame and,
 * as a frame that refers to a lost one cannot be decoded, every frame until the next keyframe; `takeKeyframeRequest`
 * then says to ask for one (RFC 4585 §6.3.1 PLI).
 */
export class Vp8Depacketizer {
  readonly #maxFrameBytes: number;
  #ts: number | undefined;
  #parts: Uint8Array[] = [];
  #bytes = 0;
  #broken = false;
  readonly stats: Vp8DepacketizerStats = { frames: 0, keyframes: 0, droppedFrames: 0, lostPackets: 0, malformed: 0 };
  readonly #loss = new FrameLossTracker(this.stats);

  constructor(o: { maxFrameBytes?: number } = {}) {
    this.#maxFrameBytes = o.maxFrameBytes ?? 1 << 20;
  }

  /** True once after a loss made the stream undecodable until the next keyframe. */
  takeKeyframeRequest(): boolean {
    return this.#loss.takeKeyframeRequest();
  }

  /** Feeds one packet; returns the frames completed by it (0, 1 or 2: a new timestamp flushes the previous one). */
  push(p: { sequenceNumber: number; timestamp: number; marker: boolean; payload: Uint8Array }): Vp8Frame[] {
    const out: Vp8Frame[] = [];
    const gap = this.#loss.packet(p.sequenceNumber);
    if (gap < 0) return out; // a duplicate or older: already past it
    // after a gap the open frame lost its tail (a new timestamp) or some middle part (the same one)
    if (gap > 0) this.#broken = true;
    if (this.#ts !== undefined && this.#ts !== p.timestamp) this.#finish(out);
    const d = parseVp8Descriptor(p.payload);
    if (!d) {
      this.stats.malformed++;
      this.#broken = true;
    } else if (d.start && d.partitionId === 0) {
      // §4.2: S=1, PID=0 is the first packet of a frame; anything gathered for this timestamp before it is broken
      if (this.#ts === p.timestamp && this.#parts.length > 0) this.#broken = true;
      this.#parts = [];
      this.#bytes = 0;
      this.#add(p.payload.subarray(d.length));
    } else if (this.#ts !== p.timestamp || this.#parts.length === 0) {
      this.#broken = true; // the frame's first packet never came
    } else {
      this.#add(p.payload.subarray(d.length));
    }
    this.#ts = p.timestamp;
    if (p.marker) this.#finish(out);
    return out;
  }

  #add(part: Uint8Array): void {
    if (this.#bytes + part.length > this.#maxFrameBytes) { this.#broken = true; return; }
    this.#parts.push(part.slice());
    this.#bytes += part.length;
  }

  #finish(out: Vp8Frame[]): void {
    const ts = this.#ts;
    const parts = this.#parts;
    const broken = this.#broken;
    this.#parts = [];
    this.#bytes = 0;
    this.#broken = false;
    this.#ts = undefined;
    if (ts === undefined) return;
    const frame = new Uint8Array(parts.reduce((s, x) => s + x.length, 0));
    let o = 0;
    for (const x of parts) { frame.set(x, o); o += x.length; }
    if (broken || frame.length < 3) {
      if (!broken) this.stats.malformed++;
      return this.#loss.dropped();
    }
    const keyframe = isVp8Keyframe(frame);
    if (!this.#loss.admit(keyframe)) return;
    out.push({ timestamp: ts, frame, keyframe });
  }
}

/** IVF (libvpx's container): a 32-byte file header, then each frame after a 12-byte header (size, pts; little-endian). */
export const IVF_HEADER_BYTES = 32;
export const IVF_FRAME_HEADER_BYTES = 12;

/** An IVF file header for VP8 of this size at `fps` frames a second (time base 1/fps). */
export function ivfFileHeader(width: number, height: number, fps: number): Uint8Array {
  const b = new Uint8Array(IVF_HEADER_BYTES);
  const v = new DataView(b.buffer);
  b.set([0x44, 0x4b, 0x49, 0x46], 0); // DKIF
  v.setUint16(4, 0, true);
  v.setUint16(6, IVF_HEADER_BYTES, true);
  b.set([0x56, 0x50, 0x38, 0x30], 8); // VP80
  v.setUint16(12, width, true);
  v.setUint16(14, height, true);
  v.setUint32(16, fps, true);
  v.setUint32(20, 1, true);
  return b;
}

/** One IVF frame: its header and bytes. */
export function ivfFrame(frame: Uint8Array, pts: number): Uint8Array {
  const b = new Uint8Array(IVF_FRAME_HEADER_BYTES + frame.length);
  const v = new DataView(b.buffer);
  v.setUint32(0, frame.length, true);
  v.setUint32(4, pts >>> 0, true);
  v.setUint32(8, Math.floor(pts / 2 ** 32), true);
  b.set(frame, IVF_FRAME_HEADER_BYTES);
  return b;
}

/**
 * Splits a streamed IVF byte stream into frames: `headerSeen` says the 32-byte file header was consumed already.
 * Returns the complete frames and the bytes left for the next call. Throws on a stream that is not IVF.
 */
export function splitIvf(bytes: Uint8Array, headerSeen: boolean, maxFrameBytes = 4 << 20): { frames: Uint8Array[]; rest: Uint8Array; headerSeen: boolean } {
  let o = 0;
  if (!headerSeen) {
    if (bytes.length < IVF_HEADER_BYTES) return { frames: [], rest: bytes, headerSeen };
    if (bytes[0] !== 0x44 || bytes[1] !== 0x4b || bytes[2] !== 0x49 || bytes[3] !== 0x46) throw new TvphoneError('ERR_MEDIA_IVF', 'not an IVF stream (no DKIF signature)');
    const hdr = bytes[6] | (bytes[7] << 8);
    if (hdr < IVF_HEADER_BYTES) throw new TvphoneError('ERR_MEDIA_IVF', `IVF header length ${hdr} is below 32`);
    if (bytes.length < hdr) return { frames: [], rest: bytes, headerSeen };
    o = hdr;
    headerSeen = true;
  }
  const frames: Uint8Array[] = [];
  while (o + IVF_FRAME_HEADER_BYTES <= bytes.length) {
    const size = (bytes[o] | (bytes[o + 1] << 8) | (bytes[o + 2] << 16) | (bytes[o + 3] << 24)) >>> 0;
    if (size > maxFrameBytes) throw new TvphoneError('ERR_MEDIA_IVF', `an IVF frame of ${size} bytes is over ${maxFrameBytes}`);
    if (o + IVF_FRAME_HEADER_BYTES + size > bytes.length) break;
    frames.push(bytes.slice(o + IVF_FRAME_HEADER_BYTES, o + IVF_FRAME_HEADER_BYTES + size));
    o += IVF_FRAME_HEADER_BYTES + size;
  }
  return { frames, rest: bytes.subarray(o), headerSeen };
}

/**
 * A whole IVF file (a video message's VP8 before it is muxed): the file header, then each frame with its pts in
 * 90 kHz ticks (time base 1/90000), so a variable frame rate is kept as it was received.
 */
export function writeIvf(frames: ReadonlyArray<{ pts: number; data: Uint8Array }>, width: number, height: number): Uint8Array {
  const header = ivfFileHeader(width, height, 90_000);
  new DataView(header.buffer).setUint32(24, frames.length, true);
  const parts = [header, ...frames.map((f) => ivfFrame(f.data, f.pts))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The frames of a whole IVF file with its header's fields (tests, tools); throws on what is no IVF. */
export function readIvf(b: Uint8Array): { width: number; height: number; rate: number; scale: number; frames: Array<{ pts: number; data: Uint8Array }> } {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const { frames: datas } = splitIvf(b, false);
  const frames: Array<{ pts: number; data: Uint8Array }> = [];
  let at = v.getUint16(6, true);
  for (const data of datas) {
    frames.push({ pts: Number(v.getBigUint64(at + 4, true)), data });
    at += IVF_FRAME_HEADER_BYTES + data.length;
  }
  return { width: v.getUint16(12, true), height: v.getUint16(14, true), rate: v.getUint32(16, true), scale: v.getUint32(20, true), frames };
}
