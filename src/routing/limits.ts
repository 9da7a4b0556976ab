// Bounded per-key counters for the brute-force and flood defence (issue 16 item 3): Kamailio's pike (a request
// rate per source) and htable bans (failed authentications per source or user, then a ban). Pure: the time is
// passed in, nothing is logged, and every table has a cap on its entries, the oldest evicted first.

/** A Map with at most `max` entries: setting a new key beyond it evicts the oldest (insertion order). */
export class BoundedMap<V> {
  readonly #max: number;
  readonly #m = new Map<string, V>();

  constructor(max: number) {
    this.#max = Math.max(1, max);
  }

  get size(): number {
    return this.#m.size;
  }

  get(key: string): V | undefined {
    return this.#m.get(key);
  }

  /** sets `key` as the newest entry */
  set(key: string, value: V): void {
    this.#m.delete(key);
    while (this.#m.size >= this.#max) this.#m.delete(this.#m.keys().next().value as string);
    this.#m.set(key, value);
  }

  delete(key: string): void {
    this.#m.delete(key);
  }

  /** drops up to `budget` of the oldest entries `dead` says are over (bounded work per call) */
  prune(dead: (v: V) => boolean, budget: number): void {
    for (const [k, v] of this.#m) {
      if (budget-- <= 0) return;
      if (dead(v)) this.#m.delete(k);
    }
  }
}

export interface BucketOptions {
  /** tokens added per second (the sustained rate) */
  ratePerSecond: number;
  /** the bucket's size: the burst a source may send at once */
  burst: number;
  /** most sources tracked; default 100 000 */
  maxEntries?: number;
}

/** A token bucket per key (pike's per-source density, with a burst allowed). */
export class TokenBuckets {
  readonly #rate: number;
  readonly #burst: number;
  readonly #buckets: BoundedMap<{ tokens: number; at: number }>;

  constructor(o: BucketOptions) {
    this.#rate = o.ratePerSecond;
    this.#burst = Math.max(1, o.burst);
    this.#buckets = new BoundedMap(o.maxEntries ?? 100_000);
  }

  get size(): number {
    return this.#buckets.size;
  }

  /** Takes one token for `key`: true when there was one (the request may go on). */
  take(key: string, now: number): boolean {
    const b = this.#buckets.get(key);
    const tokens = b === undefined ? this.#burst : Math.min(this.#burst, b.tokens + ((now - b.at) / 1000) * this.#rate);
    const ok = tokens >= 1;
    // a full bucket is the same as none: forget it, so a table of idle sources does not stay full
    this.#buckets.prune((e) => e.tokens + ((now - e.at) / 1000) * this.#rate >= this.#burst, 2);
    this.#buckets.set(key, { tokens: ok ? tokens - 1 : tokens, at: now });
    return ok;
  }
}

export interface BanOptions {
  /** this many failures within `windowMs` start a ban; 0 = never */
  limit: number;
  windowMs: number;
  banMs: number;
  /** most keys counted, and most banned; default 100 000 each */
  maxEntries?: number;
}

/** What a failure did: `banned` is true only for the failure that started the ban (logged once). */
export interface FailureOutcome {
  failures: number;
  banned: boolean;
}

/** Failures per key within a window (from the first one), then a ban of `banMs` (Kamailio htable with autoexpire). */
export class FailureBans {
  #o: BanOptions;
  readonly #counts: BoundedMap<{ n: number; since: number }>;
  readonly #bans: BoundedMap<number>;

  constructor(o: BanOptions) {
    this.#o = o;
    this.#counts = new BoundedMap(o.maxEntries ?? 100_000);
    this.#bans = new BoundedMap(o.maxEntries ?? 100_000);
  }

  get size(): { counted: number; banned: number } {
    return { counted: this.#counts.size, banned: this.#bans.size };
  }

  /** SIGHUP: new limits for the next failure; bans already given keep their end. */
  reconfigure(o: Omit<BanOptions, 'maxEntries'>): void {
    this.#o = { ...this.#o, ...o };
  }

  /** The end of `key`'s ban (ms), or null when it is not banned. */
  bannedUntil(key: string, now: number): number | null {
    const until = this.#bans.get(key);
    if (until === undefined) return null;
    if (until > now) return until;
    this.#bans.delete(key);
    return null;
  }

  /** A ban given elsewhere (another node, or before a restart): `key` is banned until `until`, unless already later. */
  ban(key: string, until: number, now: number): boolean {
    if (until <= now || (this.bannedUntil(key, now) ?? 0) >= until) return false;
    this.#bans.set(key, until);
    return true;
  }

  fail(key: string, now: number): FailureOutcome {
    const { limit, windowMs, banMs } = this.#o;
    this.#counts.prune((e) => now - e.since > windowMs, 2);
    this.#bans.prune((until) => until <= now, 2);
    const c = this.#counts.get(key);
    const n = c !== undefined && now - c.since <= windowMs ? c.n + 1 : 1;
    if (limit > 0 && n >= limit && this.bannedUntil(key, now) === null) {
      this.#counts.delete(key);
      this.#bans.set(key, now + banMs);
      return { failures: n, banned: true };
    }
    this.#counts.set(key, { n, since: c !== undefined && n > 1 ? c.since : now });
    return { failures: n, banned: false };
  }
}
