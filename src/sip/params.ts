// Grammar shared by the header views (RFC 3261 §7.3.1 lists, §25.1 generic-param). Pure.
import { PARAM_VALUE, TOKEN, isWs, quote, quotedEnd, readQuoted } from './chars.ts';
import { SipParseError } from './parse-error.ts';

export function bad(header: string, detail: string): SipParseError {
  return new SipParseError(`Bad ${header} header`, detail);
}

/** End of the token starting at s[i] (i itself when there is none). */
export function readToken(s: string, i: number): number {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c > 0xff || TOKEN[c] === 0) break;
    i++;
  }
  return i;
}

/**
 * Read `*( SEMI generic-param )` from s[i] up to `to` (the value is s[from, to)): names lower-cased, quoted values
 * unquoted; `into` null only checks the grammar, allocating nothing.
 * Returns the index where parsing stopped (the end, or a character that is not ';').
 */
export function readParams(s: string, i: number, into: Map<string, string | null> | null, header: string, to = s.length, from = 0): number {
  for (;;) {
    while (i < to && isWs(s.charCodeAt(i))) i++;
    if (i >= to || s.charCodeAt(i) !== 0x3b) return i;
    i++;
    while (i < to && isWs(s.charCodeAt(i))) i++;
    const ns = i;
    while (i < to) {
      const c = s.charCodeAt(i);
      if (c > 0xff || TOKEN[c] === 0) break;
      i++;
    }
    if (i === ns) throw bad(header, `empty parameter in "${s.slice(from, to)}"`);
    const ne = i;
    const name = into === null ? '' : s.slice(ns, ne).toLowerCase();
    while (i < to && isWs(s.charCodeAt(i))) i++;
    if (i < to && s.charCodeAt(i) === 0x3d) {
      i++;
      while (i < to && isWs(s.charCodeAt(i))) i++;
      if (i < to && s.charCodeAt(i) === 0x22) {
        const q = quotedEnd(s, i, to);
        if (q < 0) throw bad(header, `unterminated quoted string in "${s.slice(from, to)}"`);
        if (into !== null) into.set(name, (readQuoted(s, i) as [string, number])[0]);
        i = q;
      } else {
        const vs = i;
        while (i < to) {
          const c = s.charCodeAt(i);
          if (c > 0xff || PARAM_VALUE[c] === 0) break;
          i++;
        }
        if (i === vs) throw bad(header, `empty value of "${s.slice(ns, ne).toLowerCase()}" in "${s.slice(from, to)}"`);
        if (into !== null) into.set(name, s.slice(vs, i));
      }
    } else if (into !== null) into.set(name, null);
  }
}

export function formatParams(params: Map<string, string | null>): string {
  let s = '';
  for (const [k, v] of params) {
    if (v === null) s += `;${k}`;
    else {
      let plain = v.length > 0;
      for (let i = 0; i < v.length && plain; i++) {
        const c = v.charCodeAt(i);
        if (c > 0xff || PARAM_VALUE[c] === 0) plain = false;
      }
      s += plain ? `;${k}=${v}` : `;${k}=${quote(v)}`;
    }
  }
  return s;
}

/** Index of the next comma at or after `from` that separates list values (RFC 3261 §7.3.1), or value.length. */
export function commaAt(value: string, from: number): number {
  let quoted = false;
  let angle = false;
  for (let i = from; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (quoted) {
      if (c === 0x5c) i++; // backslash escapes the next character
      else if (c === 0x22) quoted = false;
    } else if (c === 0x22) quoted = true;
    else if (c === 0x3c) angle = true;
    else if (c === 0x3e) angle = false;
    else if (c === 0x2c && !angle) return i;
  }
  return value.length;
}

/**
 * Split a header value at commas that are not inside a quoted string, angle brackets or after a backslash
 * escape (RFC 3261 §7.3.1, §25.1 quoted-pair).
 */
export function splitCommaList(value: string): string[] {
  if (value.indexOf(',') < 0) return value.length ? [value.trim()] : [];
  const out: string[] = [];
  for (let start = 0; start <= value.length; ) {
    const end = commaAt(value, start);
    const part = value.slice(start, end).trim();
    if (part) out.push(part);
    start = end + 1;
  }
  return out;
}

// Byte scanners for the parser's allocation-free syntax checks: indexing a Uint8Array is cheaper than charCodeAt.
// Bytes >= 0x80 (UTF-8) are in none of the character classes, as characters > 0x7e are not.

export function tokenEnd(b: Uint8Array, i: number, to: number): number {
  while (i < to && TOKEN[b[i]] === 1) i++;
  return i;
}

export function wsEnd(b: Uint8Array, i: number, to: number): number {
  while (i < to) {
    const c = b[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) break;
    i++;
  }
  return i;
}
