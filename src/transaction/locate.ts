// Where a request is sent (RFC 3263 §4 for numeric hosts; names are resolved by the caller — locate-server.ts locates
// the TV agent's servers and the trunks' carriers by name), for the proxy's branches and for requests of our own alike.
import type { Target as Destination } from '../transport/transport.ts';
import { parseSipUri } from '../sip/uri.ts';

/** The next hop of one request: its Request-URI, the Path ahead of any Route (RFC 3327 §5.3), where it is sent. */
export interface NextHop {
  /** becomes the Request-URI (RFC 3261 §16.6 step 2) */
  uri: string;
  /** RFC 3327 §5.3: Path values, which become Route header fields ahead of any others */
  path?: readonly string[];
  /**
   * where to send it; when absent it is derived from the first Route (after Path) or else the URI, which must then
   * hold an IP address
   */
  destination?: Destination;
  /** where to send when `destination` is absent and the next hop cannot be resolved */
  fallback?: Destination;
}

/** The URI of a name-addr (`<sip:x>;p`) or of a bare addr-spec (`sip:x;p` → `sip:x`). */
export function uriOfNameAddr(value: string): string {
  const lt = value.indexOf('<');
  if (lt < 0) {
    const semi = value.indexOf(';');
    return (semi < 0 ? value : value.slice(0, semi)).trim();
  }
  const gt = value.indexOf('>', lt + 1);
  return value.slice(lt + 1, gt < 0 ? value.length : gt).trim();
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
    // a bare URI (a Request-URI, a binding's Contact) keeps its parameters: `;transport=tcp` is the URI's; only in a
    // header value without <> would it be a header parameter (RFC 3261 §20), and Route/Path values always have <>
    u = parseSipUri(uriText.includes('<') ? uriOfNameAddr(uriText) : uriText.trim());
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

/** RFC 3261 §16.6 step 7: the first Route (Path values come first), else the Request-URI; null for a name. */
export function resolveNextHop(t: NextHop, resolve: (uri: string) => Destination | null = destinationOfUri): Destination | null {
  if (t.destination) return t.destination;
  const first = t.path !== undefined && t.path.length > 0 ? t.path[0] : undefined;
  return resolve(uriOfNameAddr(first ?? t.uri)) ?? t.fallback ?? null;
}
