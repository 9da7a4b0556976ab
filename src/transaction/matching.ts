// Transaction matching (RFC 3261 §17.1.3 client side, §17.2.3 server side, §9.2 CANCEL).

import type { SipRequest } from '../sip/message.ts';
import type { Via } from '../sip/via.ts';

/** RFC 3261 §8.1.1.7: branches of RFC 3261 elements start with this magic cookie. */
export const MAGIC_COOKIE = 'z9hG4bK';

/**
 * RFC 3261 §17.1.3: a response matches a client transaction when its top Via branch equals the request's
 * and its CSeq method equals the request's method (so a CANCEL's responses do not match the INVITE).
 */
export function clientKey(branch: string, cseqMethod: string): string {
  return branch + '\n' + cseqMethod;
}

/**
 * RFC 3261 §17.2.3: key of the server transaction a request belongs to. With the magic cookie: branch,
 * sent-by and method (ACK matches the INVITE). Without it (RFC 2543 peers): Request-URI, From tag,
 * Call-ID, CSeq number, top Via, and for non-INVITE the To tag.
 * `method` overrides the request's method (CANCEL → 'INVITE' finds the INVITE a CANCEL refers to, §9.2).
 */
export function serverKey(req: SipRequest, via: Via, method: string = req.method): string {
  const m = method === 'ACK' ? 'INVITE' : method;
  const sentBy = via.host.toLowerCase() + ':' + (via.port ?? '');
  const branch = via.branch;
  if (branch !== null && branch.startsWith(MAGIC_COOKIE)) return branch + '\n' + sentBy + '\n' + m;
  // RFC 3261 §17.2.3 (RFC 2543 backwards compatibility)
  const cseq = req.header('cseq') ?? '';
  const seq = cseq.slice(0, cseqNumberEnd(cseq)).trim();
  let key = '2543\n' + req.uri + '\n' + (req.fromTag ?? '') + '\n' + req.callId + '\n' + seq + '\n' + m + '\n' +
    via.transport.toUpperCase() + ' ' + sentBy + ';' + (branch ?? '');
  if (m !== 'INVITE') key += '\n' + (req.toTag ?? '');
  return key;
}

function cseqNumberEnd(cseq: string): number {
  let i = 0;
  while (i < cseq.length && (cseq.charCodeAt(i) === 0x20 || cseq.charCodeAt(i) === 0x09)) i++;
  while (i < cseq.length && cseq.charCodeAt(i) >= 0x30 && cseq.charCodeAt(i) <= 0x39) i++;
  return i;
}

/** The CSeq number of a message, read without a full parse (NaN if absent). */
export function cseqNumber(cseqValue: string | undefined): number {
  if (cseqValue === undefined) return NaN;
  return parseInt(cseqValue.trim(), 10);
}
