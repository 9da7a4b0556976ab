// The target set of a proxied request (RFC 3261 §16.5) and where each target is reached.
import type { Binding } from '../store/store.ts';
import type { Target as Destination, TransportName } from '../transport/transport.ts';
import { parseSipUri } from '../sip/uri.ts';
import { uriOfNameAddr } from './route.ts';

/** One target of the target set: the Request-URI of its branch and where the branch is sent. */
export interface ProxyTarget {
  /** becomes the Request-URI of the forwarded copy (§16.6 step 2) */
  uri: string;
  /** RFC 3327 §5.3: the binding's Path values, which become Route header fields ahead of any others */
  path?: readonly string[];
  /**
   * where to send the copy; when absent it is derived from the first Route (after Path) or else the URI,
   * which must then hold an IP address (names are resolved by the caller, RFC 3263)
   */
  destination?: Destination;
}

/**
 * A registrar binding as a target: Request-URI = Contact, and the request goes where the REGISTER came from
 * (received source address and port, over its connection if still open: RFC 5626 flows / NAT), unless the
 * binding has a Path, whose first hop then gets it.
 */
export function bindingTarget(b: Binding): ProxyTarget {
  const connectionId = b.connectionId === null ? null : Number(b.connectionId);
  const transport = b.transport.toLowerCase() as TransportName;
  const t: ProxyTarget = { uri: b.contact, path: b.path };
  if (b.path.length === 0) {
    t.destination = {
      transport,
      address: b.sourceIp,
      port: b.sourcePort,
      connectionId: Number.isFinite(connectionId) ? connectionId : null,
    };
  }
  return t;
}

export function isBinding(t: Binding | ProxyTarget): t is Binding {
  return (t as Binding).contact !== undefined && (t as Binding).sourceIp !== undefined;
}

export function toTarget(t: Binding | ProxyTarget): ProxyTarget {
  return isBinding(t) ? bindingTarget(t) : t;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * The destination of a URI (a Route or a Request-URI) when it holds an IP address: transport from its
 * `transport` parameter (UDP by default, TLS for sips), port from the URI or the transport's default
 * (RFC 3263 §4.1/§4.2 for numeric hosts). Null when the host is a name.
 */
export function destinationOfUri(uriText: string): Destination | null {
  let u;
  try {
    u = parseSipUri(uriOfNameAddr(uriText));
  } catch {
    return null;
  }
  const host = u.host;
  const literal = IPV4.test(host) || host.startsWith('[');
  if (!literal) return null;
  const tp = (u.params.get('transport') ?? (u.scheme === 'sips' ? 'tls' : 'udp'))?.toLowerCase();
  if (tp !== 'udp' && tp !== 'tcp' && tp !== 'tls') return null;
  const address = host.startsWith('[') ? host.slice(1, -1) : host;
  return { transport: tp, address, port: u.port ?? (tp === 'tls' ? 5061 : 5060) };
}
