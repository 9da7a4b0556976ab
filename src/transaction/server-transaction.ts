// What the TU sees of a server transaction, and what both server transactions share.

import type { SipRequest, SipResponse } from '../sip/message.ts';
import { parseMessage } from '../sip/parser.ts';
import { serializeMessage } from '../sip/serializer.ts';
import type { Source, Target } from '../transport/transport.ts';
import type { TransactionContext } from './context.ts';
import { Transaction } from './transaction.ts';
import { answerBodyAt } from './answer.ts';

export interface RespondOptions {
  /** default true: an INVITE's non-2xx final response is retransmitted on Timer G over UDP (RFC 3261 §17.2.1) */
  retransmit?: boolean;
  /**
   * a non-INVITE answered as a stateless UAS does (RFC 3261 §8.2.7; a source turned away): the transaction ends once
   * the response is sent, and a retransmission is answered as a new request. Only for a response that is the same
   * for the same request, To tag included (statelessTagOf): a challenge is not (its nonce), a client would see two.
   */
  stateless?: boolean;
}

export type ServerTransactionState = 'trying' | 'proceeding' | 'accepted' | 'completed' | 'confirmed' | 'terminated';

export interface ServerTransaction {
  readonly isClient: false;
  readonly key: string;
  readonly request: SipRequest;
  /** where the request came from */
  readonly source: Source;
  /** where responses go (RFC 3261 §18.2.2, RFC 3581) */
  readonly target: Target;
  readonly state: ServerTransactionState;
  /**
   * the last final response sent, if any; once the transaction only waits out its end timer (released), a copy
   * parsed again from the bytes it keeps
   */
  readonly finalResponse: SipResponse | null;
  /**
   * Send a response through the transaction. Returns false (and sends nothing) when the state does not allow
   * it (a final response already sent, except 2xx retransmissions of an INVITE in Accepted, RFC 6026).
   * `retransmit: false` (a digest challenge): no Timer G — the final response goes out once, and again only when the
   * client retransmits its INVITE (as Kamailio sends challenges statelessly); the ACK is still absorbed.
   * `stateless: true`, for a non-INVITE: no Timer J state (RFC 3261 §8.2.7).
   */
  respond(res: SipResponse, opts?: RespondOptions): boolean;
  /**
   * Ends the transaction at once without a response (a banned or flooding source, Kamailio's drop()); a
   * retransmission of the request is then a new request. Nothing happens when a final response was sent already.
   */
  drop(): void;
  /** Timer H fired: the ACK for a non-2xx final response never came (RFC 3261 §17.2.1) */
  onTimeout: (() => void) | null;
  /** the transport could not send a response (RFC 3261 §17.2.4) */
  onTransportError: ((err: Error) => void) | null;
}

/**
 * What both server transactions (RFC 3261 §17.2.1, §17.2.2) share.
 *
 * Memory (issue 16): a non-INVITE transaction waiting out Timer J (64*T1 = 32 s over UDP) needs only its key, its
 * target and the final response's bytes to answer a retransmission. release() lets go of the parsed request and
 * responses (with the datagram and the header objects they hold) and keeps the bytes: the soak measured 4.1 kB per
 * such transaction before, 1.0 kB after, at 1,000 requests/s 32,000 of them held at any time. So does an INVITE
 * transaction in Completed (Timer H); in Accepted it keeps its request: a UA core still reads it there.
 * Issue 17: 1,650 → 844 B each (heap and external, 20,000 answered REGISTERs): its key no longer a view of the
 * request's text (detached), the bytes a string, no send callback, and its end timer an entry in the layer's queue.
 * Then the non-INVITE one over UDP leaves the layer's table at Completed (handOver): the layer keeps its key and one
 * string, target and bytes (answer.ts), and answers the retransmissions itself: 898 → 610 B each with the Date
 * header of the registrar's 200 (20,000 answered REGISTERs, heap after a forced GC), two leaf strings
 * a transaction for the garbage collector instead of an object graph.
 */
export abstract class ServerTransactionBase extends Transaction<ServerTransactionState> implements ServerTransaction {
  readonly isClient = false;
  readonly source: Source;
  /** the last provisional response sent, resent on a retransmitted request in Proceeding */
  lastProvisional: SipResponse | null = null;
  onTimeout: (() => void) | null = null;
  onTransportError: ((err: Error) => void) | null = null;
  private transportFailed = false;
  #request: SipRequest | null;
  #finalResponse: SipResponse | null = null;
  /**
   * the final response as sent, once release() let go of the parsed messages: its bytes as a one-byte (latin1)
   * string, a byte a character, which lives in the V8 heap that compaction returns; a copied Uint8Array cost 190 B
   * more a transaction (its ArrayBuffer, and a malloc'd backing store outside the heap)
   */
  #finalBytes: string | null = null;
  /** where the response begins in #finalBytes (after the target, once handed over to the layer) */
  #finalAt = 0;
  /** Timer J's ticket once handOver() gave the answer to the layer, else 0 */
  #answerTicket = 0;

  constructor(ctx: TransactionContext, key: string, request: SipRequest, source: Source, target: Target, state: ServerTransactionState) {
    super(ctx, key, target, state);
    this.#request = request;
    this.source = source;
  }

  /** the request; reading it after release() is a bug (nothing is left to answer, only retransmissions to absorb) */
  get request(): SipRequest {
    if (this.#request === null) throw new Error(`server transaction ${this.key} released its request in state ${this.state}`);
    return this.#request;
  }

  get finalResponse(): SipResponse | null {
    if (this.#finalResponse !== null || this.#finalBytes === null) return this.#finalResponse;
    const bytes = this.#finalAt === 0 ? this.#finalBytes : this.#finalBytes.slice(this.#finalAt);
    return parseMessage(Buffer.from(bytes, 'latin1')) as SipResponse;
  }

  set finalResponse(res: SipResponse | null) {
    this.#finalResponse = res;
    this.#finalBytes = null;
    this.#finalAt = 0;
  }

  /** a final response was sent (cheaper than finalResponse after release(): no parse) */
  protected get answered(): boolean {
    return this.#finalResponse !== null || this.#finalBytes !== null;
  }

  /**
   * From now on the transaction only absorbs retransmissions (and resends its final response): keep the response's
   * bytes, let go of the request and the parsed responses. `sent`: those bytes as the transport just sent them, when
   * it said (not serialized a second time). Idempotent.
   */
  protected release(sent?: Uint8Array): void {
    if (this.#request === null) return;
    const res = this.#finalResponse;
    if (res !== null) {
      const bytes = sent ?? serializeMessage(res);
      this.#finalBytes = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
    }
    this.#letGo();
  }

  /**
   * RFC 3261 §17.2.2 over UDP, a final response sent: the layer keeps its target and bytes and answers the
   * retransmissions until Timer J in place of this object, which leaves the table (TransactionContext.answered).
   * The state stays Completed; finalResponse reads the same bytes.
   */
  protected handOver(sent?: Uint8Array): void {
    const res = this.#finalResponse;
    if (this.#request === null || res === null) return;
    const { answer, ticket } = this.ctx.answered(this.key, this.target, sent ?? serializeMessage(res));
    this.#finalBytes = answer;
    this.#finalAt = answerBodyAt(answer);
    this.#answerTicket = ticket;
    this.#letGo();
  }

  #letGo(): void {
    this.#finalResponse = null;
    this.#request = null;
    this.lastProvisional = null;
    this.forgetSendError();
  }

  override terminate(): void {
    if (this.state === 'terminated') return;
    super.terminate();
    if (this.#answerTicket !== 0) this.ctx.forgetAnswer(this.key, this.#finalBytes!, this.#answerTicket);
  }

  abstract respond(res: SipResponse, opts?: RespondOptions): boolean;

  drop(): void {
    if (!this.answered) this.terminate();
  }

  /** A retransmission of the request, or (INVITE) an ACK that matched this transaction. */
  abstract receiveRequest(req: SipRequest, source: Source): void;

  /** RFC 3261 §17.2.4: a failure to send a response terminates the transaction and is reported to the TU. */
  override transportError(err: Error): void {
    // reported even after termination: on a reliable transport a final response ends the transaction at once
    if (this.transportFailed) return;
    this.transportFailed = true;
    this.terminate();
    this.callTU(this.onTransportError, this, err);
  }
}
