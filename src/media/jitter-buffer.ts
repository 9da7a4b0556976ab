// Receive jitter buffer for constant-rate audio: reorders RTP packets by sequence number (with
// wraparound), plays each out at a fixed delay after its media time, drops duplicates and packets
// that arrive after their playout slot, and reports the gaps as lost frames for concealment.

export interface JitterBufferOptions {
  /** delay between a packet's expected arrival and its playout, ms (default 60) */
  playoutDelayMs?: number;
  /** if true, the delay grows by one frame (up to maxDelayMs) each time a packet arrives late */
  adaptive?: boolean;
  maxDelayMs?: number;
  /** at most this many packets are held; more are dropped as overflow (default 50 = 1 s of 20 ms frames) */
  maxPackets?: number;
  /** RTP clock rate (default 8000) */
  clockRate?: number;
  /** a gap larger than this (in packets) re-anchors the buffer instead of concealing every frame (default 50) */
  maxGap?: number;
}

export interface JitterPacket {
  sequenceNumber: number;
  timestamp: number;
  payload: Uint8Array;
  marker?: boolean;
  /** carried through untouched (e.g. to tell telephone-event packets from audio at playout) */
  payloadType?: number;
}

export type PlayoutFrame =
  | { kind: 'packet'; packet: JitterPacket }
  | { kind: 'lost'; sequenceNumber: number };

export type PushResult = 'buffered' | 'duplicate' | 'late' | 'overflow';

export interface JitterBufferStats {
  buffered: number;
  played: number;
  duplicates: number;
  late: number;
  overflow: number;
  /** frames never received by their playout time (concealed) */
  lost: number;
  playoutDelayMs: number;
}

interface Slot { ext: number; tsExt: number; packet: JitterPacket }

/** Extends a 16/32-bit wrapping counter to the value nearest `reference` (RFC 3550 A.1's idea). */
function extend(value: number, reference: number, bits: 16 | 32): number {
  const mod = bits === 16 ? 0x10000 : 0x100000000;
  const half = mod / 2;
  let delta = (value - (reference % mod)) % mod;
  if (delta < 0) delta += mod;
  if (delta >= half) delta -= mod;
  return reference + delta;
}

export class JitterBuffer {
  readonly clockRate: number;
  readonly maxPackets: number;
  readonly adaptive: boolean;
  readonly maxDelayMs: number;
  readonly maxGap: number;
  #delayMs: number;
  /** sorted by ext ascending */
  #slots: Slot[] = [];
  #anchor: { tsExt: number; timeMs: number } | undefined;
  /** extended sequence number of the next frame to play */
  #next: number | undefined;
  #highestExt = 0;
  #highestTsExt = 0;
  #stats = { played: 0, duplicates: 0, late: 0, overflow: 0, lost: 0 };

  constructor(options: JitterBufferOptions = {}) {
    this.clockRate = options.clockRate ?? 8000;
    this.maxPackets = options.maxPackets ?? 50;
    this.adaptive = options.adaptive ?? false;
    this.#delayMs = options.playoutDelayMs ?? 60;
    this.maxDelayMs = options.maxDelayMs ?? 200;
    this.maxGap = options.maxGap ?? 50;
  }

  get playoutDelayMs(): number { return this.#delayMs; }

  /** The time (ms, same clock as push/pop) at which a packet with this extended timestamp plays. */
  #playoutTime(tsExt: number): number {
    const a = this.#anchor as { tsExt: number; timeMs: number };
    return a.timeMs + ((tsExt - a.tsExt) * 1000) / this.clockRate;
  }

  /** Offers a received packet, at local time `arrivalMs`. */
  push(packet: JitterPacket, arrivalMs: number): PushResult {
    if (this.#next === undefined || this.#anchor === undefined) {
      // First packet: it defines the media clock ↔ local clock mapping.
      this.#highestExt = packet.sequenceNumber;
      this.#highestTsExt = packet.timestamp;
      this.#next = packet.sequenceNumber;
      this.#anchor = { tsExt: packet.timestamp, timeMs: arrivalMs + this.#delayMs };
    }
    const ext = extend(packet.sequenceNumber, this.#highestExt, 16);
    const tsExt = extend(packet.timestamp, this.#highestTsExt, 32);
    if (ext - this.#highestExt > this.maxGap + this.maxPackets || ext < this.#next - 0x8000 / 2) {
      // A jump far ahead (or far behind): the sender restarted its stream; start over from this packet.
      this.#stats.lost += Math.max(0, Math.min(ext - this.#next, this.maxGap));
      this.#slots = [];
      this.#next = ext;
      this.#anchor = { tsExt, timeMs: arrivalMs + this.#delayMs };
    }
    if (ext < this.#next) {
      // Its slot was already played (or concealed as lost).
      this.#stats.late++;
      if (this.adaptive && this.#delayMs < this.maxDelayMs) {
        const step = Math.min(20, this.maxDelayMs - this.#delayMs);
        this.#delayMs += step;
        (this.#anchor as { timeMs: number }).timeMs += step;
      }
      return 'late';
    }
    // Insert in order (packets mostly arrive in order: search from the end).
    let i = this.#slots.length;
    while (i > 0 && this.#slots[i - 1].ext > ext) i--;
    if (i > 0 && this.#slots[i - 1].ext === ext) { this.#stats.duplicates++; return 'duplicate'; }
    if (this.#slots.length >= this.maxPackets) { this.#stats.overflow++; return 'overflow'; }
    this.#slots.splice(i, 0, { ext, tsExt, packet });
    if (ext > this.#highestExt) { this.#highestExt = ext; this.#highestTsExt = tsExt; }
    return 'buffered';
  }

  /**
   * The frames due for playout at local time `nowMs`, in order: packets, and 'lost' markers for
   * sequence numbers skipped because a later packet is already due. At most `maxFrames` per call.
   */
  pop(nowMs: number, maxFrames = 10): PlayoutFrame[] {
    const out: PlayoutFrame[] = [];
    if (this.#next === undefined) return out;
    while (out.length < maxFrames && this.#slots.length > 0) {
      const head = this.#slots[0];
      if (this.#playoutTime(head.tsExt) > nowMs) break;
      if (head.ext === this.#next) {
        this.#slots.shift();
        this.#next++;
        this.#stats.played++;
        out.push({ kind: 'packet', packet: head.packet });
      } else if (head.ext - this.#next > this.maxGap) {
        this.#stats.lost += head.ext - this.#next;
        this.#next = head.ext;
      } else {
        // RFC 3550 §6.4.1 counts these as lost; the sink conceals them.
        this.#stats.lost++;
        out.push({ kind: 'lost', sequenceNumber: this.#next & 0xffff });
        this.#next++;
      }
    }
    return out;
  }

  stats(): JitterBufferStats {
    return { buffered: this.#slots.length, ...this.#stats, playoutDelayMs: this.#delayMs };
  }
}
