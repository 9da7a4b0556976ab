// Sending a request of our own (a stored MESSAGE, a missed-call notice, a NOTIFY) through a client transaction,
// resolving with the final response (null on timeout or transport error).
import type { SipRequest, SipResponse } from '../sip/message.ts';
import { newBranch } from '../sip/ids.ts';
import { createResponse } from '../sip/response.ts';
import type { Target } from '../transport/transport.ts';
import type { TransactionLayer } from './transaction-layer.ts';

/** RFC 3261 §8.1.1.7: the UAC adds the top Via with a fresh z9hG4bK branch; the transport tells its sent-by. */
export function sendRequest(layer: TransactionLayer, req: SipRequest, target: Target): Promise<SipResponse | null> {
  const sentBy = layer.transport.sentBy(target);
  const host = sentBy.host.includes(':') ? `[${sentBy.host}]` : sentBy.host;
  req.prependHeader('Via', `SIP/2.0/${sentBy.transport.toUpperCase()} ${host}:${sentBy.port};branch=${newBranch()};rport`);
  if (!req.has('max-forwards')) req.addHeader('Max-Forwards', '70');
  return new Promise((resolve) => {
    try {
      layer.sendRequest(req, target, {
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
