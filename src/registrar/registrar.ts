// The registrar capability (RFC 3261 §10.3): save a REGISTER, look an AoR up, drop the bindings of a closed
// connection, expire bindings. Storage is the Store contract; policy (who may register) lives in routing/.
import { SipError, StoreUnavailableError } from '../errors.ts';
import type { SipRequest, SipResponse } from '../sip/message.ts';
import { SipParseError } from '../sip/parse-error.ts';
import type { Binding, BindingChange, LocationStore } from '../store/store.ts';
import type { Logger } from '../log/logger.ts';
import { planRegistration, registrationOk, replyContext, type RegistrationPolicy, type RegistrationSource } from './save.ts';
import { orderBindings } from './lookup.ts';
import { errorResponse, registrarError } from './reply.ts';
import { systemClock, type Clock } from './clock.ts';

export type { RegistrationPolicy, RegistrationSource } from './save.ts';

export { systemClock, type Clock } from './clock.ts';

export interface RegistrarOptions {
  store: LocationStore;
  clock?: Clock;
  policy: RegistrationPolicy;
  /** every committed change of a user's bindings (netstate 0/1 in change.presence); a throwing listener is logged */
  onChange?(change: BindingChange): void;
  log?: Logger;
  /** period of the expiry timer; default 1000 ms */
  expiryIntervalMs?: number;
  /**
   * auth none: a REGISTER of an unknown user creates it (with HA1s no password produces) in the same transaction as
   * its binding; the realm its credentials are kept under. Absent: only existing users register.
   */
  createUsers?: { realm: string };
}

export class Registrar {
  readonly #store: LocationStore;
  readonly #clock: Clock;
  readonly #policy: RegistrationPolicy;
  readonly #onChange?: (change: BindingChange) => void;
  readonly #log?: Logger;
  readonly #expiryIntervalMs: number;
  readonly #createUsers: { realm: string } | null;
  /** REGISTERs of one AoR are applied one at a time (read–decide–write); entries leave when idle */
  readonly #queues = new Map<string, Promise<unknown>>();
  #timer: NodeJS.Timeout | null = null;
  #expiring = false;

  constructor(opts: RegistrarOptions) {
    this.#store = opts.store;
    this.#clock = opts.clock ?? systemClock;
    this.#policy = opts.policy;
    this.#onChange = opts.onChange;
    this.#log = opts.log;
    this.#expiryIntervalMs = opts.expiryIntervalMs ?? 1000;
    this.#createUsers = opts.createUsers ?? null;
  }

  /**
   * Apply a REGISTER for `userId` (already authenticated; the AoR is the To URI, RFC 3261 §10.3 step 4) and
   * return the response to send: 200 with every current binding, or the failure (400/403/423/503).
   * Resolves only after the store committed the change.
   */
  save(req: SipRequest, userId: string, source: RegistrationSource): Promise<SipResponse> {
    return this.register(req, userId, source).then((r) => r.response);
  }

  /**
   * As save(), and also the user's unexpired bindings as committed by this REGISTER (null when it changed
   * nothing: a query or a failure), so a caller needs no second lookup right after the commit.
   */
  register(req: SipRequest, userId: string, source: RegistrationSource): Promise<{ response: SipResponse; bindings: Binding[] | null }> {
    return this.#serialize(userId, () => this.#save(req, userId, source));
  }

  async #save(req: SipRequest, userId: string, source: RegistrationSource): Promise<{ response: SipResponse; bindings: Binding[] | null }> {
    try {
      const now = this.#clock.now();
      const existing = await this.#store.getBindings(userId, now);
      const plan = planRegistration(req, userId, existing, this.#policy, source, now);
      if (plan.kind === 'query') return { response: registrationOk(req, existing, now, false), bindings: null };
      const newUser = this.#createUsers ? { userId, realm: this.#createUsers.realm, ha1Md5: '', ha1Sha256: '' } : undefined;
      const change = await this.#store.saveBindings(userId, plan.upsert, plan.remove, plan.removeAll, now, newUser);
      this.#log?.info({ userId, bindings: change.bindings.length, netstate: change.presence.netstate }, 'bindings saved');
      this.#emit(change);
      return { response: registrationOk(req, change.bindings, now, plan.supportsPath), bindings: change.bindings };
    } catch (err) {
      if (err instanceof SipError) return { response: errorResponse(req, err), bindings: null };
      // a header the parser let through but that does not parse as the registrar needs it (CSeq, Contact)
      if (err instanceof SipParseError) return { response: errorResponse(req, new SipError(err.status, err.reason)), bindings: null };
      if (err instanceof StoreUnavailableError) {
        this.#log?.warn({ userId, err }, 'store unavailable: REGISTER answered 503');
        return { response: errorResponse(req, registrarError('store-unavailable', replyContext(this.#policy))), bindings: null };
      }
      throw err;
    }
  }

  /** The unexpired bindings of `userId`, highest q first, then the most recently refreshed. */
  async lookup(userId: string): Promise<Binding[]> {
    const now = this.#clock.now();
    const bindings = await this.#store.getBindings(userId, now);
    return orderBindings(bindings.filter((b) => b.expiresAt > now));
  }

  /**
   * A TCP/TLS connection closed: its bindings go (the seed's "TV closes TCP → User_netstate 0").
   * Never rejects: a store failure is logged and the bindings expire later instead.
   */
  async connectionClosed(connectionId: string): Promise<BindingChange[]> {
    try {
      const changes = await this.#store.removeBindingsByConnection(connectionId, this.#clock.now());
      for (const change of changes) this.#emit(change);
      return changes;
    } catch (err) {
      this.#log?.warn({ connectionId, err }, 'could not remove the bindings of a closed connection');
      return [];
    }
  }

  /** Remove every binding expired by now and report one change per user. Never rejects. */
  async expireNow(): Promise<BindingChange[]> {
    if (this.#expiring) return []; // the previous run is still going: runs never overlap
    this.#expiring = true;
    try {
      const changes = await this.#store.expireBindings(this.#clock.now());
      for (const change of changes) {
        this.#log?.info({ userId: change.userId, netstate: change.presence.netstate }, 'bindings expired');
        this.#emit(change);
      }
      return changes;
    } catch (err) {
      this.#log?.warn({ err }, 'binding expiry failed; retried on the next tick');
      return [];
    } finally {
      this.#expiring = false;
    }
  }

  /** Start the periodic expiry (one unref'd timer; calling again is a no-op). */
  startExpiryTimer(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.expireNow(), this.#expiryIntervalMs);
    this.#timer.unref();
  }

  /** Stop the expiry timer. Idempotent. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  #emit(change: BindingChange): void {
    if (!this.#onChange) return;
    try {
      this.#onChange(change);
    } catch (err) {
      this.#log?.error({ err, userId: change.userId }, 'onChange listener threw');
    }
  }

  #serialize<T>(key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.#queues.get(key) ?? Promise.resolve();
    const run = prev.then(task, task);
    const tail = run.catch(() => undefined);
    this.#queues.set(key, tail);
    void tail.then(() => {
      if (this.#queues.get(key) === tail) this.#queues.delete(key);
    });
    return run;
  }
}
