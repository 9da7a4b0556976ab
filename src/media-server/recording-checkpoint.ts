// Checkpoints of a recording in progress (issue 13: "SIGKILL in the middle of a recording: the part received before
// the kill is stored, or the call is recorded as a missed call — never a lost call"). While a voicemail call records,
// what it has recorded so far is written to the store every intervalMs (one row per call, replaced); the commit of the
// voice message removes it in its own transaction. A row nobody renews (its server was killed) is turned into the
// voice message by the recovery sweep (MediaServer.recover), or dropped when too short: the call stays missed.
import type { Clock, TimerHandle } from '../clock.ts';

/** Default time between two checkpoints of a recording: at most this much of a message is lost to a kill. */
export const CHECKPOINT_INTERVAL_MS = 2000;
/** A checkpoint not renewed for this many intervals belongs to a recording no server is taking any more. */
export const STALE_INTERVALS = 3;

export interface CheckpointerOptions {
  clock: Pick<Clock, 'set' | 'clear'>;
  intervalMs: number;
  /** writes the checkpoint; null when there is nothing to write yet (still at the greeting, too short) */
  save: () => Promise<void> | null;
  onError: (err: unknown) => void;
}

/** Writes a call's checkpoints one at a time (a slow store is never written twice at once), until stop(). */
export class RecordingCheckpointer {
  readonly #o: CheckpointerOptions;
  #timer: TimerHandle | null = null;
  #inFlight: Promise<void> | null = null;
  #stopped = false;
  /** checkpoints written */
  written = 0;

  constructor(o: CheckpointerOptions) {
    this.#o = o;
  }

  start(): void {
    if (this.#stopped || this.#timer !== null) return;
    this.#timer = this.#o.clock.set(() => this.#tick(), this.#o.intervalMs, undefined);
  }

  #tick(): void {
    this.#timer = null;
    if (this.#stopped) return;
    const w = this.#inFlight === null ? this.#o.save() : null;
    if (w !== null) {
      this.#inFlight = w.then(() => { this.written++; }, (err: unknown) => this.#o.onError(err)).finally(() => { this.#inFlight = null; });
    }
    this.#timer = this.#o.clock.set(() => this.#tick(), this.#o.intervalMs, undefined);
  }

  /** No more checkpoints; resolves once the one being written (if any) is written, so a commit after it is the last word. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) this.#o.clock.clear(this.#timer);
    this.#timer = null;
    await this.#inFlight;
  }
}
