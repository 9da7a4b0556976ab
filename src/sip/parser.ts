// SIP message parser (RFC 3261 §7, §18.3, §20, §25). Pure: one whole message in, a SipRequest/SipResponse out.
//
// Built for speed: the head is decoded once as latin1 (byte offset = char offset), one pass finds the CRLFs
// and colons, header values stay strings (typed views come later: SipMessage caches the top Via, From, To and CSeq) and the body is a
// subarray of the input (no copy). A header line with bytes >= 0x80 is re-decoded as UTF-8.
import { isAscii } from 'node:buffer';
import { TOKEN } from './chars.ts';
import { cseqSyntaxError, nameAddrSyntaxError } from './headers.ts';
import { headerKey, SipRequest, SipResponse } from './message.ts';
import type { HeaderField } from './message.ts';
import { SipParseError } from './parse-error.ts';
import { readableTopVia, viaListSyntaxError, viaSyntaxError } from './via.ts';

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const MAX_CONTENT_LENGTH = 0x7fffffff;
/** Header fields one message may carry: real SIP uses a few dozen; thousands are a resource attack (answered 400). */
export const MAX_HEADER_FIELDS = 300;

/** Header name as written → key; common spellings seeded, others memoised up to a bound. */
const KEYS = new Map<string, string>();
const KEYS_LIMIT = 2048;
for (const n of [
  'Via', 'v', 'From', 'f', 'To', 't', 'Call-ID', 'Call-Id', 'i', 'CSeq', 'Cseq', 'Contact', 'm', 'Max-Forwards',
  'Content-Type', 'c', 'Content-Length', 'l', 'Route', 'Record-Route', 'Allow', 'Supported', 'k', 'Require',
  'User-Agent', 'Server', 'Expires', 'Min-Expires', 'Authorization', 'WWW-Authenticate', 'Proxy-Authenticate',
  'Proxy-Authorization', 'Path', 'Event', 'o', 'Subscription-State', 'Accept', 'Allow-Events', 'Date', 'Subject',
]) KEYS.set(n, headerKey(n));

/** Known names by their first letter, lower-cased: lower-case spelling, key, and the usual wire spelling (reused, not sliced). */
interface Known { lower: string; key: string; usual: string; check: Check }
/** the fields the parser checks as it reads them (a small integer: the switch below is a jump table) */
const CHECK = { none: 0, via: 1, from: 2, to: 3, callId: 4, cseq: 5, contentLength: 6, maxForwards: 7 } as const;
type Check = (typeof CHECK)[keyof typeof CHECK];
const CHECKS: Record<string, Check> = {
  via: CHECK.via, from: CHECK.from, to: CHECK.to, 'call-id': CHECK.callId, cseq: CHECK.cseq,
  'content-length': CHECK.contentLength, 'max-forwards': CHECK.maxForwards,
};
const KNOWN: Known[][] = [];
for (const usual of [
  'Via', 'v', 'From', 'f', 'To', 't', 'Call-ID', 'i', 'CSeq', 'Contact', 'm', 'Max-Forwards', 'Content-Type', 'c',
  'Content-Length', 'l', 'Route', 'Record-Route', 'Allow', 'Supported', 'k', 'Require', 'User-Agent', 'Server',
  'Expires', 'Min-Expires', 'Authorization', 'WWW-Authenticate', 'Proxy-Authenticate', 'Proxy-Authorization', 'Path',
  'Event', 'o', 'Subscription-State', 'Accept', 'Allow-Events', 'u', 'Date', 'Subject', 's', 'Proxy-Require', 'Unsupported',
  'Content-Encoding', 'e', 'Refer-To', 'r', 'Referred-By', 'b', 'Session-Expires', 'x', 'Min-SE', 'P-Asserted-Identity',
  'Privacy', 'Timestamp', 'Organization', 'Reason', 'RAck', 'RSeq', 'Warning', 'Retry-After', 'Accept-Encoding',
  'Accept-Language', 'Content-Disposition', 'SIP-ETag', 'SIP-If-Match', 'Replaces', 'MIME-Version', 'Priority',
]) {
  const lower = usual.toLowerCase();
  const key = headerKey(lower);
  (KNOWN[lower.charCodeAt(0)] ??= []).push({ lower, key, usual, check: CHECKS[key] ?? CHECK.none });
}

/**
 * The known name at head[pos, ne), any case, or null; ne < 0: a known name followed right by the colon (the usual
 * line). `exact` tells whether it was written in the usual spelling.
 */
let exact = false;
function knownName(head: string, pos: number, ne: number): Known | null {
  const list = KNOWN[head.charCodeAt(pos) | 0x20];
  if (list === undefined) return null;
  outer: for (let k = 0; k < list.length; k++) {
    const cand = list[k];
    const lower = cand.lower, usual = cand.usual;
    const len = lower.length;
    if (ne < 0 ? head.charCodeAt(pos + len) !== 0x3a : ne - pos !== len) continue;
    let same = true;
    for (let i = 1; i < len; i++) {
      let c = head.charCodeAt(pos + i);
      if (c === usual.charCodeAt(i)) continue;
      same = false;
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      if (c !== lower.charCodeAt(i)) continue outer;
    }
    exact = same && head.charCodeAt(pos) === usual.charCodeAt(0);
    return cand;
  }
  return null;
}

function keyOf(name: string): string {
  let k = KEYS.get(name);
  if (k === undefined) {
    k = headerKey(name);
    if (KEYS.size < KEYS_LIMIT) KEYS.set(name, k);
  }
  return k;
}

interface BufferWithLatin1 extends Buffer {
  latin1Slice?: (start: number, end: number) => string;
}

/**
 * Parse one whole SIP message. Throws only SipParseError, whatever the bytes.
 * RFC 3261 §18.3: with no Content-Length (datagrams), the body is the rest of the data.
 */
export function parseMessage(data: Uint8Array): SipRequest | SipResponse {
  try {
    return parse(data);
  } catch (e) {
    if (e instanceof SipParseError) throw e;
    throw new SipParseError('Malformed message', e instanceof Error ? e.message : String(e));
  }
}

const HEAD_WINDOW = 4096;

function latin1(buf: BufferWithLatin1, from: number, to: number): string {
  return buf.latin1Slice ? buf.latin1Slice(from, to) : buf.toString('latin1', from, to);
}

function fail(reason: string, detail?: string, status = 400): never {
  throw new SipParseError(reason, detail, status);
}

function parse(data: Uint8Array): SipRequest | SipResponse {
  const buf: BufferWithLatin1 = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const len = buf.length;
  let start = 0;
  // RFC 3261 §7.5: implementations SHOULD ignore any CRLFs appearing before the start-line
  while (start + 1 < len && buf[start] === 13 && buf[start + 1] === 10) start += 2;
  if (start >= len) fail('Empty message');
  // decode a window once as latin1 (byte offset = char offset) and find the end of the head in it
  const winEnd = len - start > HEAD_WINDOW ? start + HEAD_WINDOW : len;
  let head = latin1(buf, start, winEnd);
  let rel = head.indexOf('\r\n\r\n');
  let headEnd: number;
  if (rel >= 0) headEnd = start + rel;
  else {
    headEnd = winEnd < len ? buf.indexOf(CRLFCRLF, start) : -1;
    if (headEnd < 0) fail('Missing empty line after header fields');
    head = latin1(buf, start, headEnd);
    rel = head.length;
  }
  const n = rel; // head = head[0, n); the window may run on into the body
  // a small input is usually all ASCII: checking all of it needs no subarray; otherwise only the head counts
  const utf8 = !(len <= HEAD_WINDOW * 2 && isAscii(buf)) && !isAscii(buf.subarray(start, headEnd));

  // ---- start line (RFC 3261 §7.1, §7.2)
  let eol = head.indexOf('\r\n');
  if (eol < 0 || eol > n) eol = n;
  let request: SipRequest | null = null;
  let response: SipResponse | null = null;
  let lineError: SipParseError | null = null;
  if (head.startsWith('SIP/')) {
    const sp1 = head.indexOf(' ');
    if (sp1 < 0 || sp1 > eol) fail('Bad Status-Line');
    const version = head.slice(0, sp1);
    if (version !== 'SIP/2.0' && version.toUpperCase() !== 'SIP/2.0') fail('Version Not Supported', version, 505);
    // Status-Code = 3DIGIT
    const d0 = head.charCodeAt(sp1 + 1) - 48, d1 = head.charCodeAt(sp1 + 2) - 48, d2 = head.charCodeAt(sp1 + 3) - 48;
    if (!(d0 >= 1 && d0 <= 6 && d1 >= 0 && d1 <= 9 && d2 >= 0 && d2 <= 9)) fail('Bad Status-Code', head.slice(sp1 + 1, eol));
    const after = sp1 + 4;
    if (after < eol && head.charCodeAt(after) !== 0x20) fail('Bad Status-Code', head.slice(sp1 + 1, eol));
    let reason = after < eol ? head.slice(after + 1, eol) : '';
    if (utf8 && hasHigh(head, after, eol)) reason = buf.toString('utf8', start + after + 1, start + eol);
    response = new SipResponse(d0 * 100 + d1 * 10 + d2, reason);
    response.version = version;
  } else {
    // Request-Line = Method SP Request-URI SP SIP-Version CRLF
    const sp1 = head.indexOf(' ');
    if (sp1 <= 0 || sp1 > eol) fail('Bad Request-Line');
    const method = head.slice(0, sp1);
    for (let i = 0; i < sp1; i++) if (TOKEN[head.charCodeAt(i)] === 0) fail('Bad Request-Line', `bad method "${method}"`);
    // with the method read, a fault in the rest of the line is answered once the headers are read (RFC 4475 §3.1.2.7-10, §3.1.2.16)
    const sp2 = head.indexOf(' ', sp1 + 1);
    const uriEnd = sp2 < 0 || sp2 > eol ? eol : sp2;
    const uri = head.slice(sp1 + 1, uriEnd);
    const version = uriEnd < eol ? head.slice(uriEnd + 1, eol) : '';
    lineError = uriEnd === eol ? new SipParseError('Bad Request-Line', 'missing SIP-Version') : requestLineError(buf, start + sp1 + 1, start + uriEnd, uri, version);
    request = new SipRequest(method, uri);
    request.version = version;
  }
  const msg = (request ?? response) as SipRequest | SipResponse;

  // ---- header fields (RFC 3261 §7.3): one pass over CRLFs and colons
  const headers: HeaderField[] = [];
  msg.headers = headers;
  let pos = eol + 2;
  let contentLength = -1;
  let cseqValue: string | null = null;
  let cseqBytes: Uint8Array = buf, cseqFrom = 0, cseqTo = 0; // the first CSeq value as bytes
  let seen = 0; // bit mask of mandatory headers: 1 Via, 2 From, 4 To, 8 Call-ID, 16 CSeq
  let badHeader: string | null = null;
  let badDetail = '';
  let tooMany = false;
  while (pos < n) {
    if (headers.length >= MAX_HEADER_FIELDS) {
      tooMany = true; // the rest is not read: what was read is enough to answer
      break;
    }
    const c0 = head.charCodeAt(pos);
    if (c0 === 0x20 || c0 === 0x09) fail('Bad header field', 'continuation line without a header');
    let end = crlfAt(head, pos, n);
    let folded = false;
    // RFC 3261 §7.3.1: a line starting with SP or HTAB continues the previous one (LWS)
    while (end < n) {
      const c = head.charCodeAt(end + 2);
      if (c !== 0x20 && c !== 0x09) break;
      folded = true;
      end = crlfAt(head, end + 2, n);
    }
    // the name: a known one right before the colon (the usual case), else token characters up to the colon, else up
    // to the first colon, trimmed
    let known = knownName(head, pos, -1);
    let ne = pos;
    if (known !== null) ne += known.lower.length;
    else while (ne < end && TOKEN[head.charCodeAt(ne)] === 1) ne++;
    let colon = ne;
    if (ne === end || head.charCodeAt(ne) !== 0x3a) {
      colon = head.indexOf(':', pos);
      if (colon < 0 || colon > end) fail('Bad header field', `no colon in "${head.slice(pos, Math.min(end, pos + 40))}"`);
      ne = colon;
      while (ne > pos) {
        const c = head.charCodeAt(ne - 1);
        if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) break;
        ne--;
      }
      for (let i = pos; i < ne; i++) if (TOKEN[head.charCodeAt(i)] === 0) fail('Bad header field', `bad header name "${head.slice(pos, ne)}"`);
      if (ne > pos) known = knownName(head, pos, ne);
    }
    if (ne === pos) fail('Bad header field', 'empty header name');
    let vs = colon + 1;
    while (vs < end) {
      const c = head.charCodeAt(vs);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) break;
      vs++;
    }
    let ve = end;
    while (ve > vs) {
      const c = head.charCodeAt(ve - 1);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) break;
      ve--;
    }
    const name = known !== null && exact ? known.usual : head.slice(pos, ne);
    const key = known !== null ? known.key : keyOf(name);
    let value: string;
    // raw is kept only when the line differs from the canonical `Name: value` (serializing that gives the same bytes)
    let raw: string | undefined;
    // the value still lies in head[vs, ve) (checks read it there: a flat string, no slice)
    let inHead = !folded;
    if (utf8 && hasHigh(head, pos, end)) {
      value = buf.toString('utf8', start + vs, start + ve);
      raw = buf.toString('utf8', start + pos, start + end);
      inHead = false;
    } else {
      value = head.slice(vs, ve);
      if (folded || ve !== end || vs !== ne + 2 || colon !== ne || head.charCodeAt(colon + 1) !== 0x20) raw = head.slice(pos, end);
    }
    if (folded) value = unfold(value);
    headers.push({ name, key, value, raw });
    // every field checked here has a known name (any spelling of it is found above)
    const check = known === null ? CHECK.none : known.check;
    switch (check) {
      case CHECK.via:
        seen |= 1;
        if (badHeader === null) {
          // one via-parm is the usual case; a list (or an error) is split and checked element by element
          let err: string | null;
          if (folded) {
            const b = Buffer.from(value, 'utf8');
            err = viaListSyntaxError(b, 0, b.length);
          } else err = viaSyntaxError(buf, start + vs, start + ve) === null ? null : viaListSyntaxError(buf, start + vs, start + ve);
          if (err !== null) { badHeader = 'Via'; badDetail = err; }
        }
        break;
      case CHECK.from:
      case CHECK.to:
        seen |= check === CHECK.from ? 2 : 4;
        if (badHeader === null) {
          // a request's From and To must read as name-addr or addr-spec (RFC 4475 §3.1.2.15); a response's only frame
          const err = request !== null ? (inHead ? nameAddrSyntaxError(head, vs, ve) : nameAddrSyntaxError(value))
            : (folded ? balanced(Buffer.from(value, 'utf8')) : balanced(buf, start + vs, start + ve)) ? null : 'unbalanced quotes or angle brackets';
          if (err !== null) { badHeader = check === CHECK.from ? 'From' : 'To'; badDetail = err; }
        }
        break;
      case CHECK.callId:
        seen |= 8;
        if (badHeader === null && value.length === 0) { badHeader = 'Call-ID'; badDetail = 'empty'; }
        break;
      case CHECK.cseq:
        seen |= 16;
        if (cseqValue === null) {
          cseqValue = value;
          if (folded) { cseqBytes = Buffer.from(value, 'utf8'); cseqTo = cseqBytes.length; }
          else { cseqFrom = start + vs; cseqTo = start + ve; }
        }
        else if (badHeader === null && cseqValue !== value) { badHeader = 'CSeq'; badDetail = 'more than one CSeq'; }
        break;
      case CHECK.contentLength: {
        let cl = -1;
        if (value.length > 0 && value.length <= 10) {
          cl = 0;
          for (let i = 0; i < value.length; i++) {
            const d = value.charCodeAt(i) - 48;
            if (d < 0 || d > 9) { cl = -1; break; }
            cl = cl * 10 + d;
          }
        }
        if (cl < 0 || cl > MAX_CONTENT_LENGTH) { if (badHeader === null) { badHeader = 'Content-Length'; badDetail = value; } }
        else if (contentLength >= 0 && contentLength !== cl) { if (badHeader === null) { badHeader = 'Content-Length'; badDetail = 'conflicting values'; } }
        else contentLength = cl;
        break;
      }
      case CHECK.maxForwards:
        for (let i = 0; i < value.length; i++) {
          const d = value.charCodeAt(i);
          if (d < 48 || d > 57) { if (badHeader === null) { badHeader = 'Max-Forwards'; badDetail = value; } break; }
        }
        if (value.length === 0 && badHeader === null) { badHeader = 'Max-Forwards'; badDetail = 'empty'; }
        break;
    }
    pos = end + 2;
  }

  // ---- body (RFC 3261 §7.4, §18.3, §20.14)
  const bodyStart = headEnd + 4;
  if (contentLength >= 0) {
    if (bodyStart + contentLength > len) {
      if (badHeader === null) { badHeader = 'Content-Length'; badDetail = `larger than the message (${contentLength} > ${len - bodyStart})`; }
    } else if (contentLength > 0) msg.body = buf.subarray(bodyStart, bodyStart + contentLength);
  } else if (len > bodyStart) msg.body = buf.subarray(bodyStart, len);
  // an empty body stays the shared EMPTY: a zero-length view would keep the whole datagram alive with the message

  // ---- mandatory header fields (RFC 3261 §8.1.1) and their syntax
  // RFC 3261 §8.1.1.5: the CSeq method MUST match the method of the request
  const cseqErr = cseqValue !== null ? cseqSyntaxError(cseqBytes, cseqFrom, cseqTo, request !== null ? request.method : null) : null;
  if (lineError !== null || seen !== 31 || badHeader !== null || cseqErr !== null || tooMany) {
    const err = lineError ?? (tooMany ? new SipParseError('Too Many Header Fields', `more than ${MAX_HEADER_FIELDS}`)
      : (seen & 1) === 0 ? new SipParseError('Missing Via header')
      : seen !== 31 ? new SipParseError(`Missing ${missingNames(seen)}`)
      : badHeader !== null ? new SipParseError(`Bad ${badHeader} header`, badDetail)
      : new SipParseError('Bad CSeq header', cseqErr ?? ''));
    // RFC 3261 §8.2.6, RFC 4475 §3.3.1: a response can be built, and routed, when the request's top Via can be read
    if (request !== null && readableTopVia(request) !== null) err.request = request;
    throw err;
  }
  return msg;
}

/** Index of the first CRLF at or after `from` in s, or n when there is none before n (a one-character search is V8's fastest). */
function crlfAt(s: string, from: number, n: number): number {
  let lf = s.indexOf('\n', from + 1);
  while (lf >= 0 && s.charCodeAt(lf - 1) !== 0x0d) lf = s.indexOf('\n', lf + 1);
  return lf < 0 || lf - 1 > n ? n : lf - 1;
}

/** "From header", "From, To and Call-ID headers": the mandatory fields (RFC 3261 §8.1.1) missing from `seen`. */
function missingNames(seen: number): string {
  const names = ['From', 'To', 'Call-ID', 'CSeq'].filter((_, i) => (seen & (2 << i)) === 0);
  if (names.length === 1) return `${names[0]} header`;
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]} headers`;
}

function hasHigh(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (s.charCodeAt(i) >= 0x80) return true;
  return false;
}

/** RFC 3261 §7.3.1: replace each LWS containing a line break with a single SP. */
function unfold(v: string): string {
  return v.replace(/[ \t]*\r\n[ \t]+/g, ' ');
}

/** Quoted strings (with backslash escapes) closed and angle brackets balanced. */
function balanced(b: Uint8Array, from = 0, to = b.length): boolean {
  let quoted = false;
  let angle = 0;
  for (let i = from; i < to; i++) {
    const c = b[i];
    if (quoted) {
      if (c === 0x5c) i++;
      else if (c === 0x22) quoted = false;
    } else if (c === 0x22) quoted = true;
    else if (c === 0x3c) angle++;
    else if (c === 0x3e) { if (--angle < 0) return false; }
  }
  return !quoted && angle === 0;
}

/** What is wrong with a Request-Line's Request-URI b[from, to) (= uri) and SIP-Version, or null (RFC 3261 §7.1, §25.1). */
function requestLineError(b: Uint8Array, from: number, to: number, uri: string, version: string): SipParseError | null {
  if (uri.length === 0) return new SipParseError('Bad Request-Line', 'more than one SP between elements');
  if (version !== 'SIP/2.0') {
    if (version.indexOf(' ') >= 0 || version.indexOf('\t') >= 0) return new SipParseError('Bad Request-Line', 'white space in the Request-Line');
    if (version.toUpperCase() !== 'SIP/2.0') {
      if (!version.toUpperCase().startsWith('SIP/')) return new SipParseError('Bad Request-Line', `bad SIP-Version "${version}"`);
      return new SipParseError('Version Not Supported', version, 505);
    }
  }
  return requestUriOk(b, from, to) ? null : new SipParseError('Bad Request-URI', uri);
}

/** Request-URI sanity (RFC 3261 §7.1, §25.1): an absoluteURI with a scheme, not enclosed in <>. */
function requestUriOk(b: Uint8Array, from: number, to: number): boolean {
  let colon = from;
  while (colon < to && b[colon] !== 0x3a) colon++;
  if (colon === from || colon === to) return false;
  for (let i = from; i < colon; i++) {
    const c = b[i];
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (i > from && ((c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e));
    if (!ok) return false;
  }
  for (let i = colon + 1; i < to; i++) {
    const c = b[i];
    if (c < 0x21 || c > 0x7e || c === 0x3c || c === 0x3e || c === 0x22) return false;
  }
  return true;
}
