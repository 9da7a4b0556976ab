// Stateful proxy (RFC 3261 §16): validation, route preprocessing, parallel forking to a target set, response
// context with best-response selection, CANCEL, Timer C, in-dialog and stateless ACK forwarding, call records.
// Policy (who is called, what to do when nobody answers) stays in routing/; this is the mechanism.
import type { SipError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { SipRequest, SipResponse } from '../sip/message.ts';
import { replyResponse } from '../sip/response.ts';
import type { FailureCode, ReplyPolicy } from '../replies.ts';
import { parseVia, type Via } from '../sip/via.ts';
import type { CallUpdate, NewCall } from '../store/store.ts';
import type { ClientTransaction, TransactionLayer } from '../transaction/transaction-layer.ts';
import type { ServerTransaction } from '../transaction/server-transaction.ts';
import type { Clock, TimerHandle } from '../clock.ts';
import type { Target as Destination } from '../transport/transport.ts';
import { viaTarget } from '../transport/response-target.ts';
import { cancelFor } from '../transaction/request-from-invite.ts';
import { DialogTable, outcomeOf } from './call-outcome.ts';
import { copyForBranch } from './forward.ts';
import { BRANCH_PREFIX, hashLoopKey, loopKey, newLoopSalt, proxyBranch } from './loop-detection.ts';
import { bestResponseIndex, responseToForward, withoutTopVia } from './response-selection.ts';
import { preprocessRoute, uriOfNameAddr, type RoutePreprocessing } from './route.ts';
import type { ProxyTarget } from './target-set.ts';
import { destinationOfUri, resolveNextHop } from '../transaction/locate.ts';
import { checkRequest } from './validate.ts';
import type { RouteSigner } from './route-signature.ts';
import { hash } from 'node:crypto';

/** Where call attempts are recorded (the seed's user_call); a Store adapter: started → recordCall, update → updateCall. */
export interface CallRecorder {
  started(call: NewCall): Promise<number>;
  update(id: number, update: CallUpdate): Promise<void>;
}

export interface ProxyOptions {
  /** the transaction layer the proxy sends and answers through (its transport gives our Via sent-by) */
  transactions: TransactionLayer;
  /** the policy values of its own replies (replies.ts), from the profile as routing's */
  replies: ReplyPolicy;
  /** true when the URI names this proxy (any of our listeners or domains without a user part, our Record-Route) */
  isLocal(uri: string): boolean;
  /** our Record-Route URI on the side facing `peer` (where a request came from or goes to), without <> and with `;lr`; default from the transport's sent-by */
  recordRouteUri?(peer: Destination): string;
  /**
   * signs our Record-Route for its dialog and relays in dialog only requests whose Route carries that signature
   * (route-signature.ts); absent: any Route naming us is followed (tests of the mechanism alone)
   */
  routeSigner?: RouteSigner;
  /** RFC 3263 for a next-hop URI that is not a numeric address; default: numeric hosts only (null = unreachable → 503) */
  resolve?(uri: string): Destination | null;
  /** the time (call records, dialog expiry) and the timers (Timer C, per-relay timeouts); default the transaction layer's */
  clock?: Clock;
  callRecorder?: CallRecorder;
  log?: Logger;
  /** option-tags accepted in Proxy-Require (§16.3 item 5); default none */
  supported?: Iterable<string>;
  /** RFC 3261 §16.8: Timer C, "MUST be greater than 3 minutes"; default 181 000 ms */
  timerC?: number;
  /** answered calls remembered until their BYE (bounded map); default 100 000 dialogs, 12 h */
  maxDialogs?: number;
  dialogMaxAgeMs?: number;
}

/** Who is calling whom, for the call record of an initial INVITE (user ids, not URIs; a number for a trunk call). */
export interface CallInfo {
  userId: string;
  otherUserId: string;
  /** a call out through a trunk: the number dialled and the number as sent (after the route's rewriting) */
  dialled?: string;
  sentNumber?: string;
}

export interface RelayOptions {
  /**
   * Called when every branch failed with 408, 480 or 503 (timeouts and transport errors count as 408/503; `failsOver`
   * may widen the set), before the best response is sent. Returning a response sends it instead (e.g. 202 after
   * storing a MESSAGE offline); TAKEN means the callback answers the request itself on the server transaction (the
   * media server takes the call) and owns the call record (`callRecordId`) from then on.
   */
  onAllFailed?(finals: readonly SipResponse[], req: SipRequest, callRecordId: Promise<number | null> | null): AllFailedAnswer | Promise<AllFailedAnswer>;
  /** the final statuses that count as "failed" for onAllFailed (default 408, 480, 503; e.g. 486 too for voicemail on busy) */
  failsOver?: readonly number[];
  /** record this initial INVITE in user_call */
  call?: CallInfo;
  /** add our Record-Route (§16.6 step 4); default: true for INVITE, SUBSCRIBE, REFER without To tag */
  recordRoute?: boolean;
  /**
   * give up on branches still pending after this many ms, as if they answered 408 (non-INVITE: RFC 4320 spirit;
   * INVITE: no answer within the ring time, the branches CANCELled, §16.10 as for Timer C)
   */
  timeoutMs?: number;
  /**
   * Sequential search (RFC 3261 §16.5, §16.6): the targets are tried one at a time, in order; the next one only when
   * this accepts the final response of the last (trunk failover on 408/5xx), else that response is the answer
   */
  serial?(res: SipResponse): boolean;
  /** serial: a target that sends no response at all (not even 100) within this many ms counts as 408 and the next is tried */
  serialNoResponseMs?: number;
}

/** onAllFailed's answer: the response to send, null for the best of the finals, or TAKEN */
export type AllFailedAnswer = SipResponse | null | typeof TAKEN;
/** onAllFailed answers the request itself: the proxy sends nothing and leaves the call record alone */
export const TAKEN = Symbol('taken');
const DEFAULT_FAILS_OVER: readonly number[] = [408, 480, 503];

export interface ProxyCounters {
  relayed: number;
  branches: number;
  cancelsSent: number;
  timerC: number;
  statelessAcks: number;
  strayResponsesForwarded: number;
  strayResponsesDropped: number;
  recorderErrors: number;
}

type BranchState = 'pending' | 'done';

interface Branch {
  relay: Relay;
  target: ProxyTarget;
  request: SipRequest;
  /** target.acquire() said yes and release() is still owed */
  acquired: boolean;
  /** 401/407 answered on the target's behalf so far */
  authRounds: number;
  /** the CSeq the caller's side knows when this branch's copy carries another (a challenge answered for a trunk) */
  cseqFix: string | null;
  destination: Destination;
  ct: ClientTransaction | null;
  state: BranchState;
  provisional: boolean;
  /** CANCEL wanted but no provisional yet (§9.1: wait for one) */
  cancelWanted: boolean;
  cancelSent: boolean;
  /** Timer C, or after a CANCEL the guard that gives up on the branch */
  timer: TimerHandle | null;
  /** serial search: gives up on a target that has not answered at all */
  silence: TimerHandle | null;
}

interface Relay {
  req: SipRequest;
  st: ServerTransaction;
  invite: boolean;
  branches: Branch[];
  pending: number;
  finals: SipResponse[];
  /** a final response went upstream (the first 2xx, or the chosen one) */
  finalSent: boolean;
  answered: boolean;
  cancelledByCaller: boolean;
  opts: RelayOptions;
  recordId: Promise<number | null> | null;
  timeout: TimerHandle | null;
  /** branches are still being created: do not complete yet */
  starting: boolean;
  /** serial: the targets not tried yet */
  queue: ProxyTarget[];
  hash: string;
  /** our Record-Route towards the caller, or null */
  rrIn: string | null;
  proxy_: Proxy;
}

function fireTimerC(b: Branch): void {
  b.timer = null;
  b.relay.proxy_.timerC(b);
}
function fireCancelGuard(b: Branch): void {
  b.timer = null;
  b.ct?.terminate(); // an INVITE client transaction in Proceeding has no timer of its own
  b.relay.proxy_.branchFinal(b, b.relay.proxy_.reply(b.request, 'request-timeout', false), true);
}
function fireSilence(b: Branch): void {
  b.silence = null;
  if (b.state !== 'pending' || b.provisional) return;
  b.cancelWanted = true; // §9.1: CANCELled should it ring after all
  b.relay.proxy_.branchFinal(b, b.relay.proxy_.reply(b.request, 'request-timeout', false), true);
}
function fireRelayTimeout(r: Relay): void {
  r.timeout = null;
  for (const b of r.branches) if (b.state === 'pending') r.proxy_.giveUp(b);
}

const RECORD_ROUTE_METHODS = new Set(['INVITE', 'SUBSCRIBE', 'REFER']);
/** 401/407 answered on a target's behalf per branch (a challenge, then a stale=true one) */
const AUTH_ROUNDS = 2;

export class Proxy {
  readonly counters: ProxyCounters = {
    relayed: 0, branches: 0, cancelsSent: 0, timerC: 0, statelessAcks: 0,
    strayResponsesForwarded: 0, strayResponsesDropped: 0, recorderErrors: 0,
  };
  private readonly tl: TransactionLayer;
  private readonly isLocal: (uri: string) => boolean;
  private readonly rrUri: (peer: Destination) => string;
  private readonly resolveUri: (uri: string) => Destination | null;
  private readonly timers: Clock;
  private readonly recorder: CallRecorder | null;
  private readonly log: Logger | null;
  private readonly supported: ReadonlySet<string>;
  private readonly replies: ReplyPolicy;
  private readonly timerCMs: number;
  private readonly signer: RouteSigner | null;
  private readonly salt = newLoopSalt();
  /** each request's loopKey as received (validate), hashed when it is forwarded */
  private readonly loopKeys = new WeakMap<SipRequest, string>();
  /** response contexts by INVITE server transaction, for CANCEL (§16.10); each removes itself when complete */
  private readonly relays = new Map<ServerTransaction, Relay>();
  /** every relay not yet answered upstream (any method), so close() can stop their timers */
  private readonly live = new Set<Relay>();
  private closed = false;
  private readonly dialogs: DialogTable<DialogInfo>;

  constructor(opts: ProxyOptions) {
    this.tl = opts.transactions;
    this.isLocal = opts.isLocal;
    const transport = this.tl.transport;
    this.rrUri = opts.recordRouteUri ?? ((peer) => {
      const sb = transport.sentBy(peer);
      return `sip:${hostForUri(sb.host)}:${sb.port};transport=${sb.transport};lr`;
    });
    this.resolveUri = opts.resolve ?? destinationOfUri;
    this.timers = opts.clock ?? this.tl.clock;
    this.recorder = opts.callRecorder ?? null;
    this.log = opts.log ?? null;
    this.supported = new Set([...(opts.supported ?? [])].map((s) => s.toLowerCase()));
    this.replies = opts.replies;
    this.timerCMs = opts.timerC ?? 181_000;
    this.signer = opts.routeSigner ?? null;
    this.dialogs = new DialogTable<DialogInfo>(opts.maxDialogs, opts.dialogMaxAgeMs, (d) => d.release?.());
  }

  /**
   * @internal The proxy's own answer (RFC 3261 §16) from its row of the table (replies.ts), with a To tag; with
   * `upstream` false, one that stands in for a branch's response (§16.7, §16.9), without.
   */
  reply(req: SipRequest, code: FailureCode, upstream = true): SipResponse {
    return replyResponse(req, code, this.replies, {}, upstream ? undefined : null);
  }

  /** response contexts in progress */
  get activeRelays(): number {
    return this.relays.size;
  }

  /** answered calls waiting for their BYE */
  get trackedDialogs(): number {
    return this.dialogs.size;
  }

  // ------------------------------------------------------------------------------------ §16.3, §16.4

  /**
   * RFC 3261 §16.3: the failure to answer when the request must not be proxied (416, 400, 483, 482, 420), else null.
   * Call it on the request as received, before preprocessRoute (it takes the loop-detection fields).
   * A Max-Forwards 0 OPTIONS whose Request-URI isLocal passes: the caller answers it itself (§11).
   */
  validate(req: SipRequest): SipError | null {
    const key = loopKey(req, this.salt);
    this.loopKeys.set(req, key);
    return checkRequest(req, () => hashLoopKey(key), { supported: this.supported, isLocal: this.isLocal });
  }

  /**
   * RFC 3261 §16.4 in place: strict-router fix, then remove the top Route(s) naming us; tells whether it came through
   * us — with a signer, only when one of our removed URIs was signed for this request's dialog (no open relay by
   * a hand-made `Route: <sip:us;lr>`).
   */
  preprocessRoute(req: SipRequest): RoutePreprocessing {
    const r = preprocessRoute(req, this.isLocal);
    if (!r.routedByUs || this.signer === null) return r;
    const signer = this.signer;
    return (r.ours ?? []).some((u) => signer.verifies(u, req)) ? r : { ...r, routedByUs: false };
  }

  // --------------------------------------------------------------------------------- §16.5–§16.7

  /**
   * Forward `req` to every target in parallel (§16.5, §16.6) and answer through `st` (§16.7). Each target is reached
   * at its `destination`, else its first Route / URI, else its `fallback` (registrar/lookup.ts makes them of bindings).
   * An empty target set is answered 480 at once. Never throws for network reasons.
   */
  relay(req: SipRequest, st: ServerTransaction, targets: ReadonlyArray<ProxyTarget>, opts: RelayOptions = {}): void {
    this.counters.relayed++;
    const invite = req.method === 'INVITE';
    const relay: Relay = {
      req, st, invite, branches: [], pending: 0, finals: [], finalSent: false, answered: false, cancelledByCaller: false,
      opts, recordId: null, timeout: null, starting: true, queue: [], hash: '', rrIn: null, proxy_: this,
    };
    if (invite && opts.call !== undefined && this.recorder !== null) relay.recordId = this.recordStart(req, opts.call);
    if (targets.length === 0) {
      this.sendFinal(relay, this.reply(req, 'empty-target-set'));
      return;
    }
    const mf = req.header('max-forwards');
    if (mf !== undefined && parseInt(mf, 10) <= 0) {
      this.sendFinal(relay, this.reply(req, 'too-many-hops'));
      return;
    }
    relay.hash = hashLoopKey(this.loopKeys.get(req) ?? loopKey(req, this.salt));
    const rr = opts.recordRoute ?? (RECORD_ROUTE_METHODS.has(req.method) && !hasToTag(req));
    const from = st.source;
    relay.rrIn = rr ? `<${this.signed(this.rrUri({ transport: from.transport, address: from.address, port: from.port, listenerId: from.local.id }), req)}>` : null;
    if (invite) this.relays.set(st, relay);
    if (opts.serial !== undefined) {
      relay.queue = targets.slice(1);
      this.addBranch(relay, targets[0]);
    } else {
      for (const target of targets) this.addBranch(relay, target);
    }
    relay.starting = false;
    if (relay.pending === 0) {
      this.complete(relay);
      return;
    }
    if (opts.timeoutMs !== undefined && relay.pending > 0) relay.timeout = this.timers.set(fireRelayTimeout, opts.timeoutMs, relay);
    if (!relay.finalSent) this.live.add(relay);
  }

  /** §16.6: one branch to `target` (a destination that cannot be reached, or a target that is full, ends as a 503). */
  private addBranch(relay: Relay, target: ProxyTarget): void {
    const req = relay.req;
    const destination = resolveNextHop(target, this.resolveUri);
    relay.pending++;
    const branch: Branch = {
      relay, target, request: req, destination: destination ?? { transport: 'udp', address: '0.0.0.0', port: 0 }, ct: null,
      state: 'pending', provisional: false, cancelWanted: false, cancelSent: false, timer: null, silence: null,
      acquired: false, authRounds: 0, cseqFix: null,
    };
    relay.branches.push(branch);
    if (destination === null) {
      // §16.9: "If the transport layer notifies a proxy of an error when it tries to forward a request ... as if 503"
      this.branchFinal(branch, this.reply(req, 'branch-unreachable', false), true);
      return;
    }
    if (target.acquire !== undefined) {
      if (!target.acquire()) return this.branchFinal(branch, this.reply(req, 'branch-unreachable', false), true);
      branch.acquired = true;
    }
    // RFC 5658 §4: leaving over another transport, record-route twice: the top value for the callee's side, the next for the caller's
    const rrIn = relay.rrIn;
    const recordRoute = rrIn === null ? null : destination.transport === relay.st.source.transport ? rrIn : [`<${this.signed(this.rrUri(destination), req)}>`, rrIn];
    branch.request = copyForBranch(req, { uri: target.uri, path: target.path, recordRoute });
    target.prepare?.(branch.request);
    const cseq = req.header('cseq');
    if (cseq !== undefined && branch.request.header('cseq') !== cseq) branch.cseqFix = cseq;
    this.startBranch(branch, proxyBranch(relay.hash));
  }

  private signed(uri: string, req: SipRequest): string {
    return this.signer === null ? uri : this.signer.signUri(uri, req);
  }

  /** Stop every timer of the relays still open (server shutdown); they get no further answers. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    for (const relay of this.live) {
      if (relay.timeout !== null) this.timers.clear(relay.timeout);
      relay.timeout = null;
      for (const b of relay.branches) {
        if (b.timer !== null) this.timers.clear(b.timer);
        if (b.silence !== null) this.timers.clear(b.silence);
        b.timer = null;
        b.silence = null;
        this.releaseBranch(b);
      }
    }
    this.live.clear();
    this.relays.clear();
  }

  /** §16.6 steps 8–11: the transaction layer adds our Via with `viaBranch` and sends the copy. */
  private startBranch(b: Branch, viaBranch: string): void {
    this.counters.branches++;
    const handlers = {
      onProvisional: (res: SipResponse) => this.branchProvisional(b, res),
      onFinal: (res: SipResponse) => this.branchFinal(b, res, false),
      onTimeout: (res: SipResponse) => this.branchFinal(b, res, true),
      onTransportError: () => this.branchFinal(b, this.reply(b.request, 'branch-unreachable', false), true),
    };
    try {
      b.ct = this.tl.request(b.request, b.destination, handlers, viaBranch);
    } catch (err) {
      this.log?.warn({ err, callId: b.request.callId }, 'proxy: cannot create client transaction');
      this.branchFinal(b, this.reply(b.request, 'branch-unreachable', false), true);
      return;
    }
    // §16.6 step 11: "If the request is an INVITE, the proxy MUST start timer C"
    if (b.relay.invite && b.state === 'pending') b.timer = this.timers.set(fireTimerC, this.timerCMs, b);
    const silenceMs = b.relay.opts.serialNoResponseMs;
    if (silenceMs !== undefined && b.relay.queue.length > 0 && b.state === 'pending') b.silence = this.timers.set(fireSilence, silenceMs, b);
  }

  /** §16.7 steps 3–5 for a 1xx: 100 is absorbed, others forwarded at once; Timer C restarts. */
  private branchProvisional(b: Branch, res: SipResponse): void {
    if (b.state !== 'pending') {
      // a branch we gave up on (cancel-on-timeout) that only now rings: CANCEL it (§9.1 waited for this)
      if (b.cancelWanted && !b.cancelSent && b.relay.invite) {
        b.provisional = true;
        this.sendCancel(b);
      }
      return;
    }
    const relay = b.relay;
    b.provisional = true;
    if (b.cancelWanted && !b.cancelSent) {
      this.sendCancel(b);
      return;
    }
    // §16.8: "If a provisional response is received while Timer C is running, it MUST be reset"
    if (relay.invite && !b.cancelSent && b.timer !== null) {
      this.timers.clear(b.timer);
      b.timer = this.timers.set(fireTimerC, this.timerCMs, b);
    }
    // §16.7 step 5: "Any provisional response other than 100 (Trying) MUST be forwarded immediately"
    if (res.status === 100 || relay.finalSent) return;
    relay.st.respond(withoutTopVia(upstreamCSeq(b, res)));
  }

  /** The target's slot is given back (once). */
  private releaseBranch(b: Branch): void {
    if (!b.acquired) return;
    b.acquired = false;
    try {
      b.target.release?.();
    } catch (err) {
      this.log?.error({ err }, 'proxy: target release threw');
    }
  }

  /**
   * RFC 3261 §22.2 done for the target (Kamailio's uac_auth()): its 401/407 is not forwarded; the request goes again
   * on a new branch with the credentials and CSeq + 1 (the client transaction already ACKed the challenge, §17.1.1.3).
   * The caller's side keeps its CSeq: responses are given it back, and the dialog remembers the difference.
   */
  private retryWithCredentials(b: Branch, res: SipResponse): boolean {
    const relay = b.relay;
    if (b.target.authorize === undefined || b.authRounds >= AUTH_ROUNDS || relay.cancelledByCaller || relay.finalSent) return false;
    const retry = new SipRequest(b.request.method, b.request.uri, b.request.headers.slice(), b.request.body);
    retry.version = b.request.version;
    retry.removeFirstValue('via'); // the transaction layer's Via of the challenged branch; the new branch gets its own
    let ok = false;
    try {
      ok = b.target.authorize(retry, res);
    } catch (err) {
      this.log?.error({ err, callId: retry.callId }, 'proxy: target authorize threw');
    }
    if (!ok) return false;
    b.state = 'done';
    if (b.timer !== null) this.timers.clear(b.timer);
    if (b.silence !== null) this.timers.clear(b.silence);
    b.timer = null;
    b.silence = null;
    const next: Branch = {
      ...b, request: retry, ct: null, state: 'pending', provisional: false, cancelWanted: false, cancelSent: false,
      timer: null, silence: null, authRounds: b.authRounds + 1, cseqFix: b.cseqFix ?? relay.req.header('cseq') ?? null,
    };
    b.acquired = false; // the slot goes with the new branch
    relay.branches.push(next);
    this.startBranch(next, proxyBranch(relay.hash));
    return true;
  }

  /** @internal A final response (or a locally made 408/503) on one branch: §16.7 steps 4–10. */
  branchFinal(b: Branch, response: SipResponse, local: boolean): void {
    const relay = b.relay;
    const res = local ? response : upstreamCSeq(b, response);
    const status = res.status;
    if (!local && b.state === 'pending' && (status === 401 || status === 407) && this.retryWithCredentials(b, response)) return;
    if (b.state === 'done') {
      // §16.7 step 5: "any 2xx response to an INVITE ... MUST be forwarded immediately", even after the first
      if (!local && relay.invite && status >= 200 && status < 300) this.forwardSuccess(relay, b, res);
      return;
    }
    b.state = 'done';
    relay.pending--;
    if (b.timer !== null) {
      this.timers.clear(b.timer);
      b.timer = null;
    }
    if (b.silence !== null) {
      this.timers.clear(b.silence);
      b.silence = null;
    }
    if (status >= 200 && status < 300) {
      if (!relay.invite) this.releaseBranch(b);
      this.forwardSuccess(relay, b, res);
      // §16.7 step 10: after a 2xx to an INVITE the proxy SHOULD cancel all other pending client transactions
      if (relay.invite) this.cancelPending(relay);
      else this.giveUpPending(relay); // non-INVITE: the first 2xx ends the context; later finals are dropped
    } else {
      this.releaseBranch(b);
      relay.finals.push(res);
      // §16.7 step 10 / §16.10: "if a 6xx is received, the proxy MUST cancel all client pending transactions"
      if (status >= 600 && relay.invite) this.cancelPending(relay);
      else if (relay.queue.length > 0) {
        // sequential search: the next target when the policy says this answer may fail over
        if (!relay.cancelledByCaller && !relay.finalSent && relay.opts.serial?.(res) === true) {
          const next = relay.queue.shift() as ProxyTarget;
          this.log?.info({ callId: relay.req.callId, from: b.target.label, to: next.label, status }, 'proxy: failover to the next target');
          this.addBranch(relay, next);
        } else relay.queue = [];
      }
    }
    if (relay.pending === 0 && !relay.starting) this.complete(relay);
  }

  private forwardSuccess(relay: Relay, b: Branch, res: SipResponse): void {
    const first = !relay.answered;
    relay.answered = true;
    relay.finalSent = true;
    // §16.7 step 5: a 2xx to an INVITE is always forwarded. When the server transaction can no longer carry it (the
    // caller CANCELled and got its 487 first), it goes statelessly by the Via, and the caller ACKs and BYEs it (§9.1).
    if (!relay.st.respond(withoutTopVia(res)) && relay.invite) this.forwardStrayResponse(res);
    if (!relay.invite) return;
    const now = this.timers.now();
    if (first && relay.recordId !== null) {
      const recordId = relay.recordId;
      this.recordUpdate(recordId, { outcome: 'answered', status: res.status, answeredAt: now, ...(b.target.label === undefined ? {} : { trunk: b.target.label }) });
    }
    // remember the dialog: BYE closes the call record; in-dialog requests reach each party over its flow
    const callerTag = relay.req.fromTag;
    const calleeTag = res.toTag;
    const key = calleeTag !== null && !hasToTag(relay.req) && callerTag !== null ? DialogTable.key(relay.req.callId, callerTag, calleeTag) : null;
    if (key !== null && callerTag !== null && !this.dialogs.has(key, now)) {
      const delta = b.request.cseq().seq - relay.req.cseq().seq;
      const release = b.acquired ? b.target.release?.bind(b.target) : undefined;
      b.acquired = false; // released at the dialog's BYE or expiry
      this.dialogs.add(key, {
        recordId: first ? relay.recordId : null, callerTag, caller: relay.st.target, callee: b.destination,
        cseqDelta: delta, release, label: b.target.label, authorize: b.target.authorize?.bind(b.target),
      }, now);
    } else this.releaseBranch(b);
  }

  /**
   * @internal The relay's timeoutMs passed with `b` pending: it counts as 408 now. An INVITE branch is CANCELled: at
   * once when it rang, else when it rings (§9.1: no CANCEL before a provisional).
   */
  giveUp(b: Branch): void {
    if (b.state !== 'pending') return;
    if (b.relay.invite) {
      if (b.provisional) this.sendCancel(b);
      else b.cancelWanted = true;
    }
    this.branchFinal(b, this.reply(b.request, 'request-timeout', false), true);
  }

  /** @internal Timer C fired (§16.8): a ringing branch is CANCELled; one that never answered counts as 408. */
  timerC(b: Branch): void {
    if (b.state !== 'pending') return;
    this.counters.timerC++;
    if (b.provisional) this.sendCancel(b);
    else this.branchFinal(b, this.reply(b.request, 'request-timeout', false), true);
  }

  /** §16.10 / §9.1: CANCEL every pending INVITE branch; one with no provisional yet gets it when a 1xx arrives. */
  private cancelPending(relay: Relay): void {
    for (const b of relay.branches) {
      if (b.state !== 'pending' || b.cancelSent) continue;
      if (b.provisional) this.sendCancel(b);
      else b.cancelWanted = true;
    }
  }

  /** Non-INVITE: stop waiting for the other branches (their transactions finish on their own). */
  private giveUpPending(relay: Relay): void {
    for (const b of relay.branches) {
      if (b.state !== 'pending') continue;
      b.state = 'done';
      relay.pending--;
      this.releaseBranch(b);
    }
  }

  private sendCancel(b: Branch): void {
    b.cancelWanted = true;
    if (b.cancelSent) return;
    b.cancelSent = true;
    this.counters.cancelsSent++;
    try {
      this.tl.sendRequest(cancelFor(b.request), b.destination, {});
    } catch (err) {
      this.log?.warn({ err, callId: b.request.callId }, 'proxy: cannot send CANCEL');
    }
    if (b.state === 'pending') {
      // the callee owes a 487; if it never comes the branch ends as a timeout (64*T1, like Timer B)
      if (b.timer !== null) this.timers.clear(b.timer);
      b.timer = this.timers.set(fireCancelGuard, 64 * this.tl.values.t1, b);
    }
  }

  /** Every branch is done: §16.7 step 6 when no 2xx went upstream. */
  private complete(relay: Relay): void {
    if (relay.timeout !== null) {
      this.timers.clear(relay.timeout);
      relay.timeout = null;
    }
    if (relay.finalSent) {
      this.relays.delete(relay.st);
      this.live.delete(relay);
      return;
    }
    const finals = relay.finals;
    const onAllFailed = relay.opts.onAllFailed;
    const failed = relay.opts.failsOver ?? DEFAULT_FAILS_OVER;
    if (onAllFailed !== undefined && !relay.cancelledByCaller && finals.every((r) => failed.includes(r.status))) {
      let alt: AllFailedAnswer | Promise<AllFailedAnswer>;
      try {
        alt = onAllFailed(finals, relay.req, relay.recordId);
      } catch (err) {
        this.log?.error({ err }, 'proxy: onAllFailed threw');
        alt = null;
      }
      if (alt instanceof Promise) {
        alt.then(
          (r) => this.sendChosen(relay, r),
          (err: unknown) => {
            this.log?.error({ err }, 'proxy: onAllFailed rejected');
            this.sendChosen(relay, null);
          },
        );
        return;
      }
      this.sendChosen(relay, alt);
      return;
    }
    this.sendChosen(relay, null);
  }

  private sendChosen(relay: Relay, alt: AllFailedAnswer): void {
    if (relay.finalSent) return;
    if (alt === TAKEN) {
      relay.finalSent = true;
      this.relays.delete(relay.st);
      this.live.delete(relay);
      return;
    }
    let res: SipResponse;
    if (alt !== null) res = alt;
    else if (relay.cancelledByCaller) res = this.reply(relay.req, 'request-terminated');
    else {
      const i = bestResponseIndex(relay.finals);
      // §16.7 step 6: "If there are no final responses in the context, the proxy MUST send a 408"
      res = i < 0 ? this.reply(relay.req, 'request-timeout') : responseToForward(relay.finals, i);
    }
    this.sendFinal(relay, res);
  }

  private sendFinal(relay: Relay, res: SipResponse): void {
    relay.finalSent = true;
    this.relays.delete(relay.st);
    this.live.delete(relay);
    if (this.closed) return;
    relay.st.respond(res);
    if (relay.recordId !== null && !relay.answered) {
      const label = relay.branches.at(-1)?.target.label;
      this.recordUpdate(relay.recordId, { outcome: outcomeOf(res.status, relay.cancelledByCaller), status: res.status, ...(label === undefined ? {} : { trunk: label }) });
    }
  }

  // ------------------------------------------------------------------------------------------ §16.10

  /**
   * RFC 3261 §16.10: a CANCEL received through its own server transaction `st`. With a matching INVITE response
   * context: 200 to the CANCEL, CANCEL every pending branch, and 487 to the caller once the branches are done.
   * An INVITE already answered: 200 with no effect (§9.2). No INVITE transaction: 481. True when branches were cancelled.
   */
  cancel(cancelReq: SipRequest, st: ServerTransaction): boolean {
    const inviteSt = this.tl.findInviteForCancel(cancelReq);
    if (inviteSt === undefined) {
      // §16.10: no matching transaction: a stateful proxy answers 481 (it does not forward it statelessly)
      st.respond(this.reply(cancelReq, 'no-such-transaction'));
      return false;
    }
    const relay = this.relays.get(inviteSt);
    if (relay === undefined || relay.finalSent) {
      // §9.2: the INVITE already has its final response (or we answered it ourselves): 200, and the CANCEL has no effect
      st.respond(this.reply(cancelReq, 'cancel-accepted'));
      return false;
    }
    // §16.10: "the element MUST immediately return a 200 (OK) response to the CANCEL request"
    st.respond(this.reply(cancelReq, 'cancel-accepted'));
    relay.cancelledByCaller = true;
    for (const b of relay.branches) {
      if (b.state !== 'pending') continue;
      if (b.provisional) this.sendCancel(b);
      else {
        // §9.1: no CANCEL before a provisional; give the branch up now (as Kamailio's cancel_b_method 1) and CANCEL it if it rings later
        b.cancelWanted = true;
        this.branchFinal(b, this.reply(b.request, 'request-terminated'), true);
      }
    }
    return true;
  }

  // ------------------------------------------------------------------------------------ in dialog

  /**
   * Forward a request inside a dialog (ACK for a 2xx, BYE, re-INVITE, INFO, UPDATE, NOTIFY …) to its next hop: the
   * top Route (after preprocessRoute), else the other party's flow when the dialog is known, else the Request-URI.
   * With `st` null (an ACK for a 2xx, §16.11-style) the copy is sent statelessly; otherwise through a transaction
   * and answered through `st`. A BYE closes the call record of its dialog.
   */
  relayInDialog(req: SipRequest, st: ServerTransaction | null): void {
    const dialog = this.findDialog(req, req.method === 'BYE');
    let destination: Destination | null = null;
    const route = req.header('route');
    if (route !== undefined) destination = this.resolveUri(uriOfNameAddr(route.indexOf(',') < 0 ? route : req.headerValues('route')[0]));
    else if (dialog !== undefined) destination = dialog.toCallee ? dialog.info.callee : dialog.info.caller;
    else destination = this.resolveUri(req.uri);
    if (req.method === 'BYE' && dialog !== undefined) {
      dialog.info.release?.();
      dialog.info.release = undefined;
      if (dialog.info.recordId !== null) {
        const now = this.timers.now();
        this.recordUpdate(dialog.info.recordId, { endedAt: now, durationMs: now - dialog.answeredAt });
      }
    }
    // a challenge answered for the callee's side moved its CSeq on: requests from the caller follow (RFC 3261 §12.2.1.1)
    const delta = dialog !== undefined && dialog.toCallee ? dialog.info.cseqDelta : 0;
    if (st === null) {
      if (destination === null) return;
      const mf = req.header('max-forwards');
      if (mf !== undefined && parseInt(mf, 10) <= 0) return;
      // §16.11: a stateless copy's branch is a function of the request, so retransmissions get the same branch
      this.counters.statelessAcks++;
      const copy = copyForBranch(req, { uri: req.uri, recordRoute: null });
      if (delta !== 0) shiftCSeq(copy, delta);
      this.tl.sendStateless(copy, destination, this.statelessBranch(req));
      return;
    }
    const target: ProxyTarget = { uri: req.uri };
    if (destination !== null) target.destination = destination;
    if (delta !== 0) target.prepare = (copy) => shiftCSeq(copy, delta);
    const info = dialog?.info;
    if (info !== undefined && dialog?.toCallee === true && info.authorize !== undefined) {
      const authorize = info.authorize;
      // RFC 3261 §22.2 for a BYE or re-INVITE the carrier challenges; the caller's later requests move on one more
      target.authorize = (retry, challenge) => {
        const ok = authorize(retry, challenge);
        if (ok) info.cseqDelta++;
        return ok;
      };
    }
    this.relay(req, st, [target], { recordRoute: false });
  }

  private statelessBranch(req: SipRequest): string {
    const top = req.header('via') ?? '';
    const h = hash('sha1', this.salt + top + req.method, 'base64url').slice(0, 20);
    return `${BRANCH_PREFIX}s${h}`;
  }

  private findDialog(req: SipRequest, remove: boolean): { info: DialogInfo; toCallee: boolean; answeredAt: number } | undefined {
    const fromTag = req.fromTag;
    const toTag = req.toTag;
    if (fromTag === null || toTag === null) return undefined;
    const key = DialogTable.key(req.callId, fromTag, toTag);
    const now = this.timers.now();
    const d = remove ? this.dialogs.take(key, now) : this.dialogs.get(key, now);
    if (d === undefined) return undefined;
    return { info: d.value, toCallee: fromTag === d.value.callerTag, answeredAt: d.answeredAt };
  }

  // ---------------------------------------------------------------------------------------- §16.11

  /**
   * A response that matched no client transaction (2xx retransmissions after the INVITE client transaction ended,
   * RFC 3261 §16.7 / §18.1.2): when its top Via is ours, remove it and send it to the next Via (received/rport).
   */
  forwardStrayResponse(res: SipResponse): void {
    const vias = res.headerValues('via');
    if (vias.length < 2 || !isOurVia(res)) {
      this.counters.strayResponsesDropped++;
      return;
    }
    const next = readVia(vias[1]);
    const target = next === null ? null : viaTarget(next);
    if (target === null) {
      this.counters.strayResponsesDropped++;
      return;
    }
    this.counters.strayResponsesForwarded++;
    this.tl.transport.send(withoutTopVia(res), target);
  }

  // ------------------------------------------------------------------------------------ call records

  private recordStart(req: SipRequest, call: CallInfo): Promise<number | null> {
    const rec = this.recorder as CallRecorder;
    return rec.started({
      userId: call.userId, otherUserId: call.otherUserId, callDate: this.timers.now(), callId: req.callId, outcome: 'pending',
      ...(call.dialled === undefined ? {} : { dialledNumber: call.dialled, sentNumber: call.sentNumber ?? null }),
    })
      .then((id) => id, (err: unknown) => {
        this.counters.recorderErrors++;
        this.log?.error({ err, callId: req.callId }, 'proxy: call record not written');
        return null;
      });
  }

  private recordUpdate(recordId: Promise<number | null>, update: CallUpdate): void {
    const rec = this.recorder;
    if (rec === null) return;
    recordId.then((id) => (id === null ? undefined : rec.update(id, update))).catch((err: unknown) => {
      this.counters.recorderErrors++;
      this.log?.error({ err }, 'proxy: call record not updated');
    });
  }
}

interface DialogInfo {
  recordId: Promise<number | null> | null;
  callerTag: string;
  caller: Destination;
  callee: Destination;
  /** the callee's side saw CSeq numbers this much higher than the caller sent (challenges answered for a trunk) */
  cseqDelta: number;
  /** gives the target's slot back at BYE (a trunk's call count) */
  release: (() => void) | undefined;
  label: string | undefined;
  /** the callee side's target answers its challenges to in-dialog requests too (a trunk's credentials) */
  authorize: ProxyTarget['authorize'];
}

/** `res` as the caller's side must see it: with the CSeq of the request it sent when the branch's copy had another. */
function upstreamCSeq(b: Branch, res: SipResponse): SipResponse {
  if (b.cseqFix === null) return res;
  const out = new SipResponse(res.status, res.reason, res.headers.slice(), res.body);
  out.version = res.version;
  out.setHeader('CSeq', b.cseqFix);
  return out;
}

function shiftCSeq(req: SipRequest, delta: number): void {
  const c = req.cseq();
  req.setHeader('CSeq', `${c.seq + delta} ${c.method}`);
}

/** A response made by the proxy itself carries a To tag (RFC 3261 §8.2.6.2), except 100. */
function hasToTag(req: SipRequest): boolean {
  return req.toTag !== null;
}

/** The top Via carries a branch we generated (§16.7 step 9: ours is the one to remove). */
function isOurVia(res: SipResponse): boolean {
  try {
    return res.topVia().branch?.startsWith(BRANCH_PREFIX) === true;
  } catch {
    return false;
  }
}

function readVia(text: string): Via | null {
  try {
    return parseVia(text);
  } catch {
    return null;
  }
}

function hostForUri(host: string): string {
  return host.indexOf(':') >= 0 && !host.startsWith('[') ? `[${host}]` : host;
}
