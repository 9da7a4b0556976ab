// Non-INVITE client transaction (RFC 3261 §17.1.2).
//
//   Trying --1xx--> Proceeding --200-699--> Completed --Timer K--> Terminated
//     \--200-699--> Completed        Timer F / transport error --> Terminated

import type { SipRequest, SipResponse } from '../sip/message.ts';
import type { Target } from '../transport/transport.ts';
import { ClientTransactionBase, type ClientTransactionHandlers } from './client-transaction.ts';
import type { TransactionContext } from './context.ts';

/** Slot 1 holds Timer E, slot 2 Timer F; Timer K waits in the layer's end queue. */
export class NonInviteClientTransaction extends ClientTransactionBase {
  constructor(ctx: TransactionContext, key: string, request: SipRequest, target: Target, handlers: ClientTransactionHandlers) {
    super(ctx, key, request, target, handlers, 'trying');
  }

  /**
   * RFC 3261 §17.1.2.2: Timer E retransmits, then resets to MIN(2*previous, T2) in Trying and to T2 in Proceeding.
   */
  override retransmitTimerFired(): void {
    this.timer1_ = null;
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    const t2 = this.ctx.values.t2;
    this.retransmit(this.state === 'trying' ? Math.min(2 * this.interval, t2) : t2);
  }

  /** RFC 3261 §17.1.2.2: Timer F fires in Trying or Proceeding: inform the TU of a timeout. */
  override timeoutTimerFired(): void {
    this.timer2_ = null;
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    this.timedOut();
  }

  receiveResponse(res: SipResponse): void {
    const state = this.state;
    if (state !== 'trying' && state !== 'proceeding') return; // RFC 3261 §17.1.2.2: Completed absorbs retransmissions
    if (res.status < 200) {
      this.state = 'proceeding';
      this.toTU(this.handlers.onProvisional, res);
      return;
    }
    // RFC 3261 §17.1.2.2: a final response → Completed, Timer K (T4 unreliable, 0 reliable), to the TU.
    this.state = 'completed';
    this.clearTimers();
    if (this.reliable) this.terminate();
    else this.endAfter(this.ctx.values.t4);
    this.toTU(this.handlers.onFinal, res);
  }
}
