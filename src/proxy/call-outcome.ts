// The outcome of a proxied call for the seed's user_call table, and the dialogs whose BYE closes a record.
import type { CallOutcome } from '../store/store.ts';

/**
 * The outcome a final response gives a call record:
 * 2xx answered; 486/600 busy; 408 (or no answer by Timer C / B) no-answer; 487 after the caller's CANCEL
 * cancelled; 603/403 rejected; 480 offline-like no-answer; anything else failed.
 */
export function outcomeOf(status: number, cancelledByCaller: boolean): CallOutcome {
  if (status >= 200 && status < 300) return 'answered';
  if (cancelledByCaller) return 'cancelled';
  switch (status) {
    case 486:
    case 600:
      return 'busy';
    case 408:
    case 480:
    case 487: // a 487 we did not ask for: Timer C cancelled the ringing branch
      return 'no-answer';
    case 403:
    case 603:
      return 'rejected';
    default:
      return 'failed';
  }
}

/** A dialog remembered from its 2xx until its BYE. */
export interface TrackedDialog<T> {
  value: T;
  answeredAt: number;
  expiresAt: number;
}

/**
 * Answered calls by dialog (Call-ID + the two tags, in either order, so a BYE from either side finds it).
 * Bounded in size (oldest evicted first) and by age: a dialog whose BYE never came is dropped after `maxAgeMs`.
 */
export class DialogTable<T> {
  private readonly map = new Map<string, TrackedDialog<T>>();
  private readonly max: number;
  private readonly maxAgeMs: number;
  private readonly onDrop: ((value: T) => void) | null;

  /** `onDrop` is told of each dialog dropped without its BYE (evicted or expired) */
  constructor(max = 100_000, maxAgeMs = 12 * 3600_000, onDrop?: (value: T) => void) {
    this.max = max;
    this.maxAgeMs = maxAgeMs;
    this.onDrop = onDrop ?? null;
  }

  static key(callId: string, tagA: string, tagB: string): string {
    return tagA < tagB ? `${callId}\n${tagA}\n${tagB}` : `${callId}\n${tagB}\n${tagA}`;
  }

  get size(): number {
    return this.map.size;
  }

  /** Remember a dialog; a second 2xx of the same dialog (a retransmission) changes nothing. */
  add(key: string, value: T, now: number): void {
    if (this.map.has(key)) return;
    this.sweep(now);
    if (this.map.size >= this.max) {
      const oldest = this.map.entries().next();
      if (!oldest.done) {
        this.map.delete(oldest.value[0]);
        this.onDrop?.(oldest.value[1].value);
      }
    }
    this.map.set(key, { value, answeredAt: now, expiresAt: now + this.maxAgeMs });
  }

  has(key: string, now: number): boolean {
    return this.get(key, now) !== undefined;
  }

  get(key: string, now: number): TrackedDialog<T> | undefined {
    const d = this.map.get(key);
    return d !== undefined && d.expiresAt > now ? d : undefined;
  }

  /** Remove and return the dialog (the BYE that ends it), or undefined. */
  take(key: string, now: number): TrackedDialog<T> | undefined {
    const d = this.map.get(key);
    if (d === undefined) return undefined;
    this.map.delete(key);
    if (d.expiresAt > now) return d;
    this.onDrop?.(d.value);
    return undefined;
  }

  /** Drop expired entries from the oldest end (Map keeps insertion order, so stop at the first live one). */
  sweep(now: number): void {
    for (const [k, d] of this.map) {
      if (d.expiresAt > now) break;
      this.map.delete(k);
      this.onDrop?.(d.value);
    }
  }
}
