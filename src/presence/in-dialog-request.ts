// Building a request within a dialog (RFC 3261 §12.2.1.1), for the NOTIFYs of a subscription. Pure.

import { SipRequest } from '../sip/message.ts';
import { parseNameAddr } from '../sip/headers.ts';
import { parseUri } from '../sip/uri.ts';

export interface DialogView {
  callId: string;
  localTag: string;
  remoteTag: string;
  /** the remote party's Contact (remote target) */
  remoteTarget: string;
  /** Record-Route values of the dialog-creating request, in order (UAS side, §12.1.1) */
  routeSet: string[];
}

function isLooseRoute(route: string): boolean {
  try {
    const uri = parseUri(parseNameAddr(route, 'Route').uri);
    return uri.params.has('lr');
  } catch {
    return true; // an unreadable route cannot be a Request-URI either: send it as a Route
  }
}

/**
 * RFC 3261 §12.2.1.1: Request-URI = remote target and Route = route set when the first route is a loose
 * router; else (strict router) Request-URI = first route and Route = the rest plus the remote target.
 * From carries our URI and local tag, To the remote URI and remote tag; CSeq is the caller's next number.
 */
export function buildInDialogRequest(method: string, dialog: DialogView, localUri: string, remoteUri: string, cseq: number): SipRequest {
  let requestUri = dialog.remoteTarget;
  let routes = dialog.routeSet;
  if (routes.length > 0 && !isLooseRoute(routes[0])) {
    requestUri = parseNameAddr(routes[0], 'Route').uri;
    routes = [...routes.slice(1), `<${dialog.remoteTarget}>`];
  }
  const req = new SipRequest(method, requestUri);
  for (const r of routes) req.addHeader('Route', r);
  req.addHeader('From', `<${localUri}>;tag=${dialog.localTag}`);
  req.addHeader('To', `<${remoteUri}>;tag=${dialog.remoteTag}`);
  req.addHeader('Call-ID', dialog.callId);
  req.addHeader('CSeq', `${cseq} ${method}`);
  req.addHeader('Max-Forwards', '70');
  return req;
}
