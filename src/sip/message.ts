// SIP message model (RFC 3261 §7). Pure: no I/O.
// Header values are kept as received (raw text after the colon, folding collapsed) and in order;
// typed views (Via, name-addr, CSeq ...) are parsed on demand by the functions in ./headers.ts.

/** Compact forms of RFC 3261 §7.3.3 and later RFCs, mapped to the lower-case long name. */
const COMPACT: Record<string, string> = {
  i: 'call-id', m: 'contact', e: 'content-encoding', l: 'content-length', c: 'content-type',
  f: 'from', s: 'subject', k: 'supported', t: 'to', v: 'via', o: 'event', u: 'allow-events',
  r: 'refer-to', b: 'referred-by', x: 'session-expires', a: 'accept-contact', j: 'reject-contact',
  d: 'request-disposition', y: 'identity', n: 'identity-info',
};

/** Lower-case long form of a header name: `V` → `via`, `Call-ID` → `call-id`. */
export function headerKey(name: string): string {
  const lower = name.toLowerCase();
  return lower.length === 1 ? (COMPACT[lower] ?? lower) : lower;
}

export interface HeaderField {
  /** the name as it appeared on the wire (or as set) */
  name: string;
  /** headerKey(name), cached */
  key: string;
  /** the value: text after the colon, leading/trailing whitespace trimmed, line folding collapsed */
  value: string;
  /** the exact bytes of the header line(s) as received, without the final CRLF; dropped when the field is changed */
  raw?: string;
}

export abstract class SipMessage {
  headers: HeaderField[] = [];
  body: Uint8Array = EMPTY;
  /** SIP/2.0 unless the peer sent something else */
  version = 'SIP/2.0';

  abstract isRequest(): this is SipRequest;

  /** The first value of a header (for a comma-list header, the whole first line's value). */
  header(name: string): string | undefined {
    const key = headerKey(name);
    for (const h of this.headers) if (h.key === key) return h.value;
    return undefined;
  }

  /** Every field with that name, in order. */
  fields(name: string): HeaderField[] {
    const key = headerKey(name);
    return this.headers.filter((h) => h.key === key);
  }

  /** Every value of a list header, split at top-level commas across all its lines (RFC 3261 §7.3.1). */
  headerValues(name: string): string[] {
    const out: string[] = [];
    const key = headerKey(name);
    // RFC 3261 §7.3.1: the authentication headers do not follow the comma-list rule; each field is one value
    const whole = NOT_COMMA_LISTS.has(key);
    for (const h of this.headers) {
      if (h.key !== key) continue;
      if (whole) out.push(h.value);
      else for (const v of splitCommaList(h.value)) out.push(v);
    }
    return out;
  }

  has(name: string): boolean {
    return this.header(name) !== undefined;
  }

  /** Replace every field of that name by one field (appended where the first one stood, else at the end). */
  setHeader(name: string, value: string): this {
    const key = headerKey(name);
    const at = this.headers.findIndex((h) => h.key === key);
    const field: HeaderField = { name, key, value };
    if (at < 0) this.headers.push(field);
    else this.headers = [...this.headers.slice(0, at), field, ...this.headers.slice(at + 1).filter((h) => h.key !== key)];
    return this;
  }

  addHeader(name: string, value: string): this {
    this.headers.push({ name, key: headerKey(name), value });
    return this;
  }

  /** Insert a field before the first field of the same name (Via, Record-Route are added on top). */
  prependHeader(name: string, value: string): this {
    const key = headerKey(name);
    const at = this.headers.findIndex((h) => h.key === key);
    const field: HeaderField = { name, key, value };
    if (at < 0) this.headers.push(field);
    else this.headers.splice(at, 0, field);
    return this;
  }

  removeHeader(name: string): this {
    const key = headerKey(name);
    this.headers = this.headers.filter((h) => h.key !== key);
    return this;
  }

  /** Remove the first value of a (possibly comma-joined) list header, e.g. the top Via or Route. */
  removeFirstValue(name: string): string | undefined {
    const key = headerKey(name);
    const at = this.headers.findIndex((h) => h.key === key);
    if (at < 0) return undefined;
    const values = splitCommaList(this.headers[at].value);
    const first = values.shift();
    if (values.length === 0) this.headers.splice(at, 1);
    else this.headers[at] = { name: this.headers[at].name, key, value: values.join(', ') };
    return first;
  }

  get callId(): string {
    return this.header('call-id') ?? '';
  }
}

export class SipRequest extends SipMessage {
  method: string;
  /** Request-URI as text; parse with parseUri() from ./uri.ts */
  uri: string;
  constructor(method: string, uri: string, headers: HeaderField[] = [], body: Uint8Array = EMPTY) {
    super();
    this.method = method;
    this.uri = uri;
    this.headers = headers;
    this.body = body;
  }
  isRequest(): this is SipRequest {
    return true;
  }
}

export class SipResponse extends SipMessage {
  status: number;
  reason: string;
  constructor(status: number, reason: string, headers: HeaderField[] = [], body: Uint8Array = EMPTY) {
    super();
    this.status = status;
    this.reason = reason;
    this.headers = headers;
    this.body = body;
  }
  isRequest(): this is SipRequest {
    return false;
  }
}

const NOT_COMMA_LISTS = new Set(['www-authenticate', 'authorization', 'proxy-authenticate', 'proxy-authorization', 'date', 'retry-after']);

export const EMPTY: Uint8Array = new Uint8Array(0);

/**
 * Split a header value at commas that are not inside a quoted string, angle brackets or after a backslash
 * escape (RFC 3261 §7.3.1, §25.1 quoted-pair).
 */
export function splitCommaList(value: string): string[] {
  if (value.indexOf(',') < 0) return value.length ? [value.trim()] : [];
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  let angle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (quoted) {
      if (c === 0x5c) i++; // backslash escapes the next character
      else if (c === 0x22) quoted = false;
    } else if (c === 0x22) quoted = true;
    else if (c === 0x3c) angle = true;
    else if (c === 0x3e) angle = false;
    else if (c === 0x2c && !angle) {
      const part = value.slice(start, i).trim();
      if (part) out.push(part);
      start = i + 1;
    }
  }
  const last = value.slice(start).trim();
  if (last) out.push(last);
  return out;
}
