// Kamailio tsilo in TypeScript: INVITEs held for a callee in standby until it registers (ts_store / ts_append),
// bounded in number and in time. A mechanism only: what a held call is, and what its expiry does, is routing's.
import type { Clock, TimerHandle } from '../clock.ts';
import type { SipRequest } from '../sip/message.ts';

interface Entry<T> {
  userId: string;
  key: string;
  value: T;
  timer: TimerHandle | null;
  onExpire: (value: T) => void;
  table: HeldCalls<T>;
}

/**
 * The key of an INVITE's hold, which its CANCEL shares: RFC 3261 §9.1, a CANCEL has the Call-ID, the CSeq number and
 * the top Via (branch) of the request it cancels. Null when the top Via does not parse.
 */
export function heldCallKey(req: SipRequest): string | null {
  try {
    const branch = req.topVia().branch;
    return `${req.callId}\n${req.cseq().seq}\n${branch ?? ''}`;
  } catch {
    return null;
  }
}

export class HeldCalls<T> {
  readonly #clock: Clock;
  #max: number;
  readonly #byKey = new Map<string, Entry<T>>();
  readonly #byUser = new Map<string, Set<Entry<T>>>();

  constructor(opts: { clock: Clock; max: number }) {
    this.#clock = opts.clock;
    this.#max = opts.max;
  }

  get size(): number {
    return this.#byKey.size;
  }

  /** A reload's new bound; calls already held stay until released or expired. */
  reconfigure(max: number): void {
    this.#max = max;
  }

  /**
   * ts_store: hold `value` for `userId` for `ms`, then `onExpire(value)` (never if taken or cancelled before). False,
   * holding nothing, when the table is full or `key` is held already (a retransmission is absorbed by its transaction).
   */
  hold(userId: string, key: string, value: T, ms: number, onExpire: (value: T) => void): boolean {
    if (this.#byKey.size >= this.#max || this.#byKey.has(key)) return false;
    const e: Entry<T> = { userId, key, value, timer: null, onExpire, table: this };
    e.timer = this.#clock.set(expire, ms, e as Entry<unknown>);
    this.#byKey.set(key, e);
    let set = this.#byUser.get(userId);
    if (!set) this.#byUser.set(userId, (set = new Set()));
    set.add(e);
    return true;
  }

  /** ts_append: the user registered; every call held for it, oldest first, leaves the table. */
  take(userId: string): T[] {
    const set = this.#byUser.get(userId);
    if (!set) return [];
    const out = [...set].map((e) => e.value);
    for (const e of [...set]) this.#remove(e);
    return out;
  }

  /** A CANCEL (or the caller gone): the call held under `key` leaves the table; null when none is. */
  release(key: string): T | null {
    const e = this.#byKey.get(key);
    if (!e) return null;
    this.#remove(e);
    return e.value;
  }

  /** Shutdown: every held call leaves the table, its timer cleared; the caller answers them. */
  drain(): T[] {
    const out = [...this.#byKey.values()].map((e) => e.value);
    for (const e of [...this.#byKey.values()]) this.#remove(e);
    return out;
  }

  #remove(e: Entry<T>): void {
    if (e.timer !== null) this.#clock.clear(e.timer);
    e.timer = null;
    this.#byKey.delete(e.key);
    const set = this.#byUser.get(e.userId);
    set?.delete(e);
    if (set?.size === 0) this.#byUser.delete(e.userId);
  }

  /** @internal the hold timer of `e` fired */
  expired(e: Entry<T>): void {
    if (this.#byKey.get(e.key) !== e) return;
    e.timer = null;
    this.#remove(e);
    e.onExpire(e.value);
  }
}

function expire(e: Entry<unknown>): void {
  e.table.expired(e);
}
