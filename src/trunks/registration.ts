// One trunk's registration with its carrier (RFC 3261 §10.2), as FreeSWITCH's gateways and Kamailio's uacreg do
// it: REGISTER with digest (401/407 answered once per nonce), refresh before the granted expiry, back off on
// failure, wait longer after a 403, register again when the TCP/TLS connection is lost, de-register at close.
//
//   UNREGED (register: false)        TRYING ──2xx──▶ REGED ──refresh timer──▶ TRYING
//                                      │  ▲                │ connection lost
//                        failure/timeout│  │retry timer     ▼
//                                      ▼  │             TRYING
//                                     FAILED (last status, next attempt)
import type { Clock, TimerHandle } from '../clock.ts';
import type { TrunkConfig } from '../config/profile.ts';
import type { Logger } from '../log/logger.ts';
import { contactExpires, expiresOf, parseContacts } from '../sip/headers.ts';
import { newCallId, newTag } from '../sip/ids.ts';
import { SipRequest, type SipResponse } from '../sip/message.ts';
import { DigestClient } from '../sip/uac-auth.ts';
import { trunkCredentials, trunkDomain, trunkUser } from './trunk-calls.ts';
import { uriEquals } from '../sip/uri.ts';
import type { Target, TransportName } from '../transport/transport.ts';

export type RegistrationState = 'REGED' | 'TRYING' | 'FAILED' | 'UNREGED';

export interface RegistrationStatus {
  state: RegistrationState;
  /** the status of the last final response (408 for no answer, 503 when the carrier could not be resolved) */
  lastStatus: number | null;
  lastReason: string | null;
  /** epoch ms of the next REGISTER (refresh or retry); null when none is planned */
  nextAttemptAt: number | null;
  /** epoch ms the carrier's binding lapses (REGED) */
  expiresAt: number | null;
  /** 2xx to a REGISTER with expires > 0, and failed attempts (final non-2xx or timeout), since start */
  registrations: number;
  failures: number;
}

/** What a registration needs of the server: sending through the transaction layer and where it goes. */
export interface RegistrationPort {
  clock: Clock;
  log: Logger;
  /** send through a client transaction (transaction/send-request.ts); null on timeout or transport error */
  send(req: SipRequest, target: Target): Promise<SipResponse | null>;
  /** the numeric next hop: the outbound proxy or the carrier (resolved per attempt); null = cannot be resolved */
  target(): Promise<Target | null>;
  /** our Contact for this trunk on the flow to `target` (sip:trunk-NAME@OUR-ADDRESS:PORT) */
  contact(target: Target): string;
  /** every state change (metrics, status) */
  onChange?(status: RegistrationStatus): void;
}

/** RFC 3261 §10.2.4: refresh before the binding lapses: at this fraction of the granted expiry */
export const REFRESH_FRACTION = 0.8;
/** failed attempts wait retrySeconds, doubling each time up to this many times retrySeconds */
export const BACKOFF_CAP_FACTOR = 8;
/** how many 401/407 one REGISTER answers (a challenge, then a stale=true one) */
const AUTH_ROUNDS = 2;

export class TrunkRegistration {
  readonly trunk: TrunkConfig;
  readonly #port: RegistrationPort;
  readonly #digest = new DigestClient();
  readonly #callId = newCallId();
  #seq = 0;
  #state: RegistrationState;
  #lastStatus: number | null = null;
  #lastReason: string | null = null;
  #nextAttemptAt: number | null = null;
  #expiresAt: number | null = null;
  #registrations = 0;
  #failures = 0;
  /** consecutive failures, for the back-off */
  #streak = 0;
  #timer: TimerHandle | null = null;
  #inFlight: Promise<void> | null = null;
  /** the flow the last 2xx came over (connection loss is matched against it) */
  #target: Target | null = null;
  #contact: string | null = null;
  #stopped = false;

  constructor(trunk: TrunkConfig, port: RegistrationPort) {
    this.trunk = trunk;
    this.#port = port;
    this.#state = trunk.register ? 'TRYING' : 'UNREGED';
  }

  get status(): RegistrationStatus {
    return {
      state: this.#state, lastStatus: this.#lastStatus, lastReason: this.#lastReason, nextAttemptAt: this.#nextAttemptAt,
      expiresAt: this.#expiresAt, registrations: this.#registrations, failures: this.#failures,
    };
  }

  /** Registers at once (register: true); a trunk that does not register stays UNREGED. */
  start(): void {
    if (!this.trunk.register || this.#stopped) return;
    this.#schedule(0);
  }

  /** Runs one REGISTER now unless one is running (tests and the timer call it). */
  attempt(): Promise<void> {
    this.#inFlight ??= this.#register().finally(() => {
      this.#inFlight = null;
    });
    return this.#inFlight;
  }

  /**
   * RFC 5626 §4.4.1 in spirit: the connection our registration lived on closed, so the carrier can no longer reach
   * us on it: register again at once over a new one (failures then back off as usual).
   */
  connectionClosed(remote: { transport: TransportName; address: string; port: number }): void {
    const t = this.#target;
    if (this.#stopped || !this.trunk.register || t === null || t.transport === 'udp') return;
    if (remote.transport !== t.transport || remote.address !== t.address || remote.port !== t.port) return;
    this.#target = null;
    this.#expiresAt = null;
    this.#setState('TRYING', { why: 'connection lost' });
    if (this.#inFlight === null) this.#schedule(0);
  }

  /** RFC 3261 §10.2.2: stop refreshing and remove our binding (Expires: 0) when we hold one; waits at most `ms`. */
  async close(ms = 4_000): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#clearTimer();
    this.#nextAttemptAt = null;
    const wasRegistered = this.#state === 'REGED';
    if (!wasRegistered) return;
    let timer: TimerHandle | null = null;
    const deadline = new Promise<null>((resolve) => {
      timer = this.#port.clock.set(resolve, ms, null);
    });
    const res = await Promise.race([this.#transact(0), deadline]);
    if (timer !== null) this.#port.clock.clear(timer);
    this.#expiresAt = null;
    this.#setState('UNREGED', { status: res === null || res === 'unresolved' ? null : res.status, why: 'de-registered at close' });
  }

  async #register(): Promise<void> {
    this.#clearTimer();
    this.#nextAttemptAt = null;
    if (this.#state !== 'REGED') this.#setState('TRYING', {});
    const res = await this.#transact(this.trunk.expires);
    if (this.#stopped) return;
    if (res === 'unresolved') return this.#failed(503, `cannot resolve ${this.trunk.outboundProxy?.host ?? this.trunk.host}`, null);
    if (res === null) return this.#failed(408, 'no answer (timeout or transport error)', null);
    if (res.status >= 200 && res.status < 300) return this.#registered(res);
    // RFC 3261 §10.2.8: 423 Interval Too Brief carries Min-Expires: ask again with it (once, at once)
    if (res.status === 423) {
      const min = Number(res.header('min-expires'));
      if (Number.isInteger(min) && min > this.trunk.expires && min <= 86400 * 7) {
        const again = await this.#transact(min);
        if (this.#stopped) return;
        if (again !== null && again !== 'unresolved' && again.status >= 200 && again.status < 300) return this.#registered(again);
        if (again !== null && again !== 'unresolved') return this.#failed(again.status, again.reason, again);
      }
    }
    this.#failed(res.status, res.reason, res);
  }

  /** One REGISTER transaction, answering up to AUTH_ROUNDS digest challenges (RFC 3261 §22.2). */
  async #transact(expires: number): Promise<SipResponse | null | 'unresolved'> {
    const target = await this.#port.target();
    if (target === null) return 'unresolved';
    const contact = this.#port.contact(target);
    const req = this.#request(contact, expires);
    let res: SipResponse | null = null;
    for (let round = 0; round <= AUTH_ROUNDS; round++) {
      res = await this.#port.send(req, target);
      this.#seq = Math.max(this.#seq, req.cseq().seq);
      if (res === null || (res.status !== 401 && res.status !== 407) || round === AUTH_ROUNDS) break;
      const refused = this.#digest.answer(req, res, trunkCredentials(this.trunk));
      if (refused !== null) {
        this.#port.log.warn({ trunk: this.trunk.name, status: res.status, refused }, 'trunk challenge cannot be answered');
        break;
      }
      // RFC 3261 §22.2: resent as a new transaction (the layer replaces its Via with a new branch), CSeq + 1
      this.#seq = req.cseq().seq;
    }
    if (res !== null && res.status >= 200 && res.status < 300) {
      this.#target = target;
      this.#contact = contact;
    }
    return res;
  }

  /** RFC 3261 §10.2: To and From the AoR, the same Call-ID and a growing CSeq for every refresh (§10.2.4). */
  #request(contact: string, expires: number): SipRequest {
    const t = this.trunk;
    const domain = trunkDomain(t);
    const user = trunkUser(t);
    const aor = `sip:${user}@${domain}`;
    const req = new SipRequest('REGISTER', t.transport === 'tls' ? `sip:${domain};transport=tls` : `sip:${domain}`);
    req.addHeader('From', `<${aor}>;tag=${newTag()}`);
    req.addHeader('To', `<${aor}>`);
    req.addHeader('Call-ID', this.#callId);
    req.addHeader('CSeq', `${++this.#seq} REGISTER`);
    req.addHeader('Contact', `<${contact}>`);
    req.addHeader('Expires', String(expires));
    req.addHeader('User-Agent', 'tvphone');
    return req;
  }

  #registered(res: SipResponse): void {
    const granted = this.#grantedExpires(res) ?? this.trunk.expires;
    if (granted <= 0) return this.#failed(res.status, 'the 2xx did not list our Contact', res);
    const now = this.#port.clock.now();
    this.#registrations++;
    this.#streak = 0;
    this.#lastStatus = res.status;
    this.#lastReason = res.reason;
    this.#expiresAt = now + granted * 1000;
    // RFC 3261 §10.2.4: refresh before the binding lapses
    const refreshMs = Math.max(1_000, Math.floor(granted * REFRESH_FRACTION) * 1000);
    this.#schedule(refreshMs);
    this.#setState('REGED', { status: res.status, expires: granted, refreshInS: refreshMs / 1000 });
  }

  #failed(status: number, reason: string, res: SipResponse | null): void {
    this.#failures++;
    this.#streak++;
    this.#lastStatus = status;
    this.#lastReason = reason;
    this.#expiresAt = null;
    const t = this.trunk;
    let waitS: number;
    if (status === 403) waitS = t.forbiddenRetrySeconds; // the account is refused: retrying fast would look like an attack
    else {
      waitS = Math.min(t.retrySeconds * 2 ** Math.min(this.#streak - 1, 20), t.retrySeconds * BACKOFF_CAP_FACTOR);
      // RFC 3261 §21.5.4 / §20.33: a 503 (or other) with Retry-After says when to come back
      const ra = Number(/^\s*(\d+)/.exec(res?.header('retry-after') ?? '')?.[1]);
      if (Number.isInteger(ra) && ra > 0) waitS = Math.min(Math.max(ra, t.retrySeconds), t.forbiddenRetrySeconds);
    }
    this.#schedule(waitS * 1000);
    this.#setState('FAILED', { status, reason, retryInS: waitS });
  }

  /** the expires of our Contact in the 200 (the carrier may shorten it), else its Expires header */
  #grantedExpires(res: SipResponse): number | null {
    try {
      const cs = parseContacts(res);
      if (cs !== '*' && cs.length > 0 && this.#contact !== null) {
        const ours = cs.find((c) => safeUriEquals(c.uri, this.#contact!)) ?? cs.find((c) => c.uri.includes(`trunk-${this.trunk.name}@`));
        if (ours === undefined) return expiresOf(res) === null ? 0 : expiresOf(res);
        const e = contactExpires(ours);
        if (e !== null) return e;
      }
      return expiresOf(res);
    } catch {
      return null;
    }
  }

  #setState(state: RegistrationState, detail: Record<string, unknown>): void {
    const changed = state !== this.#state;
    this.#state = state;
    if (changed) {
      const next = this.#nextAttemptAt === null ? undefined : new Date(this.#nextAttemptAt).toISOString();
      this.#port.log.info({ trunk: this.trunk.name, state, ...detail, nextAttemptAt: next }, `trunk ${this.trunk.name} ${state}`);
    }
    this.#port.onChange?.(this.status);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#clearTimer();
    this.#nextAttemptAt = this.#port.clock.now() + ms;
    this.#timer = this.#port.clock.set(() => {
      this.#timer = null;
      void this.attempt();
    }, ms, undefined);
  }

  #clearTimer(): void {
    if (this.#timer !== null) this.#port.clock.clear(this.#timer);
    this.#timer = null;
  }
}

function safeUriEquals(a: string, b: string): boolean {
  try {
    return uriEquals(a, b);
  } catch {
    return false;
  }
}
