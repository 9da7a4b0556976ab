// What the TU hands to a client transaction, and what both client transactions share.

import type { SipRequest, SipResponse } from '../sip/message.ts';
import { createResponse } from '../sip/response.ts';
import type { Target } from '../transport/transport.ts';
import { sixtyFourT1, type TransactionContext } from './context.ts';
import { Transaction } from './transaction.ts';

export interface ClientTransactionHandlers {
  /** a 1xx arrived */
  onProvisional?(res: SipResponse): void;
  /** a final response arrived (for INVITE: each 2xx, RFC 6026 Accepted state; the non-2xx once) */
  onFinal?(res: SipResponse): void;
  /** Timer B / F fired (RFC 3261 §17.1.1.2, §17.1.2.2): `res` is a locally made 408 Request Timeout */
  onTimeout?(res: SipResponse): void;
  /** the transport failed to send (RFC 3261 §17.1.4); the transaction is terminated */
  onTransportError?(err: Error): void;
}

export type ClientTransactionState = 'calling' | 'trying' | 'proceeding' | 'accepted' | 'completed' | 'terminated';

function fireRetransmit(t: ClientTransactionBase): void {
  t.retransmitTimerFired();
}
function fireTimeout(t: ClientTransactionBase): void {
  t.timeoutTimerFired();
}

/** The INVITE (§17.1.1) and non-INVITE (§17.1.2) client transactions: Timer A/E in slot 1, Timer B/F in slot 2. */
export abstract class ClientTransactionBase extends Transaction<ClientTransactionState> {
  readonly isClient = true;
  readonly request: SipRequest;
  protected readonly handlers: ClientTransactionHandlers;
  /** the current retransmission interval (Timer A, E) */
  protected interval: number;

  constructor(ctx: TransactionContext, key: string, request: SipRequest, target: Target, handlers: ClientTransactionHandlers, state: ClientTransactionState) {
    super(ctx, key, target, state);
    this.request = request;
    this.handlers = handlers;
    this.interval = ctx.values.t1;
  }

  /** Timer A (§17.1.1.2) or Timer E (§17.1.2.2) fired. */
  abstract retransmitTimerFired(): void;
  /** Timer B (§17.1.1.2) or Timer F (§17.1.2.2) fired. */
  abstract timeoutTimerFired(): void;

  /** RFC 3261 §17.1.1.2 / §17.1.2.2: send the request; Timer A/E (unreliable only) at T1 and Timer B/F at 64*T1. */
  start(): void {
    if (!this.reliable) this.timer1_ = this.ctx.clock.set(fireRetransmit, this.interval, this);
    this.timer2_ = this.ctx.clock.set(fireTimeout, sixtyFourT1(this.ctx), this);
    this.send(this.request);
  }

  /** RFC 3261 §17.1.1.2 / §17.1.2.2: retransmit the request and restart Timer A/E with `interval`. */
  protected retransmit(interval: number): void {
    this.interval = interval;
    this.timer1_ = this.ctx.clock.set(fireRetransmit, interval, this);
    this.send(this.request);
  }

  /** RFC 3261 §17.1.1.2 / §17.1.2.2: on Timer B/F the transaction ends and the TU is told of a timeout (a 408). */
  protected timedOut(): void {
    this.terminate();
    this.callTU(this.handlers.onTimeout, this.handlers, createResponse(this.request, 408));
  }

  /** RFC 3261 §17.1.4: a transport failure terminates the transaction and is reported to the TU. */
  override transportError(err: Error): void {
    if (this.state === 'terminated') return;
    // the TU already has its final response (Completed; for INVITE also RFC 6026's Accepted)
    const answered = this.state === 'completed' || this.state === 'accepted';
    this.terminate();
    if (answered) return;
    this.callTU(this.handlers.onTransportError, this.handlers, err);
  }

  /** Pass a response to the TU. */
  protected toTU(fn: ((res: SipResponse) => void) | undefined, res: SipResponse): void {
    this.callTU(fn, this.handlers, res);
  }
}
