// Character classes of RFC 3261 §25.1, as lookup tables for the hand-written scanners.

function table(chars: string, alnum: boolean): Uint8Array {
  const t = new Uint8Array(256);
  if (alnum) {
    for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
    for (let c = 0x41; c <= 0x5a; c++) t[c] = 1;
    for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  }
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  return t;
}

/** token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") */
export const TOKEN = table("-.!%*_+`'~", true);
/** host name and IPv4 characters (underscore tolerated, seen in the wild) */
export const HOST = table('-._', true);
/** a generic-param value when not quoted: token plus the IPv6 characters of gen-value/host */
export const PARAM_VALUE = table("-.!%*_+`'~:[]", true);

/**
 * A copy of `s` that holds no reference to the text it was cut from. V8 makes a substring of 13 or more
 * characters a view of its parent, so a value kept for long (a server transaction's key, through Timer J's 32 s)
 * would keep the whole message's text alive: 705 B per key, 105 B with this copy.
 */
export function detached(s: string): string {
  return (' ' + s).slice(1);
}

export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || TOKEN[c] === 0) return false;
  }
  return true;
}

export function isWs(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

export function skipWs(s: string, i: number): number {
  while (i < s.length && isWs(s.charCodeAt(i))) i++;
  return i;
}

/** Parse 1*DIGIT; returns -1 when s is empty, has a non-digit, or exceeds max. */
export function parseDigits(s: string, max: number): number {
  if (s.length === 0 || s.length > 16) return -1;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n > max ? -1 : n;
}

/**
 * Read a quoted-string starting at s[i] === '"' (RFC 3261 §25.1 quoted-pair allowed).
 * Returns [unescaped text, index after the closing quote] or null when it is not terminated.
 */
export function readQuoted(s: string, i: number): [string, number] | null {
  let out = '';
  let from = i + 1;
  for (let j = i + 1; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c === 0x5c) {
      if (j + 1 >= s.length) return null;
      out += s.slice(from, j);
      from = j + 1;
      j++;
    } else if (c === 0x22) {
      return [out + s.slice(from, j), j + 1];
    }
  }
  return null;
}

/** Index after the quoted-string starting at s[i] === '"' and ending before `to` (RFC 3261 §25.1 quoted-pair allowed), or -1. */
export function quotedEnd(s: string, i: number, to = s.length): number {
  for (let j = i + 1; j < to; j++) {
    const c = s.charCodeAt(j);
    if (c === 0x5c) {
      if (j + 1 >= to) return -1;
      j++;
    } else if (c === 0x22) return j + 1;
  }
  return -1;
}

/** Quote a string for a quoted-string (RFC 3261 §25.1): escapes '"' and '\'. */
export function quote(s: string): string {
  let needs = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) { needs = true; break; }
  }
  return needs ? `"${s.replace(/["\\]/g, (m) => '\\' + m)}"` : `"${s}"`;
}
