// Non-INVITE client transaction (RFC 3261 §17.1.2).
//
//   Trying --1xx--> Proceeding --200-699--> Completed --Timer K--> Terminated
//     \--200-699--> Completed        Timer F / transport error --> Terminated

import type { SipRequest, SipResponse } from '../sip/message.ts';
import { createResponse } from '../sip/response.ts';
import { isReliable, type Target } from '../transport/transport.ts';
import type { ClientTransactionHandlers, ClientTransactionState } from './client-transaction.ts';
import { sixtyFourT1, type TransactionContext } from './context.ts';
import type { TimerHandle } from './timers.ts';

function fireE(t: NonInviteClientTransaction): void {
  t.timerE();
}
function fireF(t: NonInviteClientTransaction): void {
  t.timerF();
}
function fireK(t: NonInviteClientTransaction): void {
  t.timerE_ = null;
  t.terminate();
}

export class NonInviteClientTransaction {
  readonly isClient = true;
  readonly key: string;
  readonly request: SipRequest;
  readonly target: Target;
  readonly reliable: boolean;
  state: ClientTransactionState = 'trying';
  private ctx: TransactionContext;
  private handlers: ClientTransactionHandlers;
  /** Timer E, then Timer K */
  timerE_: TimerHandle | null = null;
  private timerF_: TimerHandle | null = null;
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

  /** RFC 3261 §17.1.2.2: send the request; Timer E (unreliable only) at T1 and Timer F at 64*T1. */
  start(): void {
    if (!this.reliable) this.timerE_ = this.ctx.timers.set(fireE, this.interval, this);
    this.timerF_ = this.ctx.timers.set(fireF, sixtyFourT1(this.ctx), this);
    this.ctx.transport.send(this.request, this.target, this.sendError);
  }

  /**
   * RFC 3261 §17.1.2.2: Timer E retransmits, then resets to MIN(2*previous, T2) in Trying and to T2 in Proceeding.
   */
  timerE(): void {
    this.timerE_ = null;
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    const t2 = this.ctx.values.t2;
    this.interval = this.state === 'trying' ? Math.min(2 * this.interval, t2) : t2;
    this.timerE_ = this.ctx.timers.set(fireE, this.interval, this);
    this.ctx.transport.send(this.request, this.target, this.sendError);
  }

  /** RFC 3261 §17.1.2.2: Timer F fires in Trying or Proceeding: inform the TU of a timeout. */
  timerF(): void {
    this.timerF_ = null;
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    this.terminate();
    const res = createResponse(this.request, 408);
    try {
      this.handlers.onTimeout?.(res);
    } catch (err) {
      this.ctx.fault(err);
    }
  }

  receiveResponse(res: SipResponse): void {
    const state = this.state;
    if (state !== 'trying' && state !== 'proceeding') return; // RFC 3261 §17.1.2.2: Completed absorbs retransmissions
    if (res.status < 200) {
      this.state = 'proceeding';
      this.call(this.handlers.onProvisional, res);
      return;
    }
    // RFC 3261 §17.1.2.2: a final response → Completed, Timer K (T4 unreliable, 0 reliable), to the TU.
    this.state = 'completed';
    this.clearTimers();
    if (this.reliable) this.terminate();
    else this.timerE_ = this.ctx.timers.set(fireK, this.ctx.values.t4, this);
    this.call(this.handlers.onFinal, res);
  }

  /** RFC 3261 §17.1.4: a transport failure terminates the transaction and is reported to the TU. */
  transportError(err: Error): void {
    if (this.state === 'terminated') return;
    const answered = this.state === 'completed';
    this.terminate();
    if (answered) return;
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
    if (this.timerE_ !== null) {
      this.ctx.timers.clear(this.timerE_);
      this.timerE_ = null;
    }
    if (this.timerF_ !== null) {
      this.ctx.timers.clear(this.timerF_);
      this.timerF_ = null;
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
