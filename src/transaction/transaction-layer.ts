// The transaction layer (RFC 3261 §17): owns the client and server transaction tables, matches every
// message from the transport to its transaction, and hands the rest to the transaction user (TU).

import { TvphoneError } from '../errors.ts';
import { detached } from '../sip/chars.ts';
import { newBranch } from '../sip/ids.ts';
import type { SipMessage, SipRequest, SipResponse } from '../sip/message.ts';
import { parseMessage } from '../sip/parser.ts';
import { createResponse } from '../sip/response.ts';
import { formatVia, type Via } from '../sip/via.ts';
import { responseTarget } from '../transport/response-target.ts';
import type { Source, Target, Transport } from '../transport/transport.ts';
import type { ClientTransactionHandlers } from './client-transaction.ts';
import { sixtyFourT1, type TransactionContext } from './context.ts';
import { InviteClientTransaction } from './invite-client-transaction.ts';
import { InviteServerTransaction } from './invite-server-transaction.ts';
import { clientKey, serverKey } from './matching.ts';
import { NonInviteClientTransaction } from './non-invite-client-transaction.ts';
import { NonInviteServerTransaction } from './non-invite-server-transaction.ts';
import type { ServerTransaction } from './server-transaction.ts';
import { systemClock, type Clock } from '../clock.ts';
import { DEFAULT_TIMER_VALUES, type TimerValues } from './timers.ts';
import { EndQueue } from './end-queue.ts';
import { packAnswer, unpackAnswer } from './answer.ts';

export type ClientTransaction = InviteClientTransaction | NonInviteClientTransaction;
export type AnyServerTransaction = InviteServerTransaction | NonInviteServerTransaction;

/** The transaction user: the proxy, registrar or user agent core above. */
export interface TransactionUser {
  /** A request that matches no transaction (not an ACK): a server transaction was created for it; answer via `st.respond()`. */
  onRequest(req: SipRequest, st: ServerTransaction): void;
  /** An ACK that matches no transaction (the ACK for a 2xx, RFC 3261 §17.2.3 / §13.3.1.4), or one received in Accepted (RFC 6026). */
  onAck?(ack: SipRequest, source: Source): void;
  /** A response that matches no client transaction (RFC 3261 §17.1.3: e.g. 2xx retransmissions; a proxy forwards them, §16.7). */
  onStrayResponse?(res: SipResponse, source: Source): void;
}

export interface TransactionLayerOptions {
  /** T1, T2, T4 in ms (RFC 3261 §17.1.1.1); defaults 500 / 4000 / 5000 */
  timerValues?: Partial<TimerValues>;
  /** the one clock (src/clock.ts); FakeClock in tests */
  clock?: Clock;
  /** the former name of `clock`, still passed by dialog/ */
  timers?: Clock;
  /** most live transactions per table (client, server); beyond it new requests get 503 and sendRequest throws. Default 500 000. */
  maxTransactions?: number;
  /** RFC 3261 §17.2.1: 100 Trying after this many ms of TU silence on an INVITE; default 200 */
  tryingDelay?: number;
  /** a TU callback threw or a message could not be matched; default: ignore */
  onError?: (err: unknown) => void;
}

export interface TransactionCounters {
  serverTransactions: number;
  clientTransactions: number;
  strayResponses: number;
  strayAcks: number;
  /** requests answered 503 because the server table was full */
  rejectedFull: number;
  /** messages dropped because their Via or CSeq could not be read */
  unmatchable: number;
}

export class TransactionLayer implements TransactionContext {
  readonly transport: Transport;
  readonly clock: Clock;
  readonly values: TimerValues;
  readonly tryingDelay: number;
  readonly counters: TransactionCounters = {
    serverTransactions: 0, clientTransactions: 0, strayResponses: 0, strayAcks: 0, rejectedFull: 0, unmatchable: 0,
  };
  private tu: TransactionUser;
  /**
   * a string: a completed non-INVITE server transaction over UDP that only answers retransmissions until Timer J
   * (answered(): its target and final response's bytes, nothing else)
   */
  private readonly server = new Map<string, AnyServerTransaction | string>();
  private readonly client = new Map<string, ClientTransaction>();
  private readonly max: number;
  /** the end timers (D, I, J, K, L, M), a queue for each duration */
  private readonly endQueues = new Map<number, EndQueue>();
  /** Timer J (64*T1) of the answers kept in `server`: their keys */
  private readonly answers: EndQueue<string>;
  private readonly onError: (err: unknown) => void;
  private closed = false;
  /** the branch of the top Via stampVia() added to a request, so that a resend of the same request replaces it */
  private readonly stamped = new WeakMap<SipRequest, string>();

  constructor(transport: Transport, tu: TransactionUser, options: TransactionLayerOptions = {}) {
    this.transport = transport;
    this.tu = tu;
    this.clock = options.clock ?? options.timers ?? systemClock;
    this.values = { ...DEFAULT_TIMER_VALUES, ...options.timerValues };
    this.tryingDelay = options.tryingDelay ?? 200;
    this.max = options.maxTransactions ?? 500_000;
    this.onError = options.onError ?? (() => {});
    this.answers = new EndQueue<string>(this.clock, sixtyFourT1(this), (err) => this.fault(err), (k) => this.server.delete(k));
    transport.onMessage((msg, source) => this.receive(msg, source));
  }

  /** live server transactions */
  get serverCount(): number {
    return this.server.size;
  }

  /** live client transactions */
  get clientCount(): number {
    return this.client.size;
  }

  /**
   * Add our top Via (stampVia) and send `req` through a new client transaction: what a UAC (RFC 3261 §8.1.1.7) and a
   * proxy forwarding a request (§16.6 step 8: `branch` carries its loop hash) do. A CANCEL keeps the top Via it was
   * built with, the INVITE's (§9.1). Throws as sendRequest().
   */
  request(req: SipRequest, target: Target, handlers: ClientTransactionHandlers = {}, branch: string = newBranch()): ClientTransaction {
    if (req.method !== 'CANCEL') this.stampVia(req, target, branch);
    return this.sendRequest(req, target, handlers);
  }

  /** Add our top Via (stampVia) and send `req` with no transaction: an ACK for a 2xx (§13.2.2.4), a stateless forward (§16.11). */
  sendStateless(req: SipRequest, target: Target, branch: string = newBranch()): void {
    this.stampVia(req, target, branch);
    this.transport.send(req, target);
  }

  /**
   * RFC 3261 §8.1.1.7, §16.6 step 8, §18.1.1: our top Via: the transport's sent-by towards `target`, `branch`, and
   * `rport` (RFC 3581 §3). The branch belongs to the transaction, so a resend of the same request (with credentials,
   * §22.2) replaces the Via added for the first send.
   */
  private stampVia(req: SipRequest, target: Target, branch: string): void {
    const sb = this.transport.sentBy(target);
    const host = sb.host.indexOf(':') >= 0 && !sb.host.startsWith('[') ? `[${sb.host}]` : sb.host;
    const via = formatVia({
      transport: sb.transport.toUpperCase(), host, port: sb.port, branch, received: null, rport: true, maddr: null, ttl: null, params: new Map(),
    });
    const previous = this.stamped.get(req);
    if (previous !== undefined && topBranch(req) === previous) req.removeFirstValue('via');
    req.prependHeader('Via', via);
    this.stamped.set(req, branch);
  }

  /**
   * Send a request that already carries the top Via of its transaction (a CANCEL has the INVITE's, §9.1) through a
   * new client transaction (INVITE → §17.1.1, others → §17.1.2). ACK is not sent through transactions: use
   * sendStateless. Throws TvphoneError ERR_TRANSACTION_LIMIT when the client table is full, ERR_TRANSACTION_EXISTS on
   * a reused branch.
   */
  sendRequest(req: SipRequest, target: Target, handlers: ClientTransactionHandlers = {}): ClientTransaction {
    if (req.method === 'ACK') throw new TvphoneError('ERR_ACK_NOT_TRANSACTIONAL', 'an ACK is sent with sendStateless, not in a transaction');
    const branch = req.topVia().branch;
    if (branch === null) throw new TvphoneError('ERR_NO_BRANCH', 'the request to send has no Via branch');
    if (this.client.size >= this.max) throw new TvphoneError('ERR_TRANSACTION_LIMIT', `client transaction table full (${this.max})`);
    const key = clientKey(branch, req.method);
    if (this.client.has(key)) throw new TvphoneError('ERR_TRANSACTION_EXISTS', `a client transaction with branch ${branch} exists`);
    const ct = req.method === 'INVITE'
      ? new InviteClientTransaction(this, key, req, target, handlers)
      : new NonInviteClientTransaction(this, key, req, target, handlers);
    this.client.set(key, ct);
    this.counters.clientTransactions++;
    ct.start();
    return ct;
  }

  /** RFC 3261 §9.2: the INVITE server transaction a CANCEL refers to (same matching as §17.2.3, method INVITE). */
  findInviteForCancel(cancel: SipRequest): InviteServerTransaction | undefined {
    let via: Via;
    try {
      via = cancel.topVia();
    } catch {
      return undefined;
    }
    const st = this.server.get(serverKey(cancel, via, 'INVITE'));
    return st instanceof InviteServerTransaction ? st : undefined;
  }

  /** Entry point for every message the transport delivers (public so tests can feed it directly). */
  receive(msg: SipMessage, source: Source): void {
    if (this.closed) return;
    let via: Via;
    try {
      via = msg.topVia();
    } catch (err) {
      this.counters.unmatchable++;
      this.onError(err);
      return;
    }
    if (msg.isRequest()) this.receiveRequest(msg, via, source);
    else this.receiveResponse(msg as SipResponse, via, source);
  }

  private receiveRequest(req: SipRequest, via: Via, source: Source): void {
    const key = serverKey(req, via);
    const st = this.server.get(key);
    if (st !== undefined) {
      // RFC 3261 §17.2.3: a retransmission or the ACK of a non-2xx goes to its server transaction;
      // §17.2.2: in Completed, a retransmission gets the final response again
      if (typeof st === 'string') this.resend(st);
      else st.receiveRequest(req, source);
      return;
    }
    if (req.method === 'ACK') {
      // RFC 3261 §17.2.3: an ACK that matches no transaction (the ACK for a 2xx) goes to the TU.
      this.counters.strayAcks++;
      this.passAck(req, source);
      return;
    }
    const target = responseTarget(via, source);
    if (this.server.size >= this.max) {
      this.counters.rejectedFull++;
      const res = createResponse(req, 503);
      res.addHeader('Retry-After', '5');
      this.transport.send(res, target);
      return;
    }
    // the key outlives the request: a copy, or its branch (a view of the message text) would keep the text alive
    const owned = detached(key);
    const created = req.method === 'INVITE'
      ? new InviteServerTransaction(this, owned, req, source, target)
      : new NonInviteServerTransaction(this, owned, req, source, target);
    this.server.set(owned, created);
    this.counters.serverTransactions++;
    try {
      this.tu.onRequest(req, created);
    } catch (err) {
      this.fault(err);
    }
  }

  private receiveResponse(res: SipResponse, via: Via, source: Source): void {
    // RFC 3261 §17.1.3: match by top Via branch and CSeq method.
    const ct = via.branch === null ? undefined : this.client.get(clientKey(via.branch, cseqMethodOf(res)));
    if (ct !== undefined) {
      ct.receiveResponse(res);
      return;
    }
    this.counters.strayResponses++;
    if (this.tu.onStrayResponse === undefined) return;
    try {
      this.tu.onStrayResponse(res, source);
    } catch (err) {
      this.fault(err);
    }
  }

  // ---- TransactionContext

  endQueue(ms: number): EndQueue {
    let q = this.endQueues.get(ms);
    if (q === undefined) {
      // the durations come from the layer's fixed timer values (64*T1, T4, 32 s): a handful of queues, never more
      q = new EndQueue(this.clock, ms, (err) => this.fault(err));
      this.endQueues.set(ms, q);
    }
    return q;
  }

  terminated(t: { readonly key: string; readonly isClient: boolean }): void {
    const table: Map<string, unknown> = t.isClient ? this.client : this.server;
    if (table.get(t.key) === t) table.delete(t.key);
  }

  answered(key: string, target: Target, bytes: Uint8Array): { answer: string; ticket: number } {
    const answer = packAnswer(target, bytes);
    this.server.set(key, answer);
    return { answer, ticket: this.answers.add(key) };
  }

  forgetAnswer(key: string, answer: string, ticket: number): void {
    if (this.server.get(key) !== answer) return;
    this.server.delete(key);
    this.answers.cancel(ticket);
  }

  /** RFC 3261 §17.2.2: the final response of a completed transaction, sent again (from its bytes: parsed, sent as it was). */
  private resend(answer: string): void {
    const { target, at } = unpackAnswer(answer);
    let res: SipMessage;
    try {
      res = parseMessage(Buffer.from(answer.slice(at), 'latin1'));
    } catch (err) {
      this.fault(err); // our own bytes: never
      return;
    }
    this.transport.send(res, target);
  }

  passAck(ack: SipRequest, source: Source): void {
    if (this.tu.onAck === undefined) return;
    try {
      this.tu.onAck(ack, source);
    } catch (err) {
      this.fault(err);
    }
  }

  fault(err: unknown): void {
    try {
      this.onError(err);
    } catch {
      // an error reporter that throws must not break message handling
    }
  }

  /** the former name of `clock`, still read by dialog/ */
  get timers(): Clock {
    return this.clock;
  }

  /** Terminate every transaction and clear its timers (idempotent). Later messages are ignored. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of [...this.client.values()]) t.terminate();
    for (const t of [...this.server.values()]) if (typeof t !== 'string') t.terminate();
    this.server.clear();
    this.answers.clear();
  }
}

/** The CSeq method of a response, '' when its CSeq cannot be read (it then matches no client transaction). */
function cseqMethodOf(res: SipResponse): string {
  try {
    return res.cseq().method;
  } catch {
    return '';
  }
}

function topBranch(req: SipRequest): string | null {
  try {
    return req.topVia().branch;
  } catch {
    return null;
  }
}
