// VP8 over RTP (RFC 7741): the payload descriptor, frames reassembled from their packets (receive) and split into
// packets (send, for tests and tools), and the picture size of a keyframe (RFC 6386 §9.1).
//
//    0 1 2 3 4 5 6 7
//   +-+-+-+-+-+-+-+-+
//   |X|R|N|S|R| PID | (REQUIRED)                    RFC 7741 §4.2
//   +-+-+-+-+-+-+-+-+
// X:|I|L|T|K| RSV   | (OPTIONAL)
//   +-+-+-+-+-+-+-+-+
// I:|M| PictureID   | (OPTIONAL; M: 15 bits, one more byte)
//   +-+-+-+-+-+-+-+-+
// L:|   TL0PICIDX   | (OPTIONAL)
//   +-+-+-+-+-+-+-+-+
// T/K:|TID|Y| KEYIDX| (OPTIONAL)
//   +-+-+-+-+-+-+-+-+
import type { AccessUnit, DepacketizerStats } from './h264-rtp.ts';

/** The length of the payload descriptor at the start of `p`, and its S bit and PID; null when truncated. */
export function parseVp8Descriptor(p: Uint8Array): { length: number; start: boolean; partition: number } | null {
  if (p.length < 1) return null;
  let at = 1;
  const x = (p[0] & 0x80) !== 0;
  if (x) {
    if (p.length < 2) return null;
    const ext = p[1];
    at = 2;
    if (ext & 0x80) { // I: PictureID, 7 or 15 bits (M)
      if (p.length < at + 1) return null;
      at += (p[at] & 0x80) ? 2 : 1;
    }
    if (ext & 0x40) at += 1; // L: TL0PICIDX
    if (ext & 0x30) at += 1; // T or K: TID/Y/KEYIDX
  }
  if (at >= p.length) return null;
  return { length: at, start: (p[0] & 0x10) !== 0, partition: p[0] & 0x07 };
}

/** RFC 6386 §9.1: the frame tag's P bit (its lowest) is 0 on a keyframe. */
export function isVp8Keyframe(frame: Uint8Array): boolean {
  return frame.length >= 3 && (frame[0] & 0x01) === 0;
}

/** RFC 6386 §9.1: a keyframe's width and height (after the 3-byte tag and the 9d 01 2a start code); null if none. */
export function vp8FrameSize(frame: Uint8Array): { width: number; height: number } | null {
  if (!isVp8Keyframe(frame) || frame.length < 10 || frame[3] !== 0x9d || frame[4] !== 0x01 || frame[5] !== 0x2a) return null;
  return { width: (frame[6] | (frame[7] << 8)) & 0x3fff, height: (frame[8] | (frame[9] << 8)) & 0x3fff };
}

/** Splits one VP8 frame into RTP payloads of at most `mtu` bytes, each with a one-byte descriptor (S on the first). */
export function packetizeVp8(frame: Uint8Array, mtu: number): Uint8Array[] {
  if (mtu < 2) throw new RangeError(`mtu ${mtu}`);
  const out: Uint8Array[] = [];
  for (let at = 0; at < frame.length; at += mtu - 1) {
    const chunk = frame.subarray(at, Math.min(frame.length, at + mtu - 1));
    const p = new Uint8Array(chunk.length + 1);
    p[0] = at === 0 ? 0x10 : 0x00; // S on the first packet of partition 0; N, X, PID 0
    p.set(chunk, 1);
    out.push(p);
  }
  return out;
}

/**
 * Reassembles VP8 frames from RTP packets in sequence order (RFC 7741 §4.5): a frame begins at S=1 with PID 0,
 * takes every packet of its timestamp and ends at the marker bit (or when a new timestamp begins). A sequence gap
 * drops the frame, and frames are dropped until the next keyframe (a PLI is wanted), as for H.264.
 */
export class Vp8Depacketizer {
  readonly #maxFrameBytes: number;
  #lastSeq: number | undefined;
  #ts: number | undefined;
  #parts: Uint8Array[] = [];
  #bytes = 0;
  #broken = false;
  #started = false;
  #needKeyframe = true;
  #keyframeWanted = false;
  readonly stats: DepacketizerStats = { frames: 0, keyframes: 0, droppedFrames: 0, lostPackets: 0, malformed: 0 };

  constructor(o: { maxFrameBytes?: number } = {}) {
    this.#maxFrameBytes = o.maxFrameBytes ?? 1 << 20;
  }

  takeKeyframeRequest(): boolean {
    const w = this.#keyframeWanted;
    this.#keyframeWanted = false;
    return w;
  }

  /** Feeds one packet; returns the frames it completes (as one-element `nals`: the whole VP8 frame). */
  push(p: { sequenceNumber: number; timestamp: number; marker: boolean; payload: Uint8Array }): AccessUnit[] {
    const out: AccessUnit[] = [];
    if (this.#lastSeq !== undefined) {
      const delta = (p.sequenceNumber - this.#lastSeq) & 0xffff;
      if (delta === 0 || delta >= 0x8000) return out;
      if (delta > 1) {
        this.stats.lostPackets += delta - 1;
        this.#needKeyframe = true;
        this.#keyframeWanted = true;
        this.#broken = true;
      }
    }
    this.#lastSeq = p.sequenceNumber;
    if (this.#ts !== undefined && p.timestamp !== this.#ts) this.#finish(out);
    const d = parseVp8Descriptor(p.payload);
    if (d === null) { this.stats.malformed++; this.#broken = true; return out; }
    if (this.#ts === undefined) this.#ts = p.timestamp;
    if (d.start && d.partition === 0) {
      if (this.#started) this.#broken = true; // a second start in one timestamp
      this.#started = true;
    } else if (!this.#started) this.#broken = true; // its beginning was lost
    const data = p.payload.subarray(d.length);
    this.#bytes += data.length;
    if (this.#bytes > this.#maxFrameBytes) this.#broken = true;
    else this.#parts.push(data.slice());
    if (p.marker) this.#finish(out);
    return out;
  }

  #finish(out: AccessUnit[]): void {
    const ts = this.#ts;
    const parts = this.#parts;
    const broken = this.#broken || !this.#started;
    this.#parts = [];
    this.#bytes = 0;
    this.#broken = false;
    this.#started = false;
    this.#ts = undefined;
    if (ts === undefined || parts.length === 0) return;
    if (broken) { this.stats.droppedFrames++; return; }
    const frame = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
    let at = 0;
    for (const x of parts) { frame.set(x, at); at += x.length; }
    const keyframe = isVp8Keyframe(frame);
    if (this.#needKeyframe && !keyframe) { this.stats.droppedFrames++; this.#keyframeWanted = true; return; }
    if (keyframe) { this.#needKeyframe = false; this.stats.keyframes++; }
    this.stats.frames++;
    out.push({ timestamp: ts, nals: [frame], keyframe });
  }
}

/**
 * An IVF file (the VP8 container of libvpx and ffmpeg): a 32-byte header, then per frame its size and 64-bit
 * timestamp, here in 90 kHz ticks from the first frame (time base 1/90000), so a variable frame rate is kept as it was.
 */
export function writeIvf(frames: ReadonlyArray<{ pts: number; data: Uint8Array }>, width: number, height: number): Uint8Array {
  const size = 32 + frames.reduce((n, f) => n + 12 + f.data.length, 0);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  out.set([0x44, 0x4b, 0x49, 0x46], 0); // DKIF
  v.setUint16(4, 0, true);
  v.setUint16(6, 32, true);
  out.set([0x56, 0x50, 0x38, 0x30], 8); // VP80
  v.setUint16(12, width, true);
  v.setUint16(14, height, true);
  v.setUint32(16, 90_000, true); // time base denominator
  v.setUint32(20, 1, true); // numerator
  v.setUint32(24, frames.length, true);
  let at = 32;
  for (const f of frames) {
    v.setUint32(at, f.data.length, true);
    v.setBigUint64(at + 4, BigInt(f.pts), true);
    out.set(f.data, at + 12);
    at += 12 + f.data.length;
  }
  return out;
}

/** The frames of an IVF file (a test's or a tool's input); throws TypeError on what is no IVF. */
export function readIvf(b: Uint8Array): { width: number; height: number; rate: number; scale: number; frames: Array<{ pts: number; data: Uint8Array }> } {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 32 || String.fromCharCode(b[0], b[1], b[2], b[3]) !== 'DKIF') throw new TypeError('not an IVF file');
  const headerSize = v.getUint16(6, true);
  const frames: Array<{ pts: number; data: Uint8Array }> = [];
  for (let at = headerSize; at + 12 <= b.length && frames.length < 1_000_000;) {
    const n = v.getUint32(at, true);
    if (at + 12 + n > b.length) throw new TypeError('truncated IVF frame');
    frames.push({ pts: Number(v.getBigUint64(at + 4, true)), data: b.subarray(at + 12, at + 12 + n) });
    at += 12 + n;
  }
  return { width: v.getUint16(12, true), height: v.getUint16(14, true), rate: v.getUint32(16, true), scale: v.getUint32(20, true), frames };
}
