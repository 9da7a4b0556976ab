// The message silo: store-and-forward of MESSAGE (RFC 3428) for users who are offline, after Kamailio's
// msilo (m_store / m_dump), plus the missed-call notice. It never touches the transaction or transport
// layers: requests go out through the injected `send`, which the server wires to a client transaction.
//
// Delivery request of a stored message (what the UA sees):
//   MESSAGE <binding contact> SIP/2.0
//   Route: <each Path value of the binding, in order>            (RFC 3327 §5.3)
//   From: <the From header as received, tag replaced by a fresh one>
//   To: <the To URI the sender addressed (the user's AoR)>
//   Call-ID: tvphone-msg-<id>@<host>          stable for a message: the same on every redelivery
//   CSeq: <attempt number> MESSAGE
//   Max-Forwards: 70
//   Date: <RFC 1123 time it was first received>                     (RFC 3261 §20.17)
//   X-Tvphone-Message-Id: <id>                 stable for a message: a UA that sees an id twice may drop it
//   Content-Type: <as received>
//   <body, byte for byte>
// The Via is added by whoever sends (transaction layer).

import { SipRequest, type SipResponse } from '../sip/message.ts';
import { createResponse } from '../sip/response.ts';
import { newTag } from '../sip/ids.ts';
import { formatNameAddr, parseNameAddr } from '../sip/headers.ts';
import { QuotaExceededError, SipError, StoreUnavailableError } from '../errors.ts';
import type { Binding, CallLog, CallRecord, Kept, MessageStore, StoredMessage } from '../store/store.ts';
import { silentLogger, type Logger } from '../log/logger.ts';
import { systemClock, type Clock, type TimerHandle } from '../clock.ts';
import { buildMissedCallNotice } from './missed-call-notice.ts';

/** Send one out-of-dialog request to a binding; resolves with the final response, or null on timeout / transport error. */
export type SendRequest = (req: SipRequest, binding: Binding) => Promise<SipResponse | null>;

/** Build the delivery MESSAGE of a stored message; `attempt` counts from 1 (default: buildDeliveryRequest). */
export type BuildDelivery = (msg: StoredMessage, binding: Binding, attempt: number) => SipRequest;

export const MESSAGE_ID_HEADER = 'X-Tvphone-Message-Id';

export interface SiloOptions {
  store: MessageStore & Pick<CallLog, 'listCalls' | 'markCallsNotified'>;
  send: SendRequest;
  /** whether the user still has a binding; asked before every retry */
  isOnline: (userId: string) => boolean | Promise<boolean>;
  /** the domain of AoRs: To of missed-call notices is sip:<user>@<domain> */
  domain: string;
  /** From of missed-call notices; default sip:tvphone@<domain> */
  serverUri?: string;
  /** host part of generated Call-IDs; default <domain> */
  callIdHost?: string;
  clock?: Clock;
  log?: Logger;
  buildDelivery?: BuildDelivery;
  /** largest body accepted, bytes (default 1 MiB) → 513 */
  maxMessageBytes?: number;
  /** pending messages per user (default 500) → 486 */
  quotaCount?: number;
  /** pending body bytes per user (default 50 MiB) → 486 */
  quotaBytes?: number;
  /** how long a message waits for its user (default 7 days); an Expires header (RFC 3428 §8) can only shorten it */
  expiryMs?: number;
  /** delivered and expired messages are purged this long after they were received (default 30 days) */
  retentionMs?: number;
  /** period of expiry + purge (default 60 s) */
  housekeepingMs?: number;
  /** first retry delay (default 5 s), doubled per failure up to retryMaxMs (default 5 min) */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** failed attempts in one dump before it gives up until the next REGISTER (default 50) */
  maxAttemptsPerDump?: number;
  /** dumps running at once (default 1000); beyond it a dump is refused and waits for the next REGISTER */
  maxConcurrentDumps?: number;
  /** a kept message left the pending state (its mark committed): the server tells MWI subscribers (RFC 3842) */
  onSettled?: (msg: Pick<StoredMessage, 'id' | 'toUser' | 'contentType'>, state: 'delivered' | 'expired') => void;
  /**
   * Several nodes on one database (issue 18): a dump, and the periodic housekeeping, run under a lease in the
   * database, so that one node at a time delivers to a user (each message once) and one node expires and purges.
   */
  leases?: Leases;
}

/** Leases held in the database, by name; claim renews one already held. */
export interface Leases {
  claim(name: string, ttlMs: number): Promise<boolean>;
  release(name: string): Promise<void>;
}

/** a dump holds its user's lease this long (renewed before each batch); a node that dies frees it after that */
const DUMP_LEASE_MS = 120_000;

export type DumpStop =
  | 'done' // nothing left to deliver
  | 'offline' // the user went offline during back-off
  | 'gave-up' // maxAttemptsPerDump failures
  | 'closed' // the silo was closed
  | 'busy' // maxConcurrentDumps reached: not started
  | 'elsewhere' // another node is delivering to this user (its lease): not started
  | 'store-unavailable';

/** What one m_dump delivered: the stored messages, then the missed-call notice. */
export interface KeptDelivery {
  messages: DumpResult;
  notices: DumpResult;
}

export interface DumpResult {
  delivered: number;
  expired: number;
  /** messages answered with a non-retryable failure: left pending for the next REGISTER */
  skipped: number;
  /** failed attempts (non-2xx or no answer) */
  failures: number;
  stop: DumpStop;
}

/**
 * Responses worth retrying with back-off: no answer, 408, 480, 486, 491 and 5xx — except 501, 505 and 513, which
 * the same request would meet again (RFC 3261 §21.5). Others skip the message.
 */
export function isRetryable(res: SipResponse | null): boolean {
  if (res === null) return true;
  const s = res.status;
  if (s === 501 || s === 505 || s === 513) return false;
  return s === 408 || s === 480 || s === 486 || s === 491 || (s >= 500 && s < 600);
}

/** Back-off before retry number `failures` (1-based): base, 2·base, 4·base … capped. */
export function retryDelay(failures: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
}

/** RFC 3261 §20.17 Date: rfc1123-date, always GMT, e.g. "Sat, 13 Nov 2010 23:29:00 GMT". */
export function rfc1123Date(ms: number): string {
  return new Date(ms).toUTCString();
}

/** The stable Call-ID of a stored message's delivery. */
export function deliveryCallId(id: number, host: string): string {
  return `tvphone-msg-${id}@${host}`;
}

/** The From header as stored, with its tag replaced by `tag` (the original MESSAGE had no dialog to keep). */
export function withFreshTag(fromHeader: string, tag: string): string {
  const na = parseNameAddr(fromHeader);
  const params = new Map(na.params);
  params.set('tag', tag);
  // keep the display name and URI exactly as the sender wrote them
  const bracketed = `<${na.uri}>`;
  const at = fromHeader.lastIndexOf(bracketed);
  if (at < 0) return formatNameAddr({ displayName: na.displayName, uri: na.uri, params });
  const rest = [...params].map(([k, v]) => (v === null ? `;${k}` : `;${k}=${v}`)).join('');
  return fromHeader.slice(0, at + bracketed.length) + rest;
}

/** Build the delivery MESSAGE of a stored message to one binding (see the header comment of this file). */
export function buildDeliveryRequest(msg: StoredMessage, binding: Binding, attempt: number, callIdHost: string): SipRequest {
  const req = new SipRequest('MESSAGE', binding.contact);
  // RFC 3327 §5.3: requests to a registered contact carry its Path values as a preloaded route set.
  for (const p of binding.path) req.addHeader('Route', p);
  req.addHeader('From', withFreshTag(msg.fromHeader, newTag()));
  req.addHeader('To', `<${msg.toUri}>`);
  req.addHeader('Call-ID', deliveryCallId(msg.id, callIdHost));
  req.addHeader('CSeq', `${attempt} MESSAGE`);
  req.addHeader('Max-Forwards', '70');
  req.addHeader('Date', rfc1123Date(msg.receivedAt));
  req.addHeader(MESSAGE_ID_HEADER, String(msg.id));
  if (msg.contentType) req.addHeader('Content-Type', msg.contentType);
  req.body = msg.body;
  return req;
}

interface DumpRun {
  binding: Binding;
  promise: Promise<DumpResult>;
  cancelled: boolean;
  timer: TimerHandle | null;
  wake: (() => void) | null;
}

const MAX_LOOPS = 100_000;
const MAX_SKIPPED = 100;
/** pending messages read at a time while delivering (their bodies are held in memory meanwhile) */
const FETCH = 16;

export class Silo {
  #o: Required<Omit<SiloOptions, 'buildDelivery'>> & { buildDelivery: BuildDelivery };
  readonly #runs = new Map<string, DumpRun>();
  #housekeepingTimer: TimerHandle | null = null;
  #closed = false;

  /** SIGHUP: new limits apply to the next MESSAGE kept, expiry and purge run; what is stored stays as it is. */
  reconfigure(limits: Pick<SiloOptions, 'maxMessageBytes' | 'quotaCount' | 'quotaBytes' | 'expiryMs' | 'retentionMs'>): void {
    this.#o = { ...this.#o, ...Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)) };
  }

  constructor(options: SiloOptions) {
    const callIdHost = options.callIdHost ?? options.domain;
    this.#o = {
      serverUri: `sip:tvphone@${options.domain}`,
      callIdHost,
      clock: systemClock,
      log: silentLogger(),
      buildDelivery: (msg, binding, attempt) => buildDeliveryRequest(msg, binding, attempt, callIdHost),
      maxMessageBytes: 1024 * 1024,
      quotaCount: 500,
      quotaBytes: 50 * 1024 * 1024,
      expiryMs: 7 * 24 * 3600_000,
      retentionMs: 30 * 24 * 3600_000,
      housekeepingMs: 60_000,
      retryBaseMs: 5_000,
      retryMaxMs: 300_000,
      maxAttemptsPerDump: 50,
      maxConcurrentDumps: 1000,
      onSettled: () => {},
      leases: { claim: async () => true, release: async () => {} },
      ...stripUndefined(options),
      store: options.store,
      send: options.send,
      isOnline: options.isOnline,
      domain: options.domain,
    };
    this.#scheduleHousekeeping();
  }

  /**
   * m_store: keep a MESSAGE for `toUser` and answer it 202 (RFC 3428 §7), only once store.storeMessage resolved
   * (durable). Failures throw a SipError (replies.ts): 513 when the body is larger than maxMessageBytes, 486 when
   * the user's quota (count or bytes) is full, 400 for a MESSAGE that cannot be kept; a store outage throws
   * StoreUnavailableError.
   */
  async store(req: SipRequest, toUser: string): Promise<SipResponse> {
    const o = this.#o;
    const from = req.header('from');
    const to = req.header('to');
    if (from === undefined || to === undefined) throw new SipError('bad-from-to', { detail: 'missing' });
    if (req.body.length > 0 && !req.has('content-type')) throw new SipError('missing-content-type');
    // RFC 3428 §7: a MESSAGE too large for the element gets 513.
    if (req.body.length > o.maxMessageBytes) throw new SipError('message-too-large', { detail: `limit ${o.maxMessageBytes} bytes` });
    let fromUri: string;
    let toUri: string;
    try {
      fromUri = parseNameAddr(from).uri;
      toUri = parseNameAddr(to).uri;
    } catch {
      throw new SipError('bad-from-to');
    }
    const receivedAt = o.clock.now();
    // RFC 3428 §8 / RFC 3261 §20.19: Expires on a MESSAGE bounds how long its content is meaningful.
    const expiresHeader = Number.parseInt(req.header('expires') ?? '', 10);
    const lifetime = Number.isFinite(expiresHeader) && expiresHeader > 0 ? Math.min(expiresHeader * 1000, o.expiryMs) : o.expiryMs;
    try {
      // The quota is checked in the store's transaction with the insert, so MESSAGEs arriving together cannot overrun it.
      const stored = await o.store.storeMessage({
        toUser,
        fromUri,
        fromHeader: from,
        toUri,
        contentType: req.header('content-type') ?? '',
        body: req.body,
        receivedAt,
        expiresAt: receivedAt + lifetime,
      }, { count: o.quotaCount, bytes: o.quotaBytes });
      o.log.info({ user: toUser, id: stored.id, bytes: req.body.length }, 'message stored');
    } catch (err) {
      if (err instanceof QuotaExceededError) {
        o.log.warn({ user: toUser, count: err.count, bytes: err.bytes }, 'message quota full');
        throw new SipError('quota-full', { detail: `message quota for ${toUser} full` });
      }
      // the outage is logged once by the server
      if (err instanceof StoreUnavailableError) o.log.debug({ err }, 'store unavailable: message not stored');
      throw err;
    }
    // RFC 3428 §7: 202 says the request was accepted for later delivery.
    return createResponse(req, 202, 'Accepted', newTag());
  }

  /**
   * m_dump: the moment `userId` registers `binding`, everything kept for it goes out: its messages, then the
   * missed-call notice. Most REGISTERs find nothing kept: one read (store.keptFor, or `kept` as the REGISTER's
   * commit read it), then done.
   */
  async dump(userId: string, binding: Binding, known?: Kept): Promise<KeptDelivery> {
    const none: DumpResult = { delivered: 0, expired: 0, skipped: 0, failures: 0, stop: 'done' };
    const kept = known ?? await this.#o.store.keptFor(userId);
    const messages = kept.messages ? await this.dumpMessages(userId, binding) : none;
    const notices = kept.missedCalls ? await this.dumpMissedCalls(userId, binding) : none;
    if (messages.delivered || notices.delivered) {
      this.#o.log.info({ userId, messages: messages.delivered, notices: notices.delivered }, 'kept items delivered');
    }
    return { messages, notices };
  }

  /**
   * The messages part of dump(): every pending message of `userId` to `binding`, oldest first, one at a time.
   * While a dump for the user runs, a further call points it at the new binding, cuts a back-off wait short, and
   * returns the running dump's result.
   */
  dumpMessages(userId: string, binding: Binding): Promise<DumpResult> {
    return this.#start('msg:' + userId, binding, (run) => this.#dumpMessages(userId, run));
  }

  /**
   * The notice part of dump(): one MESSAGE listing the calls `userId` missed and was not yet told of (grouped per
   * caller; see missed-call-notice.ts for the body). Calls are marked notified on a 2xx; failures retried like messages.
   */
  dumpMissedCalls(userId: string, binding: Binding): Promise<DumpResult> {
    return this.#start('calls:' + userId, binding, (run) => this.#dumpMissedCalls(userId, run));
  }

  /** Expire messages past their expiry and purge history older than the retention. */
  async housekeeping(): Promise<{ expired: number; purged: number }> {
    // one node at a time (the lease outlives the period, so the node holding it keeps it)
    if (!(await this.#o.leases.claim('housekeeping', this.#o.housekeepingMs * 3))) return { expired: 0, purged: 0 };
    const now = this.#o.clock.now();
    const expired = await this.#expire(now);
    const purged = await this.#o.store.purgeMessages(now - this.#o.retentionMs);
    if (purged > 0) this.#o.log.info({ purged }, 'message history purged');
    return { expired, purged };
  }

  /** Number of dumps running now. */
  get runningDumps(): number {
    return this.#runs.size;
  }

  /** Stop the housekeeping timer and every dump (waiting ones stop at once). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#housekeepingTimer !== null) this.#o.clock.clear(this.#housekeepingTimer);
    this.#housekeepingTimer = null;
    const runs = [...this.#runs.values()];
    for (const run of runs) {
      run.cancelled = true;
      this.#wake(run);
    }
    await Promise.allSettled(runs.map((r) => r.promise));
  }

  // ------------------------------------------------------------------------------------------ internals

  #start(key: string, binding: Binding, body: (run: DumpRun) => Promise<DumpResult>): Promise<DumpResult> {
    const running = this.#runs.get(key);
    if (running) {
      running.binding = binding;
      this.#wake(running);
      return running.promise;
    }
    const idle: DumpResult = { delivered: 0, expired: 0, skipped: 0, failures: 0, stop: 'closed' };
    if (this.#closed) return Promise.resolve(idle);
    if (this.#runs.size >= this.#o.maxConcurrentDumps) {
      this.#o.log.warn({ key }, 'too many dumps running: this one waits for the next REGISTER');
      return Promise.resolve({ ...idle, stop: 'busy' });
    }
    const run: DumpRun = { binding, promise: Promise.resolve(idle), cancelled: false, timer: null, wake: null };
    const leases = this.#o.leases;
    const leased = async (): Promise<DumpResult> => {
      if (!(await leases.claim(key, DUMP_LEASE_MS))) {
        this.#o.log.debug({ key }, 'another node is delivering to this user');
        return { ...idle, stop: 'elsewhere' };
      }
      try {
        return await body(run);
      } finally {
        await leases.release(key).catch(() => {}); // else it expires
      }
    };
    run.promise = leased()
      .catch((err: unknown): DumpResult => {
        if (err instanceof StoreUnavailableError) {
          this.#o.log.warn({ key, err }, 'store unavailable: dump stopped');
          return { ...idle, stop: 'store-unavailable' };
        }
        this.#o.log.error({ key, err }, 'dump failed');
        throw err;
      })
      .finally(() => {
        if (this.#runs.get(key) === run) this.#runs.delete(key);
      });
    this.#runs.set(key, run);
    return run.promise;
  }

  async #dumpMessages(userId: string, run: DumpRun): Promise<DumpResult> {
    const o = this.#o;
    const result: DumpResult = { delivered: 0, expired: 0, skipped: 0, failures: 0, stop: 'done' };
    // Most REGISTERs find nothing kept: one indexed read, and no expiry write (a commit) on every REGISTER.
    if ((await o.store.pendingMessages(userId, 1)).length === 0) return result;
    result.expired += await this.#expire(o.clock.now());
    const skipped = new Set<number>();
    let consecutive = 0;
    // Messages go one at a time, each after the 2xx of the one before (order kept); the "delivered" marks commit
    // in the background meanwhile and are awaited before the next read, which must not see them pending again.
    const marks: Promise<void>[] = [];
    const settle = async (): Promise<void> => {
      await Promise.all(marks.splice(0));
    };
    for (let loop = 0; loop < MAX_LOOPS; loop++) {
      await settle();
      if (run.cancelled) return { ...result, stop: 'closed' };
      if (loop > 0 && !(await o.leases.claim('msg:' + userId, DUMP_LEASE_MS))) return { ...result, stop: 'elsewhere' };
      const batch = (await o.store.pendingMessages(userId, FETCH + skipped.size)).filter((m) => !skipped.has(m.id));
      if (batch.length === 0) return result;
      for (const msg of batch) {
        if (run.cancelled) {
          await settle();
          return { ...result, stop: 'closed' };
        }
        const now = o.clock.now();
        if (msg.expiresAt <= now) {
          await settle();
          const n = await this.#expire(now);
          result.expired += n;
          if (n === 0) skipped.add(msg.id); // the store disagrees: do not spin on it
          break;
        }
        const res = await this.#send(o.buildDelivery(msg, run.binding, msg.attempts + 1), run.binding);
        if (res !== null && res.status >= 200 && res.status < 300) {
          const mark = o.store.markDelivered(msg.id, o.clock.now());
          mark.then(() => this.#settled(msg, 'delivered'), () => {}); // a failure is handled by settle()
          marks.push(mark);
          o.log.info({ user: userId, id: msg.id }, 'message delivered');
          result.delivered++;
          consecutive = 0;
          continue;
        }
        result.failures++;
        if (!isRetryable(res)) {
          // A permanent refusal: keep the message for the next REGISTER but let the ones behind it through.
          await o.store.recordAttempt(msg.id, o.clock.now(), null);
          o.log.warn({ user: userId, id: msg.id, status: res?.status }, 'message refused by the UA');
          result.skipped++;
          skipped.add(msg.id);
          if (skipped.size >= MAX_SKIPPED) {
            await settle();
            return { ...result, stop: 'gave-up' };
          }
          continue;
        }
        consecutive++;
        await settle();
        const stop = await this.#backOff(userId, run, consecutive, (next) => o.store.recordAttempt(msg.id, o.clock.now(), next));
        if (stop) return { ...result, stop };
        break; // the same message again, first
      }
    }
    await settle();
    return { ...result, stop: 'gave-up' };
  }

  async #dumpMissedCalls(userId: string, run: DumpRun): Promise<DumpResult> {
    const o = this.#o;
    const result: DumpResult = { delivered: 0, expired: 0, skipped: 0, failures: 0, stop: 'done' };
    for (let attempt = 1; attempt <= o.maxAttemptsPerDump + 1; attempt++) {
      if (run.cancelled) return { ...result, stop: 'closed' };
      const calls = await o.store.listCalls({ missedBy: userId, unnotified: true, limit: 1000 });
      if (calls.length === 0) return result;
      const res = await this.#send(this.#missedCallRequest(userId, calls, run.binding, attempt), run.binding);
      if (res !== null && res.status >= 200 && res.status < 300) {
        await o.store.markCallsNotified(calls.map((c) => c.id), o.clock.now());
        o.log.info({ user: userId, calls: calls.length }, 'missed-call notice delivered');
        result.delivered++;
        return result;
      }
      result.failures++;
      if (!isRetryable(res)) {
        result.skipped++;
        return result;
      }
      const stop = await this.#backOff(userId, run, attempt, async () => {});
      if (stop) return { ...result, stop };
    }
    return { ...result, stop: 'gave-up' };
  }

  #missedCallRequest(userId: string, calls: CallRecord[], binding: Binding, attempt: number): SipRequest {
    const o = this.#o;
    const notice = buildMissedCallNotice(userId, calls);
    const ids = calls.map((c) => c.id);
    const key = `mc-${Math.min(...ids)}-${Math.max(...ids)}`;
    const req = new SipRequest('MESSAGE', binding.contact);
    for (const p of binding.path) req.addHeader('Route', p);
    req.addHeader('From', `<${o.serverUri}>;tag=${newTag()}`);
    req.addHeader('To', `<sip:${userId}@${o.domain}>`);
    req.addHeader('Call-ID', `tvphone-${key}@${o.callIdHost}`);
    req.addHeader('CSeq', `${attempt} MESSAGE`);
    req.addHeader('Max-Forwards', '70');
    req.addHeader('Date', rfc1123Date(o.clock.now()));
    req.addHeader(MESSAGE_ID_HEADER, key);
    req.addHeader('Content-Type', notice.contentType);
    req.body = notice.body;
    return req;
  }

  /**
   * After a retryable failure: record it, wait the back-off, then ask whether the user is still online.
   * Returns why the dump must stop, or null to try again.
   */
  async #backOff(userId: string, run: DumpRun, failures: number, record: (nextAttemptAt: number | null) => Promise<void>): Promise<DumpStop | null> {
    const o = this.#o;
    if (failures >= o.maxAttemptsPerDump) {
      await record(null);
      o.log.warn({ user: userId, failures }, 'delivery given up until the next REGISTER');
      return 'gave-up';
    }
    const delay = retryDelay(failures, o.retryBaseMs, o.retryMaxMs);
    await record(o.clock.now() + delay);
    await this.#sleep(run, delay);
    if (run.cancelled) return 'closed';
    if (!(await o.isOnline(userId))) return 'offline';
    return null;
  }

  async #send(req: SipRequest, binding: Binding): Promise<SipResponse | null> {
    try {
      return await this.#o.send(req, binding);
    } catch (err) {
      this.#o.log.warn({ err }, 'send failed');
      return null;
    }
  }

  #sleep(run: DumpRun, ms: number): Promise<void> {
    return new Promise((resolve) => {
      run.wake = resolve;
      run.timer = this.#o.clock.set((r: DumpRun) => this.#wake(r), ms, run);
    });
  }

  #wake(run: DumpRun): void {
    if (run.timer !== null) this.#o.clock.clear(run.timer);
    run.timer = null;
    const wake = run.wake;
    run.wake = null;
    wake?.();
  }

  async #expire(now: number): Promise<number> {
    const expired = await this.#o.store.expireMessages(now);
    for (const m of expired) {
      this.#o.log.info({ user: m.toUser, id: m.id }, 'message expired undelivered');
      this.#settled(m, 'expired');
    }
    return expired.length;
  }

  #settled(msg: StoredMessage, state: 'delivered' | 'expired'): void {
    try {
      this.#o.onSettled(msg, state);
    } catch (err) {
      this.#o.log.error({ err }, 'onSettled failed');
    }
  }

  #scheduleHousekeeping(): void {
    if (this.#closed) return;
    this.#housekeepingTimer = this.#o.clock.set((silo: Silo) => {
      silo.housekeeping()
        .catch((err: unknown) => this.#o.log.warn({ err }, 'housekeeping failed'))
        .finally(() => this.#scheduleHousekeeping());
    }, this.#o.housekeepingMs, this);
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
