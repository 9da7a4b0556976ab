// Per-source reception statistics for RTCP reception reports (RFC 3550 §6.4.1, appendix A.1, A.3, A.8).

const RTP_SEQ_MOD = 1 << 16;
const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;
const MIN_SEQUENTIAL = 2;

export interface ReceptionReportFields {
  /** fraction of packets lost since the previous report, 0..255 (÷256) */
  fractionLost: number;
  /** cumulative packets lost, clamped to 24-bit signed */
  cumulativeLost: number;
  /** cycles << 16 | highest sequence number received */
  extendedHighestSeq: number;
  /** interarrival jitter in timestamp units */
  jitter: number;
}

/** RFC 3550 appendix A.1 sequence validation, A.3 loss, A.8 jitter, for one SSRC. */
export class ReceptionStatistics {
  readonly ssrc: number;
  readonly clockRate: number;
  #maxSeq = 0;
  #cycles = 0;
  #baseSeq = 0;
  #badSeq = RTP_SEQ_MOD + 1;
  #probation = MIN_SEQUENTIAL;
  #received = 0;
  #expectedPrior = 0;
  #receivedPrior = 0;
  #transit: number | undefined;
  #jitter = 0;

  constructor(ssrc: number, firstSeq: number, clockRate = 8000) {
    this.ssrc = ssrc;
    this.clockRate = clockRate;
    // A.1: a new source starts in probation, max_seq = seq - 1.
    this.#initSeq(firstSeq);
    this.#maxSeq = (firstSeq - 1) & 0xffff;
    this.#probation = MIN_SEQUENTIAL;
  }

  #initSeq(seq: number): void {
    this.#baseSeq = seq;
    this.#maxSeq = seq;
    this.#badSeq = RTP_SEQ_MOD + 1;
    this.#cycles = 0;
    this.#received = 0;
    this.#receivedPrior = 0;
    this.#expectedPrior = 0;
  }

  /** RFC 3550 A.1 update_seq: false if the packet is not (yet) counted as valid. */
  #updateSeq(seq: number): boolean {
    const udelta = (seq - this.#maxSeq) & 0xffff;
    if (this.#probation > 0) {
      // A.1: the source is valid after MIN_SEQUENTIAL packets in sequence.
      if (seq === ((this.#maxSeq + 1) & 0xffff)) {
        this.#probation--;
        this.#maxSeq = seq;
        if (this.#probation === 0) { this.#initSeq(seq); this.#received++; return true; }
      } else {
        this.#probation = MIN_SEQUENTIAL - 1;
        this.#maxSeq = seq;
      }
      return false;
    } else if (udelta < MAX_DROPOUT) {
      // in order, with a permissible gap
      if (seq < this.#maxSeq) this.#cycles += RTP_SEQ_MOD; // wrapped
      this.#maxSeq = seq;
    } else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
      // A.1: a very large jump; if two sequential packets arrive, assume the source restarted.
      if (seq === this.#badSeq) this.#initSeq(seq);
      else { this.#badSeq = (seq + 1) & 0xffff; return false; }
    }
    // else: duplicate or reordered packet, counted as received
    this.#received++;
    return true;
  }

  /** Accounts one received packet; `arrivalMs` is the local receive time in milliseconds. */
  update(seq: number, rtpTimestamp: number, arrivalMs: number): boolean {
    if (!this.#updateSeq(seq)) return false;
    // A.8: transit = arrival − timestamp (both in timestamp units); J += (|D| − J) / 16.
    const transit = (arrivalMs * this.clockRate) / 1000 - rtpTimestamp;
    if (this.#transit !== undefined) {
      let d = transit - this.#transit;
      d = ((((d + 2 ** 31) % 2 ** 32) + 2 ** 32) % 2 ** 32) - 2 ** 31; // RTP timestamps wrap at 2^32
      this.#jitter += (Math.abs(d) - this.#jitter) / 16;
    }
    this.#transit = transit;
    return true;
  }

  get received(): number { return this.#received; }
  get extendedHighestSeq(): number { return this.#cycles + this.#maxSeq; }
  get expected(): number { return this.#probation > 0 ? 0 : this.extendedHighestSeq - this.#baseSeq + 1; }
  /** A.3: expected − received (negative with duplicates). */
  get cumulativeLost(): number { return this.expected - this.#received; }
  /** interarrival jitter in timestamp units */
  get jitter(): number { return this.#jitter; }
  get jitterMs(): number { return (this.#jitter * 1000) / this.clockRate; }

  /** The fields of a reception report (A.3); advances the "since last report" interval. */
  report(): ReceptionReportFields {
    const expected = this.expected;
    const expectedInterval = expected - this.#expectedPrior;
    this.#expectedPrior = expected;
    const receivedInterval = this.#received - this.#receivedPrior;
    this.#receivedPrior = this.#received;
    const lostInterval = expectedInterval - receivedInterval;
    const fractionLost = expectedInterval === 0 || lostInterval <= 0 ? 0 : Math.min(255, Math.floor((lostInterval * 256) / expectedInterval));
    // §6.4.1: cumulative number of packets lost is a signed 24-bit value.
    const cumulativeLost = Math.max(-0x800000, Math.min(0x7fffff, this.cumulativeLost));
    return { fractionLost, cumulativeLost, extendedHighestSeq: this.extendedHighestSeq >>> 0, jitter: Math.floor(this.#jitter) };
  }
}
