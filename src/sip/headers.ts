// Typed views of SIP header values, parsed on demand (RFC 3261 §20, §25.1). Pure.
// The Via header has its own home: ./via.ts.
import { TOKEN, isToken, isWs, parseDigits, quote, quotedEnd, readQuoted, skipWs } from './chars.ts';
import { SipParseError } from './parse-error.ts';
import { bad, formatParams, readParams, readToken, tokenEnd, wsEnd } from './params.ts';

const MAX_U32 = 4294967295;

/** What the message-level readers need of a message (./message.ts imports this file, not the other way round). */
export interface HeaderSource {
  header(name: string): string | undefined;
  headerValues(name: string): string[];
}

// ---------------------------------------------------------------------------------------- name-addr

export interface NameAddr {
  displayName: string | null;
  /** the URI text, without angle brackets */
  uri: string;
  /** header parameters (tag, expires, q, +sip.instance, reg-id ...), names lower-cased, values unquoted */
  params: Map<string, string | null>;
}

/** Where scanNameAddr found the parts of the value it last read: reused, so checking a header allocates nothing. */
const span = { dn: -1, dnEnd: -1, quoted: false, uri: 0, uriEnd: 0, params: 0 };

/** White space as String.prototype.trim() sees it (ECMA-262 WhiteSpace and LineTerminator). */
function trimWs(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a)
    || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/**
 * Read `[display-name] <uri>` or an addr-spec `uri` (RFC 3261 §20.10, §25.1) from the value s[from, to) into `span`,
 * up to its header parameters (span.params); the reason it does not read, or null.
 */
function scanNameAddr(s: string, from: number, to: number): string | null {
  let i = from;
  while (i < to && isWs(s.charCodeAt(i))) i++;
  if (i >= to) return 'empty value';
  span.dn = -1;
  span.quoted = false;
  const c0 = s.charCodeAt(i);
  let lt = -1;
  if (c0 === 0x22) {
    const e = quotedEnd(s, i, to);
    if (e < 0) return `unterminated quoted string in "${s.slice(from, to)}"`;
    span.dn = i;
    span.dnEnd = e;
    span.quoted = true;
    i = e;
    while (i < to && isWs(s.charCodeAt(i))) i++;
    if (i >= to || s.charCodeAt(i) !== 0x3c) return `missing "<" after display name in "${s.slice(from, to)}"`;
    lt = i;
  } else if (c0 === 0x3c) lt = i;
  else {
    // display-name = *(token LWS) or an addr-spec: a '<' before any ';' means name-addr
    const l = s.indexOf('<', i);
    if (l >= 0 && l < to) {
      let a = i, b = l;
      while (a < b && trimWs(s.charCodeAt(a))) a++;
      while (b > a && trimWs(s.charCodeAt(b - 1))) b--;
      for (let j = a; j < b; j++) {
        const c = s.charCodeAt(j);
        // RFC 3261 §25.1: display-name = *(token LWS) / quoted-string
        if (c > 0xff || (TOKEN[c] === 0 && !isWs(c))) return `non-token character in display name "${s.slice(a, b)}"`;
      }
      if (b > a) { span.dn = a; span.dnEnd = b; }
      lt = l;
    }
  }
  let u: number, ue: number;
  if (lt >= 0) {
    const gt = s.indexOf('>', lt + 1);
    if (gt < 0 || gt >= to) return `missing ">" in "${s.slice(from, to)}"`;
    u = lt + 1;
    ue = gt;
    i = gt + 1;
  } else {
    // RFC 3261 §20.10: an addr-spec holding ',', '?' or ';' must be written as name-addr; its ';' starts header params
    const semi = s.indexOf(';', i);
    u = i;
    ue = semi < 0 || semi > to ? to : semi;
    i = ue;
  }
  while (u < ue && trimWs(s.charCodeAt(u))) u++;
  while (ue > u && trimWs(s.charCodeAt(ue - 1))) ue--;
  if (lt < 0) {
    for (let j = u; j < ue; j++) {
      const c = s.charCodeAt(j);
      if (c === 0x3f || c === 0x2c) return `URI with "?" or "," must be enclosed in <> in "${s.slice(from, to)}"`;
    }
  }
  if (ue === u) return `empty URI in "${s.slice(from, to)}"`;
  // scheme ":" then no white space, CTL, "<" or ">" (RFC 3261 §25.1 absoluteURI)
  let j = u;
  for (; j < ue; j++) {
    const c = s.charCodeAt(j);
    if (c === 0x3a) break;
    if (c > 0xff || TOKEN[c] === 0) { j = -1; break; }
  }
  if (j <= u || j === ue) return `no URI scheme in "${s.slice(u, ue)}"`;
  for (; j < ue; j++) {
    const c = s.charCodeAt(j);
    if (c <= 0x20 || c === 0x7f || c === 0x3c || c === 0x3e) return `illegal character in URI "${s.slice(u, ue)}"`;
  }
  span.uri = u;
  span.uriEnd = ue;
  span.params = i;
  return null;
}

/**
 * Parse `[display-name] <uri> *(;param)` or an addr-spec `uri *(;param)` (RFC 3261 §20.10, §20.20, §20.39, §25.1).
 * Used for From, To, Contact, Route, Record-Route, Path, Reply-To.
 */
export function parseNameAddr(value: string, header = 'name-addr'): NameAddr {
  const s = value;
  const err = scanNameAddr(s, 0, s.length);
  if (err !== null) throw bad(header, err);
  const displayName = span.dn < 0 ? null
    : span.quoted ? (readQuoted(s, span.dn) as [string, number])[0]
    : s.slice(span.dn, span.dnEnd).replace(/\s+/g, ' ');
  const uri = s.slice(span.uri, span.uriEnd);
  const params = new Map<string, string | null>();
  const i = readParams(s, span.params, params, header);
  if (i < s.length) throw bad(header, `unexpected "${s[i]}" in "${s}"`);
  return { displayName, uri, params };
}

/**
 * Why the value s[from, to) is neither name-addr nor addr-spec with header parameters (as parseNameAddr reads it),
 * or null; allocates nothing when it reads.
 */
export function nameAddrSyntaxError(s: string, from = 0, to = s.length): string | null {
  const err = scanNameAddr(s, from, to);
  if (err !== null) return err;
  try {
    const i = readParams(s, span.params, null, 'name-addr', to, from);
    return i < to ? `unexpected "${s[i]}" in "${s.slice(from, to)}"` : null;
  } catch (e) {
    return e instanceof SipParseError ? e.detail : String(e);
  }
}

/** Text of a name-addr, always with angle brackets. */
export function formatNameAddr(n: NameAddr): string {
  const dn = n.displayName === null ? '' : isToken(n.displayName.replace(/ /g, '')) && !/^\s|\s$/.test(n.displayName) ? `${n.displayName} ` : `${quote(n.displayName)} `;
  return `${dn}<${n.uri}>${formatParams(n.params)}`;
}

/** The tag parameter of a From/To value, or null. */
export function tagOf(value: string): string | null {
  if (value.indexOf('tag') < 0 && value.indexOf('TAG') < 0 && !/tag/i.test(value)) return null;
  return parseNameAddr(value, 'From/To').params.get('tag') ?? null;
}

/** Contact header list (RFC 3261 §20.10): '*' for the wildcard, else every contact in order. */
export function parseContacts(msg: HeaderSource): '*' | NameAddr[] {
  const values = msg.headerValues('contact');
  if (values.length === 1 && values[0] === '*') return '*';
  const out: NameAddr[] = [];
  for (const v of values) {
    if (v === '*') throw bad('Contact', '"*" mixed with other contacts');
    out.push(parseNameAddr(v, 'Contact'));
  }
  return out;
}

/** A Contact's expires parameter (RFC 3261 §10.2.1.1), or null when absent; malformed counts as 3600 (§20.19). */
export function contactExpires(c: NameAddr): number | null {
  const v = c.params.get('expires');
  if (v === undefined) return null;
  const n = v === null ? -1 : parseDigits(v, MAX_U32);
  return n < 0 ? 3600 : n;
}

/** A Contact's q parameter (RFC 3261 §20.10), or null when absent or malformed. */
export function contactQ(c: NameAddr): number | null {
  const v = c.params.get('q');
  if (v === undefined || v === null || !/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(v)) return null;
  return Number(v);
}

// ------------------------------------------------------------------------------------------- CSeq

export interface CSeq {
  seq: number;
  method: string;
}

/** RFC 3261 §20.16: CSeq = 1*DIGIT LWS Method; the number is a 32-bit unsigned integer. */
export function parseCSeq(value: string): CSeq {
  const s = value;
  let i = skipWs(s, 0);
  const ds = i;
  while (i < s.length && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) i++;
  const seq = parseDigits(s.slice(ds, i), MAX_U32);
  if (seq < 0) throw bad('CSeq', `bad sequence number in "${s}"`);
  const ws = i;
  i = skipWs(s, i);
  if (i === ws) throw bad('CSeq', `missing method in "${s}"`);
  const ms = i;
  i = readToken(s, i);
  if (i === ms || skipWs(s, i) !== s.length) throw bad('CSeq', `bad method in "${s}"`);
  return { seq, method: s.slice(ms, i) };
}

// ------------------------------------------------------------------------------------ auth params

/**
 * WWW-Authenticate, Proxy-Authenticate, Authorization, Proxy-Authorization (RFC 3261 §25.1, RFC 7616):
 * `Digest realm="x", nonce="y", ...` → scheme and params (names lower-cased, values unquoted).
 */
export function parseAuthParams(value: string): { scheme: string; params: Map<string, string> } {
  const s = value;
  let i = skipWs(s, 0);
  const ss = i;
  i = readToken(s, i);
  if (i === ss) throw bad('Authorization', `missing scheme in "${s}"`);
  const scheme = s.slice(ss, i);
  const params = new Map<string, string>();
  for (let first = true; ; first = false) {
    i = skipWs(s, i);
    if (i >= s.length) break;
    if (!first) {
      if (s.charCodeAt(i) !== 0x2c) throw bad('Authorization', `expected "," in "${s}"`);
      i = skipWs(s, i + 1);
      if (i >= s.length) break;
    }
    const ns = i;
    i = readToken(s, i);
    if (i === ns) throw bad('Authorization', `bad parameter in "${s}"`);
    const name = s.slice(ns, i).toLowerCase();
    i = skipWs(s, i);
    if (s.charCodeAt(i) !== 0x3d) throw bad('Authorization', `missing "=" after ${name}`);
    i = skipWs(s, i + 1);
    if (s.charCodeAt(i) === 0x22) {
      const q = readQuoted(s, i);
      if (!q) throw bad('Authorization', `unterminated quoted string in "${s}"`);
      params.set(name, q[0]);
      i = q[1];
    } else {
      const vs = i;
      while (i < s.length && s.charCodeAt(i) !== 0x2c && !isWs(s.charCodeAt(i))) i++;
      if (i === vs) throw bad('Authorization', `empty value of ${name}`);
      params.set(name, s.slice(vs, i));
    }
  }
  return { scheme, params };
}

/** `Digest realm="x", qop="auth", algorithm=MD5`: quoted=true writes a quoted-string. */
export function formatAuthParams(scheme: string, params: [name: string, value: string, quoted: boolean][]): string {
  return `${scheme} ${params.map(([n, v, q]) => (q ? `${n}=${quote(v)}` : `${n}=${v}`)).join(', ')}`;
}

// --------------------------------------------------------------------------------------- scalars

/** Max-Forwards (RFC 3261 §20.22) or null when absent or out of range (RFC 4475 §3.1.2.4 allows "as if absent"). */
export function maxForwards(msg: HeaderSource): number | null {
  const v = msg.header('max-forwards');
  if (v === undefined) return null;
  const n = parseDigits(v, 255);
  return n < 0 ? null : n;
}

/** Expires header (RFC 3261 §20.19) in seconds, null when absent; "malformed values SHOULD be treated as 3600". */
export function expiresOf(msg: HeaderSource): number | null {
  const v = msg.header('expires');
  if (v === undefined) return null;
  const n = parseDigits(v, MAX_U32);
  return n < 0 ? 3600 : n;
}

/** Min-Expires (RFC 3261 §20.23), null when absent or malformed. */
export function minExpiresOf(msg: HeaderSource): number | null {
  const v = msg.header('min-expires');
  if (v === undefined) return null;
  const n = parseDigits(v, MAX_U32);
  return n < 0 ? null : n;
}

/** Allow / Supported / Require / Proxy-Require / Unsupported value list, lower-cased (RFC 3261 §20.5, §20.32, §20.37). */
export function parseTokenList(value: string): string[] {
  const out: string[] = [];
  for (const part of value.split(',')) {
    const t = part.trim();
    if (t.length === 0) continue;
    if (!isToken(t)) throw bad('option-tag list', `"${t}" is not a token`);
    out.push(t.toLowerCase());
  }
  return out;
}

export interface ContentType {
  /** lower-cased `type/subtype` */
  mediaType: string;
  params: Map<string, string | null>;
}

/** Content-Type (RFC 3261 §20.15): `application/sdp`, `multipart/mixed;boundary=...`. */
export function parseContentType(value: string): ContentType {
  const s = value;
  let i = skipWs(s, 0);
  const ts = i;
  i = readToken(s, i);
  const type = s.slice(ts, i);
  i = skipWs(s, i);
  if (!type || s.charCodeAt(i) !== 0x2f) throw bad('Content-Type', `bad media type in "${s}"`);
  i = skipWs(s, i + 1);
  const ss = i;
  i = readToken(s, i);
  const sub = s.slice(ss, i);
  if (!sub) throw bad('Content-Type', `bad media subtype in "${s}"`);
  const params = new Map<string, string | null>();
  i = readParams(s, i, params, 'Content-Type');
  if (i < s.length) throw bad('Content-Type', `unexpected "${s[i]}" in "${s}"`);
  return { mediaType: `${type}/${sub}`.toLowerCase(), params };
}

// ------------------------------------------------------------------- allocation-free syntax check
// Used by the parser on every message: the grammar of parseCSeq without building objects (see ./params.ts).

/**
 * Why b[from, to) is not a CSeq value, or null (RFC 3261 §20.16). `method`, when given, must match (§8.1.1.5).
 */
export function cseqSyntaxError(b: Uint8Array, from: number, to: number, method: string | null): string | null {
  let i = wsEnd(b, from, to);
  const ds = i;
  let seq = 0;
  while (i < to && b[i] >= 0x30 && b[i] <= 0x39 && i - ds < 12) seq = seq * 10 + b[i++] - 0x30;
  if (i === ds || seq > MAX_U32 || (i < to && b[i] >= 0x30 && b[i] <= 0x39)) return 'bad sequence number';
  const ws = i;
  i = wsEnd(b, i, to);
  if (i === ws) return 'missing method';
  const ms = i;
  i = tokenEnd(b, i, to);
  if (i === ms || wsEnd(b, i, to) !== to) return 'bad method';
  if (method !== null) {
    let same = i - ms === method.length;
    for (let k = 0; same && k < method.length; k++) same = b[ms + k] === method.charCodeAt(k);
    if (!same) return `CSeq method ${Buffer.from(b.buffer, b.byteOffset + ms, i - ms).toString('latin1')} does not match ${method}`;
  }
  return null;
}
