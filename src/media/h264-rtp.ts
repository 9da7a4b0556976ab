// H.264 over RTP (RFC 6184), packetization-mode 1 (non-interleaved): single NAL unit packets (§5.6), STAP-A
// (§5.7.1) and FU-A (§5.8), and H.264 Annex B byte streams (start codes) in and out.
//
// NAL unit header (§1.3, §5.3):        FU indicator + FU header (§5.8):
// +---------------+                     +---------------+---------------+
// |0|1|2|3|4|5|6|7|                     |F|NRI| Type=28 |S|E|R| Type    |
// |F|NRI|  Type   |                     +---------------+---------------+
// +---------------+
import { TvphoneError } from '../errors.ts';
import { FrameLossTracker } from './frame-loss.ts';

export const NAL_IDR = 5;
export const NAL_SEI = 6;
export const NAL_SPS = 7;
export const NAL_PPS = 8;
export const NAL_AUD = 9;
export const STAP_A = 24;
export const FU_A = 28;

/** The 5-bit nal_unit_type of a NAL unit (§1.3). */
export function nalType(nal: Uint8Array): number {
  return (nal[0] ?? 0) & 0x1f;
}

/**
 * Splits an Annex B byte stream (ITU-T H.264 Annex B: 00 00 01 or 00 00 00 01 before each NAL unit) into NAL units.
 * Returns the complete NAL units and the bytes after the last start code (the NAL unit still arriving), for streamed input.
 */
export function splitAnnexB(bytes: Uint8Array, final = true): { nals: Uint8Array[]; rest: Uint8Array } {
  const nals: Uint8Array[] = [];
  let start = -1;
  let i = 0;
  const n = bytes.length;
  while (i + 2 < n) {
    if (bytes[i + 2] > 1) { i += 3; continue; }
    if (bytes[i] === 0 && bytes[i + 1] === 0 && bytes[i + 2] === 1) {
      if (start >= 0) {
        // trailing zero bytes before a start code belong to the next start code (4-byte form, or trailing_zero_8bits)
        let end = i;
        while (end > start && bytes[end - 1] === 0) end--;
        if (end > start) nals.push(bytes.subarray(start, end));
      }
      i += 3;
      start = i;
      continue;
    }
    i++;
  }
  if (start < 0) return { nals, rest: final ? new Uint8Array(0) : bytes };
  const tail = bytes.subarray(start);
  if (final) {
    let end = tail.length;
    while (end > 0 && tail[end - 1] === 0) end--;
    if (end > 0) nals.push(tail.subarray(0, end));
    return { nals, rest: new Uint8Array(0) };
  }
  // keep the start code with the rest, so the next call finds it again
  return { nals, rest: bytes.subarray(start - 3) };
}

/** Joins NAL units into an Annex B byte stream with 4-byte start codes. */
export function joinAnnexB(nals: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(nals.reduce((s, n) => s + 4 + n.length, 0));
  let o = 0;
  for (const n of nals) {
    out.set([0, 0, 0, 1], o);
    out.set(n, o + 4);
    o += 4 + n.length;
  }
  return out;
}

/**
 * The RTP payloads of one access unit (all its NAL units share one RTP timestamp, §5.1; the marker bit is set on
 * the last packet of the access unit). `mtu` bounds each payload's size in bytes.
 * - a NAL unit that fits is sent alone (§5.6), except that consecutive small NAL units (parameter sets) are
 *   aggregated into a STAP-A (§5.7.1) when `aggregate` is on;
 * - a larger one is fragmented into FU-A packets (§5.8).
 */
export function packetizeH264(nals: readonly Uint8Array[], mtu: number, aggregate = true): Uint8Array[] {
  if (!Number.isInteger(mtu) || mtu < 3) throw new TvphoneError('ERR_MEDIA_MTU', `an H.264 RTP payload budget must be at least 3 bytes, got ${mtu}`);
  const out: Uint8Array[] = [];
  let stap: Uint8Array[] = [];
  let stapSize = 1;
  const flush = (): void => {
    if (stap.length === 1) out.push(stap[0]);
    else if (stap.length > 1) out.push(buildStapA(stap));
    stap = [];
    stapSize = 1;
  };
  for (const nal of nals) {
    if (nal.length === 0) continue;
    if (nal.length <= mtu) {
      // §5.7.1: each aggregated NAL unit costs a 16-bit size field; the STAP-A header is one byte
      if (aggregate && stapSize + 2 + nal.length <= mtu) { stap.push(nal); stapSize += 2 + nal.length; continue; }
      flush();
      if (aggregate && 1 + 2 + nal.length <= mtu) { stap.push(nal); stapSize += 2 + nal.length; continue; }
      out.push(nal);
      continue;
    }
    flush();
    out.push(...fragmentFuA(nal, mtu));
  }
  flush();
  return out;
}

function buildStapA(nals: readonly Uint8Array[]): Uint8Array {
  // §5.7.1: F is the OR of the F bits, NRI the maximum NRI of the aggregated NAL units
  let f = 0;
  let nri = 0;
  for (const n of nals) { f |= n[0] & 0x80; nri = Math.max(nri, n[0] & 0x60); }
  const out = new Uint8Array(1 + nals.reduce((s, n) => s + 2 + n.length, 0));
  out[0] = f | nri | STAP_A;
  let o = 1;
  for (const n of nals) {
    out[o] = n.length >> 8;
    out[o + 1] = n.length & 0xff;
    out.set(n, o + 2);
    o += 2 + n.length;
  }
  return out;
}

function fragmentFuA(nal: Uint8Array, mtu: number): Uint8Array[] {
  // §5.8: the NAL unit header is not sent; its F/NRI go in the FU indicator and its type in the FU header
  const indicator = (nal[0] & 0xe0) | FU_A;
  const type = nal[0] & 0x1f;
  const body = nal.subarray(1);
  const chunk = mtu - 2;
  const out: Uint8Array[] = [];
  for (let o = 0; o < body.length; o += chunk) {
    const part = body.subarray(o, Math.min(body.length, o + chunk));
    const p = new Uint8Array(2 + part.length);
    const s = o === 0 ? 0x80 : 0;
    const e = o + chunk >= body.length ? 0x40 : 0;
    p[0] = indicator;
    p[1] = s | e | type;
    p.set(part, 2);
    out.push(p);
  }
  return out;
}

export interface DepacketizerOptions {
  /** largest access unit reassembled, bytes (default 1 MiB); beyond, the frame is dropped */
  maxFrameBytes?: number;
  /** most NAL units in one access unit (default 256) */
  maxNalsPerFrame?: number;
}

export interface AccessUnit {
  timestamp: number;
  nals: Uint8Array[];
  /** holds an IDR slice (nal_unit_type 5) */
  keyframe: boolean;
}

export interface DepacketizerStats {
  frames: number;
  keyframes: number;
  /** frames dropped: a sequence gap, a broken FU-A, too large */
  droppedFrames: number;
  /** packets the sequence numbers say never came */
  lostPackets: number;
  /** payloads that break RFC 6184 (NAL type 0, 25-27, 29-31, truncated STAP-A) */
  malformed: number;
}

/**
 * Reassembles access units from RTP packets of one source in sequence order (from a jitter buffer, or as they come
 * on a loss-free path). A packet is part of the access unit of its timestamp; an access unit ends at the marker bit
 * or when a new timestamp begins. A sequence gap inside or before an access unit drops it (a decoder cannot use a
 * frame with missing slices), and then frames are dropped until the next keyframe: `takeKeyframeRequest` then says to ask
 * for one (RFC 4585 §6.3.1 PLI).
 */
export class H264Depacketizer {
  readonly #maxFrameBytes: number;
  readonly #maxNals: number;
  #ts: number | undefined;
  #nals: Uint8Array[] = [];
  #bytes = 0;
  #broken = false;
  #fu: Uint8Array[] | null = null;
  #fuBytes = 0;
  readonly stats: DepacketizerStats = { frames: 0, keyframes: 0, droppedFrames: 0, lostPackets: 0, malformed: 0 };
  readonly #loss = new FrameLossTracker(this.stats);

  constructor(o: DepacketizerOptions = {}) {
    this.#maxFrameBytes = o.maxFrameBytes ?? 1 << 20;
    this.#maxNals = o.maxNalsPerFrame ?? 256;
  }

  /** True once after a loss made the stream undecodable until the next keyframe: send a PLI. */
  takeKeyframeRequest(): boolean {
    return this.#loss.takeKeyframeRequest();
  }

  /** Feeds one packet; returns the access units completed by it (0, 1 or 2: a new timestamp flushes the previous one). */
  push(p: { sequenceNumber: number; timestamp: number; marker: boolean; payload: Uint8Array }): AccessUnit[] {
    const out: AccessUnit[] = [];
    const gap = this.#loss.packet(p.sequenceNumber);
    if (gap < 0) return out; // a duplicate or older: already past it
    // after a gap the open frame lost its tail (a new timestamp) or some middle part (the same one)
    if (gap > 0) this.#broken = true;
    if (this.#ts !== undefined && this.#ts !== p.timestamp) this.#finish(out);
    this.#ts = p.timestamp;
    this.#payload(p.payload);
    if (p.marker) this.#finish(out);
    return out;
  }

  #payload(b: Uint8Array): void {
    if (b.length === 0) { this.stats.malformed++; this.#broken = true; return; }
    const type = b[0] & 0x1f;
    if (type >= 1 && type <= 23) { this.#fu = null; return this.#nal(b); }
    if (type === STAP_A) {
      this.#fu = null;
      let o = 1;
      while (o + 2 <= b.length) {
        const size = (b[o] << 8) | b[o + 1];
        if (size === 0 || o + 2 + size > b.length) break;
        this.#nal(b.subarray(o + 2, o + 2 + size));
        o += 2 + size;
      }
      if (o !== b.length) { this.stats.malformed++; this.#broken = true; }
      return;
    }
    if (type === FU_A && b.length >= 2) {
      const start = (b[1] & 0x80) !== 0;
      const end = (b[1] & 0x40) !== 0;
      // §5.8: "A fragmented NAL unit MUST NOT be transmitted in one FU": S and E both set is invalid
      if (start && end) { this.stats.malformed++; this.#broken = true; this.#fu = null; return; }
      if (start) {
        this.#fu = [Uint8Array.of((b[0] & 0xe0) | (b[1] & 0x1f))];
        this.#fuBytes = 1;
      } else if (this.#fu === null) {
        // a middle or end fragment without its start: the start was lost
        this.#broken = true;
        return;
      }
      const part = b.subarray(2);
      this.#fuBytes += part.length;
      if (this.#bytes + this.#fuBytes > this.#maxFrameBytes) { this.#fu = null; this.#broken = true; return; }
      this.#fu.push(part);
      if (end) {
        const nal = new Uint8Array(this.#fuBytes);
        let o = 0;
        for (const x of this.#fu) { nal.set(x, o); o += x.length; }
        this.#fu = null;
        this.#nal(nal);
      }
      return;
    }
    // type 0, STAP-B/MTAP (25-27: not in mode 1), FU-B (29), reserved (30, 31): §5.4 table 3
    this.stats.malformed++;
    this.#broken = true;
  }

  #nal(nal: Uint8Array): void {
    if (this.#broken) return;
    if (this.#nals.length >= this.#maxNals || this.#bytes + nal.length > this.#maxFrameBytes) { this.#broken = true; return; }
    this.#nals.push(nal.slice());
    this.#bytes += nal.length;
  }

  #finish(out: AccessUnit[]): void {
    const ts = this.#ts;
    const nals = this.#nals;
    // an FU-A still open at the frame's end lost its end fragment
    const broken = this.#broken || this.#fu !== null;
    this.#nals = [];
    this.#bytes = 0;
    this.#broken = false;
    this.#fu = null;
    this.#ts = undefined;
    if (ts === undefined) return;
    if (broken || nals.length === 0) return this.#loss.dropped();
    const keyframe = nals.some((n) => nalType(n) === NAL_IDR);
    // parameter sets alone (an SPS/PPS-only unit) are kept while waiting: the decoder needs them before the IDR
    const parameterOnly = nals.every((n) => [NAL_SPS, NAL_PPS, NAL_SEI, NAL_AUD].includes(nalType(n)));
    if (!this.#loss.admit(keyframe, parameterOnly)) return;
    out.push({ timestamp: ts, nals, keyframe });
  }
}

/** RBSP bits of a NAL unit (ITU-T H.264 §7.4.1: the emulation prevention bytes 0x000003 removed), read MSB first. */
class RbspReader {
  readonly #b: number[] = [];
  #bit = 0;

  constructor(nal: Uint8Array) {
    for (let i = 1, zeros = 0; i < nal.length; i++) { // after the NAL unit header
      if (zeros >= 2 && nal[i] === 3) { zeros = 0; continue; }
      zeros = nal[i] === 0 ? zeros + 1 : 0;
      this.#b.push(nal[i]);
    }
  }

  u(n: number): number {
    let v = 0;
    for (let k = 0; k < n; k++) {
      const byte = this.#b[this.#bit >> 3];
      if (byte === undefined) throw new RangeError('SPS ends early');
      v = v * 2 + ((byte >> (7 - (this.#bit & 7))) & 1);
      this.#bit++;
    }
    return v;
  }

  /** §9.1 ue(v) */
  ue(): number {
    let zeros = 0;
    while (this.u(1) === 0) if (++zeros > 31) throw new RangeError('bad Exp-Golomb code');
    return 2 ** zeros - 1 + this.u(zeros);
  }

  /** §9.1.1 se(v) */
  se(): number {
    const k = this.ue();
    return k % 2 === 1 ? (k + 1) / 2 : -(k / 2);
  }
}

/** The profiles whose SPS carries chroma_format_idc and the scaling lists (§7.3.2.1.1). */
const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

/**
 * The picture size a sequence parameter set (NAL type 7) gives (ITU-T H.264 §7.3.2.1.1, §7.4.2.1.1: macroblocks less
 * the frame cropping), or undefined when it cannot be read.
 */
export function h264SpsSize(sps: Uint8Array): { width: number; height: number } | undefined {
  if (nalType(sps) !== NAL_SPS) return undefined;
  try {
    const r = new RbspReader(sps);
    const profile = r.u(8);
    r.u(16); // constraint flags, level_idc
    r.ue(); // seq_parameter_set_id
    let chroma = 1;
    let separatePlanes = 0;
    if (HIGH_PROFILES.has(profile)) {
      chroma = r.ue();
      if (chroma === 3) separatePlanes = r.u(1);
      r.ue(); // bit_depth_luma_minus8
      r.ue(); // bit_depth_chroma_minus8
      r.u(1); // qpprime_y_zero_transform_bypass_flag
      if (r.u(1) === 1) { // seq_scaling_matrix_present_flag: §7.3.2.1.1.1 scaling_list()
        for (let i = 0; i < (chroma !== 3 ? 8 : 12); i++) {
          if (r.u(1) === 0) continue;
          let last = 8;
          let next = 8;
          for (let j = 0; j < (i < 6 ? 16 : 64) && next !== 0; j++) {
            next = (last + r.se() + 256) % 256;
            last = next === 0 ? last : next;
          }
        }
      }
    }
    r.ue(); // log2_max_frame_num_minus4
    const pocType = r.ue();
    if (pocType === 0) r.ue();
    else if (pocType === 1) {
      r.u(1);
      r.se();
      r.se();
      const n = r.ue();
      for (let i = 0; i < n; i++) r.se();
    }
    r.ue(); // max_num_ref_frames
    r.u(1); // gaps_in_frame_num_value_allowed_flag
    const widthMbs = r.ue() + 1;
    const heightMapUnits = r.ue() + 1;
    const frameMbsOnly = r.u(1);
    if (frameMbsOnly === 0) r.u(1); // mb_adaptive_frame_field_flag
    r.u(1); // direct_8x8_inference_flag
    let crop = [0, 0, 0, 0];
    if (r.u(1) === 1) crop = [r.ue(), r.ue(), r.ue(), r.ue()];
    // §7.4.2.1.1: the crop units of the chroma format (Table 6-1)
    const mono = chroma === 0 || separatePlanes === 1;
    const cropX = mono ? 1 : chroma === 3 ? 1 : 2;
    const cropY = (mono ? 1 : chroma === 1 ? 2 : 1) * (2 - frameMbsOnly);
    const width = widthMbs * 16 - cropX * (crop[0] + crop[1]);
    const height = (2 - frameMbsOnly) * heightMapUnits * 16 - cropY * (crop[2] + crop[3]);
    return width > 0 && height > 0 ? { width, height } : undefined;
  } catch {
    return undefined;
  }
}
