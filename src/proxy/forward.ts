// Building the copy of a request for one branch (RFC 3261 §16.6 steps 1–8). Pure.
import { SipRequest, type HeaderField } from '../sip/message.ts';

export interface BranchCopy {
  /** §16.6 step 2: the Request-URI of the copy */
  uri: string;
  /** RFC 3327 §5.3: Path values of the binding, inserted as the topmost Route values in order */
  path?: readonly string[];
  /**
   * §16.6 step 4: our Record-Route value (`<sip:host:port;transport=tcp;lr>`), or two, topmost first (RFC 5658 double
   * Record-Route), or null not to record-route
   */
  recordRoute: string | readonly string[] | null;
  /** §16.6 step 8: a Via value to put on top; the proxy leaves it out, as the transaction layer adds its own */
  via?: string;
}

/**
 * §16.6: copy the request (step 1), set the Request-URI (step 2), decrement Max-Forwards or add it with 70
 * (step 3), add Record-Route (step 4), Path → Route (step 6, RFC 3327); the Via (step 8) is the transaction layer's.
 * Header fields are shared with the original (they are replaced, never mutated); the body is shared.
 */
export function copyForBranch(req: SipRequest, c: BranchCopy): SipRequest {
  const src = req.headers;
  const headers: HeaderField[] = [];
  if (c.via !== undefined) headers.push({ name: 'Via', key: 'via', value: c.via });
  let mfSeen = false;
  const rr = c.recordRoute === null ? [] : typeof c.recordRoute === 'string' ? [c.recordRoute] : c.recordRoute;
  let rrDone = rr.length === 0;
  let routeDone = c.path === undefined || c.path.length === 0;
  for (let i = 0; i < src.length; i++) {
    const f = src[i];
    const key = f.key;
    if (key === 'max-forwards') {
      if (mfSeen) continue;
      mfSeen = true;
      const n = parseInt(f.value, 10);
      // §16.6 step 3: "decrement the Max-Forwards value by one"
      headers.push({ name: f.name, key, value: String(Number.isFinite(n) && n > 0 ? n - 1 : 0) });
      continue;
    }
    if (key === 'record-route' && !rrDone) {
      // §16.6 step 4: "inserted ... before any existing Record-Route header field values"
      for (const value of rr) headers.push({ name: 'Record-Route', key: 'record-route', value });
      rrDone = true;
    } else if (key === 'route' && !routeDone) {
      for (const p of c.path as readonly string[]) headers.push({ name: 'Route', key: 'route', value: p });
      routeDone = true;
    } else if (key === 'content-length') {
      continue; // the serializer writes it from the body
    }
    headers.push(f);
  }
  // §16.6 step 3: "If the copy does not contain a Max-Forwards header field, the proxy MUST add one with a value of 70"
  if (!mfSeen) headers.push({ name: 'Max-Forwards', key: 'max-forwards', value: '70' });
  if (!routeDone) for (const p of c.path as readonly string[]) headers.push({ name: 'Route', key: 'route', value: p });
  if (!rrDone) for (const value of rr) headers.push({ name: 'Record-Route', key: 'record-route', value });
  const copy = new SipRequest(req.method, c.uri, headers, req.body);
  copy.version = req.version;
  return copy;
}
