// Route information preprocessing (RFC 3261 §16.4) and the URI of a Route / Record-Route / Path value.
import type { SipRequest } from '../sip/message.ts';
import { parseSipUri, type SipUri } from '../sip/uri.ts';
import { uriOfNameAddr } from '../transaction/locate.ts';

export { uriOfNameAddr };

function tryParseSip(uri: string): SipUri | null {
  try {
    return parseSipUri(uri);
  } catch {
    return null;
  }
}

export interface RoutePreprocessing {
  routedByUs: boolean;
  strictRouterFixed: boolean;
  /** the URIs of ours that were removed (the Route values, or a strict router's Request-URI) */
  ours?: string[];
}

/**
 * RFC 3261 §16.4. Changes `req` in place:
 * 1. a strict router sent us a request whose Request-URI is a URI we put in a Record-Route (no user part, `lr`):
 *    "replace the Request-URI with the last value from the Route header field, and remove that value";
 * 2. "if the first value in the Route header field indicates this proxy, the proxy MUST remove that value".
 *    Two such values in a row (RFC 5658 double Record-Route by another node of ours) are both removed.
 * `strictRouterFixed`: the Request-URI was replaced; `routedByUs`: that, or a Route naming us was removed (the
 * request came through us: Kamailio's loose_route() true).
 */
export function preprocessRoute(req: SipRequest, isLocal: (uri: string) => boolean): RoutePreprocessing {
  let fixed = false;
  let removed = false;
  let hasRoute = false;
  const ours: string[] = [];
  for (const f of req.headers) if (f.key === 'route') {
    hasRoute = true;
    break;
  }
  if (!hasRoute) return { routedByUs: false, strictRouterFixed: false };
  const ruri = tryParseSip(req.uri);
  if (ruri !== null && ruri.user === null && ruri.params.has('lr') && isLocal(req.uri)) {
    const routes = req.headerValues('route');
    const last = routes.pop();
    if (last !== undefined) {
      ours.push(req.uri);
      req.uri = uriOfNameAddr(last);
      req.removeHeader('route');
      for (const r of routes) req.addHeader('Route', r);
      fixed = true;
    }
  }
  for (let i = 0; i < 2; i++) {
    const top = req.header('route');
    if (top === undefined) break;
    const first = top.indexOf(',') < 0 ? top : (req.headerValues('route')[0] ?? '');
    if (!isLocal(uriOfNameAddr(first))) break;
    req.removeFirstValue('route');
    ours.push(uriOfNameAddr(first));
    removed = true;
  }
  return { routedByUs: fixed || removed, strictRouterFixed: fixed, ours };
}
