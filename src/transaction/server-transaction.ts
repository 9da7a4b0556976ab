// What the TU sees of a server transaction, and what both server transactions share.

import type { SipRequest, SipResponse } from '../sip/message.ts';
import type { Source, Target } from '../transport/transport.ts';
import type { TransactionContext } from './context.ts';
import { Transaction } from './transaction.ts';

export interface RespondOptions {
  /** default true: an INVITE's non-2xx final response is retransmitted on Timer G over UDP (RFC 3261 §17.2.1) */
  retransmit?: boolean;
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
  /** the last final response sent, if any */
  readonly finalResponse: SipResponse | null;
  /**
   * Send a response through the transaction. Returns false (and sends nothing) when the state does not allow
   * it (a final response already sent, except 2xx retransmissions of an INVITE in Accepted, RFC 6026).
   * `retransmit: false` (a digest challenge): no Timer G — the final response goes out once, and again only when the
   * client retransmits its INVITE (as Kamailio sends challenges statelessly); the ACK is still absorbed.
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

/** What both server transactions (RFC 3261 §17.2.1, §17.2.2) share. */
export abstract class ServerTransactionBase extends Transaction<ServerTransactionState> implements ServerTransaction {
  readonly isClient = false;
  readonly source: Source;
  /** the last provisional response sent, resent on a retransmitted request in Proceeding */
  lastProvisional: SipResponse | null = null;
  finalResponse: SipResponse | null = null;
  onTimeout: (() => void) | null = null;
  onTransportError: ((err: Error) => void) | null = null;
  private transportFailed = false;

  constructor(ctx: TransactionContext, key: string, request: SipRequest, source: Source, target: Target, state: ServerTransactionState) {
    super(ctx, key, request, target, state);
    this.source = source;
  }

  abstract respond(res: SipResponse, opts?: RespondOptions): boolean;

  drop(): void {
    if (this.finalResponse === null) this.terminate();
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
