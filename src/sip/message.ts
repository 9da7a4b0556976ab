// SIP message model (RFC 3261 §7). Pure: no I/O.
// Header values are kept as received (raw text after the colon, folding collapsed) and in order. The views the
// stack reads on every message (top Via, From, To, CSeq) are parsed on first use and cached; other typed views
// are parsed on demand by the functions in ./headers.ts.
import { parseCSeq, parseNameAddr, type CSeq, type NameAddr } from './headers.ts';
import { commaAt, splitCommaList } from './params.ts';
import { SipParseError } from './parse-error.ts';
import { firstVia, parseVia, type Via } from './via.ts';

declare module './parse-error.ts' {
  interface SipParseError {
    /**
     * set only when the message is a request whose top Via can be read, so a response can be built and routed
     * (RFC 3261 §8.2.6, §18.2.2); it holds the header fields as received, as many of the mandatory ones as there are
     */
    request?: SipRequest;
  }
}

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

/** A header field is never changed in place: a change replaces the field (so messages may share fields). */
export interface HeaderField {
  /** the name as it appeared on the wire (or as set) */
  readonly name: string;
  /** headerKey(name), cached */
  readonly key: string;
  /** the value: text after the colon, leading/trailing whitespace trimmed, line folding collapsed */
  readonly value: string;
  /** the exact bytes of the header line(s) as received, without the final CRLF; dropped when the field is changed */
  readonly raw?: string;
}

/** A view parsed from `field`, the first field of its name when it was read; it is current while that field still is. */
interface View<T> {
  field: HeaderField;
  value: T | SipParseError;
}

/** The views cached on a message, by the key of the header they are read from. */
interface ViewValues {
  via: Via;
  from: NameAddr;
  to: NameAddr;
  cseq: CSeq;
}
type Views = { [K in keyof ViewValues]: View<ViewValues[K]> | null };

const PARSE: { [K in keyof ViewValues]: (value: string) => ViewValues[K] } = {
  via: (value) => parseVia(firstVia(value)),
  from: (value) => parseNameAddr(value, 'From'),
  to: (value) => parseNameAddr(value, 'To'),
  cseq: parseCSeq,
};

function viewOf<T>(v: View<T>): T {
  if (v.value instanceof SipParseError) throw v.value;
  return v.value;
}

function tagOf(v: View<NameAddr> | null): string | null {
  return v === null || v.value instanceof SipParseError ? null : (v.value.params.get('tag') ?? null);
}

export abstract class SipMessage {
  /** in order; change them through the methods below, which keep the cached views current */
  headers: readonly HeaderField[] = [];
  #views: Views | null = null;
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

  /** The first field with that key (a lower-case long name), or undefined. */
  #first(key: string): HeaderField | undefined {
    for (const h of this.headers) if (h.key === key) return h;
    return undefined;
  }

  /** The view of the first field with that key, parsed unless the cached one was read from that same field. */
  #view<K extends keyof ViewValues>(key: K): View<ViewValues[K]> | null {
    const field = this.#first(key);
    if (field === undefined) return null;
    const views = (this.#views ??= { via: null, from: null, to: null, cseq: null });
    let v = views[key] as View<ViewValues[K]> | null;
    if (v === null || v.field !== field) {
      try {
        v = { field, value: PARSE[key](field.value) };
      } catch (err) {
        if (!(err instanceof SipParseError)) throw err;
        v = { field, value: err };
      }
      (views as Record<K, View<ViewValues[K]> | null>)[key] = v;
    }
    return v;
  }

  /** The top Via (RFC 3261 §18.2.1, §18.2.2), parsed once. Throws SipParseError when it is missing or malformed. */
  topVia(): Via {
    const v = this.#view('via');
    if (v === null) throw new SipParseError('Missing Via header');
    return viewOf(v);
  }

  /**
   * Replace the first value of the top Via by `text` (received/rport stamped, RFC 3261 §18.2.1; transport changed,
   * §18.1.1). `view`, when given, is parseVia(text) already at hand. False when there is no Via.
   */
  replaceTopVia(text: string, view?: Via): boolean {
    const list = this.headers as HeaderField[];
    const at = list.findIndex((h) => h.key === 'via');
    if (at < 0) return false;
    const old = list[at];
    const end = commaAt(old.value, 0);
    const field: HeaderField = { name: old.name, key: 'via', value: end === old.value.length ? text : text + old.value.slice(end) };
    list[at] = field;
    if (view !== undefined) (this.#views ??= { via: null, from: null, to: null, cseq: null }).via = { field, value: view };
    return true;
  }

  /** From as name-addr (RFC 3261 §20.20), parsed once. Throws SipParseError when it is missing or malformed. */
  from(): NameAddr {
    const v = this.#view('from');
    return v === null ? PARSE.from('') : viewOf(v);
  }

  /** To as name-addr (RFC 3261 §20.39), parsed once. Throws SipParseError when it is missing or malformed. */
  to(): NameAddr {
    const v = this.#view('to');
    return v === null ? PARSE.to('') : viewOf(v);
  }

  /** The From tag (RFC 3261 §19.3); null when there is none or the From cannot be read. */
  get fromTag(): string | null {
    return tagOf(this.#view('from'));
  }

  /** The To tag (RFC 3261 §19.3); null when there is none or the To cannot be read. */
  get toTag(): string | null {
    return tagOf(this.#view('to'));
  }

  /** CSeq number and method (RFC 3261 §20.16), parsed once. Throws SipParseError when it is missing or malformed. */
  cseq(): CSeq {
    const v = this.#view('cseq');
    return v === null ? PARSE.cseq('') : viewOf(v);
  }

  has(name: string): boolean {
    return this.header(name) !== undefined;
  }

  /** Replace every field of that name by one field (appended where the first one stood, else at the end). */
  setHeader(name: string, value: string): this {
    const key = headerKey(name);
    const at = this.headers.findIndex((h) => h.key === key);
    const field: HeaderField = { name, key, value };
    if (at < 0) (this.headers as HeaderField[]).push(field);
    else this.headers = [...this.headers.slice(0, at), field, ...this.headers.slice(at + 1).filter((h) => h.key !== key)];
    return this;
  }

  addHeader(name: string, value: string): this {
    (this.headers as HeaderField[]).push({ name, key: headerKey(name), value });
    return this;
  }

  /** Insert a field before the first field of the same name (Via, Record-Route are added on top). */
  prependHeader(name: string, value: string): this {
    const key = headerKey(name);
    const at = this.headers.findIndex((h) => h.key === key);
    const field: HeaderField = { name, key, value };
    const list = this.headers as HeaderField[];
    if (at < 0) list.push(field);
    else list.splice(at, 0, field);
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
    const list = this.headers as HeaderField[];
    if (values.length === 0) list.splice(at, 1);
    else list[at] = { name: list[at].name, key, value: values.join(', ') };
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
