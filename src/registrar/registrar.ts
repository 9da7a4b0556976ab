// The registrar capability (RFC 3261 §10.3): save a REGISTER, look an AoR up, drop the bindings of a closed
// connection, expire bindings. Storage is the Store contract; policy (who may register) lives in routing/.
import { createHash } from 'node:crypto';
import { SipError, StoreUnavailableError } from '../errors.ts';
import type { SipRequest, SipResponse } from '../sip/message.ts';
import { SipParseError } from '../sip/parse-error.ts';
import type { Binding, BindingChange, CredentialStore, Kept, LocationStore, PushRegistration, PushStore, SavedBindings } from '../store/store.ts';
import { pushParametersOf } from '../sip/push-parameters.ts';
import type { Logger } from '../log/logger.ts';
import { systemClock, type Clock, type TimerHandle } from '../clock.ts';
import { planRegistration, registrationOk, type RegistrationPlan, type RegistrationPolicy } from './save.ts';
import type { Flow } from '../flow.ts';
import { newestBinding, orderBindings, type LookupResult } from './lookup.ts';

/** connection-bound bindings removed in one transaction at start and shutdown */
const CONNECTION_BATCH = 10_000;
/** saves of one REGISTER: the first plans from no binding and is checked; after a stale answer, one planned from it */
const SAVE_ATTEMPTS = 2;

type UpdatePlan = Extract<RegistrationPlan, { kind: 'update' }>;

export type { RegistrationPolicy } from './save.ts';

/** What a REGISTER did: the 200 to send, and the binding it added or refreshed (the newest), null when none. */
export interface SaveResult {
  response: SipResponse;
  added: Binding | null;
  /** what waits for the user, read with the change (absent: the store did not say) */
  kept?: Kept;
}

export interface RegistrarOptions {
  store: LocationStore & Pick<CredentialStore, 'userExists'>;
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
  /**
   * RFC 8599: a binding whose Contact URI has pn-provider and pn-prid leaves a push registration that outlives it by
   * `standbySeconds` (the TV in standby); absent, push parameters are ignored.
   */
  push?: { store: PushStore; standbySeconds: number };
  /** this node's id (issue 18): the bindings it saves are its flows; default "local" */
  node?: string;
}

export class Registrar {
  readonly #store: LocationStore & Pick<CredentialStore, 'userExists'>;
  readonly #clock: Clock;
  #policy: RegistrationPolicy;
  readonly #onChange?: (change: BindingChange) => void;
  readonly #log?: Logger;
  readonly #expiryIntervalMs: number;
  readonly #createUsers: { realm: string } | null;
  readonly #node: string;
  #push: { store: PushStore; standbySeconds: number } | null;
  /** REGISTERs of one AoR are applied one at a time (read–decide–write); entries leave when idle */
  readonly #queues = new Map<string, Promise<unknown>>();
  #timer: TimerHandle | null = null;
  #started = false;
  #expiring = false;
  /** shutting down: a connection closing now has had its bindings removed already */
  #flowsDropped = false;

  constructor(opts: RegistrarOptions) {
    this.#store = opts.store;
    this.#clock = opts.clock ?? systemClock;
    this.#policy = opts.policy;
    this.#onChange = opts.onChange;
    this.#log = opts.log;
    this.#expiryIntervalMs = opts.expiryIntervalMs ?? 1000;
    this.#createUsers = opts.createUsers ?? null;
    this.#push = opts.push ?? null;
    this.#node = opts.node ?? 'local';
  }

  /**
   * Apply a REGISTER for `userId` (already authenticated; the AoR is the To URI, RFC 3261 §10.3 step 4): the 200
   * with every current binding, and the binding added. A failure (400/403/423, replies.ts) throws a SipError; a
   * store outage throws StoreUnavailableError. Resolves only after the store committed the change.
   */
  save(req: SipRequest, userId: string, source: Flow): Promise<SaveResult> {
    return this.#serialize(userId, () => this.#save(req, userId, source));
  }

  async #save(req: SipRequest, userId: string, source: Flow): Promise<SaveResult> {
    try {
      const now = this.#clock.now();
      const newUser = this.#createUsers ? { userId, realm: this.#createUsers.realm, ha1Md5: '', ha1Sha256: '' } : undefined;
      // A TV at power-on has no binding: plan from none and let the store check that premise (a read, then again in
      // the write's transaction), one round trip instead of a read and a write. Should it not hold (a refresh), the
      // store answers at once with the bindings it read, and the plan made from those is written as it is.
      let existing: Binding[] = [];
      for (let attempt = 1; ; attempt++) {
        const plan = planRegistration(req, userId, existing, this.#policy, source, now);
        // a query (no Contact) is one on the first attempt already: it reads the bindings it lists
        if (plan.kind === 'query') return { response: registrationOk(req, await this.#store.getBindings(userId, now), now, false), added: null };
        const upsert = plan.upsert.map((b) => ({ ...b, node: this.#node })); // its connection is one of ours
        const expect = attempt < SAVE_ATTEMPTS ? existing : undefined;
        const change = await this.#store.saveBindings(userId, upsert, plan.remove, plan.removeAll, now, newUser, expect);
        if (!change.stale) return await this.#saved(req, userId, source, now, existing, plan, upsert, change);
        existing = change.bindings;
      }
    } catch (err) {
      // a header the parser let through but that does not parse as the registrar needs it (CSeq, Contact)
      if (err instanceof SipParseError) throw new SipError('bad-request', { detail: err.reason });
      if (err instanceof StoreUnavailableError) this.#log?.warn({ userId, err }, 'store unavailable: REGISTER answered 503');
      throw err;
    }
  }

  /** What follows a committed binding change: logs, the change event, push registrations, and the 200. */
  async #saved(
    req: SipRequest, userId: string, source: Flow, now: number, existing: readonly Binding[],
    plan: UpdatePlan, upsert: Binding[], change: SavedBindings,
  ): Promise<SaveResult> {
    this.#logChanges(userId, existing, plan, change, source);
    this.#emit(change);
    await this.#savePush(userId, existing, plan, now);
    // the binding this REGISTER added or refreshed (not another device's, nor one on another node)
    const mine = new Set(upsert.map((b) => b.contact));
    const added = plan.upsert.length > 0 ? newestBinding(orderBindings(change.bindings.filter((b) => mine.has(b.contact)))) ?? null : null;
    const response = registrationOk(req, change.bindings, now, plan.supportsPath);
    return change.kept === undefined ? { response, added } : { response, added, kept: change.kept };
  }

  /**
   * RFC 8599: each binding saved with push parameters refreshes its push registration (one per device: its
   * +sip.instance, else provider and prid), expiring standbySeconds after the binding; a binding removed by the UA
   * itself (expires=0, Contact: *) removes its device's. A store failure is logged: the REGISTER is already committed.
   */
  async #savePush(userId: string, existing: readonly Binding[], plan: { upsert: Binding[]; remove: string[]; removeAll: boolean }, now: number): Promise<void> {
    const push = this.#push;
    if (push === null) return;
    const saved = new Set<string>();
    try {
      for (const b of plan.upsert) {
        const reg = pushRegistrationOf(b, push.standbySeconds, now);
        if (reg === null) continue;
        saved.add(reg.device);
        await push.store.savePushRegistration(reg);
        this.#log?.debug({ userId, device: reg.device, provider: reg.provider }, 'push registration saved');
      }
      const removed = plan.removeAll ? existing : existing.filter((b) => plan.remove.includes(b.contact));
      for (const b of removed) {
        const reg = pushRegistrationOf(b, 0, now);
        if (reg === null || saved.has(reg.device)) continue;
        await push.store.removePushRegistration(userId, reg.device);
        this.#log?.info({ userId, device: reg.device }, 'push registration removed: unregistered');
      }
    } catch (err) {
      this.#log?.warn({ userId, err }, 'push registration not saved');
    }
  }

  /** RFC 8599: the unexpired push registrations of `userId` (a user in standby can be woken), newest first. */
  async pushRegistrations(userId: string): Promise<PushRegistration[]> {
    if (this.#push === null) return [];
    return this.#push.store.pushRegistrations(userId, this.#clock.now());
  }

  /** A binding added or removed at info, a refresh at debug (most REGISTERs are refreshes), with the flow it came over. */
  #logChanges(userId: string, before: readonly Binding[], plan: { upsert: Binding[]; remove: string[]; removeAll: boolean }, change: BindingChange, flow: Flow): void {
    const log = this.#log;
    if (!log) return;
    const had = new Set(before.map((b) => b.contact));
    const kept = new Set(change.bindings.map((b) => b.contact));
    const from = `${flow.transport}:${flow.address}:${flow.port}`;
    for (const b of plan.upsert) {
      const fields = { userId, contact: b.contact, expires: Math.round((b.expiresAt - this.#clock.now()) / 1000), from, userAgent: b.userAgent };
      if (had.has(b.contact)) log.debug(fields, 'binding refreshed');
      else log.info(fields, 'binding added');
    }
    for (const b of before) if (!kept.has(b.contact)) log.info({ userId, contact: b.contact, from }, 'binding removed');
  }

  /**
   * Kamailio lookup(): the unexpired bindings of `userId`, highest q first, then the most recently refreshed; else
   * whether the user is offline or does not exist (asked only when it has no binding).
   */
  async lookup(userId: string): Promise<LookupResult> {
    const bindings = await this.bindings(userId);
    if (bindings.length > 0) return { kind: 'found', bindings };
    return (await this.#store.userExists(userId)) ? { kind: 'offline' } : { kind: 'no-such-user' };
  }

  /** The unexpired bindings of `userId`, highest q first, then the most recently refreshed. */
  async bindings(userId: string): Promise<Binding[]> {
    const now = this.#clock.now();
    const bindings = await this.#store.getBindings(userId, now);
    return orderBindings(bindings.filter((b) => b.expiresAt > now));
  }

  /**
   * A TCP/TLS connection closed: its bindings go (the seed's "TV closes TCP → User_netstate 0").
   * Never rejects: a store failure is logged and the bindings expire later instead.
   */
  async connectionClosed(connectionId: number): Promise<BindingChange[]> {
    if (this.#flowsDropped) return []; // shutting down: dropConnectionBindings took them all
    try {
      const changes = await this.#store.removeBindingsByConnection(connectionId, this.#node, this.#clock.now());
      for (const change of changes) {
        this.#log?.info({ userId: change.userId, connectionId, bindings: change.bindings.length }, 'bindings removed: connection lost');
        this.#emit(change);
      }
      return changes;
    } catch (err) {
      this.#log?.warn({ connectionId, err }, 'could not remove the bindings of a closed connection');
      return [];
    }
  }

  /** Remove every binding (and push registration) expired by now and report one change per user. Never rejects. */
  async expireNow(): Promise<BindingChange[]> {
    if (this.#expiring) return []; // the previous run is still going: runs never overlap
    this.#expiring = true;
    try {
      if (this.#push !== null) {
        const n = await this.#push.store.expirePushRegistrations(this.#clock.now()).catch((err: unknown) => {
          this.#log?.warn({ err }, 'push registration expiry failed; retried on the next tick');
          return 0;
        });
        if (n > 0) this.#log?.info({ count: n }, 'push registrations expired');
      }
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

  /** Start the periodic expiry (one timer on the clock; calling again is a no-op). */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#timer = this.#clock.set(runExpiry, this.#expiryIntervalMs, this);
  }

  /** SIGHUP: new limits apply to the next REGISTER; bindings already saved keep their expiry. */
  reconfigure(policy: RegistrationPolicy): void {
    this.#policy = policy;
  }

  /**
   * Every binding bound to a TCP/TLS/WS connection goes: at start (the connections of the process before are gone)
   * and at shutdown (ours are about to go), so user_property tells the truth. Never rejects.
   */
  async dropConnectionBindings(opts: { closing: boolean }): Promise<BindingChange[]> {
    if (opts.closing) this.#flowsDropped = true;
    const all: BindingChange[] = [];
    let users = 0;
    try {
      // in batches, each its own short transaction: a node restarting under 100,000 TVs neither holds the database
      // in one long write (past the commit deadline, the heartbeat waiting) nor reads every user into memory
      for (let batch = -1; batch !== 0;) {
        const r = await this.#store.removeConnectionBindings(this.#node, this.#clock.now(), CONNECTION_BATCH);
        for (const change of r.changes) this.#emit(change);
        all.push(...r.changes);
        users += r.users;
        batch = r.users;
      }
      if (users > 0) this.#log?.info({ users, at: opts.closing ? 'shutdown' : 'start' }, 'bindings of connections removed');
      return all;
    } catch (err) {
      this.#log?.warn({ err }, 'could not remove the bindings of connections; they expire later');
      return [];
    }
  }

  /** Stop the expiry timer. Idempotent. */
  async close(): Promise<void> {
    this.#flowsDropped = true;
    this.#started = false;
    if (this.#timer !== null) this.#clock.clear(this.#timer);
    this.#timer = null;
  }

  /** @internal the expiry timer fired: run it, then set the next one (runs never overlap) */
  expiryTick(): void {
    this.#timer = null;
    void this.expireNow().finally(() => {
      if (this.#started && this.#timer === null) this.#timer = this.#clock.set(runExpiry, this.#expiryIntervalMs, this);
    });
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

/** The push registration a binding's Contact URI asks for (RFC 8599 §4.1), or null. */
function pushRegistrationOf(b: Binding, standbySeconds: number, now: number): PushRegistration | null {
  const p = pushParametersOf(b.contact);
  if (p === null) return null;
  return {
    userId: b.userId, device: b.instance ?? deviceOf(p.provider, p.prid), ...p, contact: b.contact,
    expiresAt: b.expiresAt + standbySeconds * 1000, updatedAt: now,
  };
}

/** A device without +sip.instance is its provider and prid; a long prid by its hash, so the key stays short (schema 7). */
function deviceOf(provider: string, prid: string): string {
  if (prid.length <= 200) return `${provider}:${prid}`;
  return `${provider}:sha256:${createHash('sha256').update(prid).digest('hex')}`;
}

function runExpiry(r: Registrar): void {
  r.expiryTick();
}
