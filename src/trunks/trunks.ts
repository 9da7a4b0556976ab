// The trunks capability: every carrier of the profile, each with its registration (registration.ts), OPTIONS
// ping (options-ping.ts) and calls (trunk-calls.ts: legs out, allowed sources and DIDs in), their status for
// `tvphone trunks status`, /trunks and /metrics. Which calls go out through which trunks is routing's (dial-plan.ts).
import { isIP } from 'node:net';
import type { Clock } from '../clock.ts';
import type { TrunkConfig } from '../config/profile.ts';
import type { Logger } from '../log/logger.ts';
import type { SipRequest, SipResponse } from '../sip/message.ts';
import { ServerLocator } from '../transaction/locate-server.ts';
import type { Target, TransportName } from '../transport/transport.ts';
import { OptionsPing, type PingState } from './options-ping.ts';
import { TrunkRegistration, type RegistrationState } from './registration.ts';
import { carrierTarget, TrunkCalls, type Caller, type TrunkLeg } from './trunk-calls.ts';

/** One row of `tvphone trunks status --json` and of GET /trunks. */
export interface TrunkStatusRow {
  name: string;
  /** where requests go: transport:host:port of the carrier (or its outbound proxy) */
  carrier: string;
  register: boolean;
  state: RegistrationState;
  lastStatus: number | null;
  lastReason: string | null;
  /** ISO times */
  nextAttemptAt: string | null;
  expiresAt: string | null;
  ping: PingState;
  /** REGED (or not registering), and the ping not down */
  up: boolean;
  registrations: number;
  failures: number;
  /** calls through the trunk now, and its maxCalls (0 = no limit) */
  activeCalls: number;
  maxCalls: number;
}

export interface TrunksOptions {
  trunks: readonly TrunkConfig[];
  clock: Clock;
  log: Logger;
  /** a request of ours through a client transaction (transaction/send-request.ts sendRequest) */
  send(req: SipRequest, target: Target): Promise<SipResponse | null>;
  /** the transport's sent-by towards a target: our address and port for the Contact (RFC 3261 §18.1.1) */
  sentBy(target: Target): { transport: TransportName; host: string; port: number };
  /**
   * a host name to an address, instead of the locator (tests name carriers no DNS knows): A/AAAA only, no SRV
   */
  resolve?: (host: string) => Promise<string | null>;
  /** RFC 3263 §4.2: a carrier's name to its address (SRV when the profile gives no port); default the system's DNS */
  locator?: ServerLocator;
  /** [0, 1): the weighted choice among trunks of one priority (tests fix it) */
  random?: () => number;
}

interface Entry {
  trunk: TrunkConfig;
  registration: TrunkRegistration;
  ping: OptionsPing;
  calls: TrunkCalls;
  target(): Promise<Target | null>;
}

/** Why a trunk of a route was not tried (logs). */
export type SkipReason = 'down' | 'full' | 'codecs' | 'unresolved' | 'unknown';

export class Trunks {
  #entries: Entry[];
  readonly #o: TrunksOptions;
  readonly #log: Logger;
  readonly #random: () => number;
  readonly #locator: ServerLocator;
  #started = false;
  #closing: Promise<void> | null = null;
  /** de-registrations of trunks removed or changed by a reload, still running */
  readonly #retiring = new Set<Promise<void>>();

  constructor(o: TrunksOptions) {
    this.#o = o;
    this.#log = o.log;
    this.#random = o.random ?? Math.random;
    this.#locator = o.locator ?? new ServerLocator({ random: this.#random });
    this.#entries = o.trunks.map((trunk) => this.#entry(trunk));
  }

  #entry(trunk: TrunkConfig): Entry {
    const o = this.#o;
    const next = trunk.outboundProxy ?? { host: trunk.host, port: trunk.port };
    const calls = new TrunkCalls(trunk);
    // resolved at every attempt: the first target of the carrier's SRV records (RFC 2782 order), else of its A/AAAA
    const target = async (): Promise<Target | null> => {
      let found: { address: string; port?: number } | null;
      if (isIP(next.host) !== 0) found = { address: next.host };
      else if (o.resolve !== undefined) {
        const address = await o.resolve(next.host);
        found = address === null ? null : { address };
      } else {
        const loc = await this.#locator.locate({ host: next.host, port: trunk.srv === true ? null : next.port, transport: trunk.transport }).catch(() => null);
        const first = loc?.targets[0];
        found = first === undefined ? null : { address: first.address, port: first.port };
      }
      if (found === null) return null;
      calls.resolved(found.address, found.port);
      return carrierTarget(trunk, found.address, found.port);
    };
    // sip:trunk-NAME@OUR-ADDRESS:PORT: a request the carrier sends to this Contact names its trunk
    const contact = (t: Target): string => {
      const sb = o.sentBy(t);
      return `sip:trunk-${trunk.name}@${sb.host}:${sb.port}${trunk.transport === 'udp' ? '' : `;transport=${trunk.transport}`}`;
    };
    const log = o.log;
    return {
      trunk,
      registration: new TrunkRegistration(trunk, { clock: o.clock, log, send: o.send, target, contact }),
      ping: new OptionsPing(trunk, { clock: o.clock, log, send: o.send, target, contact }),
      calls,
      target,
    };
  }

  /**
   * A reload (SIGHUP, `tvphone trunks reload`): trunks added are started, removed ones de-registered, changed ones
   * replaced (de-registered, then registered with the new settings). Calls in progress keep their legs: an old trunk's
   * slot is given back to the old object. Unchanged trunks are left alone.
   */
  reconfigure(next: readonly TrunkConfig[]): { added: string[]; removed: string[]; changed: string[] } {
    const key = (t: TrunkConfig): string => JSON.stringify({ ...t, file: undefined, ca: t.ca?.toString('base64') });
    const out = { added: [] as string[], removed: [] as string[], changed: [] as string[] };
    const before = new Map(this.#entries.map((e) => [e.trunk.name, e]));
    const entries: Entry[] = [];
    for (const t of next) {
      const old = before.get(t.name);
      before.delete(t.name);
      if (old !== undefined && key(old.trunk) === key(t)) {
        entries.push(old);
        continue;
      }
      if (old !== undefined) {
        out.changed.push(t.name);
        this.#retire(old);
      } else out.added.push(t.name);
      const e = this.#entry(t);
      entries.push(e);
      if (this.#started) {
        void e.target().catch(() => null);
        e.registration.start();
        e.ping.start();
      }
    }
    for (const [name, old] of before) {
      out.removed.push(name);
      this.#retire(old);
    }
    this.#entries = entries;
    if (out.added.length + out.removed.length + out.changed.length > 0) this.#log.info(out, 'trunks reloaded');
    return out;
  }

  #retire(e: Entry): void {
    e.ping.close();
    const p = e.registration.close(4_000).finally(() => this.#retiring.delete(p));
    this.#retiring.add(p);
  }

  /** Registers the trunks that register and starts the pings. */
  start(): void {
    this.#started = true;
    // a carrier named by host name is resolved now too, so that its calls in are known even when it neither registers nor is pinged
    for (const e of this.#entries) void e.target().catch(() => null);
    for (const e of this.#entries) {
      e.registration.start();
      e.ping.start();
    }
    if (this.#entries.length > 0) this.#log.info({ trunks: this.#entries.map((e) => e.trunk.name) }, 'trunks started');
  }

  /**
   * The legs of a call to `number` through the named trunks (a route's list): lower priority first, a weighted
   * random order within one priority; a trunk down by its ping or its failed registration, at maxCalls, or without
   * a codec of the offer is skipped (and said why).
   */
  async legs(names: readonly string[], number: string, caller: Caller, offer: { body: Uint8Array; contentType?: string }): Promise<{ legs: TrunkLeg[]; skipped: { trunk: string; why: SkipReason }[] }> {
    const skipped: { trunk: string; why: SkipReason }[] = [];
    const chosen: Entry[] = [];
    for (const name of names) {
      const e = this.#entries.find((x) => x.trunk.name === name);
      if (e === undefined) skipped.push({ trunk: name, why: 'unknown' });
      else if (e.ping.state === 'down' || e.registration.status.state === 'FAILED') skipped.push({ trunk: name, why: 'down' });
      else if (!e.calls.hasRoom) skipped.push({ trunk: name, why: 'full' });
      else if (!e.calls.acceptsOffer(offer.body, offer.contentType)) skipped.push({ trunk: name, why: 'codecs' });
      else chosen.push(e);
    }
    const legs: TrunkLeg[] = [];
    for (const e of this.#order(chosen)) {
      let leg = e.calls.leg(number, caller);
      if (leg === null && (await e.target()) !== null) leg = e.calls.leg(number, caller);
      if (leg === null) skipped.push({ trunk: e.trunk.name, why: 'unresolved' });
      else legs.push(leg);
    }
    return { legs, skipped };
  }

  /** The trunk a request from `address`:`port` comes from (its allow list, or the carrier's own address), or null. */
  carrierOf(address: string, port: number): TrunkCalls | null {
    return this.#entries.find((e) => e.calls.isFrom(address, port))?.calls ?? null;
  }

  /** priority ascending (stable); within a priority, a weighted random order (weight 0 last) */
  #order(list: Entry[]): Entry[] {
    const byPriority = new Map<number, Entry[]>();
    for (const e of list) byPriority.set(e.trunk.priority, [...(byPriority.get(e.trunk.priority) ?? []), e]);
    const out: Entry[] = [];
    for (const p of [...byPriority.keys()].sort((a, b) => a - b)) {
      const group = [...(byPriority.get(p) as Entry[])];
      while (group.length > 0) {
        const total = group.reduce((sum, e) => sum + e.trunk.weight, 0);
        let i = 0;
        if (total > 0) {
          let r = this.#random() * total;
          i = group.findIndex((e) => (r -= e.trunk.weight) < 0);
          if (i < 0) i = group.length - 1;
        }
        out.push(...group.splice(i, 1));
      }
    }
    return out;
  }

  get names(): string[] {
    return this.#entries.map((e) => e.trunk.name);
  }

  /** the registration of one trunk (tests, the dial plan to come) */
  registration(name: string): TrunkRegistration | undefined {
    return this.#entries.find((e) => e.trunk.name === name)?.registration;
  }

  status(): TrunkStatusRow[] {
    return this.#entries.map(({ trunk, registration, ping, calls }) => {
      const s = registration.status;
      const next = trunk.outboundProxy ?? { host: trunk.host, port: trunk.port };
      const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
      return {
        name: trunk.name, carrier: `${trunk.transport}:${next.host}:${next.port}`, register: trunk.register,
        state: s.state, lastStatus: s.lastStatus, lastReason: s.lastReason, nextAttemptAt: iso(s.nextAttemptAt), expiresAt: iso(s.expiresAt),
        ping: ping.state, up: (!trunk.register || s.state === 'REGED') && ping.state !== 'down',
        registrations: s.registrations, failures: s.failures, activeCalls: calls.active, maxCalls: trunk.maxCalls,
      };
    });
  }

  /** the transport's connection-closed event: the registrations on that flow register again */
  connectionClosed(remote: { transport: TransportName; address: string; port: number }): void {
    for (const e of this.#entries) e.registration.connectionClosed(remote);
  }

  /** Stops pings and refreshes and de-registers every registered trunk in parallel (at most `ms`); idempotent. */
  close(ms = 4_000): Promise<void> {
    this.#closing ??= (async () => {
      for (const e of this.#entries) e.ping.close();
      await Promise.all([...this.#entries.map((e) => e.registration.close(ms)), ...this.#retiring]);
    })();
    return this.#closing;
  }
}
