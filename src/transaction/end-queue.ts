// The end timers of RFC 3261 §17 (Timer D, I, J, K, L, M): a transaction that only waits out one of them is
// terminated when it fires. Each has one fixed duration, so the transactions waiting on one duration come due in
// the order they began: a FIFO and one clock timer for its head replace a Node timer per transaction. Memory
// (issue 17): a Node timer is about 190 B with its argument array and numbers, a FIFO entry 16 B; at 1,000
// REGISTERs/s 32,000 transactions wait out Timer J at any time. An entry is any value: a transaction (its endDue()
// is called), or the key of a completed non-INVITE server transaction the layer keeps only as its answer's bytes.

import type { Clock, TimerHandle } from '../clock.ts';

/** What waits in an EndQueue: told when its time is up. */
export interface EndWaiter {
  endDue(): void;
}

function endDue(w: EndWaiter): void {
  w.endDue();
}

export class EndQueue<T = EndWaiter> {
  readonly ms: number;
  readonly #clock: Clock;
  /** parallel arrays from #head on: when each entry is due (clock ms), and who waits (null once cancelled) */
  #at: number[] = [];
  #who: (T | null)[] = [];
  #head = 0;
  /** the ticket of the entry at index 0 of the arrays: tickets are positions counted from the queue's start */
  #base = 1;
  #live = 0;
  #timer: TimerHandle | null = null;
  /** in #fire: an entry added meanwhile is armed by #fire when it is done */
  #firing = false;
  readonly #onError: (err: unknown) => void;
  readonly #due: (who: T) => void;

  /** `onError`: a `due` threw (the entries after it still end); `due`: what an entry's time up does (endDue()) */
  constructor(clock: Clock, ms: number, onError: (err: unknown) => void = () => {}, due: (who: T) => void = endDue as (who: T) => void) {
    this.#clock = clock;
    this.ms = ms;
    this.#onError = onError;
    this.#due = due;
  }

  /** waiting entries, cancelled ones not counted */
  get size(): number {
    return this.#live;
  }

  /** `due(who)` is called after `ms`; the ticket (never 0) cancels it. */
  add(who: T): number {
    const ticket = this.#base + this.#at.length;
    this.#at.push(this.#clock.now() + this.ms);
    this.#who.push(who);
    this.#live++;
    if (this.#timer === null && !this.#firing) this.#arm(this.ms);
    return ticket;
  }

  /** The entry of `ticket` will not fire; its slot is let go at once (a ticket already fired or cancelled: no-op). */
  cancel(ticket: number): void {
    const i = ticket - this.#base;
    if (i < this.#head || i >= this.#who.length || this.#who[i] === null) return;
    this.#who[i] = null;
    if (--this.#live === 0) this.#reset();
  }

  #fire(): void {
    this.#timer = null;
    const now = this.#clock.now();
    const at = this.#at, who = this.#who;
    this.#firing = true;
    while (this.#head < at.length) {
      const due = at[this.#head]!;
      // due, or from a clock that went back since (an entry is never more than ms away)
      if (due > now && due - now <= this.ms) break;
      const w = who[this.#head] ?? null;
      who[this.#head] = null;
      this.#head++;
      if (w === null) continue;
      this.#live--;
      try {
        this.#due(w);
      } catch (err) {
        this.#onError(err);
      }
    }
    this.#firing = false;
    if (this.#live === 0) {
      this.#reset();
      return;
    }
    while (who[this.#head] === null) this.#head++;
    this.#compact();
    this.#arm(Math.max(1, Math.min(this.ms, this.#at[this.#head]! - now)));
  }

  /** every entry dropped, none fires (the layer closing) */
  clear(): void {
    this.#live = 0;
    this.#reset();
  }

  static #onTimer<U>(q: EndQueue<U>): void {
    q.#fire();
  }

  #arm(ms: number): void {
    this.#timer = this.#clock.set(EndQueue.#onTimer, ms, this);
  }

  /** drops the fired half of the arrays once it is the larger part */
  #compact(): void {
    if (this.#head < 1024 || this.#head * 2 < this.#at.length) return;
    this.#at.splice(0, this.#head);
    this.#who.splice(0, this.#head);
    this.#base += this.#head;
    this.#head = 0;
  }

  #reset(): void {
    if (this.#timer !== null) this.#clock.clear(this.#timer);
    this.#timer = null;
    this.#base += this.#at.length;
    this.#at = [];
    this.#who = [];
    this.#head = 0;
  }
}
