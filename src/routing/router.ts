// The routing script: the one place with policy (Kamailio's request_route in TypeScript).
// It reads top to bottom and only calls capabilities: authenticator, registrar, proxy, silo, presence, trunks.
import type { SipRequest, SipResponse } from '../sip/message.ts';
import { createResponse, errorResponse, failureOf, replyResponse, statelessTagOf } from '../sip/response.ts';
import { newTag } from '../sip/ids.ts';
import { parseUri } from '../sip/uri.ts';
import { parseNameAddr } from '../sip/headers.ts';
import { SipError, StoreUnavailableError } from '../errors.ts';
import type { ReplyPolicy } from '../replies.ts';
import type { ServerTransaction } from '../transaction/server-transaction.ts';
import type { TransactionUser } from '../transaction/transaction-layer.ts';
import { bindingTarget, type Authenticator, type Nodes, type Registrar } from '../registrar/index.ts';
import { GUESSES, type AuthFailure } from '../registrar/authenticate.ts';
import { TAKEN, type Proxy } from '../proxy/proxy.ts';
import type { Silo } from '../offline/silo.ts';
import { presentityOf, type PresenceAgent } from '../presence/presence-agent.ts';
import { MESSAGE_SUMMARY_EVENT } from '../presence/message-summary.ts';
import type { AfterRing, Calls, CallParties } from '../calls/calls.ts';
import type { MediaServer } from '../media-server/media-server.ts';
import type { MailboxServer } from '../media-server/mailbox-server.ts';
import type { Binding, Kept } from '../store/store.ts';
import type { Logger } from '../log/logger.ts';
import type { PushGateway } from '../push/push-gateway.ts';
import { heldCallKey, type HeldCalls } from '../push/held-calls.ts';
import type { NextHop } from '../transaction/locate.ts';
import type { LocalDomains } from './local-domains.ts';
import type { Guard } from './guard.ts';
import type { Trunks } from '../trunks/trunks.ts';
import type { TrunkCalls } from '../trunks/trunk-calls.ts';
import type { RouteConfig } from '../config/profile.ts';
import { asNumber, chooseRoute, failsOver } from './dial-plan.ts';

/** Methods we implement (RFC 3261 §20.5 Allow). */
export const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, MESSAGE, SUBSCRIBE, NOTIFY, INFO, UPDATE, PRACK, REFER';
const ALLOWED = new Set(ALLOW.split(', '));
/** Methods the server itself answers when a request is addressed to it rather than to a user. */
const TO_SERVER = new Set(['OPTIONS', 'REGISTER']);
/** Methods other SIP extensions define that we know but do not serve: 405 rather than 501 (RFC 3261 §21.4.6). */
const KNOWN_ELSEWHERE = new Set(['PUBLISH']);

/** How long a MESSAGE waits for an online user's answer before it is stored instead (msilo's contract). */
const MESSAGE_BRANCH_TIMEOUT_MS = 8000;
/** A trunk that sends nothing at all (not even 100 Trying) for this long is given up for the next one of the route. */
const TRUNK_NO_RESPONSE_MS = 4000;
/** What a carrier may send us out of dialog. */
const FROM_CARRIER = 'INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE';

/** The capabilities the script calls, each by the narrow part it uses (tests pass fakes). */
export interface RouterDeps {
  auth: Pick<Authenticator, 'authenticate' | 'consumeCredentials'>;
  registrar: Pick<Registrar, 'save' | 'lookup'> & Partial<Pick<Registrar, 'pushRegistrations'>>;
  proxy: Pick<Proxy, 'validate' | 'preprocessRoute' | 'cancel' | 'relay' | 'relayInDialog' | 'forwardStrayResponse'>;
  silo: Pick<Silo, 'store' | 'dump'>;
  /** the notifier: presence, and message-summary (RFC 3842) told of each voice message kept */
  presence: Pick<PresenceAgent, 'subscribe' | 'changed'>;
  calls: Pick<Calls, 'offline' | 'voicemail' | 'voicemailEnded'>;
  /** the media server when the profile turns voice messages on (voicemail.enabled), else null: offline calls get 480 */
  voicemail?: Pick<MediaServer, 'answer' | 'handles' | 'inDialog' | 'ack'> | null;
  /**
   * the voicemail access number (profile voicemail.accessNumber, with voicemail on): an authenticated user's INVITE to
   * it is answered by the mailbox (VoiceMailMain), never looked up as a user or routed out
   */
  mailbox?: { server: Pick<MailboxServer, 'answer' | 'handles' | 'inDialog' | 'ack'>; accessNumber: string } | null;
  domains: Pick<LocalDomains, 'isLocalUri'>;
  /** the domain of the AoRs we build (an authenticated watcher is sip:<user>@<domain>) */
  domain: string;
  log: Logger;
  /** the profile's reply policy (Retry-After on 480 to an offline user and on 503) */
  replies: ReplyPolicy;
  /** the carriers: legs out for the dial plan, and which of them a request comes from */
  trunks: Pick<Trunks, 'legs' | 'carrierOf'>;
  /** the profile's dial plan (routes[]) */
  routes: readonly RouteConfig[];
  /** the brute-force and flood defence (profile security); none: nothing is limited or banned */
  guard?: Pick<Guard, 'config' | 'trusted' | 'admit' | 'userBanned' | 'authFailed' | 'authSucceeded' | 'delay'> | null;
  /** with the media server: an online user's call is taken after ringSeconds of no answer (0: only when all fail), on busy too with onBusy */
  ringing?: Ringing;
  /**
   * RFC 8599 wake and hold (push.url set): a call or message to a user in standby pushes it awake; the call is held
   * (tsilo) for holdMs and forked to the binding it registers
   */
  push?: WakeAndHold | null;
  /** the nodes on the database (issue 18): bindings on another node are reached through it; absent: one node */
  nodes?: Pick<Nodes, 'targetOf' | 'flowOf' | 'refreshFor'> | null;
  /** a user's voice mailbox changed (a message kept): subscribers and, unsolicited, its phones are told (RFC 3842) */
  mailboxChanged?: (userId: string) => void;
  /** a REGISTER added or refreshed `binding` (unsolicited MWI tells it the mailbox's state) */
  registered?: (userId: string, binding: Binding) => void;
}

export interface WakeAndHold {
  gateway: Pick<PushGateway, 'send'>;
  held: HeldCalls<HeldCall>;
  holdMs: number;
}

/** An INVITE held for a callee in standby: answered with 180 under `tag`, waiting for its REGISTER. */
export interface HeldCall {
  req: SipRequest;
  st: ServerTransaction;
  parties: CallParties;
  tag: string;
}

/** Push registrations a single call or message pushes at most (one per device of the user). */
const MAX_PUSHES = 10;

export interface Ringing {
  ringSeconds: number;
  onBusy: boolean;
}

/** Users whose delivery at REGISTER a store outage stopped, remembered to retry when it is back. */
const MAX_OWED_DELIVERIES = 10_000;

/** The finals that send a call that rang to the media server (RFC 3261 §16.7: the proxy's own 408 on the ring time counts). */
const NO_ANSWER = [408, 480, 503];

export class Router implements TransactionUser {
  readonly #d: RouterDeps;
  readonly #owed = new Set<string>();
  #routes: readonly RouteConfig[];
  #ringing: Ringing;

  constructor(deps: RouterDeps) {
    this.#d = deps;
    this.#routes = deps.routes;
    this.#ringing = deps.ringing ?? { ringSeconds: 0, onBusy: false };
  }

  /** A reload's new dial plan and ring policy (SIGHUP); calls already routed keep theirs. */
  reconfigure(o: { routes: readonly RouteConfig[]; ringing?: Ringing }): void {
    this.#routes = o.routes;
    if (o.ringing) this.#ringing = o.ringing;
  }

  onRequest(req: SipRequest, st: ServerTransaction): void {
    this.#route(req, st).catch((err: unknown) => st.respond(this.#failure(req, err)));
  }

  onAck(ack: SipRequest): void {
    // RFC 3261 §16.11 / §13.2.2.4: the ACK for a 2xx is a request of its own, routed like any in-dialog request.
    const { proxy } = this.#d;
    if (proxy.validate(ack)) return; // an ACK is never answered: a looped or exhausted one is dropped
    if (this.#d.voicemail?.ack(ack)) return; // the ACK of a 200 the media server sent (§13.3.1.4)
    if (this.#d.mailbox?.server.ack(ack)) return; // … or the mailbox
    if (proxy.preprocessRoute(ack).routedByUs) proxy.relayInDialog(ack, null); // else not a dialog we record-routed: dropped
  }

  onStrayResponse(res: SipResponse): void {
    // RFC 3261 §16.7 / §16.11: a response matching no transaction (a 2xx retransmission) is forwarded statelessly.
    this.#d.proxy.forwardStrayResponse(res);
  }

  async #route(req: SipRequest, st: ServerTransaction): Promise<void> {
    const { proxy, domains } = this.#d;

    // RFC 3261 §16.3: validate (Max-Forwards → 483, loops → 482, Proxy-Require → 420).
    const invalid = proxy.validate(req);
    if (invalid) throw invalid;

    // RFC 3261 §16.4: strict-router fix and loose-routing Route removal. Only requests routed through us are relayed
    // in dialog (Kamailio's loose_route()): anything else would make the proxy an open relay for whoever writes a Route.
    const { routedByUs, ours } = proxy.preprocessRoute(req);

    if (req.method === 'CANCEL') {
      if (this.#cancelHeld(req, st)) return;
      return void proxy.cancel(req, st);
    }

    // Another node's request for a TV connected here (issue 18): its signed flow token names the connection
    // (RFC 5626 §5.3); the caller was authenticated there. In dialog too (a NOTIFY
    // of a subscription the other node is the notifier of).
    const flow = this.#d.nodes?.flowOf(ours, req.uri) ?? null;
    if (flow === 'gone') throw new SipError('flow-failed');
    if (flow !== null) {
      if (req.has('route')) req.removeHeader('route');
      return proxy.relay(req, st, [{ uri: req.uri, destination: flow }], {});
    }

    // In-dialog requests (To-tag) follow their route set when it goes through us.
    if (req.toTag !== null) {
      // a BYE (or re-INVITE) in a dialog the media server is the UAS of
      if (this.#d.voicemail?.handles(req)) return this.#d.voicemail.inDialog(req, st);
      if (this.#d.mailbox?.server.handles(req)) return this.#d.mailbox.server.inDialog(req, st);
      if (req.method === 'SUBSCRIBE' && !req.has('route') && domains.isLocalUri(req.uri)) {
        return this.#subscribe(req, st); // a refresh of a subscription we are the notifier of (RFC 6665 §4.1.2.1)
      }
      if (routedByUs) return proxy.relayInDialog(req, st);
      throw new SipError('not-routed-here');
    }
    // An initial request's preloaded Route beyond us is not followed (no open relay): it is routed like any other.
    if (req.has('route')) req.removeHeader('route');

    // A carrier's request (from its allowed address): a call to one of its DIDs, never sent out again (no toll fraud).
    const carrier = this.#d.trunks.carrierOf(st.source.address, st.source.port);
    if (carrier !== null) return this.#fromCarrier(req, st, carrier);

    // Kamailio pike + htable bans (issue 16): a banned or flooding source is turned away before any store work.
    // In-dialog requests (above), CANCEL and ACK never come here: an established call is never limited.
    const admission = this.#d.guard?.trusted(st.source.address) === false ? this.#d.guard.admit(st.source.address) : 'ok';
    if (admission !== 'ok') return this.#turnAway(req, st, admission === 'banned' ? 'source-banned' : 'rate-limited');

    // No open relay: requests for other domains are refused (trunks would route them).
    if (!domains.isLocalUri(req.uri)) throw new SipError('relaying-denied');

    const user = userOf(req.uri);
    if (user === null || TO_SERVER.has(req.method)) {
      if (req.method === 'REGISTER') return this.#register(req, st);
      if (req.method === 'OPTIONS' && user === null) return void st.respond(this.#options(req));
    }
    if (!ALLOWED.has(req.method)) throw new SipError(KNOWN_ELSEWHERE.has(req.method) ? 'method-not-allowed' : 'not-implemented', { allow: ALLOW });
    if (user === null) throw new SipError('method-not-allowed', { allow: 'OPTIONS, REGISTER', detail: `${req.method} is not served here` });

    // Every out-of-dialog request to a user is authenticated first (a carrier's were taken above): nobody reaches a TV
    // unauthenticated (a forged PIDF NOTIFY, an INFO), and an unknown user and an offline one look the same to a
    // prober (both challenged) — no enumeration by OPTIONS.
    const caller = await this.#authenticate(req, st, true);
    if (caller === null) return;
    this.#d.auth.consumeCredentials(req);
    if (req.method === 'SUBSCRIBE') return this.#subscribe(req, st, caller);
    // VoiceMailMain: the access number is the caller's own mailbox (its identity is the one just authenticated)
    if (req.method === 'INVITE' && this.#d.mailbox && user === this.#d.mailbox.accessNumber) return this.#mailbox(req, st, caller);
    // INVITE and MESSAGE are the caller's calls and messages; other methods (OPTIONS, INFO, NOTIFY, REFER …) are
    // proxied to the user's bindings
    if (req.method === 'INVITE' || req.method === 'MESSAGE') return this.#toUser(req, st, user, caller, true);
    return this.#toUser(req, st, user, null);
  }

  /** A trunk's DID → the local user it names; the caller is the carrier's From (a number). No digest: its address is its credential. */
  async #fromCarrier(req: SipRequest, st: ServerTransaction, carrier: TrunkCalls): Promise<void> {
    if (req.method === 'OPTIONS') return void st.respond(this.#options(req));
    if (req.method !== 'INVITE' && req.method !== 'MESSAGE') throw new SipError('method-not-allowed', { allow: FROM_CARRIER });
    const ruser = userOf(req.uri);
    // sent to the Contact we registered (sip:trunk-NAME@…): the number called is the To's
    const called = ruser === `trunk-${carrier.trunk.name}` ? userOf(toUri(req)) : ruser;
    const number = called === null ? null : asNumber(called);
    const user = number === null ? null : carrier.userOfDid(number);
    if (user === null) throw new SipError('unknown-did');
    this.#d.log.info({ callId: req.callId, trunk: carrier.trunk.name, did: number, user, from: fromUser(req) }, 'call in from a trunk');
    return this.#toUser(req, st, user, fromUser(req), false);
  }

  /** A number that is no local user, dialled by one: the dial plan's route, its trunks one after another (failover). */
  async #toNumber(req: SipRequest, st: ServerTransaction, user: string, caller: string): Promise<void> {
    const dialled = asNumber(user);
    if (dialled === null) throw new SipError('user-not-found');
    const choice = chooseRoute(this.#routes, dialled);
    if (choice === null) throw new SipError('no-route', { detail: dialled });
    const display = fromDisplay(req);
    const { legs, skipped } = await this.#d.trunks.legs(choice.route.trunks, choice.number, display === null ? { user: caller } : { user: caller, display },
      { body: req.body, contentType: req.header('content-type') });
    const log = { callId: req.callId, caller, dialled, number: choice.number, route: choice.index, trunks: legs.map((l) => l.label), skipped };
    if (legs.length === 0) {
      this.#d.log.warn(log, 'call out: no trunk of the route can take it');
      if (skipped.length > 0 && skipped.every((x) => x.why === 'codecs')) throw new SipError('not-acceptable-here', { warning: 'no codec the trunks take' });
      throw new SipError('trunks-unavailable');
    }
    this.#d.log.info(log, 'call out through trunks');
    this.#d.proxy.relay(req, st, legs, {
      serial: (res) => failsOver(res.status), serialNoResponseMs: TRUNK_NO_RESPONSE_MS,
      call: { userId: caller, otherUserId: dialled, dialled, sentNumber: choice.number },
    });
  }

  /** A 403 or 503 (banAction, rateAction 'reject'), or no answer at all ('drop'). */
  #turnAway(req: SipRequest, st: ServerTransaction, code: 'source-banned' | 'user-banned' | 'rate-limited'): void {
    const { banAction, rateAction } = this.#d.guard!.config;
    if ((code === 'rate-limited' ? rateAction : banAction) === 'drop') return st.drop();
    // stateless (RFC 3261 §8.2.7): no transaction state kept for a source turned away
    st.respond(replyResponse(req, code, this.#d.replies, {}, statelessTagOf(req)), { retransmit: false, stateless: true });
  }

  /** Authenticates; answers the challenge itself and returns null when the request may not go on yet. */
  async #authenticate(req: SipRequest, st: ServerTransaction, proxy: boolean): Promise<string | null> {
    const address = st.source.address;
    const guard = this.#d.guard?.trusted(address) === false ? this.#d.guard : null;
    // a user whose password is being guessed from many sources: its authentication is banned for a while (issue 16)
    if (guard?.userBanned(req.method === 'REGISTER' ? userOf(toUri(req)) ?? '' : fromUser(req), address)) {
      this.#turnAway(req, st, 'user-banned');
      return null;
    }
    let backoffMs = 0;
    const onRefused = guard === null ? undefined : (user: string, reason: AuthFailure) => {
      if (GUESSES.has(reason)) backoffMs = Math.max(backoffMs, guard.authFailed(user, address));
    };
    const r = await this.#d.auth.authenticate(req, { proxy, source: st.source, ...(onRefused ? { onRefused } : {}) });
    if ('userId' in r) {
      guard?.authSucceeded(r.userId, address);
      return r.userId;
    }
    // back-off: a source guessing again and again waits for its next challenge (issue 16), its retransmissions absorbed
    if (backoffMs > 0) await guard!.delay(backoffMs);
    // a challenge goes out once (Kamailio sends it statelessly): a client that lost it retransmits its request
    st.respond(r, { retransmit: false });
    return null;
  }

  async #register(req: SipRequest, st: ServerTransaction): Promise<void> {
    const userId = await this.#authenticate(req, st, false);
    if (userId === null) return;
    const { response, added, kept } = await this.#d.registrar.save(req, userId, st.source);
    st.respond(response);
    if (!added) return;
    // tsilo ts_append: the calls held for a TV in standby ring on the binding it just registered.
    this.#appendHeld(userId, [added]);
    // m_dump: a REGISTER that added a binding gets everything kept for the user.
    this.#deliverKept(userId, added, kept);
    this.#d.registered?.(userId, added);
  }

  /** A binding of `userId` refreshed or added after `since` gets what is kept (the REGISTER's dump came too early). */
  async #deliverIfRegisteredSince(userId: string, since: number): Promise<void> {
    const found = await this.#d.registrar.lookup(userId).catch(() => null);
    if (found?.kind !== 'found') return;
    const fresh = found.bindings.filter((b) => b.updatedAt > since);
    if (fresh.length > 0) this.#deliverKept(userId, fresh[0]);
  }

  #deliverKept(userId: string, binding: Binding, kept?: Kept): void {
    this.#d.silo.dump(userId, binding, kept).then(
      (r) => {
        if (r.messages.stop === 'store-unavailable' || r.notices.stop === 'store-unavailable') this.#owe(userId);
      },
      (err: unknown) => {
        // the outage itself is logged once (server.ts); what was kept stays kept and goes out when the store is back
        if (err instanceof StoreUnavailableError) return this.#owe(userId);
        this.#d.log.error({ err, userId }, 'delivery at REGISTER failed');
      },
    );
  }

  /** A registered user whose delivery a store outage stopped; bounded, the rest wait for their next REGISTER. */
  #owe(userId: string): void {
    if (this.#owed.size < MAX_OWED_DELIVERIES) this.#owed.add(userId);
    else this.#d.log.warn({ userId }, 'delivery stopped by the store outage: waits for the next REGISTER');
  }

  /** The store is reachable again: the deliveries its outage stopped start again, to a binding each user has now. */
  storeReachable(): void {
    const owed = [...this.#owed];
    this.#owed.clear();
    for (const userId of owed) void this.#deliverIfRegisteredSince(userId, 0);
  }

  /** `dialOut`: a number that is no local user may go out through the dial plan (an authenticated local caller's INVITE) */
  async #toUser(req: SipRequest, st: ServerTransaction, user: string, caller: string | null, dialOut = false): Promise<void> {
    const { registrar, proxy, silo } = this.#d;
    const found = await registrar.lookup(user);
    if (found.kind === 'no-such-user') {
      if (dialOut && caller !== null && req.method === 'INVITE' && this.#routes.length > 0) return this.#toNumber(req, st, user, caller);
      throw new SipError('user-not-found');
    }
    // bindings on a dead node are no bindings
    const targets = found.kind === 'found' ? await this.#targetsOf(found.bindings) : [];
    if (targets.length === 0) {
      const parties = { caller: caller ?? fromUser(req), callee: user, callId: req.callId };
      // RFC 8599 §6: a user in standby (a push registration, no binding) is pushed awake; its call is held (tsilo).
      if ((req.method === 'INVITE' || req.method === 'MESSAGE') && await this.#wake(req, parties)) {
        if (req.method === 'INVITE' && await this.#hold(req, st, parties)) return;
      }
      if (req.method === 'MESSAGE') return void st.respond(await silo.store(req, user));
      if (req.method === 'INVITE') return this.#offlineCall(req, st, parties);
      throw new SipError('user-offline');
    }
    if (req.method === 'MESSAGE') {
      // msilo's contract: a MESSAGE no branch would take (408/480/503/no answer) is stored and answered 202.
      // A binding that stays silent is given up well before the sender's Timer F (32 s), so the 202 reaches it.
      const seen = found.kind === 'found' ? Math.max(...found.bindings.map((b) => b.updatedAt)) : -Infinity;
      const store = async () => {
        try {
          const res = await silo.store(req, user);
          // the user registered again while the branches failed (a TV moving to another node, a new connection):
          // that REGISTER's delivery ran before this message was kept, so it is delivered now
          if (res.status === 202) void this.#deliverIfRegisteredSince(user, seen);
          return res;
        } catch (err) {
          return this.#failure(req, err);
        }
      };
      return proxy.relay(req, st, targets, { onAllFailed: store, timeoutMs: MESSAGE_BRANCH_TIMEOUT_MS });
    }
    if (req.method === 'INVITE') return this.#ring(req, st, user, caller ?? fromUser(req), targets);
    return proxy.relay(req, st, targets, {});
  }

  /** Where each binding is reached from this node; one on a dead node is left out (issue 18). */
  async #targetsOf(bindings: readonly Binding[]): Promise<NextHop[]> {
    const nodes = this.#d.nodes;
    if (!nodes) return bindings.map(bindingTarget);
    await nodes.refreshFor(bindings.map((b) => b.node));
    const out: NextHop[] = [];
    for (const b of bindings) {
      const t = nodes.targetOf(b);
      if (t !== null) out.push(t);
    }
    return out;
  }

  /** A call to an offline user: app_voicemail takes a message, else user_call records it and the caller gets 480. */
  async #offlineCall(req: SipRequest, st: ServerTransaction, parties: CallParties): Promise<void> {
    // app_voicemail: the server answers and takes a voice message, kept for the callee's next REGISTER.
    if (this.#d.voicemail) return this.#takeMessage(req, st, parties);
    // The seed: a call to an offline user is written to user_call and kept for the callee's next REGISTER.
    await this.#d.calls.offline(parties);
    throw new SipError('user-offline', { detail: 'call recorded' });
  }

  /** An INVITE to the user's bindings, with the ring policy when voicemail is on. */
  #ring(req: SipRequest, st: ServerTransaction, user: string, callerId: string, targets: NextHop[]): void {
    const { proxy } = this.#d;
    const call = { userId: callerId, otherUserId: user };
    if (!this.#d.voicemail) return proxy.relay(req, st, targets, { call });
    // app_voicemail: no answer within the ring time (or every binding failing, or busy when the profile says so):
    // the bindings are CANCELled and the media server answers, as for an offline user.
    const { ringSeconds, onBusy } = this.#ringing;
    const parties = { caller: call.userId, callee: user, callId: req.callId };
    return proxy.relay(req, st, targets, {
      call,
      ...(ringSeconds > 0 ? { timeoutMs: ringSeconds * 1000 } : {}),
      failsOver: onBusy ? [...NO_ANSWER, 486] : NO_ANSWER,
      onAllFailed: (finals, _req, record) => {
        const missed = finals.some((f) => f.status === 486) ? 'busy' : 'no-answer';
        this.#d.log.info({ callId: req.callId, callee: user, finals: finals.map((f) => f.status) }, 'no answer: the media server takes the call');
        this.#takeMessage(req, st, parties, { record, missed }).catch((err: unknown) => st.respond(this.#failure(req, err)));
        return TAKEN;
      },
    });
  }

  /**
   * RFC 8599 §6: send a push request to the gateway for each push registration of the callee (fire and forget);
   * true when it has one (the user is in standby). A store failure is logged and counts as none.
   */
  async #wake(req: SipRequest, parties: CallParties): Promise<boolean> {
    const { push, registrar, log } = this.#d;
    if (!push || !registrar.pushRegistrations) return false;
    let regs: Awaited<ReturnType<Registrar['pushRegistrations']>>;
    try {
      regs = (await registrar.pushRegistrations(parties.callee)).slice(0, MAX_PUSHES);
    } catch (err) {
      log.warn({ err, callee: parties.callee }, 'push registrations not read: no push');
      return false;
    }
    const type = req.method === 'INVITE' ? 'call' : 'message';
    for (const r of regs) {
      void push.gateway.send({ provider: r.provider, prid: r.prid, param: r.param, caller: parties.caller, callId: req.callId, type });
    }
    if (regs.length > 0) log.info({ callId: req.callId, callee: parties.callee, type, devices: regs.length }, 'callee in standby: push sent');
    return regs.length > 0;
  }

  /**
   * tsilo ts_store: hold the INVITE for the callee's REGISTER, 180 to the caller meanwhile; at the hold's end it goes
   * the offline way (voicemail, else 480). False when it cannot be held (the table is full): offline at once.
   */
  async #hold(req: SipRequest, st: ServerTransaction, parties: CallParties): Promise<boolean> {
    const { push, log, registrar } = this.#d;
    const key = heldCallKey(req);
    if (!push || key === null) return false;
    const h: HeldCall = { req, st, parties, tag: newTag() };
    if (!push.held.hold(parties.callee, key, h, push.holdMs, (x) => this.#holdExpired(x))) {
      log.warn({ callId: req.callId, callee: parties.callee, held: push.held.size }, 'call not held: hold table full');
      return false;
    }
    // RFC 3261 §8.2.6.2: our provisional and final responses to it share one To tag
    st.respond(createResponse(req, 180, 'Ringing', h.tag));
    log.info({ callId: req.callId, callee: parties.callee, holdMs: push.holdMs }, 'call held for the callee in standby');
    // it may have registered between the lookup and the hold
    const again = await registrar.lookup(parties.callee).catch(() => null);
    if (again?.kind === 'found') this.#appendHeld(parties.callee, again.bindings);
    return true;
  }

  /** tsilo ts_append: every call held for `userId` is forked to these bindings. */
  #appendHeld(userId: string, bindings: Binding[]): void {
    const held = this.#d.push?.held.take(userId) ?? [];
    if (held.length === 0) return;
    void this.#targetsOf(bindings).then((targets) => {
      for (const h of held) {
        this.#d.log.info({ callId: h.req.callId, callee: userId }, 'callee woke: held call forked to its binding');
        this.#ring(h.req, h.st, userId, h.parties.caller, targets);
      }
    });
  }

  #holdExpired(h: HeldCall): void {
    this.#d.log.info({ callId: h.req.callId, callee: h.parties.callee }, 'hold expired: the callee did not register');
    this.#offlineCall(h.req, h.st, h.parties).catch((err: unknown) => h.st.respond(this.#failure(h.req, err, h.tag)));
  }

  /** RFC 3261 §9.2: a CANCEL of a held INVITE: 200 to it, 487 to the INVITE; the call is recorded as missed. */
  #cancelHeld(req: SipRequest, st: ServerTransaction): boolean {
    const key = heldCallKey(req);
    const h = key === null ? null : this.#d.push?.held.release(key) ?? null;
    if (h === null) return false;
    st.respond(replyResponse(req, 'cancel-accepted', this.#d.replies));
    h.st.respond(replyResponse(h.req, 'request-terminated', this.#d.replies, {}, h.tag));
    this.#d.log.info({ callId: req.callId, callee: h.parties.callee }, 'held call cancelled by the caller');
    this.#d.calls.offline(h.parties).catch((err: unknown) => this.#d.log.error({ err, callId: req.callId }, 'held call not logged'));
    return true;
  }

  /** Shutdown: calls still held get 480 (the caller may try again); idempotent. */
  close(): void {
    for (const h of this.#d.push?.held.drain() ?? []) h.st.respond(replyResponse(h.req, 'user-offline', this.#d.replies, {}, h.tag));
  }

  /**
   * The media server answers the call; user_call says voicemail once the message is kept, else missed (offline, or
   * after ringing an online user no-answer / busy, in the proxy's record of the call).
   */
  async #takeMessage(req: SipRequest, st: ServerTransaction, parties: CallParties,
    rang?: { record: Promise<number | null> | null; missed: AfterRing['missed'] }): Promise<void> {
    const { calls, voicemail, log } = this.#d;
    const after = rang === undefined ? undefined : { recordId: await (rang.record ?? null), missed: rang.missed };
    const id = await calls.voicemail(parties, after);
    const ended = (r: { messageId: number | null; durationMs: number; status?: number }) =>
      calls.voicemailEnded(id, parties, { ...r, ...(after ? { missed: after.missed } : {}) }).catch((err: unknown) => log.error({ err, callId: req.callId }, 'voicemail call not logged'));
    let call: Awaited<ReturnType<MediaServer['answer']>>;
    try {
      call = await voicemail!.answer(req, st, { ...parties, callRecordId: id });
    } catch (err) {
      void ended({ messageId: null, durationMs: 0, status: failureOf(err)?.status ?? 500 });
      throw err;
    }
    void call.outcome.then((r) => {
      // RFC 3842: the callee's MWI subscribers learn of the new message
      if (r.messageId !== null) {
        if (this.#d.mailboxChanged) this.#d.mailboxChanged(parties.callee);
        else void this.#d.presence.changed(MESSAGE_SUMMARY_EVENT, parties.callee);
      }
      return ended(r);
    }, (err: unknown) => log.error({ err, callId: req.callId }, 'voicemail call failed'));
  }

  /** The access number: the media server answers and plays the caller's voice messages (no proxy, no user_call row). */
  async #mailbox(req: SipRequest, st: ServerTransaction, caller: string): Promise<void> {
    this.#d.log.info({ callId: req.callId, user: caller }, 'call to the voicemail access number');
    await this.#d.mailbox!.server.answer(req, st, caller);
  }

  async #subscribe(req: SipRequest, st: ServerTransaction, watcher?: string): Promise<void> {
    // RFC 6665 §4.1.2.1: a refresh is sent to the notifier's Contact, so its presentity is the dialog's To, not the Request-URI.
    const presentity = (watcher === undefined ? presentityOf(req) : userOf(req.uri)) ?? '';
    // The watcher is named by its AoR URI; an authenticated user by its user id in our domain.
    const watcherUri = watcher !== undefined ? `sip:${watcher}@${this.#d.domain}` : fromUri(req);
    const res = await this.#d.presence.subscribe(req, watcherUri, presentity, st.source);
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

  /** The one place a failure becomes a reply (replies.ts); anything else is a bug: logged, answered 500. */
  #failure(req: SipRequest, err: unknown, toTag?: string): SipResponse {
    const failure = failureOf(err);
    if (failure !== null) return toTag === undefined ? errorResponse(req, failure, this.#d.replies) : replyResponse(req, failure.failure, this.#d.replies, failure.params, toTag);
    this.#d.log.error({ err, method: req.method, callId: req.callId }, 'routing failed');
    return errorResponse(req, new SipError('internal-error'), this.#d.replies);
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

function toUri(req: SipRequest): string {
  try {
    return parseNameAddr(req.header('to') ?? '').uri;
  } catch {
    return '';
  }
}

function fromDisplay(req: SipRequest): string | null {
  try {
    return parseNameAddr(req.header('from') ?? '').displayName;
  } catch {
    return null;
  }
}

function fromUser(req: SipRequest): string {
  try {
    return userOf(parseNameAddr(req.header('from') ?? '').uri) ?? '';
  } catch {
    return '';
  }
}
