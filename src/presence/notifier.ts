// The notifier (RFC 6665) of tvphone, for every event package it serves: presence (RFC 3856) and message-summary
// (RFC 3842). One subscription dialog machinery for all: SUBSCRIBE → 200 + NOTIFY, refresh, Expires 0, expiry,
// one NOTIFY at a time per dialog. A package says only what its state is and how it is written.
// Subscriptions live in the store so NOTIFYs survive a restart; NOTIFYs go out through the injected `sendInDialog`
// (the server wires it to a client transaction), never through transport/ directly.

import type { SipRequest, SipResponse } from '../sip/message.ts';
import { createResponse } from '../sip/response.ts';
import { newTag } from '../sip/ids.ts';
import { expiresOf, parseContacts } from '../sip/headers.ts';
import { SipError, StoreUnavailableError } from '../errors.ts';
import { flowOf, type Flow } from '../flow.ts';
import type { Subscription, SubscriptionStore } from '../store/store.ts';
import { silentLogger, type Logger } from '../log/logger.ts';
import { systemClock, type Clock, type TimerHandle } from '../clock.ts';
import { createRequest } from '../dialog/dialog-state.ts';
import { subscriptionDialog } from './subscription-dialog.ts';

/** Send a request inside a subscription's dialog; resolves with the final response, or null on timeout / transport error. */
export type SendInDialog = (req: SipRequest, sub: Subscription) => Promise<SipResponse | null>;

/** May `watcher` (an AoR URI) subscribe to the state of user `resource`? */
export type WatchPolicy = (watcher: string, resource: string) => boolean | Promise<boolean>;

/** What an event package (RFC 6665 §7) adds to the notifier: its name, its body, who may subscribe. */
export interface EventPackage {
  /** the Event header token, lower case */
  readonly name: string;
  /** the body's type; a SUBSCRIBE with no Accept takes it (RFC 3856 §6.7, RFC 3842 §4.5) */
  readonly contentType: string;
  /** the default interval when the SUBSCRIBE has no Expires (RFC 3856 §6.4, RFC 3842 §4.4: 3600) */
  readonly defaultExpires?: number;
  mayWatch: WatchPolicy;
  /** the NOTIFY body: the state of `resource` now */
  body(resource: string, sub: Subscription): Promise<Uint8Array>;
}

export interface NotifierOptions {
  store: SubscriptionStore;
  sendInDialog: SendInDialog;
  /** our Contact in the 200 and in NOTIFYs, e.g. sip:tvphone@127.0.0.1:5060;transport=tcp */
  contact: string | ((source: Flow) => string);
  /** the domain of AoRs: a resource is sip:<user>@<domain> (the From of NOTIFYs) */
  domain: string;
  packages: readonly EventPackage[];
  clock?: Clock;
  log?: Logger;
  /** RFC 6665 §4.2.1.1: shorter Expires (but not 0) get 423 with this Min-Expires (default 60) */
  minExpires?: number;
  /** longer Expires are cut to this (default 3600) */
  maxExpires?: number;
  /** how often expired subscriptions are looked for (default 30 s) */
  expiryCheckMs?: number;
  /** subscriptions per resource, every package counted (default 100); beyond it 503 */
  maxWatchers?: number;
  /** this node's id (issue 18): a subscription's flow is a connection of this node; default "local" */
  node?: string;
}

/** The event package of an Event header value: the token before any parameter, lower-cased. */
export function eventPackage(value: string | undefined): string | null {
  if (value === undefined) return null;
  const token = value.split(';')[0].trim().toLowerCase();
  return token || null;
}

function accepts(req: SipRequest, contentType: string): boolean {
  const values = req.headerValues('accept');
  if (values.length === 0) return true;
  const [major] = contentType.split('/');
  return values.some((a) => {
    const t = a.split(';')[0].trim().toLowerCase();
    return t === contentType || t === `${major}/*` || t === '*/*';
  });
}

export class Notifier {
  #o: Required<Omit<NotifierOptions, 'packages'>>;
  readonly #packages = new Map<string, EventPackage>();
  /** per subscription, the tail of its NOTIFY chain: NOTIFYs of one dialog go out one at a time, CSeq in order */
  readonly #chains = new Map<string, Promise<void>>();
  readonly #inFlight = new Set<Promise<void>>();
  /** subscriptions with a NOTIFY of the package's state queued and not yet begun: a later change rides on it */
  readonly #queued = new Set<string>();
  /** NOTIFYs waiting for the response to go out first: timer → start now */
  readonly #starts = new Map<TimerHandle, () => void>();
  #expiryTimer: TimerHandle | null = null;
  #closed = false;

  constructor(options: NotifierOptions) {
    this.#o = {
      clock: systemClock,
      log: silentLogger(),
      minExpires: 60,
      maxExpires: 3600,
      expiryCheckMs: 30_000,
      maxWatchers: 100,
      node: 'local',
      ...(Object.fromEntries(Object.entries(options).filter(([k, v]) => v !== undefined && k !== 'packages')) as Partial<NotifierOptions>),
      store: options.store,
      sendInDialog: options.sendInDialog,
      domain: options.domain,
      contact: options.contact,
    };
    for (const p of options.packages) this.#packages.set(p.name, p);
    this.#scheduleExpiry();
  }

  /** The event packages served, for Allow-Events (RFC 6665 §8.2.2). */
  get allowEvents(): string {
    return [...this.#packages.keys()].join(', ');
  }

  /** SIGHUP: the longest interval applies to the next SUBSCRIBE. */
  setMaxExpires(maxExpires: number): void {
    this.#o = { ...this.#o, maxExpires };
  }

  /** The AoR of a user: sip:<user>@<domain>. */
  entityOf(userId: string): string {
    return `sip:${userId}@${this.#o.domain}`;
  }

  /**
   * Answer a SUBSCRIBE (initial or in-dialog refresh) from `watcher` (its AoR URI, as authenticated) for the state
   * of user `resource`, and send the NOTIFY that must follow (RFC 6665 §4.2.1.2) once the caller had a chance to
   * send the response (on the next timer turn). Answers 200; failures (400, 403, 415, 423, 481, 489, 503) throw a
   * SipError (replies.ts), a store outage StoreUnavailableError.
   */
  async subscribe(req: SipRequest, watcher: string, resource: string, source: Flow): Promise<SipResponse> {
    const o = this.#o;
    // RFC 6665 §4.2.1.1: an event package the notifier does not understand gets 489 Bad Event.
    const pkg = this.#packages.get(eventPackage(req.header('event')) ?? '');
    if (pkg === undefined) throw new SipError('bad-event', { allowEvents: this.allowEvents });
    // RFC 6665 §4.2.1.1: a body type the subscriber does not accept gets 415 with our Accept.
    if (!accepts(req, pkg.contentType)) throw new SipError('unsupported-media-type', { accept: pkg.contentType });
    let expires = expiresOf(req) ?? pkg.defaultExpires ?? 3600;
    // RFC 6665 §4.2.1.1: too short an interval gets 423 with Min-Expires.
    if (expires > 0 && expires < o.minExpires) throw new SipError('interval-too-brief', { minExpires: o.minExpires });
    expires = Math.min(expires, o.maxExpires);
    let toTag: string | null;
    let fromTag: string | null;
    try {
      toTag = req.has('to') ? req.to().params.get('tag') ?? null : null;
      fromTag = req.has('from') ? req.from().params.get('tag') ?? null : null;
    } catch {
      throw new SipError('bad-from-to');
    }
    if (fromTag === null) throw new SipError('bad-from-to', { detail: 'missing From tag' });
    try {
      if (toTag !== null) return await this.#refresh(req, pkg, resource, toTag, fromTag, expires);
      return await this.#create(req, pkg, watcher, resource, fromTag, expires, source);
    } catch (err) {
      if (err instanceof StoreUnavailableError) o.log.warn({ err }, 'store unavailable: SUBSCRIBE refused');
      throw err;
    }
  }

  /**
   * The state `event` reports for user `resource` changed: NOTIFY each of its subscriptions, with `body` when given
   * (else the package's body now; a function is called once, and only when someone watches). Resolves once every
   * NOTIFY was answered (or failed); never rejects. `watchers`: the resource's subscriptions as the store just read
   * them with the change (BindingChange.watchers), else they are asked for.
   */
  async changed(event: string, resource: string, bodyOf?: Uint8Array | (() => Uint8Array), watchers?: readonly Subscription[]): Promise<void> {
    const pkg = this.#packages.get(event);
    if (this.#closed || pkg === undefined) return;
    let subs: Subscription[];
    try {
      subs = (watchers ?? await this.#o.store.subscriptionsFor(resource, this.#o.clock.now())).filter((s) => s.event === event);
    } catch (err) {
      this.#o.log.warn({ err, event, resource }, 'subscriptions not read: no NOTIFY for this change');
      return;
    }
    if (subs.length === 0) return;
    const body = typeof bodyOf === 'function' ? bodyOf() : bodyOf;
    const sends: Promise<void>[] = [];
    for (const s of subs) {
      if (body !== undefined) {
        sends.push(this.#enqueue(s.id, () => this.#notifyActive(s, body)));
        continue;
      }
      // the queued NOTIFY reads the state when it goes: it carries this change too (one NOTIFY for a burst)
      if (this.#queued.has(s.id)) continue;
      this.#queued.add(s.id);
      sends.push(this.#enqueue(s.id, () => {
        this.#queued.delete(s.id);
        return this.#notifyActive(s, null);
      }));
    }
    await Promise.all(sends);
  }

  /** End subscriptions whose time is up, each with a final NOTIFY (terminated;reason=timeout). */
  async expireSubscriptions(): Promise<number> {
    const expired = await this.#o.store.expireSubscriptions(this.#o.clock.now());
    await Promise.all(expired.map((s) => this.#enqueue(s.id, () => this.#notifyTerminated(s, 'timeout'))));
    return expired.length;
  }

  /** Wait until every NOTIFY started so far has been answered (tests, shutdown). */
  async idle(): Promise<void> {
    for (let i = 0; i < 100 && this.#inFlight.size > 0; i++) await Promise.allSettled([...this.#inFlight]);
  }

  /** Stop the expiry timer and wait for NOTIFYs in flight. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#expiryTimer !== null) this.#o.clock.clear(this.#expiryTimer);
    this.#expiryTimer = null;
    for (const [handle, fire] of this.#starts) {
      this.#o.clock.clear(handle);
      fire(); // closed: the NOTIFY is not sent
    }
    this.#starts.clear();
    await this.idle();
  }

  // ------------------------------------------------------------------------------------------ internals

  async #create(req: SipRequest, pkg: EventPackage, watcher: string, resource: string, fromTag: string, expires: number, source: Flow): Promise<SipResponse> {
    const o = this.#o;
    if (!(await pkg.mayWatch(watcher, resource))) throw new SipError('forbidden', { detail: `not allowed to subscribe to ${pkg.name} of this user` });
    let contacts: ReturnType<typeof parseContacts>;
    try {
      contacts = parseContacts(req);
    } catch {
      throw new SipError('bad-contact');
    }
    // RFC 6665 §4.1.2.1 / RFC 3261 §12.1.1: the SUBSCRIBE's Contact is the remote target of the dialog.
    if (contacts === '*' || contacts.length !== 1) throw new SipError('bad-contact', { detail: 'SUBSCRIBE needs exactly one' });
    const now = o.clock.now();
    const existing = await o.store.subscriptionsFor(resource, now);
    if (expires > 0 && existing.length >= o.maxWatchers) throw new SipError('overloaded', { detail: 'too many subscriptions' });
    const localTag = newTag();
    const sub: Subscription = {
      id: `${newTag()}${newTag()}`,
      event: pkg.name,
      watcher,
      presentity: resource,
      callId: req.callId,
      localTag,
      remoteTag: fromTag,
      remoteTarget: contacts[0].uri,
      // RFC 3261 §12.1.1: the UAS route set is the Record-Route list, in order.
      routeSet: req.headerValues('record-route'),
      cseq: 0,
      expiresAt: now + expires * 1000,
      flow: flowOf(source),
      node: o.node,
    };
    if (expires > 0) await o.store.saveSubscription(sub);
    o.log.info({ event: pkg.name, watcher, resource, expires }, expires > 0 ? 'subscription created' : 'state fetched');
    this.#afterResponse(sub, expires);
    return this.#ok(req, localTag, expires, source);
  }

  async #refresh(req: SipRequest, pkg: EventPackage, resource: string, toTag: string, fromTag: string, expires: number): Promise<SipResponse> {
    const o = this.#o;
    const now = o.clock.now();
    // RFC 6665 §4.1.2.1: a subscription is its dialog and its Event.
    const sub = (await o.store.subscriptionsFor(resource, now)).find(
      (s) => s.event === pkg.name && s.callId === req.callId && s.localTag === toTag && s.remoteTag === fromTag,
    );
    // RFC 6665 §4.2.1.2 / RFC 3261 §12.2.2: a request in an unknown dialog gets 481.
    if (!sub) throw new SipError('subscription-does-not-exist');
    // RFC 6665 §4.1.2.1: SUBSCRIBE is a target refresh request.
    try {
      const contacts = parseContacts(req);
      if (contacts !== '*' && contacts.length === 1) sub.remoteTarget = contacts[0].uri;
    } catch {
      throw new SipError('bad-contact');
    }
    sub.expiresAt = now + expires * 1000;
    if (expires > 0) await o.store.saveSubscription(sub);
    else await o.store.removeSubscription(sub.id);
    o.log.info({ event: pkg.name, watcher: sub.watcher, resource, expires }, expires > 0 ? 'subscription refreshed' : 'subscription ended');
    this.#afterResponse(sub, expires);
    return this.#ok(req, toTag, expires, sub.flow);
  }

  #ok(req: SipRequest, localTag: string, expires: number, source: Flow): SipResponse {
    const res = createResponse(req, 200, 'OK', localTag);
    // RFC 3261 §12.1.1: the UAS copies Record-Route into the response that creates the dialog.
    for (const rr of req.fields('record-route')) res.addHeader('Record-Route', rr.value);
    // RFC 6665 §4.2.1.1: the 200 carries the Expires actually granted.
    res.setHeader('Expires', String(expires));
    res.setHeader('Contact', `<${this.#contact(source)}>`);
    return res;
  }

  /** RFC 6665 §4.2.1.2: a NOTIFY follows every accepted SUBSCRIBE; Expires 0 gives a final one. */
  #afterResponse(sub: Subscription, expires: number): void {
    const task = expires > 0 ? () => this.#notifyActive(sub, null) : () => this.#notifyTerminated(sub, 'timeout');
    let fire!: () => void;
    const fired = new Promise<void>((resolve) => (fire = resolve));
    const pending = fired.then(() => (this.#closed ? undefined : this.#enqueue(sub.id, task)));
    this.#inFlight.add(pending);
    void pending.finally(() => this.#inFlight.delete(pending));
    const handle = this.#o.clock.set(() => {
      this.#starts.delete(handle);
      fire();
    }, 0, undefined);
    this.#starts.set(handle, fire);
  }

  #enqueue(subId: string, task: () => Promise<void>): Promise<void> {
    const prev = this.#chains.get(subId) ?? Promise.resolve();
    const next = prev.then(task).catch((err: unknown) => this.#o.log.warn({ err }, 'NOTIFY failed'));
    this.#chains.set(subId, next);
    this.#inFlight.add(next);
    void next.finally(() => {
      this.#inFlight.delete(next);
      if (this.#chains.get(subId) === next) this.#chains.delete(subId);
    });
    return next;
  }

  async #notifyActive(given: Subscription, body: Uint8Array | null): Promise<void> {
    const o = this.#o;
    const now = o.clock.now();
    // re-read: the CSeq and expiry may have moved on since the task was queued
    const sub = (await o.store.subscriptionsFor(given.presentity, now)).find((s) => s.id === given.id);
    if (!sub) return;
    sub.cseq++;
    await o.store.saveSubscription(sub);
    const remaining = Math.max(0, Math.ceil((sub.expiresAt - now) / 1000));
    // RFC 6665 §4.2.2: Subscription-State active with the remaining expires.
    await this.#sendNotify(sub, `active;expires=${remaining}`, body);
  }

  async #notifyTerminated(sub: Subscription, reason: string): Promise<void> {
    sub.cseq++;
    // RFC 6665 §4.2.2: the final NOTIFY says terminated, with a reason.
    await this.#sendNotify(sub, `terminated;reason=${reason}`, null);
  }

  async #sendNotify(sub: Subscription, subscriptionState: string, given: Uint8Array | null): Promise<void> {
    const o = this.#o;
    const pkg = this.#packages.get(sub.event);
    if (pkg === undefined) {
      // a row of a package this configuration does not serve (e.g. left by another version): dropped
      await o.store.removeSubscription(sub.id);
      return;
    }
    const remoteUri = sub.watcher.includes(':') ? sub.watcher : `sip:${sub.watcher}@${o.domain}`;
    // RFC 3261 §12.2.1.1: sub.cseq already counts this NOTIFY
    const req = createRequest(subscriptionDialog(sub, this.entityOf(sub.presentity), remoteUri), 'NOTIFY', { seq: sub.cseq });
    req.addHeader('Event', pkg.name);
    req.addHeader('Subscription-State', subscriptionState);
    req.addHeader('Contact', `<${this.#contact(sub.flow)}>`);
    req.addHeader('Content-Type', pkg.contentType);
    req.body = given ?? (await pkg.body(sub.presentity, sub));
    let res: SipResponse | null;
    try {
      res = await o.sendInDialog(req, sub);
    } catch (err) {
      o.log.warn({ err }, 'NOTIFY send failed');
      res = null;
    }
    // RFC 6665 §4.2.2: a NOTIFY answered 481 (or timing out) ends the subscription.
    if (res === null || res.status === 481 || res.status === 408) {
      await o.store.removeSubscription(sub.id);
      o.log.info({ event: sub.event, watcher: sub.watcher, resource: sub.presentity, status: res?.status ?? null }, 'subscription removed: NOTIFY failed');
    }
  }

  #contact(source: Flow): string {
    const c = this.#o.contact;
    return typeof c === 'string' ? c : c(source);
  }

  #scheduleExpiry(): void {
    if (this.#closed) return;
    this.#expiryTimer = this.#o.clock.set(() => {
      this.expireSubscriptions()
        .catch((err: unknown) => this.#o.log.warn({ err }, 'subscription expiry failed'))
        .finally(() => this.#scheduleExpiry());
    }, this.#o.expiryCheckMs, undefined);
  }
}
