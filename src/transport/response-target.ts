// Where a server sends the responses to a request (RFC 3261 §18.2.2, RFC 3581 §4).

import type { Via } from '../sip/via.ts';
import { defaultPort, isReliable, transportFromVia, type Source, type Target } from './transport.ts';

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

/**
 * Where a response goes by its Via alone, with no request source at hand (a proxy forwarding a stray 2xx, RFC 3261
 * §18.2.2 / RFC 3581 §4): `received` (else the sent-by host) at `rport` (else the sent-by port). Null for a transport
 * we do not speak.
 */
export function viaTarget(via: Via): Target | null {
  const transport = transportFromVia(via.transport);
  if (transport === null) return null;
  let address = via.received ?? via.host;
  if (address.startsWith('[')) address = address.slice(1, -1);
  const port = typeof via.rport === 'number' ? via.rport : (via.port ?? defaultPort(transport));
  return { transport, address, port };
}
