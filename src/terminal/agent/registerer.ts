// Registration of the TV agent (RFC 3261 §10.2): REGISTER our Contact, refresh before expiry, retry with
// back-off, CRLF keep-alives on the flow (RFC 5626 §3.5.1), register again when the flow closes, and
// de-register at stop. Behind a NAT it follows the `received`/`rport` the registrar saw (RFC 3581 §4): once,
// it registers the public address instead of the private one. SIP.js calls this part the Registerer.
import type { TimerHandle } from '../../clock.ts';
import type { UserAgentCore } from '../../dialog/user-agent-core.ts';
import { contactExpires, expiresOf, parseContacts } from '../../sip/headers.ts';
import { newCallId, newTag } from '../../sip/ids.ts';
import { SipRequest, type SipResponse } from '../../sip/message.ts';
import type { Target, TransportName } from '../../transport/transport.ts';
import { delay, type AgentContext } from './context.ts';
import type { Servers } from './servers.ts';

export interface RegistererHooks {
  /** the first 200 after none (start, or after the flow was lost) */
  registered(): void;
  /** the flow to the server closed: what lived on it (subscriptions) is gone */
  flowLost(): void;
}

export class Registerer {
  readonly #ctx: AgentContext;
  readonly #hooks: RegistererHooks;
  /** where requests go: the server (or the outbound proxy), and the others to fail over to */
  readonly #servers: Servers;
  readonly #server: Target;
  /** servers tried in a row without a 200 (a failover goes round the list once before backing off) */
  #failovers = 0;
  readonly #callId = newCallId();
  #seq = 0;
  #registered = false;
  #registering = false;
  #timer: TimerHandle | null = null;
  #keepAliveTimer: TimerHandle | null = null;
  #retryMs: number;
  /** the public address the registrar saw (received/rport), once it differed from our Contact's */
  #public: { host: string; port: number } | null = null;
  /** the Contact we registered last (de-registered when the Contact changes) */
  #lastContact: string | null = null;
  /** in standby (RFC 8599): no refresh, no keep-alive, a lost flow is not registered again until wake() */
  #standby = false;

  constructor(ctx: AgentContext, servers: Servers, hooks: RegistererHooks) {
    this.#ctx = ctx;
    this.#servers = servers;
    this.#server = servers.target;
    this.#hooks = hooks;
    this.#retryMs = ctx.options.retryMinMs;
  }

  get isRegistered(): boolean {
    return this.#registered;
  }

  /** The address and port our Contact should name instead of the listener's (null: the listener's). */
  get publicAddress(): { host: string; port: number } | null {
    return this.#public;
  }

  /** RFC 3261 §10.2: REGISTER our Contact; the same Call-ID and a growing CSeq for every refresh (§10.2.4). */
  async register(expires = this.#ctx.options.expires): Promise<boolean> {
    const ctx = this.#ctx;
    const core = ctx.core;
    if (core === null || this.#registering || (this.#standby && expires !== 0)) return false;
    this.#registering = true;
    let outcome: boolean | 'follow';
    try {
      outcome = await this.#attempt(core, expires);
    } finally {
      this.#registering = false;
    }
    // the Contact changed to the public address: register that at once (the old binding goes in the same REGISTER)
    return outcome === 'follow' ? this.register(expires) : outcome;
  }

  async #attempt(core: UserAgentCore, expires: number): Promise<boolean | 'follow'> {
    const ctx = this.#ctx;
    if (expires !== 0 && !(await this.#locate())) return false;
    const req = new SipRequest('REGISTER', `sip:${ctx.domain}`);
    req.addHeader('From', `<${ctx.aor}>;tag=${newTag()}`);
    req.addHeader('To', `<${ctx.aor}>`);
    req.addHeader('Call-ID', this.#callId);
    req.addHeader('CSeq', `${++this.#seq} REGISTER`);
    const contact = ctx.contact;
    req.addHeader('Contact', `<${contact}>`);
    // RFC 3261 §10.2.2: the binding of a Contact we no longer use goes (expires=0 on that Contact)
    if (this.#lastContact !== null && this.#lastContact !== contact && expires !== 0) req.addHeader('Contact', `<${this.#lastContact}>;expires=0`);
    req.addHeader('Expires', String(expires));
    req.addHeader('User-Agent', 'tvphone-tv');
    const res = await core.request(req);
    this.#seq = Math.max(this.#seq, Number(/^\s*(\d+)/.exec(req.header('cseq') ?? '')?.[1] ?? this.#seq));
    if (expires === 0) return res.status >= 200 && res.status < 300;
    if (res.status >= 200 && res.status < 300) {
      this.#lastContact = contact;
      this.#failovers = 0;
      if (this.#followNat(res)) return 'follow';
      const granted = this.#grantedExpires(res) ?? expires;
      const wasRegistered = this.#registered;
      this.#registered = true;
      this.#retryMs = ctx.options.retryMinMs;
      // refresh before expiry: at 80 % of the granted time, at least 1 s
      this.#schedule(Math.max(1_000, granted * 800));
      ctx.emit('registered', { aor: ctx.aor, contact: ctx.contact, transport: ctx.options.transport, expires: granted });
      if (!wasRegistered) this.#hooks.registered();
      return true;
    }
    const wasRegistered = this.#registered;
    this.#registered = false;
    // RFC 3263 §4.3: no answer, a transport error or a 503: the next server of the list, at once (once round it)
    if ((res.status === 408 || res.status === 503) && this.#servers.count > 1 && this.#failovers < this.#servers.count - 1) {
      this.#failovers++;
      const to = this.#servers.next();
      ctx.emit('registration-failed', { status: res.status, reason: res.reason, retryInMs: 0 });
      ctx.emit('server-changed', { transport: to.transport, address: to.address, port: to.port });
      // the flow to the old server is gone with it: what lived on it (subscriptions) is started afresh
      if (wasRegistered) this.#hooks.flowLost();
      this.#schedule(0);
      return false;
    }
    this.#failovers = 0;
    // every server of the list failed: its names are looked up again before the next attempt (servers.ts)
    if (res.status === 408 || res.status === 503) this.#servers.exhausted();
    const wait = this.#backOff();
    ctx.emit('registration-failed', { status: res.status, reason: res.reason, retryInMs: wait });
    this.#schedule(wait);
    return false;
  }

  /**
   * RFC 3263 §4: the names of the server list looked up (again) when due. When the server changed the flow to the old
   * one is left (what lived on it starts afresh); when DNS found no server at all, the attempt waits with back-off.
   */
  async #locate(): Promise<boolean> {
    const ctx = this.#ctx;
    const moved = await this.#servers.refresh();
    if (this.#servers.count === 0) {
      this.#servers.exhausted();
      const wait = this.#backOff();
      ctx.emit('registration-failed', { status: 503, reason: 'No server found in DNS', retryInMs: wait });
      this.#schedule(wait);
      return false;
    }
    if (!moved) return true;
    const to = this.#server;
    ctx.emit('server-changed', { transport: to.transport, address: to.address, port: to.port });
    if (this.#registered) {
      this.#registered = false;
      this.#hooks.flowLost();
    }
    return true;
  }

  /**
   * RFC 3581 §4: the registrar wrote the source it saw in `received` (and `rport`) of our Via. When that is not
   * the address our Contact names we are behind a NAT: name the public address instead — once, so a registrar
   * that stamps something odd cannot make us loop. UDP takes the public port too; TCP/TLS keep the listener's
   * (the server reaches us on the registered connection, RFC 5626). True when the Contact changed.
   */
  #followNat(res: SipResponse): boolean {
    if (this.#public !== null) return false;
    let via;
    try {
      via = res.topVia();
    } catch {
      return false;
    }
    const m = /@(\[[^\]]+\]|[^:;>]+):(\d+)/.exec(this.#ctx.contact);
    if (m === null || via.received === null) return false;
    const host = m[1].replace(/^\[|\]$/g, '');
    const port = Number(m[2]);
    const publicPort = this.#ctx.options.transport === 'udp' && typeof via.rport === 'number' ? via.rport : port;
    if (via.received.toLowerCase() === host.toLowerCase() && publicPort === port) return false;
    this.#public = { host: via.received.replace(/^\[|\]$/g, ''), port: publicPort };
    this.#ctx.emit('public-address', { address: this.#public.host, port: this.#public.port });
    return true;
  }

  /** RFC 5626 §3.5.1: a CRLFCRLF ping on the flow to the server keeps NATs and the registrar's connection alive. */
  startKeepAlive(ping: (to: Target) => void): void {
    const { keepAliveMs, transport } = this.#ctx.options;
    if (keepAliveMs <= 0 || transport === 'udp') return;
    const tick = (): void => {
      ping(this.#server);
      this.#keepAliveTimer = this.#ctx.clock.set(tick, keepAliveMs, undefined);
    };
    this.#keepAliveTimer = this.#ctx.clock.set(tick, keepAliveMs, undefined);
  }

  /** A flow closed; when it was the one to the server, register again (a new connection), with back-off. */
  connectionClosed(remote: { transport: TransportName; address: string; port: number }): void {
    if (this.#ctx.stopped || this.#standby) return;
    const s = this.#server;
    if (remote.transport !== s.transport || remote.address !== s.address || remote.port !== s.port) return;
    this.#registered = false;
    this.#ctx.emit('connection-lost', {});
    this.#hooks.flowLost();
    this.#schedule(Math.min(this.#backOff(), 1_000));
  }

  /**
   * RFC 8599 standby: stop refreshing and keep-alives and forget the registration without de-registering, so the
   * registrar keeps our push registration when the flow drops; wake() registers again.
   */
  sleep(): void {
    this.#standby = true;
    this.#registered = false;
    this.stop();
  }

  /** Leave standby (a push woke us): register again at once. */
  wake(): Promise<boolean> {
    this.#standby = false;
    this.#retryMs = this.#ctx.options.retryMinMs;
    return this.register();
  }

  get inStandby(): boolean {
    return this.#standby;
  }

  /** Stop refreshing and keep-alives. */
  stop(): void {
    const clock = this.#ctx.clock;
    if (this.#timer !== null) clock.clear(this.#timer);
    if (this.#keepAliveTimer !== null) clock.clear(this.#keepAliveTimer);
    this.#timer = this.#keepAliveTimer = null;
  }

  /** RFC 3261 §10.2.2: de-register our binding with Expires: 0 (at most 4 s). */
  async unregister(): Promise<void> {
    if (!this.#registered || this.#ctx.core === null) return;
    this.#registering = false;
    const ok = await Promise.race([this.register(0), delay(this.#ctx.clock, 4_000).then(() => false)]);
    this.#registered = false;
    if (ok) this.#ctx.emit('unregistered', { aor: this.#ctx.aor });
  }

  /** the wait before the next attempt; doubles up to retryMaxMs */
  #backOff(): number {
    const wait = this.#retryMs;
    this.#retryMs = Math.min(this.#retryMs * 2, this.#ctx.options.retryMaxMs);
    return wait;
  }

  #grantedExpires(res: SipResponse): number | null {
    const contact = this.#ctx.contact;
    try {
      const cs = parseContacts(res);
      if (cs !== '*') {
        const ours = cs.find((c) => c.uri === contact) ?? cs.find((c) => c.uri.includes(`:${contact.split(':')[2]}`));
        const e = ours ? contactExpires(ours) : null;
        if (e !== null) return e;
      }
      return expiresOf(res);
    } catch {
      return null;
    }
  }

  #schedule(ms: number): void {
    const ctx = this.#ctx;
    if (ctx.stopped) return;
    if (this.#timer !== null) ctx.clock.clear(this.#timer);
    this.#timer = ctx.clock.set(() => void this.register(), ms, undefined);
  }
}
