// Time as a port: every part reads the time and sets timers only through this, so the whole server runs on
// one fake clock in tests. Timer callbacks take one argument, so the hot path (transactions, RFC 3261 §17)
// allocates no closure per timer. Imports nothing.

export type TimerHandle = unknown;

export interface Clock {
  /** epoch milliseconds */
  now(): number;
  /** call `fn(arg)` once after `ms` milliseconds; the system clock unrefs it so it never keeps the process alive */
  set<T>(fn: (arg: T) => void, ms: number, arg: T): TimerHandle;
  clear(handle: TimerHandle): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  set<T>(fn: (arg: T) => void, ms: number, arg: T): TimerHandle {
    const t = setTimeout(fn, ms, arg);
    t.unref();
    return t;
  },
  clear(handle: TimerHandle): void {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

interface FakeEntry {
  id: number;
  at: number;
  fn: (arg: unknown) => void;
  arg: unknown;
}

/**
 * Deterministic time for tests. `advance(ms)` fires due timers in time order (timers set while firing run if
 * due); `tick(ms)` does the same and lets promise chains settle between timers (async capabilities).
 */
export class FakeClock implements Clock {
  /** the current time, epoch ms; tests may move it without firing timers */
  time: number;
  #entries: FakeEntry[] = [];
  #nextId = 1;

  constructor(start = 0) {
    this.time = start;
  }

  now = (): number => this.time;

  set<T>(fn: (arg: T) => void, ms: number, arg: T): TimerHandle {
    const e: FakeEntry = { id: this.#nextId++, at: this.time + Math.max(0, ms), fn: fn as (arg: unknown) => void, arg };
    this.#entries.push(e);
    return e.id;
  }

  clear(handle: TimerHandle): void {
    const i = this.#entries.findIndex((e) => e.id === handle);
    if (i >= 0) this.#entries.splice(i, 1);
  }

  /** number of pending timers (tests assert that finished work leaves none) */
  get pending(): number {
    return this.#entries.length;
  }

  /** the delay until the next timer, or null */
  nextDelay(): number | null {
    if (this.#entries.length === 0) return null;
    return Math.min(...this.#entries.map((e) => e.at)) - this.time;
  }

  /** Move time forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const until = this.time + ms;
    for (let guard = 0; guard < 1_000_000; guard++) {
      const due = this.#due(until);
      if (due === null) break;
      this.#fire(due);
    }
    this.time = until;
  }

  /** As advance(), letting every chain of resolved promises run before and after each timer. */
  async tick(ms: number): Promise<void> {
    const until = this.time + ms;
    for (let guard = 0; guard < 10_000; guard++) {
      await settle();
      const due = this.#due(until);
      if (due === null) break;
      this.#fire(due);
    }
    this.time = until;
    await settle();
  }

  #due(until: number): FakeEntry | null {
    let best: FakeEntry | null = null;
    for (const e of this.#entries) if (e.at <= until && (best === null || e.at < best.at || (e.at === best.at && e.id < best.id))) best = e;
    return best;
  }

  #fire(e: FakeEntry): void {
    this.#entries.splice(this.#entries.indexOf(e), 1);
    this.time = Math.max(this.time, e.at);
    e.fn(e.arg);
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise<void>((r) => setImmediate(r));
}
