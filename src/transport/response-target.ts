// Where a server sends the responses to a request (RFC 3261 §18.2.2, RFC 3581 §4).

import type { Via } from '../sip/headers.ts';
import { defaultPort, isReliable, type Source, type Target } from './transport.ts';

/**
 * RFC 3261 §18.2.2: on a reliable transport, reply on the connection the request came in on; if it is gone,
 * open one to `received` at the sent-by port. On UDP, reply to `received` at the sent-by port, or
 * (RFC 3581 §4) at the source port when the request carried `rport`. Always from the listener it arrived on.
 * (`maddr` multicast replies are not supported: we reply to the source as if maddr were absent.)
 */
export function responseTarget(via: Via, source: Source): Target {
  const address = source.address;
  if (isReliable(source.transport)) {
    return {
      transport: source.transport,
      address,
      port: via.port ?? defaultPort(source.transport),
      connectionId: source.connectionId,
      listenerId: source.local.id,
    };
  }
  // RFC 3581 §4: the response goes to the source IP and port of the request.
  const port = via.rport !== null ? source.port : (via.port ?? defaultPort(source.transport));
  return { transport: source.transport, address, port, connectionId: null, listenerId: source.local.id };
}
