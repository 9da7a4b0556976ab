// Sending a request of our own (a stored MESSAGE, a missed-call notice, a NOTIFY) through a client transaction,
// resolving with the final response (null on timeout or transport error).
import type { SipRequest, SipResponse } from '../sip/message.ts';
import { createResponse } from '../sip/response.ts';
import type { Target } from '../transport/transport.ts';
import type { TransactionLayer } from './transaction-layer.ts';

/** RFC 3261 §8.1.1.6: Max-Forwards 70; the transaction layer adds the top Via with its branch (§8.1.1.7). */
export function sendRequest(layer: TransactionLayer, req: SipRequest, target: Target): Promise<SipResponse | null> {
  if (!req.has('max-forwards')) req.addHeader('Max-Forwards', '70');
  return new Promise((resolve) => {
    try {
      layer.request(req, target, {
        onFinal: (res: SipResponse) => resolve(res),
        onTimeout: () => resolve(null),
        // A body too large for any datagram (EMSGSIZE, after the §18.1.1 TCP attempt failed) will never pass this
        // flow: a local 513 lets the caller skip it rather than retry it forever.
        onTransportError: (err: Error) => resolve((err as NodeJS.ErrnoException).code === 'EMSGSIZE' ? createResponse(req, 513, 'Message Too Large for the Flow') : null),
      });
    } catch {
      resolve(null);
    }
  });
}
