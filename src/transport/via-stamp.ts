// Server transport handling of the top Via of a received request.
// RFC 3261 §18.2.1: if the sent-by host differs from the source address, add `received` with the source address.
// RFC 3581 §4: if the top Via has `rport` without a value, set it to the source port, and add `received` even if equal.
// A narrow byte-level scanner rather than a full Via parse: it runs on every request.

import type { SipRequest } from '../sip/message.ts';

/**
 * Stamp `received`/`rport` on the top Via of `req` in place. `address` is the source IP (IPv6 without brackets).
 * Returns false when the request has no Via it can read (the caller answers 400 or drops it).
 */
export function stampTopVia(req: SipRequest, address: string, port: number): boolean {
  const headers = req.headers;
  let at = -1;
  for (let i = 0; i < headers.length; i++) {
    if (headers[i].key === 'via') {
      at = i;
      break;
    }
  }
  if (at < 0) return false;
  const field = headers[at];
  const value = field.value;
  const end = firstValueEnd(value);
  const top = end === value.length ? value : value.slice(0, end);
  // sent-protocol: "SIP / 2.0 / UDP" then LWS then sent-by
  let i = 0;
  let slashes = 0;
  for (; i < top.length && slashes < 2; i++) if (top.charCodeAt(i) === 0x2f) slashes++;
  if (slashes < 2) return false;
  while (i < top.length && isWs(top.charCodeAt(i))) i++;
  while (i < top.length && !isWs(top.charCodeAt(i)) && top.charCodeAt(i) !== 0x3b) i++; // transport token
  while (i < top.length && isWs(top.charCodeAt(i))) i++;
  const hostStart = i;
  let host: string;
  if (top.charCodeAt(i) === 0x5b) {
    const close = top.indexOf(']', i);
    if (close < 0) return false;
    host = top.slice(i + 1, close);
    i = close + 1;
  } else {
    while (i < top.length) {
      const c = top.charCodeAt(i);
      if (c === 0x3a || c === 0x3b || isWs(c)) break;
      i++;
    }
    host = top.slice(hostStart, i);
  }
  if (host.length === 0) return false;
  const semi = top.indexOf(';', i);
  const head = semi < 0 ? top.trimEnd() : top.slice(0, semi).trimEnd();
  // params: keep all but received, and note a value-less rport
  let rport = false;
  let params = '';
  if (semi >= 0) {
    const parts = top.slice(semi + 1).split(';');
    for (let k = 0; k < parts.length; k++) {
      const p = parts[k].trim();
      if (p.length === 0) continue;
      const eq = p.indexOf('=');
      const name = (eq < 0 ? p : p.slice(0, eq).trimEnd()).toLowerCase();
      if (name === 'received') continue;
      if (name === 'rport' && eq < 0) {
        rport = true;
        continue;
      }
      params += ';' + p;
    }
  }
  const differs = host.toLowerCase() !== address.toLowerCase();
  if (!rport && !differs) {
    // nothing to add; keep a received= the client put there? RFC 3261 §18.2.1 only adds; a stale one is harmless
    return true;
  }
  let stamped = head + params + ';received=' + address;
  if (rport) stamped += ';rport=' + port;
  headers[at] = { name: field.name, key: 'via', value: end === value.length ? stamped : stamped + value.slice(end) };
  return true;
}

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** Index of the top-level comma ending the first value of a list header, or value.length. */
function firstValueEnd(value: string): number {
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (quoted) {
      if (c === 0x5c) i++;
      else if (c === 0x22) quoted = false;
    } else if (c === 0x22) quoted = true;
    else if (c === 0x2c) return i;
  }
  return value.length;
}
