// The brute-force and flood defence the routing script calls (issue 16 item 3; what Kamailio's pike module and an
// htable ban list do in a routing script): per-source request rate, failed authentications per source and per user,
// temporary bans. Memory only, no I/O on the per-message path; each ban is logged once at warn (contrib/fail2ban).
import { BlockList, isIP } from 'node:net';
import type { Logger } from '../log/logger.ts';
import type { SecurityConfig } from '../config/profile.ts';
import { FailureBans, TokenBuckets } from './limits.ts';
import type { Clock } from '../clock.ts';

/** What the script does with a request from a source. */
export type Admission = 'ok' | 'banned' | 'limited';

export class Guard {
  #c: SecurityConfig;
  readonly #clock: Pick<Clock, 'now'>;
  readonly #log: Logger;
  #trusted: BlockList;
  #buckets: TokenBuckets;
  readonly #sources: FailureBans;
  readonly #users: FailureBans;
  /** the sources told (once) that they are over their rate, until they are under it again; bounded */
  readonly #limitedLogged = new Set<string>();

  constructor(o: { config: SecurityConfig; clock: Pick<Clock, 'now'>; log: Logger; maxEntries?: number }) {
    this.#c = o.config;
    this.#clock = o.clock;
    this.#log = o.log;
    this.#trusted = blockList(o.config.trusted);
    this.#buckets = buckets(o.config, o.maxEntries);
    const b = { windowMs: o.config.authWindowSeconds * 1000, banMs: o.config.banSeconds * 1000, maxEntries: o.maxEntries };
    this.#sources = new FailureBans({ ...b, limit: o.config.authFailures });
    this.#users = new FailureBans({ ...b, limit: o.config.userAuthFailures });
  }

  get config(): SecurityConfig {
    return this.#c;
  }

  /** SIGHUP: new limits and trusted list; bans given and failures counted stay, the rate buckets start full again. */
  reconfigure(c: SecurityConfig): void {
    const b = { windowMs: c.authWindowSeconds * 1000, banMs: c.banSeconds * 1000 };
    this.#sources.reconfigure({ ...b, limit: c.authFailures });
    this.#users.reconfigure({ ...b, limit: c.userAuthFailures });
    if (c.maxRequestsPerSecond !== this.#c.maxRequestsPerSecond || c.requestBurst !== this.#c.requestBurst) this.#buckets = buckets(c);
    this.#trusted = blockList(c.trusted);
    this.#c = c;
  }

  /** security.trusted: never limited, counted or banned */
  trusted(address: string): boolean {
    const family = isIP(address);
    return family !== 0 && this.#trusted.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }

  /** An out-of-dialog request from `address`: banned (after failed authentications), over its rate, or ok. */
  admit(address: string): Admission {
    const now = this.#clock.now();
    if (this.#sources.bannedUntil(address, now) !== null) return 'banned';
    if (this.#c.maxRequestsPerSecond === 0) return 'ok';
    if (this.#buckets.take(address, now)) {
      this.#limitedLogged.delete(address);
      return 'ok';
    }
    if (!this.#limitedLogged.has(address)) {
      if (this.#limitedLogged.size >= 10_000) this.#limitedLogged.delete(this.#limitedLogged.values().next().value as string);
      this.#limitedLogged.add(address);
      this.#log.warn({ ip: address, maxRequestsPerSecond: this.#c.maxRequestsPerSecond, action: this.#c.rateAction }, 'source over its request rate');
    }
    return 'limited';
  }

  /** The user's authentication is banned (too many failures for it from anywhere). */
  userBanned(user: string): boolean {
    return this.#users.bannedUntil(user, this.#clock.now()) !== null;
  }

  /** A refused credential (a guess): counted for the source and for the user; a ban that starts is logged once. */
  authFailed(user: string, address: string): void {
    const now = this.#clock.now();
    const s = this.#sources.fail(address, now);
    if (s.banned) this.#log.warn({ ip: address, user, failures: s.failures, banSeconds: this.#c.banSeconds, action: this.#c.banAction }, 'source banned');
    if (user === '') return;
    const u = this.#users.fail(user, now);
    if (u.banned) this.#log.warn({ user, ip: address, failures: u.failures, banSeconds: this.#c.banSeconds }, 'user authentication banned');
  }
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
