// Loop detection with the branch parameter (RFC 3261 §16.3 item 4, §16.6 step 8; RFC 5393 §4.2).
// Our branches are  z9hG4bK-tvp-<loop hash>-<unique part>. The loop hash is computed from the fields of a
// request that do not change while it loops; a request that carries a Via with our branch prefix and the
// same loop hash has passed through us unchanged before: it has looped (482). A differing hash is a spiral.
import { hash, randomBytes } from 'node:crypto';
import type { SipRequest } from '../sip/message.ts';

export const BRANCH_PREFIX = 'z9hG4bK-tvp-';

/**
 * RFC 3261 §16.6 step 8 lists To tag, From tag, Call-ID, Request-URI, topmost Via, CSeq number, Proxy-Require
 * and Proxy-Authorization. The topmost Via is left out: a looped request comes back with the Via of the
 * element that looped it on top, so including it would make every loop look like a spiral (RFC 5393 §4.2.1).
 * Route is included, since a spiral through us with another route set is legitimate. `salt` tells nodes apart.
 * The fields as received, before §16.4 changes Route; hashed by hashLoopKey only when needed (a forward, a Via of ours).
 */
export function loopKey(req: SipRequest, salt: string): string {
  const cseq = req.header('cseq') ?? '';
  const sp = cseq.indexOf(' ');
  // the number only, not the method
  let s = `${salt}\n${req.uri}\n${req.callId}\n${req.fromTag ?? ''}\n${req.toTag ?? ''}\n${sp < 0 ? cseq : cseq.slice(0, sp)}`;
  for (const f of req.headers) {
    if (f.key === 'proxy-require' || f.key === 'proxy-authorization' || f.key === 'route') s += `\n${f.key}:${f.value}`;
  }
  return s;
}

/** The loop hash of a loopKey: one call into the hash (a Hash object fed field by field cost three times as much). */
export function hashLoopKey(key: string): string {
  return hash('sha1', key, 'base64url').slice(0, 16);
}

/** loopKey and hashLoopKey at once. */
export function loopHash(req: SipRequest, salt: string): string {
  return hashLoopKey(loopKey(req, salt));
}

let counter = 0;
const processPart = randomBytes(6).toString('base64url');

/** A fresh branch for one forwarded copy: unique in space and time (§17.2.3), carrying the loop hash (§16.6 step 8). */
export function proxyBranch(hash: string): string {
  counter = (counter + 1) % 0x7fffffff;
  return `${BRANCH_PREFIX}${hash}-${processPart}${counter.toString(36)}`;
}

/**
 * §16.3 item 4: true when some Via of `req` carries a branch we generated with this same loop hash. `hash` may be
 * given as a function: it is then computed only for a request that carries a branch of ours at all.
 */
export function hasLooped(req: SipRequest, hash: string | (() => string)): boolean {
  let needle: string | null = null;
  for (const f of req.headers) {
    if (f.key !== 'via') continue;
    // cheap pre-checks before looking at parameters: the prefix, then the needle, long and random enough
    if (f.value.indexOf(BRANCH_PREFIX) < 0) continue;
    needle ??= BRANCH_PREFIX + (typeof hash === 'string' ? hash : hash()) + '-';
    const at = f.value.indexOf(needle);
    if (at < 0) continue;
    const before = f.value.slice(Math.max(0, at - 12), at).replace(/\s+/g, '').toLowerCase();
    if (before.endsWith('branch=')) return true;
  }
  return false;
}

/** A random salt that tells this proxy's branches apart from another node's (one per Proxy instance). */
export function newLoopSalt(): string {
  return randomBytes(8).toString('base64url');
}
