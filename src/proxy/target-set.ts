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
  /** where to send when `destination` is absent and the next hop cannot be resolved */
  fallback?: Destination;
}

/**
 * A registrar binding as a target: Request-URI = Contact. Where it is sent:
 * - with a Path, to the first Path hop (RFC 3327 §5.3);
 * - over the connection it registered on, when it came over TCP/TLS (RFC 3261 §18.2.2 reuse, RFC 5626 flows);
 * - to the address the REGISTER came from when the Contact names a private address other than that source
 *   (the UA is behind a NAT: RFC 3581 symmetric response routing applied to requests);
 * - otherwise to the Contact itself (a third-party registration names another host), falling back to the source
 *   address when the Contact's host cannot be resolved.
 */
export function bindingTarget(b: Pick<Binding, 'contact' | 'path' | 'transport' | 'sourceIp' | 'sourcePort' | 'connectionId'>): ProxyTarget {
  const t: ProxyTarget = { uri: b.contact, path: b.path };
  if (b.path.length > 0) return t;
  const connectionId = b.connectionId === null ? null : Number(b.connectionId);
  const transport = b.transport.toLowerCase() as TransportName;
  const source: Destination = {
    transport,
    address: b.sourceIp,
    port: b.sourcePort,
    connectionId: connectionId !== null && Number.isFinite(connectionId) ? connectionId : null,
  };
  if (source.connectionId !== null && source.connectionId !== undefined) {
    t.destination = source;
    return t;
  }
  const contact = destinationOfUri(b.contact);
  if (contact === null) {
    t.fallback = source;
    return t;
  }
  if (isPrivateAddress(contact.address) && contact.address !== b.sourceIp) t.destination = source;
  else t.destination = contact;
  return t;
}

/** RFC 1918, RFC 6598 (CGNAT), link-local and IPv6 unique-local/link-local addresses: what a NAT hides. */
export function isPrivateAddress(address: string): boolean {
  const a = address.startsWith('[') ? address.slice(1, -1).toLowerCase() : address.toLowerCase();
  if (a.indexOf(':') >= 0) return a.startsWith('fc') || a.startsWith('fd') || a.startsWith('fe80');
  const p = a.split('.').map(Number);
  if (p.length !== 4) return false;
  return p[0] === 10 || (p[0] === 172 && p[1] >= 16 && p[1] <= 31) || (p[0] === 192 && p[1] === 168) ||
    (p[0] === 100 && p[1] >= 64 && p[1] <= 127) || (p[0] === 169 && p[1] === 254);
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
