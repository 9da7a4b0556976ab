// What all four transactions of RFC 3261 §17 share: identity, the transport target, two timer slots and the end timer,
// sending with one bound transport-error callback, termination, and calling the TU safely.

import type { SipMessage, SipRequest } from '../sip/message.ts';
import { isReliable, type Target } from '../transport/transport.ts';
import type { TransactionContext } from './context.ts';
import type { TimerHandle } from '../clock.ts';
import type { EndQueue, EndWaiter } from './end-queue.ts';

export abstract class Transaction<S extends string> implements EndWaiter {
  abstract readonly isClient: boolean;
  readonly key: string;
  /** the request that made the transaction (a server transaction lets it go once it only absorbs retransmissions) */
  abstract readonly request: SipRequest;
  readonly target: Target;
  readonly reliable: boolean;
  state: S;
  protected readonly ctx: TransactionContext;
  /** the retransmission timer (A, E, G; the 100 Trying delay) */
  timer1_: TimerHandle | null = null;
  /** the end timer (D, I, J, K, L, M), an entry in its duration's queue (endAfter) */
  #endQueue: EndQueue | null = null;
  #endTicket = 0;
  /** the transaction timeout (Timer B, F, H) */
  protected timer2_: TimerHandle | null = null;
  /** one bound callback per transaction, made when it first sends (again after forgetSendError) */
  private sendError: ((err: Error) => void) | null = null;

  constructor(ctx: TransactionContext, key: string, target: Target, state: S) {
    this.ctx = ctx;
    this.key = key;
    this.target = target;
    this.reliable = isReliable(target.transport);
    this.state = state;
  }

  /** RFC 3261 §17.1.4 / §17.2.4: the transport could not send; each side decides what the TU hears. */
  abstract transportError(err: Error): void;

  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated' as S;
    this.clearTimers();
    this.ctx.terminated(this);
  }

  /** the bytes sent, when the transport says (Transport.send) */
  protected send(msg: SipMessage): Uint8Array | undefined {
    this.sendError ??= (err: Error) => this.transportError(err);
    return this.ctx.transport.send(msg, this.target, this.sendError);
  }

  /** lets go of the send callback while the transaction waits out an end timer; a later send makes it again */
  protected forgetSendError(): void {
    this.sendError = null;
  }

  /** Starts the end timer (Timer D, I, J, K, L or M): the transaction terminates after `ms`. */
  protected endAfter(ms: number): void {
    const q = this.ctx.endQueue(ms);
    this.#endQueue = q;
    this.#endTicket = q.add(this);
  }

  /** the end timer fired (EndQueue) */
  endDue(): void {
    this.#endQueue = null;
    this.#endTicket = 0;
    this.terminate();
  }

  protected clearTimers(): void {
    if (this.#endQueue !== null) {
      this.#endQueue.cancel(this.#endTicket);
      this.#endQueue = null;
      this.#endTicket = 0;
    }
    if (this.timer1_ !== null) {
      this.ctx.clock.clear(this.timer1_);
      this.timer1_ = null;
    }
    if (this.timer2_ !== null) {
      this.ctx.clock.clear(this.timer2_);
      this.timer2_ = null;
    }
  }

  /** Call a TU callback as a method of `self`; one that throws is reported (ctx.fault) and never breaks the transaction. */
  protected callTU<A>(fn: ((arg: A) => void) | null | undefined, self: unknown, arg: A): void {
    if (fn === null || fn === undefined) return;
    try {
      fn.call(self, arg);
    } catch (err) {
      this.ctx.fault(err);
    }
  }
}
