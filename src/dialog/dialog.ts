// Dialogs (RFC 3261 §12): the state two user agents share after an INVITE or SUBSCRIBE succeeds —
// dialog id (Call-ID, local tag, remote tag), local and remote CSeq, local and remote URI, remote target
// and route set. Pure: builds in-dialog requests and checks incoming ones; the UA core sends them.
import { parseNameAddr, parseContacts, tagOf } from '../sip/headers.ts';
import { SipRequest, type SipResponse } from '../sip/message.ts';
import { SipError } from '../errors.ts';

export type DialogState = 'early' | 'confirmed' | 'terminated';

export interface DialogId {
  callId: string;
  localTag: string;
  remoteTag: string;
}

/** `callId;local;remote`: the key the UA core keeps its dialogs under. */
export function dialogKey(id: DialogId): string {
  return `${id.callId};${id.localTag};${id.remoteTag}`;
}

/** The id of the dialog an incoming in-dialog request belongs to (RFC 3261 §12.2.2: local tag = To tag). */
export function dialogIdOfRequest(req: SipRequest): DialogId | null {
  const localTag = req.toTag;
  const remoteTag = req.fromTag;
  if (localTag === null || remoteTag === null) return null;
  return { callId: req.callId, localTag, remoteTag };
}

function uriOf(value: string | undefined, header: string): string {
  if (value === undefined) throw new SipError(400, `Missing ${header}`);
  try {
    return parseNameAddr(value, header).uri;
  } catch {
    throw new SipError(400, `Bad ${header}`);
  }
}

function firstContactUri(msg: SipRequest | SipResponse): string | null {
  try {
    const c = parseContacts(msg);
    return c === '*' || c.length === 0 ? null : c[0].uri;
  } catch {
    return null;
  }
}

export class Dialog {
  readonly callId: string;
  readonly localTag: string;
  remoteTag: string;
  /** the From (UAC) or To (UAS) of the creating request, as a URI */
  readonly localUri: string;
  readonly remoteUri: string;
  /** the full From/To header values to reuse on our requests (display name kept) */
  readonly localNameAddr: string;
  readonly remoteNameAddr: string;
  /** RFC 3261 §12.1: the Contact of the peer; updated by target refresh requests (re-INVITE, §12.2) */
  remoteTarget: string;
  /** Record-Route values, in the order our requests must carry them as Route */
  readonly routeSet: string[];
  /** RFC 3261 §12.1.1/§12.1.2: the last CSeq we sent (null: none yet) */
  localSeq: number;
  /** the last CSeq received from the peer (null until the first request) */
  remoteSeq: number | null;
  readonly secure: boolean;
  state: DialogState;
  readonly isUac: boolean;

  private constructor(o: {
    callId: string; localTag: string; remoteTag: string; localUri: string; remoteUri: string; localNameAddr: string; remoteNameAddr: string;
    remoteTarget: string; routeSet: string[]; localSeq: number; remoteSeq: number | null; state: DialogState; isUac: boolean;
  }) {
    this.callId = o.callId;
    this.localTag = o.localTag;
    this.remoteTag = o.remoteTag;
    this.localUri = o.localUri;
    this.remoteUri = o.remoteUri;
    this.localNameAddr = o.localNameAddr;
    this.remoteNameAddr = o.remoteNameAddr;
    this.remoteTarget = o.remoteTarget;
    this.routeSet = o.routeSet;
    this.localSeq = o.localSeq;
    this.remoteSeq = o.remoteSeq;
    this.secure = o.remoteTarget.toLowerCase().startsWith('sips:');
    this.state = o.state;
    this.isUac = o.isUac;
  }

  get id(): DialogId {
    return { callId: this.callId, localTag: this.localTag, remoteTag: this.remoteTag };
  }

  get key(): string {
    return dialogKey(this.id);
  }

  /**
   * RFC 3261 §12.1.2: the UAC builds the dialog from a 1xx-with-tag or 2xx response: route set = Record-Route
   * in reverse order, remote target = Contact, local seq = the request's CSeq, remote seq empty.
   */
  static asUac(req: SipRequest, res: SipResponse): Dialog {
    const remoteTag = res.toTag;
    const localTag = req.fromTag;
    if (remoteTag === null || localTag === null) throw new SipError(400, 'Dialog needs From and To tags');
    const rr = res.headerValues('record-route').reverse();
    const contact = firstContactUri(res);
    return new Dialog({
      callId: req.callId, localTag, remoteTag,
      localUri: uriOf(req.header('from'), 'From'), remoteUri: uriOf(req.header('to'), 'To'),
      localNameAddr: req.header('from') ?? '', remoteNameAddr: res.header('to') ?? '',
      // §12.1.2: a dialog with no Contact in the response falls back to the Request-URI (tolerant of broken peers)
      remoteTarget: contact ?? req.uri,
      routeSet: rr, localSeq: req.cseq().seq, remoteSeq: null,
      state: res.status >= 200 ? 'confirmed' : 'early', isUac: true,
    });
  }

  /**
   * RFC 3261 §12.1.1: the UAS builds the dialog from the request: route set = Record-Route in order,
   * remote target = Contact, remote seq = the request's CSeq, local seq empty, local tag = the To tag we add.
   */
  static asUas(req: SipRequest, localTag: string, state: DialogState = 'confirmed'): Dialog {
    const remoteTag = req.fromTag;
    if (remoteTag === null) throw new SipError(400, 'Missing From tag');
    const contact = firstContactUri(req);
    if (contact === null && (req.method === 'INVITE' || req.method === 'SUBSCRIBE')) throw new SipError(400, 'Missing Contact');
    const to = req.header('to') ?? '';
    return new Dialog({
      callId: req.callId, localTag, remoteTag,
      localUri: uriOf(to, 'To'), remoteUri: uriOf(req.header('from'), 'From'),
      localNameAddr: req.toTag === null ? `${to};tag=${localTag}` : to, remoteNameAddr: req.header('from') ?? '',
      remoteTarget: contact ?? '', routeSet: req.headerValues('record-route'),
      localSeq: 0, remoteSeq: req.cseq().seq, state, isUac: false,
    });
  }

  /** An early dialog becomes confirmed on the 2xx (RFC 3261 §12.1.2); its remote target follows the 2xx's Contact. */
  confirm(res?: SipResponse): void {
    if (this.state === 'terminated') return;
    this.state = 'confirmed';
    if (res !== undefined) {
      const c = firstContactUri(res);
      if (c !== null) this.remoteTarget = c;
    }
  }

  /**
   * RFC 3261 §12.2.1.1: a request within the dialog — To = remote URI + remote tag, From = local URI + local tag,
   * Call-ID of the dialog, CSeq = local seq + 1 (ACK and CANCEL reuse the INVITE's, pass `seq`),
   * Request-URI = remote target with Route = route set (loose routing: first route has ;lr), else the strict form.
   */
  createRequest(method: string, opts: { seq?: number; body?: Uint8Array; contentType?: string } = {}): SipRequest {
    let seq: number;
    if (opts.seq !== undefined) seq = opts.seq;
    else {
      this.localSeq += 1;
      seq = this.localSeq;
    }
    let uri = this.remoteTarget;
    const routes = [...this.routeSet];
    if (routes.length > 0 && !isLooseRoute(routes[0])) {
      // RFC 3261 §12.2.1.1: strict router — Request-URI = first route, the remote target goes last in Route.
      uri = uriOf(routes[0], 'Route');
      routes.shift();
      routes.push(`<${this.remoteTarget}>`);
    }
    const req = new SipRequest(method, uri);
    for (const r of routes) req.addHeader('Route', r);
    req.addHeader('From', withTag(this.localNameAddr, this.localTag));
    req.addHeader('To', withTag(this.remoteNameAddr, this.remoteTag));
    req.addHeader('Call-ID', this.callId);
    req.addHeader('CSeq', `${seq} ${method}`);
    req.addHeader('Max-Forwards', '70');
    if (opts.body !== undefined && opts.body.length > 0) {
      req.addHeader('Content-Type', opts.contentType ?? 'application/sdp');
      req.body = opts.body;
    }
    return req;
  }

  /**
   * RFC 3261 §12.2.2: a request whose CSeq is lower than the remote seq is out of order: 500. Otherwise the
   * remote seq is updated; a target refresh (re-INVITE, SUBSCRIBE, NOTIFY per RFC 6665) may change the remote target.
   * Returns a SipError to answer with, or null when the request is in order.
   */
  receiveRequest(req: SipRequest): SipError | null {
    let seq: number;
    try {
      seq = req.cseq().seq;
    } catch {
      return new SipError(400, 'Bad CSeq');
    }
    if (req.method === 'ACK' || req.method === 'CANCEL') return null;
    if (this.remoteSeq !== null && seq < this.remoteSeq) return new SipError(500, 'CSeq Out of Order');
    if (this.remoteSeq !== null && seq === this.remoteSeq) return new SipError(500, 'CSeq Out of Order');
    this.remoteSeq = seq;
    if (req.method === 'INVITE' || req.method === 'UPDATE' || req.method === 'NOTIFY' || req.method === 'SUBSCRIBE') {
      const c = firstContactUri(req);
      if (c !== null) this.remoteTarget = c;
    }
    return null;
  }

  terminate(): void {
    this.state = 'terminated';
  }
}

function isLooseRoute(route: string): boolean {
  try {
    return /;\s*lr(\s*[;=>]|$)/i.test(parseNameAddr(route, 'Route').uri) || /;\s*lr\b/i.test(route);
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
