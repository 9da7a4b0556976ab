// Timer port of the transaction layer, so tests run with fake time (RFC 3261 §17, Table 4 of §A).
// Callbacks take one argument (the transaction) so no closure is allocated per timer.

export type TimerHandle = unknown;

export interface Timers {
  /** call `fn(arg)` after `ms` milliseconds */
  set<T>(fn: (arg: T) => void, ms: number, arg: T): TimerHandle;
  clear(handle: TimerHandle): void;
}

/** Node's timers. */
export const realTimers: Timers = {
  set<T>(fn: (arg: T) => void, ms: number, arg: T): TimerHandle {
    return setTimeout(fn, ms, arg);
  },
  clear(handle: TimerHandle): void {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

/** RFC 3261 §17.1.1.1: T1 (RTT estimate, 500 ms), T2 (max non-INVITE retransmit interval, 4 s), T4 (max network lifetime, 5 s). */
export interface TimerValues {
  t1: number;
  t2: number;
  t4: number;
}

export const DEFAULT_TIMER_VALUES: TimerValues = { t1: 500, t2: 4000, t4: 5000 };

interface FakeEntry {
  id: number;
  at: number;
  fn: (arg: unknown) => void;
  arg: unknown;
}

/**
 * Deterministic fake time for unit tests of the transaction layer and everything above it.
 * `advance(ms)` fires due timers in time order (timers set while firing run if due).
 */
export class FakeTimers implements Timers {
  now = 0;
  private entries: FakeEntry[] = [];
  private nextId = 1;

  set<T>(fn: (arg: T) => void, ms: number, arg: T): TimerHandle {
    const e: FakeEntry = { id: this.nextId++, at: this.now + Math.max(0, ms), fn: fn as (arg: unknown) => void, arg };
    this.entries.push(e);
    return e.id;
  }

  clear(handle: TimerHandle): void {
    const i = this.entries.findIndex((e) => e.id === handle);
    if (i >= 0) this.entries.splice(i, 1);
  }

  /** number of pending timers (tests assert that terminated transactions leave none) */
  get pending(): number {
    return this.entries.length;
  }

  /** Move time forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const until = this.now + ms;
    for (let guard = 0; guard < 1_000_000; guard++) {
      let best: FakeEntry | null = null;
      for (const e of this.entries) if (e.at <= until && (best === null || e.at < best.at || (e.at === best.at && e.id < best.id))) best = e;
      if (best === null) break;
      this.entries.splice(this.entries.indexOf(best), 1);
      this.now = best.at;
      best.fn(best.arg);
    }
    this.now = until;
  }
}
