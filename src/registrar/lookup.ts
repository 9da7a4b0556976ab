// Lookup of an AoR (Kamailio's lookup.c): its bindings in the order they are tried (RFC 3261 §16.6, q-values
// §20.10), and where each binding is reached — the one rule for proxied branches and for requests of our own.
import type { Binding } from '../store/store.ts';
import { flowOf, type Flow } from '../flow.ts';
import type { Target as Destination } from '../transport/transport.ts';
import { destinationOfUri, resolveNextHop, type NextHop } from '../transaction/locate.ts';

/** Kamailio lookup()'s outcomes: found (1), no contact (-1: offline), no such user. */
export type LookupResult =
  | { kind: 'found'; bindings: Binding[] }
  | { kind: 'offline' }
  | { kind: 'no-such-user' };

/** A Contact without a q-value ranks as q=1.0 (the highest), RFC 3261 §20.10 leaves the default to us. */
export function qOf(b: Binding): number {
  return b.q ?? 1;
}

/** Highest q first; among equal q the most recently refreshed binding first. Returns a new array. */
export function orderBindings(bindings: readonly Binding[]): Binding[] {
  return [...bindings].sort((a, b) => qOf(b) - qOf(a) || b.updatedAt - a.updatedAt);
}

/** The most recently refreshed binding (the first of equals in `bindings`' order). */
export function newestBinding(bindings: readonly Binding[]): Binding | undefined {
  let best: Binding | undefined;
  for (const b of bindings) if (!best || b.updatedAt > best.updatedAt) best = b;
  return best;
}

/** What of a binding decides where requests to it go. */
type Reach = Pick<Binding, 'contact' | 'path' | 'flow'>;

/**
 * A binding as a next hop: Request-URI = Contact. Where it is sent:
 * - with a Path, to the first Path hop (RFC 3327 §5.3);
 * - over the connection it registered on, when it came over TCP/TLS (RFC 3261 §18.2.2 reuse, RFC 5626 flows);
 * - to the address the REGISTER came from when the Contact names a private address other than that source
 *   (the UA is behind a NAT: RFC 3581 symmetric response routing applied to requests);
 * - otherwise to the Contact itself (a third-party registration names another host), falling back to the source
 *   address when the Contact's host cannot be resolved.
 */
export function bindingTarget(b: Reach): NextHop {
  const t: NextHop = { uri: b.contact, path: b.path };
  if (b.path.length > 0) return t;
  // RFC 5626 §5.2: a flow is itself a next hop, over its connection when it has one.
  if (reachedOverFlow(b)) {
    t.destination = flowOf(b.flow);
    return t;
  }
  const contact = destinationOfUri(b.contact);
  if (contact === null) t.fallback = flowOf(b.flow);
  else t.destination = contact;
  return t;
}

/**
 * Whether requests to the binding go over the flow its REGISTER came on: its connection (TCP/TLS/WS), or, over
 * UDP, the NAT's public address when the Contact names a private one other than the source (see bindingTarget).
 * Only the node that received the REGISTER holds that flow: a NAT lets in what comes from where it sent to.
 */
export function reachedOverFlow(b: Reach): boolean {
  if (b.path.length > 0) return false;
  if (b.flow.connectionId !== null) return true;
  const contact = destinationOfUri(b.contact);
  return contact !== null && isPrivateAddress(contact.address) && contact.address !== b.flow.address;
}

/** Where a request of ours to a binding goes: bindingTarget's next hop, else the REGISTER's source. */
export function destinationOf(b: Reach): Destination {
  return resolveNextHop(bindingTarget(b)) ?? flowOf(b.flow);
}

/**
 * Where a request of ours within a dialog (a NOTIFY) goes. RFC 3261 §12.2.1.1: to the first hop of the route set,
 * else to the remote target (the peer's Contact) — not to where the dialog-creating request came from, which may
 * be another port (sipsak sends from one and names another in its Contact). As for a binding: over the connection
 * it came on, and to that source when the remote target is a private address other than it (NAT).
 */
export function dialogTarget(d: { remoteTarget: string; routeSet: readonly string[]; flow: Flow }): Destination {
  return destinationOf({ contact: d.remoteTarget, path: [...d.routeSet], flow: d.flow });
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
