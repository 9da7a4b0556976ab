// What the TU sees of a server transaction (both kinds share this shape).

import type { SipRequest, SipResponse } from '../sip/message.ts';
import type { Source, Target } from '../transport/transport.ts';

export type ServerTransactionState = 'trying' | 'proceeding' | 'accepted' | 'completed' | 'confirmed' | 'terminated';

export interface ServerTransaction {
  readonly isClient: false;
  readonly key: string;
  readonly request: SipRequest;
  /** where the request came from */
  readonly source: Source;
  /** where responses go (RFC 3261 §18.2.2, RFC 3581) */
  readonly target: Target;
  readonly state: ServerTransactionState;
  /** the last final response sent, if any */
  readonly finalResponse: SipResponse | null;
  /**
   * Send a response through the transaction. Returns false (and sends nothing) when the state does not allow
   * it (a final response already sent, except 2xx retransmissions of an INVITE in Accepted, RFC 6026).
   */
  respond(res: SipResponse): boolean;
  /** Timer H fired: the ACK for a non-2xx final response never came (RFC 3261 §17.2.1) */
  onTimeout: (() => void) | null;
  /** the transport could not send a response (RFC 3261 §17.2.4) */
  onTransportError: ((err: Error) => void) | null;
}
