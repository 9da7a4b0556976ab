// Dialog state (RFC 3261 §12) as plain, serialisable data, and the pure functions on it: the UAS and UAC
// constructors (§12.1.1, §12.1.2) and the builder of requests within the dialog (§12.2.1.1). The `Dialog`
// class (dialog.ts) and the presence subscriptions (presence/) both use these; nothing here keeps state.
import { parseNameAddr, parseContacts, tagOf } from '../sip/headers.ts';
import { SipRequest, type SipResponse } from '../sip/message.ts';
import { parseUri } from '../sip/uri.ts';
import { SipError } from '../errors.ts';

export interface DialogState {
  callId: string;
  localTag: string;
  remoteTag: string;
  /** the From (UAC) or To (UAS) URI of the creating request */
  localUri: string;
  remoteUri: string;
  /** the From/To header values to reuse on our requests, display name kept; absent: `<localUri>` / `<remoteUri>` */
  localNameAddr?: string;
  remoteNameAddr?: string;
  /** RFC 3261 §12.1: the Contact of the peer; updated by target refresh requests (§12.2) */
  remoteTarget: string;
  /** Record-Route values, in the order our requests must carry them as Route */
  routeSet: string[];
  /** the last CSeq we sent (0: none yet) */
  localSeq: number;
  /** the last CSeq received from the peer (null until the first request) */
  remoteSeq: number | null;
  secure: boolean;
}

export interface InDialogRequestOptions {
  /** CSeq number; default local seq + 1 (ACK and CANCEL reuse the INVITE's) */
  seq?: number;
  body?: Uint8Array;
  /** default application/sdp */
  contentType?: string;
}

function uriOf(value: string | undefined, header: string): string {
  if (value === undefined) throw new SipError('bad-request', { detail: `Missing ${header}` });
  try {
    return parseNameAddr(value, header).uri;
  } catch {
    throw new SipError('bad-request', { detail: `Bad ${header}` });
  }
}

/** The first Contact URI of a message, or null when it has none (or `*`, or an unreadable one). */
export function firstContactUri(msg: SipRequest | SipResponse): string | null {
  try {
    const c = parseContacts(msg);
    return c === '*' || c.length === 0 ? null : c[0].uri;
  } catch {
    return null;
  }
}

const isSips = (uri: string): boolean => uri.toLowerCase().startsWith('sips:');

/**
 * RFC 3261 §12.1.1: the UAS builds the dialog from the request: route set = Record-Route in order,
 * remote target = Contact, remote seq = the request's CSeq, local seq empty, local tag = the To tag we add.
 */
export function uasDialogState(req: SipRequest, localTag: string): DialogState {
  const remoteTag = req.fromTag;
  if (remoteTag === null) throw new SipError('bad-request', { detail: 'Missing From tag' });
  const contact = firstContactUri(req);
  if (contact === null && (req.method === 'INVITE' || req.method === 'SUBSCRIBE')) throw new SipError('bad-request', { detail: 'Missing Contact' });
  const to = req.header('to') ?? '';
  const remoteTarget = contact ?? '';
  return {
    callId: req.callId, localTag, remoteTag,
    localUri: uriOf(to, 'To'), remoteUri: uriOf(req.header('from'), 'From'),
    localNameAddr: req.toTag === null ? `${to};tag=${localTag}` : to, remoteNameAddr: req.header('from') ?? '',
    remoteTarget, routeSet: req.headerValues('record-route'),
    localSeq: 0, remoteSeq: req.cseq().seq, secure: isSips(remoteTarget),
  };
}

/**
 * RFC 3261 §12.1.2: the UAC builds the dialog from a 1xx-with-tag or 2xx response: route set = Record-Route
 * in reverse order, remote target = Contact, local seq = the request's CSeq, remote seq empty.
 */
export function uacDialogState(req: SipRequest, res: SipResponse): DialogState {
  const remoteTag = res.toTag;
  const localTag = req.fromTag;
  if (remoteTag === null || localTag === null) throw new SipError('bad-request', { detail: 'Dialog needs From and To tags' });
  // a response with no Contact falls back to the Request-URI (tolerant of broken peers)
  const remoteTarget = firstContactUri(res) ?? req.uri;
  return {
    callId: req.callId, localTag, remoteTag,
    localUri: uriOf(req.header('from'), 'From'), remoteUri: uriOf(req.header('to'), 'To'),
    localNameAddr: req.header('from') ?? '', remoteNameAddr: res.header('to') ?? '',
    remoteTarget, routeSet: res.headerValues('record-route').reverse(),
    localSeq: req.cseq().seq, remoteSeq: null, secure: isSips(remoteTarget),
  };
}

/**
 * RFC 3261 §12.2.1.1: a request within the dialog — To = remote URI + remote tag, From = local URI + local tag,
 * Call-ID of the dialog, CSeq = local seq + 1 unless `seq` is given, Request-URI = remote target with
 * Route = route set when the first route is a loose router (;lr), else the strict form. Pure: the caller
 * records the CSeq it sent as the new local seq.
 */
export function createRequest(state: Readonly<DialogState>, method: string, opts: InDialogRequestOptions = {}): SipRequest {
  const seq = opts.seq ?? state.localSeq + 1;
  let uri = state.remoteTarget;
  let routes = state.routeSet;
  if (routes.length > 0 && !isLooseRoute(routes[0])) {
    // strict router: Request-URI = first route, the remote target goes last in Route
    uri = uriOf(routes[0], 'Route');
    routes = [...routes.slice(1), `<${state.remoteTarget}>`];
  }
  const req = new SipRequest(method, uri);
  for (const r of routes) req.addHeader('Route', r);
  req.addHeader('From', withTag(state.localNameAddr ?? `<${state.localUri}>`, state.localTag));
  req.addHeader('To', withTag(state.remoteNameAddr ?? `<${state.remoteUri}>`, state.remoteTag));
  req.addHeader('Call-ID', state.callId);
  req.addHeader('CSeq', `${seq} ${method}`);
  req.addHeader('Max-Forwards', '70');
  if (opts.body !== undefined && opts.body.length > 0) {
    req.addHeader('Content-Type', opts.contentType ?? 'application/sdp');
    req.body = opts.body;
  }
  return req;
}

/** RFC 3261 §19.1.1: `lr` is a URI parameter; tolerated as a header parameter too. An unreadable route is sent as a Route. */
function isLooseRoute(route: string): boolean {
  try {
    const na = parseNameAddr(route, 'Route');
    if (na.params.has('lr')) return true;
    return parseUri(na.uri).params.has('lr');
  } catch {
    return true;
  }
}

function withTag(nameAddr: string, tag: string): string {
  let existing: string | null = null;
  try {
    existing = tagOf(nameAddr);
  } catch {
    existing = null;
  }
  return existing === null ? `${nameAddr};tag=${tag}` : nameAddr;
}
