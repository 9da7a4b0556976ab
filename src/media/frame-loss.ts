// What a video depacketizer (h264-rtp.ts, vp8-rtp.ts) does about loss: one home for the rule that a frame after
// a lost one cannot be decoded, so frames are dropped until the next keyframe, and the receiver asks for it
// (RFC 4585 §6.3.1 PLI).
import { sequenceGap } from './rtp-packet.ts';

/** The counters a depacketizer's stats share with the loss tracker, which keeps them. */
export interface FrameLossStats {
  frames: number;
  keyframes: number;
  droppedFrames: number;
  /** packets the sequence numbers say never came */
  lostPackets: number;
}

/**
 * Follows the sequence numbers of one source and the reference chain of its frames. It starts waiting for a
 * keyframe; a sequence gap or a dropped frame breaks the chain, and `takeKeyframeRequest` then says (once) to ask
 * for a keyframe.
 */
export class FrameLossTracker {
  readonly #stats: FrameLossStats;
  #lastSeq: number | undefined;
  /** a loss broke the reference chain: frames are dropped until a keyframe */
  #needKeyframe = true;
  #keyframeWanted = false;

  constructor(stats: FrameLossStats) {
    this.#stats = stats;
  }

  /**
   * Takes a packet's sequence number: -1 for a duplicate or older one (already past it: drop it), else how many
   * packets before it never came. A gap breaks the reference chain: frames are dropped until a keyframe.
   */
  packet(sequenceNumber: number): number {
    const gap = sequenceGap(this.#lastSeq, sequenceNumber);
    if (gap < 0) return gap;
    if (gap > 0) {
      this.#stats.lostPackets += gap;
      this.#needKeyframe = this.#keyframeWanted = true;
    }
    this.#lastSeq = sequenceNumber;
    return gap;
  }

  /** A frame was dropped (broken, incomplete, too large): the frames after it wait for a keyframe. */
  dropped(): void {
    this.#stats.droppedFrames++;
    this.#needKeyframe = true;
    this.#keyframeWanted = true;
  }

  /**
   * Whether a complete frame may go to the decoder: a keyframe always (it mends the chain); another frame only
   * when the chain is whole, or when it is `standalone` (refers to no frame, e.g. H.264 parameter sets).
   */
  admit(keyframe: boolean, standalone = false): boolean {
    if (this.#needKeyframe && !keyframe && !standalone) {
      this.#stats.droppedFrames++;
      this.#keyframeWanted = true;
      return false;
    }
    if (keyframe) this.#needKeyframe = false;
    this.#stats.frames++;
    if (keyframe) this.#stats.keyframes++;
    return true;
  }

  /** True once after a loss made the stream undecodable until the next keyframe: send a PLI. */
  takeKeyframeRequest(): boolean {
    const w = this.#keyframeWanted;
    this.#keyframeWanted = false;
    return w;
  }
}
