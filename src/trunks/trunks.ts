// The trunks capability: every carrier of the profile, each with its registration (registration.ts) and OPTIONS
// ping (options-ping.ts), their status for `tvphone trunks status`, /trunks and /metrics. Routing of calls through
// trunks (the profile's routes[], dids, allow) builds on the TrunkConfig these hold; it is not done here yet.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Clock } from '../clock.ts';
import type { TrunkConfig } from '../config/profile.ts';
import type { Logger } from '../log/logger.ts';
import type { SipRequest, SipResponse } from '../sip/message.ts';
import type { Target, TransportName } from '../transport/transport.ts';
import { OptionsPing, type PingState } from './options-ping.ts';
import { TrunkRegistration, type RegistrationState } from './registration.ts';

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
}

export interface TrunksOptions {
  trunks: readonly TrunkConfig[];
  clock: Clock;
  log: Logger;
  /** a request of ours through a client transaction (transaction/send-request.ts sendRequest) */
  send(req: SipRequest, target: Target): Promise<SipResponse | null>;
  /** the transport's sent-by towards a target: our address and port for the Contact (RFC 3261 §18.1.1) */
  sentBy(target: Target): { transport: TransportName; host: string; port: number };
  /** a host name to an address (default node:dns lookup, A/AAAA only: no NAPTR/SRV, RFC 3263 §4.1–4.2 partly) */
  resolve?: (host: string) => Promise<string | null>;
}

interface Entry {
  trunk: TrunkConfig;
  registration: TrunkRegistration;
  ping: OptionsPing;
}

async function dnsResolve(host: string): Promise<string | null> {
  try {
    return (await lookup(host)).address;
  } catch {
    return null;
  }
}

export class Trunks {
  readonly #entries: Entry[];
  readonly #log: Logger;
  #closing: Promise<void> | null = null;

  constructor(o: TrunksOptions) {
    this.#log = o.log;
    const resolve = o.resolve ?? dnsResolve;
    this.#entries = o.trunks.map((trunk) => {
      const next = trunk.outboundProxy ?? { host: trunk.host, port: trunk.port };
      const target = async (): Promise<Target | null> => {
        const address = isIP(next.host) !== 0 ? next.host : await resolve(next.host);
        return address === null ? null : { transport: trunk.transport, address, port: next.port };
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
      };
    });
  }

  /** Registers the trunks that register and starts the pings. */
  start(): void {
    for (const e of this.#entries) {
      e.registration.start();
      e.ping.start();
    }
    if (this.#entries.length > 0) this.#log.info({ trunks: this.#entries.map((e) => e.trunk.name) }, 'trunks started (call routing through trunks is not built yet)');
  }

  get names(): string[] {
    return this.#entries.map((e) => e.trunk.name);
  }

  /** the registration of one trunk (tests, the dial plan to come) */
  registration(name: string): TrunkRegistration | undefined {
    return this.#entries.find((e) => e.trunk.name === name)?.registration;
  }

  status(): TrunkStatusRow[] {
    return this.#entries.map(({ trunk, registration, ping }) => {
      const s = registration.status;
      const next = trunk.outboundProxy ?? { host: trunk.host, port: trunk.port };
      const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
      return {
        name: trunk.name, carrier: `${trunk.transport}:${next.host}:${next.port}`, register: trunk.register,
        state: s.state, lastStatus: s.lastStatus, lastReason: s.lastReason, nextAttemptAt: iso(s.nextAttemptAt), expiresAt: iso(s.expiresAt),
        ping: ping.state, up: (!trunk.register || s.state === 'REGED') && ping.state !== 'down',
        registrations: s.registrations, failures: s.failures,
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
      await Promise.all(this.#entries.map((e) => e.registration.close(ms)));
    })();
    return this.#closing;
  }
}
