// Non-INVITE server transaction (RFC 3261 §17.2.2).
//
//   Trying --1xx from TU--> Proceeding --200-699 from TU--> Completed --Timer J--> Terminated
//     \--200-699 from TU--> Completed          transport error --> Terminated

import type { SipRequest, SipResponse } from '../sip/message.ts';
import type { Source, Target } from '../transport/transport.ts';
import type { TransactionContext } from './context.ts';
import { ServerTransactionBase, type RespondOptions } from './server-transaction.ts';

/** No timer slot is used: Completed over UDP is the layer's (handOver), Timer J included. */
export class NonInviteServerTransaction extends ServerTransactionBase {
  constructor(ctx: TransactionContext, key: string, request: SipRequest, source: Source, target: Target) {
    super(ctx, key, request, source, target, 'trying');
  }

  override respond(res: SipResponse, opts?: RespondOptions): boolean {
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
    const sent = this.send(res);
    if (this.state === 'completed') {
      // RFC 3261 §8.2.7: a stateless answer keeps nothing; a retransmission is answered anew, with the same bytes
      if (this.reliable || opts?.stateless === true) this.terminate();
      // for Timer J's 32 s it only answers retransmissions: the layer keeps the response's bytes and their target (issue 17)
      else this.handOver(sent);
    }
    return true;
  }

  /** A retransmission of the request. */
  override receiveRequest(_req: SipRequest, _source: Source): void {
    // RFC 3261 §17.2.2: in Trying, retransmissions are discarded; in Proceeding and Completed the last response is resent.
    if (this.state === 'proceeding' && this.lastProvisional !== null) this.send(this.lastProvisional);
    else if (this.state === 'completed' && this.answered) this.send(this.finalResponse!);
  }
}
