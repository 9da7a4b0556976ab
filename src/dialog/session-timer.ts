// RFC 4028 session timers: a session is kept alive by refreshes (re-INVITE or UPDATE) every half interval; when
// none comes, the side that is not the refresher ends it with BYE shortly before the interval runs out. Here: the
// header values (Session-Expires, Min-SE, Supported/Require: timer), the negotiation of each side (§7 UAC, §9 UAS),
// and the timer of one dialog on the Clock. The TU (the TV agent's session manager) sends the requests.
import type { Clock, TimerHandle } from '../clock.ts';
import type { SipMessage } from '../sip/message.ts';

/** RFC 4028 §4: the smallest Min-SE a UA may ask for (seconds). */
export const MIN_SE_FLOOR = 90;

export type Refresher = 'uac' | 'uas';

/** What one offer/answer settled: the interval (seconds) and which side of that transaction refreshes. */
export interface SessionInterval {
  interval: number;
  refresher: Refresher;
}

/** RFC 4028 §4: `Session-Expires: 1800;refresher=uac` (compact form x). Null when absent or unreadable. */
export function parseSessionExpires(msg: SipMessage): { interval: number; refresher: Refresher | null } | null {
  const v = msg.header('session-expires') ?? msg.header('x');
  if (v === undefined) return null;
  const m = /^\s*(\d+)\s*(?:;(.*))?$/.exec(v);
  if (m === null) return null;
  const r = /(?:^|;)\s*refresher\s*=\s*(uac|uas)\s*(?:;|$)/i.exec(m[2] ?? '');
  return { interval: Number(m[1]), refresher: r !== null ? (r[1].toLowerCase() as Refresher) : null };
}

/** RFC 4028 §5: Min-SE in seconds, or null. */
export function parseMinSe(msg: SipMessage): number | null {
  const m = /^\s*(\d+)/.exec(msg.header('min-se') ?? '');
  return m === null ? null : Number(m[1]);
}

/** Whether `timer` is in Supported (or Require) (compact form k for Supported). */
export function supportsTimer(msg: SipMessage): boolean {
  return [...msg.fields('supported'), ...msg.fields('k'), ...msg.fields('require')]
    .some((f) => f.value.split(',').some((t) => t.trim().toLowerCase() === 'timer'));
}

/** RFC 4028 §7.1: what a UAC puts in an INVITE (initial or refresh) or UPDATE. */
export function addUacHeaders(req: SipMessage, interval: number, minSe: number, refresher?: Refresher): void {
  req.addHeader('Supported', 'timer');
  req.addHeader('Session-Expires', refresher !== undefined ? `${interval};refresher=${refresher}` : String(interval));
  req.addHeader('Min-SE', String(minSe));
}

/**
 * RFC 4028 §9, the UAS: 422 with our Min-SE when the request's interval is below it; else the interval the 2xx
 * carries — the request's (or ours when it has none, §9 "MAY") — and its refresher: the request's choice, else the
 * UAC when it supports timers, else us (§9: a UAC without timer support cannot refresh).
 */
export function uasNegotiate(req: SipMessage, o: { interval: number; minSe: number }): SessionInterval | { reject: 422; minSe: number } {
  const se = parseSessionExpires(req);
  if (se !== null && se.interval < o.minSe) return { reject: 422, minSe: o.minSe };
  const interval = se?.interval ?? Math.max(o.interval, parseMinSe(req) ?? 0);
  const uacCan = supportsTimer(req);
  return { interval, refresher: uacCan ? (se?.refresher ?? 'uac') : 'uas' };
}

/** RFC 4028 §9: the 2xx of a UAS: Session-Expires with the refresher, and Require: timer when the UAC refreshes. */
export function addUasHeaders(res: SipMessage, s: SessionInterval): void {
  res.addHeader('Session-Expires', `${s.interval};refresher=${s.refresher}`);
  if (s.refresher === 'uac') res.addHeader('Require', 'timer');
}

/**
 * RFC 4028 §7.2, the UAC: the 2xx's Session-Expires settles it (no refresher param: the UAC refreshes). A 2xx without
 * Session-Expires: the UAS does not do timers; §7.2 lets the UAC still refresh — we do, with the interval asked for,
 * so a dead peer or a lost proxy still ends the call.
 */
export function uacNegotiated(res: SipMessage, asked: number): SessionInterval {
  const se = parseSessionExpires(res);
  if (se === null) return { interval: asked, refresher: 'uac' };
  return { interval: se.interval, refresher: se.refresher ?? 'uac' };
}

/**
 * The timer of one dialog (RFC 4028 §10): the refresher refreshes at half the interval; the other side ends the
 * session when no refresh came by interval − min(32 s, interval / 3). `start` again after every refresh.
 */
export class SessionTimer {
  readonly #clock: Clock;
  readonly #onRefresh: () => void;
  readonly #onExpired: () => void;
  #timer: TimerHandle | null = null;
  /** the interval in force (seconds), and whether we refresh */
  current: { interval: number; weRefresh: boolean } | null = null;

  constructor(clock: Clock, handlers: { refresh(): void; expired(): void }) {
    this.#clock = clock;
    this.#onRefresh = handlers.refresh;
    this.#onExpired = handlers.expired;
  }

  start(interval: number, weRefresh: boolean): void {
    this.stop();
    this.current = { interval, weRefresh };
    const ms = weRefresh ? (interval * 1000) / 2 : (interval - Math.min(32, interval / 3)) * 1000;
    this.#timer = this.#clock.set(() => {
      this.#timer = null;
      if (weRefresh) this.#onRefresh();
      else this.#onExpired();
    }, ms, undefined);
  }

  stop(): void {
    if (this.#timer !== null) this.#clock.clear(this.#timer);
    this.#timer = null;
  }
}
