// What a transaction needs from the layer that owns it (the layer implements this; no import cycle).

import type { SipRequest } from '../sip/message.ts';
import type { Source, Target, Transport } from '../transport/transport.ts';
import type { Clock } from '../clock.ts';
import type { EndQueue } from './end-queue.ts';
import type { TimerValues } from './timers.ts';

export interface TransactionContext {
  readonly transport: Transport;
  readonly clock: Clock;
  readonly values: TimerValues;
  /** RFC 3261 §17.2.1: the INVITE server transaction sends 100 Trying when the TU is silent this long (200 ms) */
  readonly tryingDelay: number;
  /** the queue of the end timers that last `ms` (one per duration, RFC 3261 §17's fixed values) */
  endQueue(ms: number): EndQueue;
  /** the transaction reached Terminated: drop it from the tables */
  terminated(t: { readonly key: string; readonly isClient: boolean }): void;
  /**
   * RFC 3261 §17.2.2: the non-INVITE server transaction `key` sent its final response over UDP and is Completed:
   * the layer keeps only `target` and `bytes` (packed into `answer`, answer.ts) and answers retransmissions with them
   * until Timer J (64*T1), in place of the transaction; the ticket is Timer J's
   */
  answered(key: string, target: Target, bytes: Uint8Array): { answer: string; ticket: number };
  /** §17.2.4: the transaction of an answer failed to send it: the answer goes at once */
  forgetAnswer(key: string, answer: string, ticket: number): void;
  /** RFC 6026 §7.1: an ACK received in the Accepted state is passed to the TU */
  passAck(ack: SipRequest, source: Source): void;
  /** a TU callback threw: report it, never let it break the transaction */
  fault(err: unknown): void;
}

/** RFC 3261 §17.1.1.2 / §17.1.2.2: Timer B, F, H, J, L, M are 64*T1. */
export function sixtyFourT1(ctx: TransactionContext): number {
  return 64 * ctx.values.t1;
}
