// INVITE client transaction (RFC 3261 §17.1.1, with RFC 6026 §7.2's Accepted state).
//
//   Calling --1xx--> Proceeding --2xx--> Accepted --Timer M--> Terminated
//      |  \--2xx--> Accepted          \--300-699--> Completed --Timer D--> Terminated
//      \--300-699--> Completed (ACK sent)     Timer B / transport error --> Terminated

import type { SipRequest, SipResponse } from '../sip/message.ts';
import type { Target } from '../transport/transport.ts';
import { ackForNonSuccess } from './request-from-invite.ts';
import { ClientTransactionBase, type ClientTransactionHandlers } from './client-transaction.ts';
import { sixtyFourT1, type TransactionContext } from './context.ts';

/** Slot 1 holds Timer A, slot 2 Timer B; Timer D or M waits in the layer's end queue. */
export class InviteClientTransaction extends ClientTransactionBase {
  /** the ACK sent for a non-2xx final response (RFC 3261 §17.1.1.3), kept to answer retransmissions */
  ack: SipRequest | null = null;

  constructor(ctx: TransactionContext, key: string, request: SipRequest, target: Target, handlers: ClientTransactionHandlers) {
    super(ctx, key, request, target, handlers, 'calling');
  }

  /** RFC 3261 §17.1.1.2: when Timer A fires, retransmit and reset it to twice its value. */
  override retransmitTimerFired(): void {
    this.timer1_ = null;
    if (this.state !== 'calling') return;
    this.retransmit(this.interval * 2);
  }

  /** RFC 3261 §17.1.1.2: Timer B fires in Calling: inform the TU of a timeout. */
  override timeoutTimerFired(): void {
    this.timer2_ = null;
    if (this.state !== 'calling') return;
    this.timedOut();
  }

  receiveResponse(res: SipResponse): void {
    const status = res.status;
    const state = this.state;
    if (status < 200) {
      // RFC 3261 §17.1.1.2: a provisional response in Calling or Proceeding moves to Proceeding and goes to the TU.
      if (state !== 'calling' && state !== 'proceeding') return;
      if (state === 'calling') {
        this.state = 'proceeding';
        this.clearTimers();
      }
      this.toTU(this.handlers.onProvisional, res);
      return;
    }
    if (status < 300) {
      // RFC 6026 §7.2: a 2xx in Calling or Proceeding moves to Accepted (Timer M); every 2xx in Accepted goes to the TU.
      if (state === 'calling' || state === 'proceeding') {
        this.state = 'accepted';
        this.clearTimers();
        this.endAfter(sixtyFourT1(this.ctx));
      } else if (state !== 'accepted') return;
      this.toTU(this.handlers.onFinal, res);
      return;
    }
    if (state === 'calling' || state === 'proceeding') {
      // RFC 3261 §17.1.1.2: 300-699 → send ACK, go to Completed, start Timer D (32 s unreliable, 0 reliable), tell the TU.
      this.state = 'completed';
      this.clearTimers();
      this.ack = ackForNonSuccess(this.request, res);
      this.send(this.ack);
      if (this.reliable) this.terminate();
      else this.endAfter(Math.max(32000, sixtyFourT1(this.ctx)));
      this.toTU(this.handlers.onFinal, res);
    } else if (state === 'completed' && this.ack !== null) {
      // RFC 3261 §17.1.1.2: a retransmitted final response in Completed is answered with the ACK again, not passed up.
      this.send(this.ack);
    }
  }
}
