// The servers a TV agent may register with (issue 18): the first, then the others in order when it cannot be reached
// (RFC 3263 §4.3: on a transport failure or a 503 the client tries the next server of the list). A server named by
// a domain without a port is located through DNS (RFC 3263 §4.2, transaction/locate-server.ts: its SRV records, in
// RFC 2782 order, each an entry of the list); the names are looked up again once their TTL has passed or every
// server of the list failed. Every part sends to the one `target` object, which a failover changes in place.
import { isIP } from 'node:net';
import type { Clock } from '../../clock.ts';
import type { Location, ServerLocator, ServerName } from '../../transaction/locate-server.ts';
import type { Target } from '../../transport/transport.ts';

/** A server of the list: an address (no DNS), or a name to locate. */
export type ServerEntry = Target | ServerName;

export interface ServersOptions {
  /** locates the names of the list (required when there are any) */
  locator?: ServerLocator;
  clock?: Clock;
}

/** how long an empty answer is kept before the names are looked up again */
const EMPTY_RETRY_MS = 5_000;

export class Servers {
  /** where requests go now (all zero until the names of the list were first located) */
  readonly target: Target;
  readonly #entries: readonly ServerEntry[];
  readonly #locator: ServerLocator | undefined;
  readonly #clock: Clock | undefined;
  #list: Target[];
  #index = 0;
  /** when the answers of the names expire (epoch ms); -Infinity: never looked up */
  #expiresAt: number;
  /** every server of the list failed since the last lookup */
  #exhausted = false;
  /** the address family our listeners are bound in (4 or 6), once known: servers of the other one are left out */
  #family: number | null = null;
  /** what each entry located to at the last lookup that found servers */
  #located: Location[] | null = null;

  constructor(list: readonly ServerEntry[], o: ServersOptions = {}) {
    if (list.length === 0) throw new RangeError('a TV agent needs a server');
    this.#entries = list.map((e) => ({ ...e }));
    const named = this.#entries.some((e) => !isAddress(e));
    if (named && (o.locator === undefined || o.clock === undefined)) throw new RangeError('a server named by a domain needs a locator and a clock');
    this.#locator = named ? o.locator : undefined;
    this.#clock = named ? o.clock : undefined;
    this.#list = this.#entries.filter(isAddress).map((t) => ({ ...t }));
    this.#expiresAt = named ? -Infinity : Infinity;
    // until the names are located: the first address of the list, if any
    this.target = { ...(this.#list[0] ?? { transport: (list[0] as ServerName).transport, address: '', port: 0 }) };
  }

  get count(): number {
    return this.#list.length;
  }

  /** the servers now, in the order they are tried */
  get list(): readonly Target[] {
    return this.#list;
  }

  /** Moves to the next server of the list (after the last, the first again); returns it. */
  next(): Target {
    if (this.#list.length === 0) return this.target;
    this.#index = (this.#index + 1) % this.#list.length;
    this.#point(this.#list[this.#index]);
    return this.target;
  }

  /**
   * Our SIP listeners are bound to an address of this family (4 or 6): the addresses of the other one that a name
   * resolves to are left out of the list from now on (unless the name has no other); addresses given stay.
   */
  onlyFamily(family: number): void {
    this.#family = family;
    if (this.#located === null) return;
    const current = this.#list[this.#index];
    this.#list = this.#flatten(this.#located);
    this.#index = Math.max(0, this.#list.findIndex((t) => current !== undefined && sameServer(t, current)));
    if (this.#list.length > 0) this.#point(this.#list[this.#index]);
  }

  /** Every server of the list failed (a round of failovers ended): the names are looked up again before the next try. */
  exhausted(): void {
    this.#exhausted = true;
  }

  /**
   * RFC 3263 §4: locate the names of the list when never done, when their TTL has passed or when every server failed,
   * and rebuild the list in the order of the entries. The current server stays current when it is still in the list
   * (unless every server failed: then the list starts again from its first). True when the target changed. A lookup
   * that finds nothing keeps the list it had.
   */
  async refresh(): Promise<boolean> {
    const clock = this.#clock;
    const locator = this.#locator;
    // a list of addresses only: nothing to look up (the constructor made sure of a locator and clock otherwise)
    if (clock === undefined || locator === undefined) return false;
    if (!this.#exhausted && clock.now() < this.#expiresAt) return false;
    const located = await Promise.all(this.#entries.map((e) => (isAddress(e) ? { targets: [{ ...e }], ttlMs: Infinity } : locator.locate(e))));
    const list = this.#flatten(located);
    const named = located.filter((_, i) => !isAddress(this.#entries[i]));
    const found = named.some((l) => l.targets.length > 0);
    this.#expiresAt = clock.now() + (found ? Math.min(...named.map((l) => (l.targets.length > 0 ? l.ttlMs : EMPTY_RETRY_MS))) : EMPTY_RETRY_MS);
    const fresh = this.#exhausted || this.#list.length === 0;
    this.#exhausted = false;
    if (list.length === 0 || (!found && this.#list.length > 0)) return false;
    const before = { ...this.target };
    this.#located = located;
    this.#list = list;
    const at = fresh ? -1 : list.findIndex((t) => sameServer(t, before));
    this.#index = at < 0 ? 0 : at;
    this.#point(list[this.#index]);
    return !sameServer(this.target, before);
  }

  /** the list from what each entry located to, in the entries' order, without a name's addresses of the other family */
  #flatten(located: readonly Location[]): Target[] {
    return dedupe(located.flatMap((l, i) => {
      if (isAddress(this.#entries[i]) || this.#family === null) return l.targets;
      const ours = l.targets.filter((t) => isIP(t.address) === this.#family);
      return ours.length > 0 ? ours : l.targets;
    }));
  }

  #point(t: Target): void {
    delete this.target.serverName;
    Object.assign(this.target, t);
  }
}

function isAddress(e: ServerEntry): e is Target {
  return 'address' in e;
}

function sameServer(a: Target, b: Target): boolean {
  return a.transport === b.transport && a.address === b.address && a.port === b.port;
}

function dedupe(list: readonly Target[]): Target[] {
  return list.filter((t, i) => list.findIndex((u) => sameServer(u, t)) === i);
}
