// INVITE client transaction (RFC 3261 §17.1.1, with RFC 6026 §7.2's Accepted state).
//
//   Calling --1xx--> Proceeding --2xx--> Accepted --Timer M--> Terminated
//      |  \--2xx--> Accepted          \--300-699--> Completed --Timer D--> Terminated
//      \--300-699--> Completed (ACK sent)     Timer B / transport error --> Terminated

import type { SipRequest, SipResponse } from '../sip/message.ts';
import { createResponse } from '../sip/response.ts';
import { isReliable, type Target } from '../transport/transport.ts';
import { ackForNonSuccess } from './ack.ts';
import type { ClientTransactionHandlers, ClientTransactionState } from './client-transaction.ts';
import { sixtyFourT1, type TransactionContext } from './context.ts';
import type { TimerHandle } from './timers.ts';

function fireA(t: InviteClientTransaction): void {
  t.timerA();
}
function fireB(t: InviteClientTransaction): void {
  t.timerB();
}
function fireEnd(t: InviteClientTransaction): void {
  t.timerA_ = null;
  t.terminate();
}

export class InviteClientTransaction {
  readonly isClient = true;
  readonly key: string;
  readonly request: SipRequest;
  readonly target: Target;
  readonly reliable: boolean;
  state: ClientTransactionState = 'calling';
  /** the ACK sent for a non-2xx final response (RFC 3261 §17.1.1.3), kept to answer retransmissions */
  ack: SipRequest | null = null;
  private ctx: TransactionContext;
  private handlers: ClientTransactionHandlers;
  /** Timer A, then Timer D or M (one slot: never pending together) */
  timerA_: TimerHandle | null = null;
  private timerB_: TimerHandle | null = null;
  private interval: number;
  private sendError: (err: Error) => void;

  constructor(ctx: TransactionContext, key: string, request: SipRequest, target: Target, handlers: ClientTransactionHandlers) {
    this.ctx = ctx;
    this.key = key;
    this.request = request;
    this.target = target;
    this.handlers = handlers;
    this.reliable = isReliable(target.transport);
    this.interval = ctx.values.t1;
    this.sendError = (err: Error) => this.transportError(err);
  }

  /** RFC 3261 §17.1.1.2: send the INVITE; Timer A (unreliable only) and Timer B start. */
  start(): void {
    if (!this.reliable) this.timerA_ = this.ctx.timers.set(fireA, this.interval, this);
    this.timerB_ = this.ctx.timers.set(fireB, sixtyFourT1(this.ctx), this);
    this.ctx.transport.send(this.request, this.target, this.sendError);
  }

  /** RFC 3261 §17.1.1.2: when Timer A fires, retransmit and reset it to twice its value. */
  timerA(): void {
    this.timerA_ = null;
    if (this.state !== 'calling') return;
    this.interval *= 2;
    this.timerA_ = this.ctx.timers.set(fireA, this.interval, this);
    this.ctx.transport.send(this.request, this.target, this.sendError);
  }

  /** RFC 3261 §17.1.1.2: Timer B fires in Calling: inform the TU of a timeout. */
  timerB(): void {
    this.timerB_ = null;
    if (this.state !== 'calling') return;
    this.terminate();
    const res = createResponse(this.request, 408);
    try {
      this.handlers.onTimeout?.(res);
    } catch (err) {
      this.ctx.fault(err);
    }
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
      this.call(this.handlers.onProvisional, res);
      return;
    }
    if (status < 300) {
      // RFC 6026 §7.2: a 2xx in Calling or Proceeding moves to Accepted (Timer M); every 2xx in Accepted goes to the TU.
      if (state === 'calling' || state === 'proceeding') {
        this.state = 'accepted';
        this.clearTimers();
        this.timerA_ = this.ctx.timers.set(fireEnd, sixtyFourT1(this.ctx), this);
      } else if (state !== 'accepted') return;
      this.call(this.handlers.onFinal, res);
      return;
    }
    if (state === 'calling' || state === 'proceeding') {
      // RFC 3261 §17.1.1.2: 300-699 → send ACK, go to Completed, start Timer D (32 s unreliable, 0 reliable), tell the TU.
      this.state = 'completed';
      this.clearTimers();
      this.ack = ackForNonSuccess(this.request, res);
      this.ctx.transport.send(this.ack, this.target, this.sendError);
      if (this.reliable) this.terminate();
      else this.timerA_ = this.ctx.timers.set(fireEnd, Math.max(32000, sixtyFourT1(this.ctx)), this);
      this.call(this.handlers.onFinal, res);
    } else if (state === 'completed' && this.ack !== null) {
      // RFC 3261 §17.1.1.2: a retransmitted final response in Completed is answered with the ACK again, not passed up.
      this.ctx.transport.send(this.ack, this.target, this.sendError);
    }
  }

  /** RFC 3261 §17.1.4: a transport failure terminates the transaction and is reported to the TU. */
  transportError(err: Error): void {
    if (this.state === 'terminated') return;
    const wasCompleted = this.state === 'completed' || this.state === 'accepted';
    this.terminate();
    if (wasCompleted) return; // the TU already has its final response
    try {
      this.handlers.onTransportError?.(err);
    } catch (e) {
      this.ctx.fault(e);
    }
  }

  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.clearTimers();
    this.ctx.terminated(this);
  }

  private clearTimers(): void {
    if (this.timerA_ !== null) {
      this.ctx.timers.clear(this.timerA_);
      this.timerA_ = null;
    }
    if (this.timerB_ !== null) {
      this.ctx.timers.clear(this.timerB_);
      this.timerB_ = null;
    }
  }

  private call(fn: ((res: SipResponse) => void) | undefined, res: SipResponse): void {
    if (fn === undefined) return;
    try {
      fn.call(this.handlers, res);
    } catch (err) {
      this.ctx.fault(err);
    }
  }
}
