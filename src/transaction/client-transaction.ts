// What the TU hands to a client transaction, and what both client transactions share.

import type { SipResponse } from '../sip/message.ts';

export interface ClientTransactionHandlers {
  /** a 1xx arrived */
  onProvisional?(res: SipResponse): void;
  /** a final response arrived (for INVITE: each 2xx, RFC 6026 Accepted state; the non-2xx once) */
  onFinal?(res: SipResponse): void;
  /** Timer B / F fired (RFC 3261 §17.1.1.2, §17.1.2.2): `res` is a locally made 408 Request Timeout */
  onTimeout?(res: SipResponse): void;
  /** the transport failed to send (RFC 3261 §17.1.4); the transaction is terminated */
  onTransportError?(err: Error): void;
}

export type ClientTransactionState = 'calling' | 'trying' | 'proceeding' | 'accepted' | 'completed' | 'terminated';
