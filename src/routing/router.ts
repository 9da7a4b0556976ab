// The routing script: the one place with policy (Kamailio's request_route in TypeScript).
// It reads top to bottom and only calls capabilities: authenticator, registrar, proxy, silo, presence.
import type { SipRequest, SipResponse } from '../sip/message.ts';
import { createResponse } from '../sip/response.ts';
import { parseUri } from '../sip/uri.ts';
import { parseNameAddr, parseContacts, contactExpires, expiresOf } from '../sip/headers.ts';
import type { ServerTransaction } from '../transaction/server-transaction.ts';
import type { TransactionUser } from '../transaction/transaction-layer.ts';
import type { Authenticator, Registrar } from '../registrar/index.ts';
import { orderBindings } from '../registrar/index.ts';
import type { Proxy } from '../proxy/proxy.ts';
import type { Silo } from '../offline/silo.ts';
import { presentityOf, type PresenceAgent } from '../presence/presence-agent.ts';
import type { Store, Binding } from '../store/store.ts';
import { StoreUnavailableError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import type { LocalDomains } from './local-domains.ts';

/** Methods we implement (RFC 3261 §20.5 Allow). */
export const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, MESSAGE, SUBSCRIBE, NOTIFY, INFO, UPDATE, PRACK, REFER';
const ALLOWED = new Set(ALLOW.split(', '));
/** Methods the server itself answers when a request is addressed to it rather than to a user. */
const TO_SERVER = new Set(['OPTIONS', 'REGISTER']);
/** Methods other SIP extensions define that we know but do not serve: 405 rather than 501 (RFC 3261 §21.4.6). */
const KNOWN_ELSEWHERE = new Set(['PUBLISH']);

/** How long a MESSAGE waits for an online user's answer before it is stored instead (msilo's contract). */
const MESSAGE_BRANCH_TIMEOUT_MS = 8000;

export interface RouterDeps {
  store: Store;
  auth: Authenticator;
  registrar: Registrar;
  proxy: Proxy;
  silo: Silo;
  presence: PresenceAgent;
  domains: LocalDomains;
  /** the domain of the AoRs we build (an authenticated watcher is sip:<user>@<domain>) */
  domain: string;
  log: Logger;
  clock: { now(): number };
  /** Retry-After seconds on 480 to an offline user and on 503 */
  retryAfterSeconds: number;
}

export class Router implements TransactionUser {
  readonly #d: RouterDeps;

  constructor(deps: RouterDeps) {
    this.#d = deps;
  }

  onRequest(req: SipRequest, st: ServerTransaction): void {
    this.#route(req, st).catch((err: unknown) => this.#fail(req, st, err));
  }

  onAck(ack: SipRequest): void {
    // RFC 3261 §16.11 / §13.2.2.4: the ACK for a 2xx is a request of its own, routed like any in-dialog request.
    const { proxy } = this.#d;
    if (proxy.validate(ack)) return; // an ACK is never answered: a looped or exhausted one is dropped
    if (this.#followRoute(ack)) proxy.relayInDialog(ack, null); // else not a dialog we record-routed: dropped
  }

  /**
   * RFC 3261 §16.4 preprocessing; true when the request was routed through us (a Route naming us was removed, or a
   * strict router sent us our own Record-Route URI). Only such in-dialog requests are relayed (Kamailio's loose_route()):
   * anything else would make the proxy an open relay for whoever writes a Route header.
   */
  #followRoute(req: SipRequest): boolean {
    const before = req.has('route') ? req.headerValues('route').length : 0;
    const strictFix = this.#d.proxy.preprocessRoute(req);
    return strictFix || (before > 0 && (req.has('route') ? req.headerValues('route').length : 0) < before);
  }

  onStrayResponse(res: SipResponse): void {
    // RFC 3261 §16.7 / §16.11: a response matching no transaction (a 2xx retransmission) is forwarded statelessly.
    this.#d.proxy.forwardStrayResponse(res);
  }

  async #route(req: SipRequest, st: ServerTransaction): Promise<void> {
    const { proxy, domains } = this.#d;

    // RFC 3261 §16.3: validate (Max-Forwards → 483, loops → 482, Proxy-Require → 420).
    const invalid = proxy.validate(req);
    if (invalid) return void st.respond(invalid);

    // RFC 3261 §16.4: strict-router fix and loose-routing Route removal.
    const routedByUs = this.#followRoute(req);

    if (req.method === 'CANCEL') return void proxy.cancel(req, st);

    // In-dialog requests (To-tag) follow their route set when it goes through us.
    if (req.toTag !== null) {
      if (req.method === 'SUBSCRIBE' && !req.has('route') && domains.isLocalUri(req.uri)) {
        return this.#subscribe(req, st); // a refresh of a subscription we are the notifier of (RFC 6665 §4.1.2.1)
      }
      if (routedByUs) return proxy.relayInDialog(req, st);
      return void st.respond(createResponse(req, 404, 'Not Here (dialog not routed through this proxy)'));
    }
    // An initial request's preloaded Route beyond us is not followed (no open relay): it is routed like any other.
    if (req.has('route')) req.removeHeader('route');

    if (!domains.isLocalUri(req.uri)) {
      // No open relay: requests for other domains are refused (trunks would route them).
      return void st.respond(createResponse(req, 403, 'Relaying Denied'));
    }

    const user = userOf(req.uri);
    if (user === null || TO_SERVER.has(req.method)) {
      if (req.method === 'REGISTER') return this.#register(req, st);
      if (req.method === 'OPTIONS' && user === null) return void st.respond(this.#options(req));
    }
    if (!ALLOWED.has(req.method)) {
      const res = createResponse(req, KNOWN_ELSEWHERE.has(req.method) ? 405 : 501);
      res.addHeader('Allow', ALLOW);
      return void st.respond(res);
    }
    if (user === null) {
      const res = createResponse(req, 405, `${req.method} Is Not Served Here`);
      res.addHeader('Allow', 'OPTIONS, REGISTER');
      return void st.respond(res);
    }

    switch (req.method) {
      case 'INVITE':
      case 'MESSAGE':
      case 'SUBSCRIBE':
        break;
      default:
        // Other out-of-dialog requests to a user (OPTIONS, INFO …) are proxied to the user's bindings.
        return this.#toUser(req, st, user, null);
    }

    const caller = await this.#authenticate(req, st, true);
    if (caller === null) return;
    if (req.method === 'SUBSCRIBE') return this.#subscribe(req, st, caller);
    return this.#toUser(req, st, user, caller);
  }

  /** Authenticates; answers the challenge (or error) itself and returns null when the request may not go on. */
  async #authenticate(req: SipRequest, st: ServerTransaction, proxy: boolean): Promise<string | null> {
    const r = await this.#d.auth.authenticate(req, { proxy });
    if ('userId' in r) return r.userId;
    st.respond(r);
    return null;
  }

  async #register(req: SipRequest, st: ServerTransaction): Promise<void> {
    const userId = await this.#authenticate(req, st, false);
    if (userId === null) return;
    const s = st.source;
    const { response: res, bindings } = await this.#d.registrar.register(req, userId, {
      transport: s.transport, ip: s.address, port: s.port, connectionId: s.connectionId === null ? null : String(s.connectionId),
    });
    st.respond(res);
    if (res.status === 200 && registersContact(req)) this.#deliverKept(userId, bindings);
  }

  /**
   * The moment a user registers: everything kept for it goes out (messages, then the missed-call notice).
   * `committed`: the bindings the REGISTER's own commit returned (saves a lookup), else they are looked up.
   */
  #deliverKept(userId: string, committed: Binding[] | null): void {
    const { registrar, silo, log } = this.#d;
    void (async () => {
      const bindings = committed !== null ? orderBindings(committed) : await registrar.lookup(userId);
      const newest = newestBinding(bindings);
      if (!newest) return;
      const kept = await this.#d.store.keptFor(userId); // most REGISTERs find nothing kept: one read, then done
      const messages = kept.messages ? (await silo.dump(userId, newest)).delivered : 0;
      const notices = kept.missedCalls ? (await silo.dumpMissedCalls(userId, newest)).delivered : 0;
      if (messages || notices) log.info({ userId, messages, notices }, 'kept items delivered');
    })().catch((err: unknown) => log.error({ err, userId }, 'delivery at REGISTER failed'));
  }

  async #toUser(req: SipRequest, st: ServerTransaction, user: string, caller: string | null): Promise<void> {
    const { store, registrar, proxy, silo, clock } = this.#d;
    const bindings = await registrar.lookup(user);
    if (bindings.length === 0) {
      if (!(await store.userExists(user))) return void st.respond(createResponse(req, 404, 'User Not Found'));
      if (req.method === 'MESSAGE') return void st.respond(await silo.store(req, user));
      if (req.method === 'INVITE') {
        // The seed: a call to an offline user is written to user_call and kept for the callee's next REGISTER.
        await store.recordCall({ userId: caller ?? fromUser(req), otherUserId: user, callDate: clock.now(), callId: req.callId, outcome: 'offline', status: 480 });
        const res = createResponse(req, 480, 'User Offline, Call Recorded');
        res.addHeader('Retry-After', String(this.#d.retryAfterSeconds));
        return void st.respond(res);
      }
      return void st.respond(createResponse(req, 480, 'User Offline'));
    }
    if (req.method === 'MESSAGE') {
      // msilo's contract: a MESSAGE no branch would take (408/480/503/no answer) is stored and answered 202.
      // A binding that stays silent is given up well before the sender's Timer F (32 s), so the 202 reaches it.
      return proxy.relay(req, st, bindings, { onAllFailed: () => silo.store(req, user), timeoutMs: MESSAGE_BRANCH_TIMEOUT_MS });
    }
    if (req.method === 'INVITE') {
      return proxy.relay(req, st, bindings, { call: { userId: caller ?? fromUser(req), otherUserId: user } });
    }
    return proxy.relay(req, st, bindings, {});
  }

  async #subscribe(req: SipRequest, st: ServerTransaction, watcher?: string): Promise<void> {
    const s = st.source;
    // RFC 6665 §4.1.2.1: a refresh is sent to the notifier's Contact, so its presentity is the dialog's To, not the Request-URI.
    const presentity = (watcher === undefined ? presentityOf(req) : userOf(req.uri)) ?? '';
    // The watcher is named by its AoR URI; an authenticated user by its user id in our domain.
    const watcherUri = watcher !== undefined ? `sip:${watcher}@${this.#d.domain}` : fromUri(req);
    const res = await this.#d.presence.subscribe(req, watcherUri, presentity, {
      transport: s.transport, sourceIp: s.address, sourcePort: s.port, connectionId: s.connectionId === null ? null : String(s.connectionId),
    });
    st.respond(res);
  }

  #options(req: SipRequest): SipResponse {
    // RFC 3261 §11.2: OPTIONS to the server lists what it supports.
    const res = createResponse(req, 200);
    res.addHeader('Allow', ALLOW);
    res.addHeader('Accept', 'application/sdp, text/plain, application/pidf+xml, */*');
    res.addHeader('Accept-Encoding', 'identity');
    res.addHeader('Supported', 'path, outbound');
    return res;
  }

  #fail(req: SipRequest, st: ServerTransaction, err: unknown): void {
    if (err instanceof StoreUnavailableError) {
      const res = createResponse(req, 503, 'Database Unavailable');
      res.addHeader('Retry-After', String(this.#d.retryAfterSeconds));
      st.respond(res);
      return;
    }
    this.#d.log.error({ err, method: req.method, callId: req.callId }, 'routing failed');
    st.respond(createResponse(req, 500, 'Server Internal Error'));
  }
}

/** The user part of a sip:/sips: Request-URI, or the number of a tel: URI; null when there is none. */
export function userOf(uri: string): string | null {
  try {
    const u = parseUri(uri);
    return u.scheme === 'tel' ? u.number : u.user;
  } catch {
    return null;
  }
}

function fromUri(req: SipRequest): string {
  try {
    return parseNameAddr(req.header('from') ?? '').uri;
  } catch {
    return '';
  }
}

function fromUser(req: SipRequest): string {
  try {
    return userOf(parseNameAddr(req.header('from') ?? '').uri) ?? '';
  } catch {
    return '';
  }
}

/** True when a REGISTER adds or refreshes a binding (Expires > 0), as opposed to a query or a removal. */
function registersContact(req: SipRequest): boolean {
  const contacts = parseContacts(req);
  if (contacts === '*' || contacts.length === 0) return false;
  const header = expiresOf(req);
  return contacts.some((c) => (contactExpires(c) ?? header ?? 3600) > 0);
}

function newestBinding(bindings: Binding[]): Binding | undefined {
  let best: Binding | undefined;
  for (const b of bindings) if (!best || b.updatedAt > best.updatedAt) best = b;
  return best;
}
