// Choosing the response to send back when every branch of a forked request has a final response
// (RFC 3261 §16.7 steps 6 and 7). Pure.
import { SipResponse } from '../sip/message.ts';

/**
 * Rank within the 4xx class, lower is better. §16.7 step 6: "the proxy SHOULD give preference to 401, 407,
 * 415, 420 and 484 if the 4xx class is chosen"; after them a busy callee (486) says more than an absent
 * one (480), and a timeout (408) says least.
 */
function rank4xx(status: number): number {
  switch (status) {
    case 401:
    case 407:
      return 0;
    case 415:
    case 420:
    case 484:
      return 1;
    case 486:
      return 2;
    case 480:
      return 4;
    case 404:
      return 5;
    case 408:
      return 6;
    default:
      return 3;
  }
}

/**
 * §16.7 step 6: "choose the best final response": any 6xx; else the lowest response class; within a class
 * any response (the 4xx preferences above; otherwise the first received). Returns the index into `finals`,
 * or -1 when there is none (the caller then answers 408).
 */
export function bestResponseIndex(finals: readonly SipResponse[]): number {
  let best = -1;
  let bestClass = 0;
  let bestRank = 0;
  for (let i = 0; i < finals.length; i++) {
    const status = finals[i].status;
    if (status < 200) continue;
    const cls = Math.floor(status / 100);
    // a 6xx beats everything; else lower class wins
    const key = cls === 6 ? 0 : cls;
    const rank = cls === 4 ? rank4xx(status) : 0;
    if (best < 0 || key < bestClass || (key === bestClass && rank < bestRank)) {
      best = i;
      bestClass = key;
      bestRank = rank;
    }
  }
  return best;
}

/**
 * The response to forward upstream from the chosen one (§16.7 steps 6, 7, 9):
 * - "if the proxy selects a 503, it MUST NOT forward it; it SHOULD generate a 500" (§16.7 step 6; RFC 3261 §21.5.4);
 * - for a 401/407, "collect all WWW-Authenticate and Proxy-Authenticate header field values from all other 401 and
 *   407 responses received so far in this response context and add them to this response" (§16.7 step 7);
 * - the top Via (ours) is removed (§16.7 step 9).
 * Returns a new response; `finals` are not changed.
 */
export function responseToForward(finals: readonly SipResponse[], chosen: number): SipResponse {
  const res = finals[chosen];
  const out = withoutTopVia(res);
  if (res.status === 503) {
    out.status = 500;
    out.reason = 'Server Internal Error';
    out.removeHeader('retry-after');
    return out;
  }
  if (res.status === 401 || res.status === 407) {
    for (let i = 0; i < finals.length; i++) {
      if (i === chosen) continue;
      const other = finals[i];
      if (other.status !== 401 && other.status !== 407) continue;
      for (const f of other.headers) {
        if (f.key === 'www-authenticate' || f.key === 'proxy-authenticate') out.headers = [...out.headers, f];
      }
    }
  }
  return out;
}

/** A copy of `res` without its topmost Via value (§16.7 step 9). Header fields are shared, not copied. */
export function withoutTopVia(res: SipResponse): SipResponse {
  const out = new SipResponse(res.status, res.reason, res.headers.slice(), res.body);
  out.version = res.version;
  out.removeFirstValue('via');
  return out;
}
