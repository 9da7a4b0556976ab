// INVITE server transaction (RFC 3261 §17.2.1, with RFC 6026 §7.1's Accepted state).
//
//   Proceeding --2xx from TU--> Accepted --Timer L--> Terminated
//       \--300-699 from TU--> Completed --ACK--> Confirmed --Timer I--> Terminated
//                                 \--Timer H / transport error--> Terminated

import type { SipRequest, SipResponse } from '../sip/message.ts';
import { createResponse } from '../sip/response.ts';
import type { Source, Target } from '../transport/transport.ts';
import { sixtyFourT1, type TransactionContext } from './context.ts';
import { ServerTransactionBase, type RespondOptions } from './server-transaction.ts';

function fireTrying(t: InviteServerTransaction): void {
  t.timerTrying();
}
function fireG(t: InviteServerTransaction): void {
  t.timerG();
}
function fireH(t: InviteServerTransaction): void {
  t.timerH();
}

/** Slot 1 holds the 200 ms Trying timer, then Timer G; slot 2 holds Timer H; Timer I or L waits in the end queue. */
export class InviteServerTransaction extends ServerTransactionBase {
  /** the current Timer G interval */
  private interval: number;

  constructor(ctx: TransactionContext, key: string, request: SipRequest, source: Source, target: Target) {
    super(ctx, key, request, source, target, 'proceeding');
    this.interval = ctx.values.t1;
    // RFC 3261 §17.2.1: send 100 Trying unless the TU answers within 200 ms.
    this.timer1_ = ctx.clock.set(fireTrying, ctx.tryingDelay, this);
  }

  timerTrying(): void {
    this.timer1_ = null;
    if (this.state !== 'proceeding' || this.lastProvisional !== null) return;
    this.respond(createResponse(this.request, 100));
  }

  override respond(res: SipResponse, opts?: RespondOptions): boolean {
    const status = res.status;
    const state = this.state;
    if (state === 'accepted') {
      // RFC 6026 §7.1: in Accepted, 2xx retransmissions from the TU are passed to the transport.
      if (status < 200 || status >= 300) return false;
      this.finalResponse = res;
      this.send(res);
      return true;
    }
    if (state !== 'proceeding') return false;
    if (this.timer1_ !== null) {
      this.ctx.clock.clear(this.timer1_);
      this.timer1_ = null;
    }
    if (status < 200) {
      this.lastProvisional = res;
      this.send(res);
      return true;
    }
    this.finalResponse = res;
    if (status < 300) {
      // RFC 6026 §7.1: a 2xx moves the transaction to Accepted and starts Timer L (64*T1).
      this.state = 'accepted';
      this.endAfter(sixtyFourT1(this.ctx));
    } else {
      // RFC 3261 §17.2.1: 300-699 → Completed; Timer G (unreliable only) at T1, Timer H at 64*T1.
      this.state = 'completed';
      if (!this.reliable && opts?.retransmit !== false) this.timer1_ = this.ctx.clock.set(fireG, this.interval, this);
      this.timer2_ = this.ctx.clock.set(fireH, sixtyFourT1(this.ctx), this);
    }
    const sent = this.send(res);
    // for Timer H's 32 s (a 407, a 480 over UDP) it only resends the response and absorbs the ACK: its bytes are all
    // it keeps (issue 16). Accepted keeps its request: the UA core and the proxy still answer in it.
    if (this.state === 'completed') this.release(sent);
    return true;
  }

  /** RFC 3261 §17.2.1: Timer G retransmits the final response, then resets to MIN(2*previous, T2). */
  timerG(): void {
    this.timer1_ = null;
    if (this.state !== 'completed' || this.finalResponse === null) return;
    this.interval = Math.min(2 * this.interval, this.ctx.values.t2);
    this.timer1_ = this.ctx.clock.set(fireG, this.interval, this);
    this.send(this.finalResponse);
  }

  /** RFC 3261 §17.2.1: Timer H fires in Completed: no ACK came; terminate and tell the TU. */
  timerH(): void {
    this.timer2_ = null;
    if (this.state !== 'completed') return;
    this.terminate();
    this.callTU(this.onTimeout, this, undefined);
  }

  /** A retransmitted INVITE or an ACK that matched this transaction. */
  override receiveRequest(req: SipRequest, source: Source): void {
    const state = this.state;
    if (req.method === 'ACK') {
      if (state === 'completed') {
        // RFC 3261 §17.2.1: an ACK in Completed → Confirmed; Timer G stops, Timer I starts (T4 unreliable, 0 reliable).
        this.state = 'confirmed';
        this.clearTimers();
        if (this.reliable) this.terminate();
        else this.endAfter(this.ctx.values.t4);
      } else if (state === 'accepted') {
        // RFC 6026 §7.1: an ACK in Accepted is passed to the TU.
        this.ctx.passAck(req, source);
      }
      // RFC 3261 §17.2.1: in Confirmed, further ACKs are absorbed.
      return;
    }
    // RFC 3261 §17.2.1: a retransmitted INVITE in Proceeding gets the most recent provisional response again.
    if (state === 'proceeding') {
      if (this.lastProvisional !== null) this.send(this.lastProvisional);
    } else if (state === 'completed' && this.finalResponse !== null) {
      // RFC 3261 §17.2.1: a retransmitted INVITE in Completed gets the final response again.
      this.send(this.finalResponse);
    }
    // RFC 6026 §7.1: retransmissions in Accepted are absorbed; in Confirmed too.
  }
}
