// Server transport handling of the top Via of a received request.
// RFC 3261 §18.2.1: if the sent-by host differs from the source address, add `received` with the source address.
// RFC 3581 §4: if the top Via has `rport` without a value, set it to the source port, and add `received` even if equal.

import type { SipRequest } from '../sip/message.ts';
import { firstVia, readableVia, rewriteViaParams } from '../sip/via.ts';

/**
 * Stamp `received`/`rport` on the top Via of `req` in place. `address` is the source IP (IPv6 without brackets).
 * Returns false when the request has no Via it can read (the caller answers 400 or drops it).
 */
export function stampTopVia(req: SipRequest, address: string, port: number): boolean {
  const value = req.header('via');
  if (value === undefined) return false;
  const text = firstVia(value);
  const via = readableVia(text);
  if (via === null) return false;
  const host = via.host.startsWith('[') ? via.host.slice(1, -1) : via.host;
  const rport = via.rport === true;
  // nothing to add; a received= the client put there itself is left (RFC 3261 §18.2.1 only adds; a stale one is harmless)
  if (!rport && host === address.toLowerCase()) return true;
  const params = new Map(via.params);
  params.delete('received');
  if (rport) params.delete('rport');
  params.set('received', address);
  if (rport) params.set('rport', String(port));
  const stamped: typeof via = { ...via, received: address, rport: rport ? port : via.rport, params };
  return req.replaceTopVia(rewriteViaParams(text, params), stamped);
}
