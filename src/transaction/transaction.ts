// What all four transactions of RFC 3261 §17 share: identity, the transport target, two timer slots,
// sending with one bound transport-error callback, termination, and calling the TU safely.

import type { SipMessage, SipRequest } from '../sip/message.ts';
import { isReliable, type Target } from '../transport/transport.ts';
import type { TransactionContext } from './context.ts';
import type { TimerHandle } from '../clock.ts';

/** Ends a transaction when the timer in its first slot fires (Timer D, I, J, K, L, M). */
export function fireEnd(t: Transaction<string>): void {
  t.timer1_ = null;
  t.terminate();
}

export abstract class Transaction<S extends string> {
  abstract readonly isClient: boolean;
  readonly key: string;
  /** the request that made the transaction (a server transaction lets it go once it only absorbs retransmissions) */
  abstract readonly request: SipRequest;
  readonly target: Target;
  readonly reliable: boolean;
  state: S;
  protected readonly ctx: TransactionContext;
  /** the retransmission timer (A, E, G; the 100 Trying delay), then the end timer (D, I, J, K, L, M): never pending together */
  timer1_: TimerHandle | null = null;
  /** the transaction timeout (Timer B, F, H) */
  protected timer2_: TimerHandle | null = null;
  /** one bound callback per transaction, made when it first sends */
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

  protected clearTimers(): void {
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
