// Non-INVITE server transaction (RFC 3261 §17.2.2).
//
//   Trying --1xx from TU--> Proceeding --200-699 from TU--> Completed --Timer J--> Terminated
//     \--200-699 from TU--> Completed          transport error --> Terminated

import type { SipRequest, SipResponse } from '../sip/message.ts';
import { isReliable, type Source, type Target } from '../transport/transport.ts';
import { sixtyFourT1, type TransactionContext } from './context.ts';
import type { ServerTransaction, ServerTransactionState } from './server-transaction.ts';
import type { TimerHandle } from './timers.ts';

function fireJ(t: NonInviteServerTransaction): void {
  t.timerJ_ = null;
  t.terminate();
}

export class NonInviteServerTransaction implements ServerTransaction {
  readonly isClient = false;
  readonly key: string;
  readonly request: SipRequest;
  readonly source: Source;
  readonly target: Target;
  readonly reliable: boolean;
  state: ServerTransactionState = 'trying';
  lastProvisional: SipResponse | null = null;
  finalResponse: SipResponse | null = null;
  onTimeout: (() => void) | null = null;
  onTransportError: ((err: Error) => void) | null = null;
  private transportFailed = false;
  private ctx: TransactionContext;
  timerJ_: TimerHandle | null = null;
  private sendError: ((err: Error) => void) | null = null;

  constructor(ctx: TransactionContext, key: string, request: SipRequest, source: Source, target: Target) {
    this.ctx = ctx;
    this.key = key;
    this.request = request;
    this.source = source;
    this.target = target;
    this.reliable = isReliable(target.transport);
  }

  respond(res: SipResponse): boolean {
    const state = this.state;
    if (state !== 'trying' && state !== 'proceeding') return false;
    if (res.status < 200) {
      // RFC 3261 §17.2.2: a provisional response from the TU moves Trying to Proceeding.
      this.state = 'proceeding';
      this.lastProvisional = res;
    } else {
      // RFC 3261 §17.2.2: a final response → Completed; Timer J (64*T1 unreliable, 0 reliable).
      this.state = 'completed';
      this.finalResponse = res;
    }
    this.send(res);
    if (this.state === 'completed') {
      if (this.reliable) this.terminate();
      else this.timerJ_ = this.ctx.timers.set(fireJ, sixtyFourT1(this.ctx), this);
    }
    return true;
  }

  /** A retransmission of the request. */
  receiveRequest(_req: SipRequest, _source: Source): void {
    // RFC 3261 §17.2.2: in Trying, retransmissions are discarded; in Proceeding and Completed the last response is resent.
    if (this.state === 'proceeding' && this.lastProvisional !== null) this.send(this.lastProvisional);
    else if (this.state === 'completed' && this.finalResponse !== null) this.send(this.finalResponse);
  }

  /** RFC 3261 §17.2.4: a failure to send a response terminates the transaction and is reported to the TU. */
  transportError(err: Error): void {
    // reported even after termination: on a reliable transport a final response ends the transaction at once
    if (this.transportFailed) return;
    this.transportFailed = true;
    this.terminate();
    if (this.onTransportError === null) return;
    try {
      this.onTransportError(err);
    } catch (e) {
      this.ctx.fault(e);
    }
  }

  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    if (this.timerJ_ !== null) {
      this.ctx.timers.clear(this.timerJ_);
      this.timerJ_ = null;
    }
    this.ctx.terminated(this);
  }

  private send(res: SipResponse): void {
    // one bound callback per transaction, made only when a response is sent
    this.sendError ??= (err: Error) => this.transportError(err);
    this.ctx.transport.send(res, this.target, this.sendError);
  }
}
