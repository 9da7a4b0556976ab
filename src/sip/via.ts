// The Via header (RFC 3261 §20.42, §25.1; RFC 3581 rport): its one grammar, in four forms. parseVia builds the
// typed view (SipMessage.topVia() caches it); viaSyntaxError / viaListSyntaxError check bytes without building
// objects (the parser, on every message); readableVia is the tolerant reader for answering a bad request with
// 400 (RFC 4475 §3.1.2.1); formatVia writes one. Pure.
//
//   via-parm = sent-protocol LWS sent-by *( SEMI via-params )     sent-protocol = "SIP" SLASH "2.0" SLASH transport
//   sent-by  = host [ COLON port ]                                  via-params = ttl / maddr / received / branch / ext

import { HOST, PARAM_VALUE, parseDigits, skipWs } from './chars.ts';
import { bad, formatParams, readParams, readToken, splitCommaList, tokenEnd, wsEnd } from './params.ts';

export interface Via {
  /** upper-cased: UDP, TCP, TLS, SCTP, WS, WSS */
  transport: string;
  /** lower-cased; IPv6 in brackets */
  host: string;
  port: number | null;
  branch: string | null;
  received: string | null;
  /** RFC 3581: true when present without a value */
  rport: number | true | null;
  maddr: string | null;
  ttl: number | null;
  /** every via-param, in order (including branch, received, rport, maddr, ttl) */
  params: Map<string, string | null>;
}

/** Parse one via-parm (RFC 3261 §20.42, §25.1): `SIP/2.0/UDP host:port;branch=...`. */
export function parseVia(value: string): Via {
  const s = value;
  let i = skipWs(s, 0);
  let e = readToken(s, i);
  if (s.slice(i, e).toUpperCase() !== 'SIP') throw bad('Via', `protocol is not SIP in "${s}"`);
  i = skipWs(s, e);
  if (s.charCodeAt(i) !== 0x2f) throw bad('Via', `missing "/" in "${s}"`);
  i = skipWs(s, i + 1);
  e = readToken(s, i);
  if (e === i) throw bad('Via', `missing version in "${s}"`);
  i = skipWs(s, e);
  if (s.charCodeAt(i) !== 0x2f) throw bad('Via', `missing "/" in "${s}"`);
  i = skipWs(s, i + 1);
  e = readToken(s, i);
  if (e === i) throw bad('Via', `missing transport in "${s}"`);
  const transport = s.slice(i, e).toUpperCase();
  i = skipWs(s, e);
  if (i === e) throw bad('Via', `missing sent-by in "${s}"`);
  let host: string;
  if (s.charCodeAt(i) === 0x5b) {
    const close = s.indexOf(']', i);
    if (close < 0) throw bad('Via', `unterminated IPv6 reference in "${s}"`);
    host = s.slice(i, close + 1).toLowerCase();
    i = close + 1;
  } else {
    const hs = i;
    while (i < s.length && HOST[s.charCodeAt(i)] === 1) i++;
    host = s.slice(hs, i).toLowerCase();
  }
  if (host.length === 0) throw bad('Via', `missing host in "${s}"`);
  let port: number | null = null;
  i = skipWs(s, i);
  if (s.charCodeAt(i) === 0x3a) {
    i = skipWs(s, i + 1);
    const ps = i;
    while (i < s.length && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) i++;
    port = parseDigits(s.slice(ps, i), 65535);
    if (port < 0) throw bad('Via', `bad port in "${s}"`);
  }
  const params = new Map<string, string | null>();
  i = readParams(s, i, params, 'Via');
  if (i < s.length) throw bad('Via', `unexpected "${s[i]}" in "${s}"`);
  const rp = params.get('rport');
  let rport: number | true | null = null;
  if (rp === null) rport = true;
  else if (rp !== undefined) {
    rport = parseDigits(rp, 65535);
    if (rport < 0) throw bad('Via', `bad rport in "${s}"`);
  }
  const tp = params.get('ttl');
  let ttl: number | null = null;
  if (tp !== undefined) {
    ttl = tp === null ? -1 : parseDigits(tp, 255);
    if (ttl < 0) throw bad('Via', `bad ttl in "${s}"`);
  }
  return {
    transport, host, port,
    branch: params.get('branch') ?? null,
    received: params.get('received') ?? null,
    rport, maddr: params.get('maddr') ?? null, ttl, params,
  };
}

/** Text of a via-parm; the typed fields win over `params` (set v.received, v.rport and format). */
export function formatVia(v: Via): string {
  const typed: Record<string, string | null | undefined> = {
    branch: v.branch, received: v.received, maddr: v.maddr,
    rport: v.rport === null ? undefined : v.rport === true ? null : String(v.rport),
    ttl: v.ttl === null ? undefined : String(v.ttl),
  };
  for (const k of ['branch', 'received', 'maddr']) if (typed[k] === null) typed[k] = undefined;
  const params = new Map<string, string | null>();
  for (const [k, val] of v.params) {
    if (k in typed) {
      const t = typed[k];
      if (t !== undefined) params.set(k, t);
    } else params.set(k, val);
  }
  for (const k of ['branch', 'received', 'rport', 'maddr', 'ttl']) {
    const t = typed[k];
    if (t !== undefined && !params.has(k)) params.set(k, t);
  }
  return `SIP/2.0/${v.transport} ${v.host}${v.port !== null ? `:${v.port}` : ''}${formatParams(params)}`;
}


/** The first via-parm of a Via field value (a line may join several with commas, RFC 3261 §7.3.1). */
export function firstVia(value: string): string {
  return value.indexOf(',') < 0 ? value : splitCommaList(value)[0] ?? '';
}

/**
 * A via-parm as far as a response can be routed by it (RFC 3261 §18.2.2), or null. Laxer than parseVia: empty
 * parameters are skipped, so a request whose Via has them can still be answered with 400 (RFC 4475 §3.1.2.1).
 */
export function readableVia(text: string): Via | null {
  try {
    return parseVia(text);
  } catch {
    // the empty parameters of "SIP/2.0/UDP 192.0.2.15;;" are dropped below
  }
  try {
    return parseVia(text.split(';').filter((p) => p.trim().length > 0).join(';'));
  } catch {
    return null;
  }
}

/** The top Via of a message read by readableVia(), or null when it has none that a response can be routed by. */
export function readableTopVia(msg: { header(name: string): string | undefined }): Via | null {
  const first = msg.header('via');
  return first === undefined ? null : readableVia(firstVia(first));
}

/** Why b[from, to) is not a via-parm (RFC 3261 §25.1), or null when it is one. */
export function viaSyntaxError(b: Uint8Array, from: number, to: number): string | null {
  let i = wsEnd(b, from, to);
  let e = tokenEnd(b, i, to);
  if (e - i !== 3 || (b[i] | 0x20) !== 0x73 || (b[i + 1] | 0x20) !== 0x69 || (b[i + 2] | 0x20) !== 0x70) return 'protocol is not SIP';
  for (let part = 0; part < 2; part++) {
    i = wsEnd(b, e, to);
    if (i >= to || b[i] !== 0x2f) return 'missing "/"';
    i = wsEnd(b, i + 1, to);
    e = tokenEnd(b, i, to);
    if (e === i) return part === 0 ? 'missing version' : 'missing transport';
  }
  i = wsEnd(b, e, to);
  if (i === e || i >= to) return 'missing sent-by';
  if (b[i] === 0x5b) {
    let close = i + 1;
    while (close < to && b[close] !== 0x5d) close++;
    if (close >= to) return 'unterminated IPv6 reference';
    i = close + 1;
  } else {
    const hs = i;
    while (i < to && HOST[b[i]] === 1) i++;
    if (i === hs) return 'missing host';
  }
  i = wsEnd(b, i, to);
  if (i < to && b[i] === 0x3a) {
    i = wsEnd(b, i + 1, to);
    const ps = i;
    let port = 0;
    while (i < to && b[i] >= 0x30 && b[i] <= 0x39 && i - ps < 6) port = port * 10 + b[i++] - 0x30;
    if (i === ps || port > 65535) return 'bad port';
  }
  for (;;) {
    i = wsEnd(b, i, to);
    if (i >= to) return null;
    if (b[i] !== 0x3b) return `unexpected "${String.fromCharCode(b[i])}"`;
    i = wsEnd(b, i + 1, to);
    const ns = i;
    i = tokenEnd(b, i, to);
    if (i === ns) return 'empty parameter';
    i = wsEnd(b, i, to);
    if (i < to && b[i] === 0x3d) {
      i = wsEnd(b, i + 1, to);
      if (i < to && b[i] === 0x22) {
        let j = i + 1;
        for (; j < to; j++) {
          const c = b[j];
          if (c === 0x5c) j++;
          else if (c === 0x22) break;
        }
        if (j >= to) return 'unterminated quoted string';
        i = j + 1;
      } else {
        const vs = i;
        while (i < to && PARAM_VALUE[b[i]] === 1) i++;
        if (i === vs) return 'empty parameter value';
      }
    }
  }
}


/** Validate every via-parm of one Via field b[from, to), including empty list elements (RFC 4475 §3.1.2.1). */
export function viaListSyntaxError(b: Uint8Array, from: number, to: number): string | null {
  let part = from;
  let quoted = false;
  for (let i = from; i <= to; i++) {
    const c = i < to ? b[i] : 0x2c;
    if (quoted) {
      if (c === 0x5c) i++;
      else if (c === 0x22) quoted = false;
    } else if (c === 0x22) quoted = true;
    else if (c === 0x2c) {
      let k = part;
      while (k < i && (b[k] === 0x20 || b[k] === 0x09 || b[k] === 0x0d || b[k] === 0x0a)) k++;
      if (k === i) return 'empty Via element';
      const err = viaSyntaxError(b, part, i);
      if (err !== null) return err;
      part = i + 1;
    }
  }
  return quoted ? 'unterminated quoted string' : null;
}

/**
 * `text` (one via-parm) with its parameters replaced by `params`; sent-protocol and sent-by are kept as written, so
 * a server that stamps received/rport (RFC 3261 §18.2.1, RFC 3581 §4) changes nothing else of the client's Via.
 */
export function rewriteViaParams(text: string, params: Map<string, string | null>): string {
  const semi = text.indexOf(';');
  return (semi < 0 ? text.trimEnd() : text.slice(0, semi).trimEnd()) + formatParams(params);
}
