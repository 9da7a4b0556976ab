// SIP, SIPS and tel URIs (RFC 3261 §19.1, §25.1; RFC 3966). Pure.
import { HOST, parseDigits } from './chars.ts';
import { SipParseError } from './parse-error.ts';

export interface SipUri {
  readonly scheme: 'sip' | 'sips';
  readonly user: string | null;
  readonly password: string | null;
  /** lower-cased; an IPv6 reference keeps its brackets */
  readonly host: string;
  readonly port: number | null;
  /** uri-parameters, names lower-cased, values as written (null when the parameter has no value) */
  readonly params: ReadonlyMap<string, string | null>;
  /** URI headers (after '?'), as written */
  readonly headers: ReadonlyMap<string, string>;
}

export interface TelUri {
  readonly scheme: 'tel';
  readonly number: string;
  readonly params: ReadonlyMap<string, string | null>;
}

/** what a URI without parameters or headers holds: one shared empty map (the maps are read-only to all callers) */
const NONE: ReadonlyMap<string, never> = new Map<string, never>();

function bad(detail: string): SipParseError {
  return new SipParseError('Bad URI', detail);
}

/** Parse a sip:, sips: or tel: URI. Other schemes raise SipParseError with status 416 (RFC 3261 §21.4.14). */
export function parseUri(text: string): SipUri | TelUri {
  const colon = text.indexOf(':');
  if (colon <= 0) throw bad(`no scheme in "${text}"`);
  const scheme = text.slice(0, colon).toLowerCase();
  if (scheme === 'sip' || scheme === 'sips') return parseSipRest(scheme, text, colon + 1);
  if (scheme === 'tel') return parseTel(text, colon + 1);
  throw new SipParseError('Unsupported URI Scheme', scheme, 416);
}

/** Parse a URI that must be sip: or sips:. */
export function parseSipUri(text: string): SipUri {
  const u = parseUri(text);
  if (u.scheme === 'tel') throw new SipParseError('Unsupported URI Scheme', 'tel', 416);
  return u;
}

function parseSipRest(scheme: 'sip' | 'sips', text: string, from: number): SipUri {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // RFC 3261 §25.1: no LWS, controls, quotes or angle brackets inside a SIP-URI
    if (c <= 0x20 || c === 0x7f || c === 0x3c || c === 0x3e || c === 0x22 || c > 0xff) throw bad(`illegal character in "${text}"`);
  }
  let q = text.indexOf('?', from);
  let at = text.indexOf('@', from);
  // an '@' after '?' belongs to a header value, unless what precedes the '?' cannot be a hostport: RFC 3261 §25.1
  // user-unreserved allows '?' in the user part (RFC 4475 §3.1.1.2 sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:...@example.com)
  if (at >= 0 && q >= 0 && q < at) {
    if (plainHostport(text, from, q)) at = -1;
    else q = text.indexOf('?', at);
  }
  let user: string | null = null;
  let password: string | null = null;
  let i = from;
  if (at >= 0) {
    const userinfo = text.slice(from, at);
    const pc = userinfo.indexOf(':');
    user = pc >= 0 ? userinfo.slice(0, pc) : userinfo;
    password = pc >= 0 ? userinfo.slice(pc + 1) : null;
    if (user.length === 0) throw bad(`empty user in "${text}"`);
    i = at + 1;
  }
  let host: string;
  if (text.charCodeAt(i) === 0x5b) {
    const close = text.indexOf(']', i);
    if (close < 0) throw bad(`unterminated IPv6 reference in "${text}"`);
    host = text.slice(i, close + 1).toLowerCase();
    for (let j = 1; j < host.length - 1; j++) {
      const c = host.charCodeAt(j);
      if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || c === 0x3a || c === 0x2e)) throw bad(`bad IPv6 reference in "${text}"`);
    }
    i = close + 1;
  } else {
    const start = i;
    while (i < text.length && HOST[text.charCodeAt(i)] === 1) i++;
    host = text.slice(start, i).toLowerCase();
  }
  if (host.length === 0) throw bad(`no host in "${text}"`);
  let port: number | null = null;
  if (text.charCodeAt(i) === 0x3a) {
    const start = ++i;
    while (i < text.length && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
    port = parseDigits(text.slice(start, i), 65535);
    if (port < 0) throw bad(`bad port in "${text}"`);
  }
  let params: ReadonlyMap<string, string | null> = NONE;
  let headers: ReadonlyMap<string, string> = NONE;
  if (q < 0) q = text.length;
  if (i < q) {
    if (text.charCodeAt(i) !== 0x3b) throw bad(`unexpected "${text[i]}" in "${text}"`);
    const found = new Map<string, string | null>();
    for (const p of text.slice(i + 1, q).split(';')) {
      if (p.length === 0) throw bad(`empty parameter in "${text}"`);
      const eq = p.indexOf('=');
      const name = (eq >= 0 ? p.slice(0, eq) : p).toLowerCase();
      if (name.length === 0) throw bad(`empty parameter name in "${text}"`);
      found.set(name, eq >= 0 ? p.slice(eq + 1) : null);
    }
    params = found;
  } else if (i > q) throw bad(`unexpected "?" in "${text}"`);
  if (q < text.length) {
    const found = new Map<string, string>();
    for (const h of text.slice(q + 1).split('&')) {
      if (h.length === 0) continue;
      const eq = h.indexOf('=');
      if (eq <= 0) throw bad(`bad header "${h}" in "${text}"`);
      found.set(h.slice(0, eq), h.slice(eq + 1));
    }
    if (found.size > 0) headers = found;
  }
  return { scheme, user, password, host, port, params, headers };
}

/** text[from, to) up to its first ';' holds only host, port and IPv6-reference characters. */
function plainHostport(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x3b) return true;
    if (HOST[c] !== 1 && c !== 0x3a && c !== 0x5b && c !== 0x5d) return false;
  }
  return true;
}

function parseTel(text: string, from: number): TelUri {
  const semi = text.indexOf(';', from);
  const number = text.slice(from, semi < 0 ? text.length : semi);
  // RFC 3966 §3: global-number-digits / local-number-digits
  if (number.length === 0) throw bad(`empty telephone number in "${text}"`);
  for (let i = 0; i < number.length; i++) {
    const c = number.charCodeAt(i);
    const ok = (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e || c === 0x28 || c === 0x29 ||
      (i === 0 && c === 0x2b) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66) || c === 0x2a || c === 0x23;
    if (!ok) throw bad(`bad telephone number in "${text}"`);
  }
  if (semi < 0) return { scheme: 'tel', number, params: NONE };
  const params = new Map<string, string | null>();
  for (const p of text.slice(semi + 1).split(';')) {
    if (p.length === 0 || /[\s<>"]/.test(p)) throw bad(`bad parameter in "${text}"`);
    const eq = p.indexOf('=');
    params.set((eq >= 0 ? p.slice(0, eq) : p).toLowerCase(), eq >= 0 ? p.slice(eq + 1) : null);
  }
  return { scheme: 'tel', number, params };
}

/** Text form of a URI. */
export function formatUri(u: SipUri | TelUri): string {
  let s: string;
  if (u.scheme === 'tel') s = `tel:${u.number}`;
  else {
    s = `${u.scheme}:`;
    if (u.user !== null) s += u.password !== null ? `${u.user}:${u.password}@` : `${u.user}@`;
    s += u.host;
    if (u.port !== null) s += `:${u.port}`;
  }
  for (const [k, v] of u.params) s += v === null ? `;${k}` : `;${k}=${v}`;
  if (u.scheme !== 'tel' && u.headers.size > 0) {
    let first = true;
    for (const [k, v] of u.headers) {
      s += `${first ? '?' : '&'}${k}=${v}`;
      first = false;
    }
  }
  return s;
}

const RESERVED = ';/?:@&=+$,';

/** Decode %HH escapes of characters outside the reserved set (RFC 3261 §19.1.4: they are equivalent). */
export function unescapeUnreserved(s: string): string {
  if (s.indexOf('%') < 0) return s;
  return s.replace(/%([0-9a-fA-F]{2})/g, (m, hex: string) => {
    const ch = String.fromCharCode(parseInt(hex, 16));
    return RESERVED.includes(ch) ? m.toUpperCase() : ch;
  });
}

/** Decode every %HH escape (for display, e.g. a user part). Invalid escapes are left as they are. */
export function unescape(s: string): string {
  if (s.indexOf('%') < 0) return s;
  try {
    return decodeURIComponent(s.replace(/%(?![0-9a-fA-F]{2})/g, '%25'));
  } catch {
    return s;
  }
}

const MUST_MATCH = ['user', 'ttl', 'method', 'maddr', 'transport'];

function same(a: string | null | undefined, b: string | null | undefined): boolean {
  if (a === b) return true;
  if (a === null || a === undefined || b === null || b === undefined) return false;
  return unescapeUnreserved(a).toLowerCase() === unescapeUnreserved(b).toLowerCase();
}

/** URI equality of RFC 3261 §19.1.4 (and RFC 3966 §4 for tel:). Unparseable URIs are never equal. */
export function uriEquals(a: SipUri | TelUri | string, b: SipUri | TelUri | string): boolean {
  let x: SipUri | TelUri;
  let y: SipUri | TelUri;
  try {
    x = typeof a === 'string' ? parseUri(a) : a;
    y = typeof b === 'string' ? parseUri(b) : b;
  } catch {
    return false;
  }
  if (x.scheme !== y.scheme) return false;
  if (x.scheme === 'tel' || y.scheme === 'tel') {
    const tx = x as TelUri;
    const ty = y as TelUri;
    // RFC 3966 §4: visual separators are ignored, parameters compared regardless of order
    const nx = tx.number.replace(/[-.()]/g, '').toLowerCase();
    const ny = ty.number.replace(/[-.()]/g, '').toLowerCase();
    if (nx !== ny || tx.params.size !== ty.params.size) return false;
    for (const [k, v] of tx.params) if (!ty.params.has(k) || !same(v, ty.params.get(k))) return false;
    return true;
  }
  const sx = x as SipUri;
  const sy = y as SipUri;
  // §19.1.4: userinfo is compared case-sensitively, other components case-insensitively; escapes of unreserved characters are equivalent
  if (sx.user !== sy.user && (sx.user === null || sy.user === null || unescapeUnreserved(sx.user) !== unescapeUnreserved(sy.user))) return false;
  if (sx.password !== sy.password && (sx.password === null || sy.password === null || unescapeUnreserved(sx.password) !== unescapeUnreserved(sy.password))) return false;
  if (unescapeUnreserved(sx.host) !== unescapeUnreserved(sy.host)) return false;
  // §19.1.4: a URI with an explicit port never equals one without
  if (sx.port !== sy.port) return false;
  // §19.1.4: user, ttl, method, maddr and transport must match when present in either; others only when in both
  for (const name of MUST_MATCH) {
    if (sx.params.has(name) !== sy.params.has(name)) return false;
  }
  for (const [k, v] of sx.params) {
    if (sy.params.has(k) && !same(v, sy.params.get(k))) return false;
  }
  // §19.1.4: header components are never ignored
  if (sx.headers.size !== sy.headers.size) return false;
  const hy = new Map<string, string>();
  for (const [k, v] of sy.headers) hy.set(k.toLowerCase(), v);
  for (const [k, v] of sx.headers) {
    const other = hy.get(k.toLowerCase());
    if (other === undefined || !same(v, other)) return false;
  }
  return true;
}
