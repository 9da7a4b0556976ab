// Sending a request of our own (a stored MESSAGE, a missed-call notice, a NOTIFY) to a registered binding
// through a client transaction, resolving with the final response (null on timeout or transport error).
import type { SipRequest, SipResponse } from '../sip/message.ts';
import { createResponse } from '../sip/response.ts';
import type { TransactionLayer } from '../transaction/transaction-layer.ts';
import type { Target, TransportName } from '../transport/transport.ts';
import type { Binding } from '../store/store.ts';
import { bindingTarget as proxyTarget, destinationOfUri } from '../proxy/target-set.ts';

/**
 * Where a request of ours to a binding goes: the same rule as a proxied branch (proxy/target-set.ts: first Path hop,
 * the binding's connection, the REGISTER's source for a NATed private Contact, else the Contact itself).
 */
export function bindingTarget(b: Pick<Binding, 'contact' | 'path' | 'transport' | 'sourceIp' | 'sourcePort' | 'connectionId'>): Target {
  const t = proxyTarget(b);
  if (t.destination) return t.destination;
  const next = t.path && t.path.length > 0 ? destinationOfUri(t.path[0]) : destinationOfUri(t.uri);
  return next ?? t.fallback ?? sourceTarget(b);
}

/**
 * Where a request of ours within a dialog (a NOTIFY) goes. RFC 3261 §12.2.1.1: to the first hop of the route set,
 * else to the remote target (the peer's Contact) — not to where the dialog-creating request came from, which may
 * be another port (sipsak sends from one and names another in its Contact). As for a binding: over the connection
 * it came on, and to that source when the remote target is a private address other than it (NAT).
 */
export function dialogTarget(d: { remoteTarget: string; routeSet: readonly string[] } & Pick<Binding, 'transport' | 'sourceIp' | 'sourcePort' | 'connectionId'>): Target {
  return bindingTarget({ contact: d.remoteTarget, path: [...d.routeSet], transport: d.transport, sourceIp: d.sourceIp, sourcePort: d.sourcePort, connectionId: d.connectionId });
}

/** Where the request that created some state came from, over its connection when it has one (RFC 5626 §5.2). */
export function sourceTarget(b: Pick<Binding, 'transport' | 'sourceIp' | 'sourcePort' | 'connectionId'>): Target {
  return {
    transport: b.transport as TransportName,
    address: b.sourceIp,
    port: b.sourcePort,
    connectionId: b.connectionId === null ? null : Number(b.connectionId),
  };
}

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
