// The brute-force and flood defence the routing script calls (issue 16 item 3; what Kamailio's pike module and an
// htable ban list do in a routing script): per-source request rate, failed authentications per source and per user,
// temporary bans. Memory only, no I/O on the per-message path; each ban is logged once at warn (contrib/fail2ban).
import { BlockList, isIP } from 'node:net';
import type { Logger } from '../log/logger.ts';
import type { SecurityConfig } from '../config/profile.ts';
import { BoundedMap, FailureBans, TokenBuckets } from './limits.ts';
import type { Clock } from '../clock.ts';

/** How long an address that authenticated as a user stays exempt from that user's ban: a TV re-registers well within it. */
const KNOWN_GOOD_MS = 24 * 3600 * 1000;

/** A source over its rate is logged at most this often. */
const LIMITED_LOG_MS = 60_000;

/** What the script does with a request from a source. */
export type Admission = 'ok' | 'banned' | 'limited';

/** What the guard did, for /metrics. */
export interface GuardCounters {
  /** refused credentials counted (guesses) */
  authFailures: number;
  /** bans started: of a source, of a user's authentication */
  sourceBans: number;
  userBans: number;
  /** requests turned away: from a banned source, over the rate */
  bannedRequests: number;
  limitedRequests: number;
}

export class Guard {
  readonly counters: GuardCounters = { authFailures: 0, sourceBans: 0, userBans: 0, bannedRequests: 0, limitedRequests: 0 };
  #c: SecurityConfig;
  readonly #clock: Pick<Clock, 'now' | 'set'>;
  readonly #log: Logger;
  readonly #maxEntries: number | undefined;
  #trusted: BlockList;
  #buckets: TokenBuckets;
  readonly #sources: FailureBans;
  readonly #users: FailureBans;
  /** user + address pairs that authenticated: the user's own TV is not locked out by a ban of its user; bounded */
  readonly #knownGood: BoundedMap<number>;
  /** when each source over its rate was last logged: once a minute at most, however it hovers around the rate */
  readonly #limitedLogged = new BoundedMap<number>(10_000);

  /** told of each ban this node starts (to share it through the database: routing/ban-sync.ts) */
  readonly #onBan: ((kind: 'source' | 'user', key: string, until: number) => void) | undefined;

  constructor(o: {
    config: SecurityConfig; clock: Pick<Clock, 'now' | 'set'>; log: Logger; maxEntries?: number;
    onBan?: (kind: 'source' | 'user', key: string, until: number) => void;
  }) {
    this.#onBan = o.onBan;
    this.#c = o.config;
    this.#clock = o.clock;
    this.#log = o.log;
    this.#maxEntries = o.maxEntries;
    this.#trusted = blockList(o.config.trusted);
    this.#buckets = buckets(o.config, o.maxEntries);
    const b = { windowMs: o.config.authWindowSeconds * 1000, banMs: o.config.banSeconds * 1000, maxEntries: o.maxEntries };
    this.#sources = new FailureBans({ ...b, limit: o.config.authFailures });
    this.#users = new FailureBans({ ...b, limit: o.config.userAuthFailures });
    this.#knownGood = new BoundedMap(o.maxEntries ?? 100_000);
  }

  get config(): SecurityConfig {
    return this.#c;
  }

  /** SIGHUP: new limits and trusted list; bans given and failures counted stay, the rate buckets start full again. */
  reconfigure(c: SecurityConfig): void {
    const b = { windowMs: c.authWindowSeconds * 1000, banMs: c.banSeconds * 1000 };
    this.#sources.reconfigure({ ...b, limit: c.authFailures });
    this.#users.reconfigure({ ...b, limit: c.userAuthFailures });
    if (c.maxRequestsPerSecond !== this.#c.maxRequestsPerSecond || c.requestBurst !== this.#c.requestBurst) this.#buckets = buckets(c, this.#maxEntries);
    this.#trusted = blockList(c.trusted);
    this.#c = c;
  }

  /** security.trusted: never limited, counted or banned */
  trusted(source: string): boolean {
    const address = plain(source);
    const family = isIP(address);
    return family !== 0 && this.#trusted.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }

  /** An out-of-dialog request from `address`: banned (after failed authentications), over its rate, or ok. */
  admit(source: string): Admission {
    const address = plain(source);
    const now = this.#clock.now();
    if (this.#sources.bannedUntil(address, now) !== null) {
      this.counters.bannedRequests++;
      return 'banned';
    }
    if (this.#c.maxRequestsPerSecond === 0) return 'ok';
    if (this.#buckets.take(address, now)) return 'ok';
    this.counters.limitedRequests++;
    const logged = this.#limitedLogged.get(address);
    if (logged === undefined || now - logged >= LIMITED_LOG_MS) {
      this.#limitedLogged.set(address, now);
      this.#log.warn({ ip: address, maxRequestsPerSecond: this.#c.maxRequestsPerSecond, action: this.#c.rateAction }, 'source over its request rate');
    }
    return 'limited';
  }

  /** The user's authentication is banned (too many failures for it from anywhere), unless `source` has authenticated as it. */
  userBanned(user: string, source: string): boolean {
    const now = this.#clock.now();
    if (this.#users.bannedUntil(user, now) === null) return false;
    const good = this.#knownGood.get(`${user}\0${plain(source)}`);
    if (good !== undefined && good > now) return false;
    this.counters.bannedRequests++;
    return true;
  }

  /** A credential taken: this address has the user's password, so the user's ban does not lock it out. */
  authSucceeded(user: string, source: string): void {
    const now = this.#clock.now();
    this.#knownGood.prune((until) => until <= now, 2);
    this.#knownGood.set(`${user}\0${plain(source)}`, now + KNOWN_GOOD_MS);
  }

  /**
   * A refused credential (a guess): counted for the source and for the user; a ban that starts is logged once.
   * Returns the back-off before the next challenge goes out (ms): none for the first half of authFailures, then
   * 250 ms doubling (capped at 4 s) until the ban — a typo costs nothing, a guesser slows down before it is banned.
   */
  authFailed(user: string, source: string): number {
    const address = plain(source);
    const now = this.#clock.now();
    this.counters.authFailures++;
    const s = this.#sources.fail(address, now);
    if (s.banned) {
      this.counters.sourceBans++;
      this.#log.warn({ ip: address, user, failures: s.failures, banSeconds: this.#c.banSeconds, action: this.#c.banAction }, 'source banned');
      this.#tell('source', address, now);
    }
    if (user !== '') {
      const u = this.#users.fail(user, now);
      if (u.banned) {
        this.counters.userBans++;
        this.#log.warn({ user, ip: address, failures: u.failures, banSeconds: this.#c.banSeconds }, 'user authentication banned');
        this.#tell('user', user, now);
      }
    }
    const free = Math.ceil(this.#c.authFailures / 2);
    if (s.banned || this.#c.authFailures === 0 || s.failures <= free) return 0;
    return Math.min(4000, 250 * 2 ** (s.failures - free - 1));
  }

  /**
   * A ban another node gave (or this one before a restart), read from the database: applied here too, counted and
   * logged at info once (the node that gave it logged the warning fail2ban reads). False when it changes nothing.
   */
  importBan(kind: 'source' | 'user', key: string, until: number, from: string): boolean {
    const now = this.#clock.now();
    if (!(kind === 'source' ? this.#sources : this.#users).ban(key, until, now)) return false;
    this.#log.info({ [kind === 'source' ? 'ip' : 'user']: key, node: from, seconds: Math.round((until - now) / 1000) }, `${kind === 'source' ? 'source' : 'user authentication'} banned by node ${from}`);
    return true;
  }

  #tell(kind: 'source' | 'user', key: string, now: number): void {
    const until = (kind === 'source' ? this.#sources : this.#users).bannedUntil(key, now);
    if (until === null || this.#onBan === undefined) return;
    try { this.#onBan(kind, key, until); } catch (err) { this.#log.error({ err }, 'ban hook failed'); }
  }

  /** Resolves after `ms` on the one clock (the back-off of a challenge). */
  delay(ms: number): Promise<void> {
    return new Promise((resolve) => void this.#clock.set(resolve, ms, undefined));
  }
}

/** An IPv4-mapped IPv6 address (a dual-stack listener's) is the IPv4 address it maps: one source, one key. */
function plain(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

function buckets(c: SecurityConfig, maxEntries?: number): TokenBuckets {
  return new TokenBuckets({ ratePerSecond: c.maxRequestsPerSecond, burst: c.requestBurst, maxEntries });
}

function blockList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const a of cidrs) {
    const [ip, bits] = a.split('/');
    const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(ip, family);
    else list.addSubnet(ip, Number(bits), family);
  }
  return list;
}
