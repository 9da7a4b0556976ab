// Request validation of a proxy (RFC 3261 §16.3). Pure: returns the failure as a SipError, or null.
import { SipError } from '../errors.ts';
import type { SipRequest } from '../sip/message.ts';
import { maxForwards } from '../sip/headers.ts';
import { hasLooped } from './loop-detection.ts';

export interface ValidateOptions {
  /** option-tags this proxy supports in Proxy-Require (lower-case); none by default */
  supported: ReadonlySet<string>;
  /** true when the URI names this proxy or a domain it is responsible for */
  isLocal(uri: string): boolean;
}

/**
 * RFC 3261 §16.3 items 2–6 (item 1, syntax, is the parser's). `loop` is this request's loop-detection hash
 * (see loop-detection.ts; a function: computed only when a Via of ours is there), or null to skip the loop check.
 */
export function checkRequest(req: SipRequest, loop: string | (() => string) | null, opts: ValidateOptions): SipError | null {
  // §16.3 item 2: a URI scheme the proxy does not understand → 416 (Unsupported URI Scheme).
  const uri = req.uri;
  if (!(startsWithCi(uri, 'sip:') || startsWithCi(uri, 'sips:') || startsWithCi(uri, 'tel:'))) {
    return new SipError('unsupported-uri-scheme');
  }
  // §16.3 item 3: Max-Forwards 0 → 483 (Too Many Hops), except an OPTIONS the element answers itself (§11).
  const mfRaw = req.header('max-forwards');
  if (mfRaw !== undefined) {
    const mf = maxForwards(req);
    if (mf === null) return new SipError('bad-max-forwards');
    if (mf === 0 && !(req.method === 'OPTIONS' && opts.isLocal(uri))) {
      return new SipError('too-many-hops');
    }
  }
  // §16.3 item 4: a Via we placed whose branch carries this request's loop hash → 482 (Loop Detected).
  if (loop !== null && hasLooped(req, loop)) return new SipError('loop-detected');
  // §16.3 item 5: Proxy-Require option-tags we do not support → 420 (Bad Extension) listing them in Unsupported.
  const unsupported = unsupportedTags(req, opts.supported);
  if (unsupported.length > 0) {
    return new SipError('bad-extension', { unsupported: unsupported.join(', ') });
  }
  return null;
}

function unsupportedTags(req: SipRequest, supported: ReadonlySet<string>): string[] {
  let out: string[] | null = null;
  for (const f of req.headers) {
    if (f.key !== 'proxy-require') continue;
    for (const part of f.value.split(',')) {
      const tag = part.trim();
      if (tag.length === 0 || supported.has(tag.toLowerCase())) continue;
      (out ??= []).push(tag);
    }
  }
  return out ?? [];
}

function startsWithCi(s: string, prefix: string): boolean {
  if (s.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if ((s.charCodeAt(i) | 0x20) !== prefix.charCodeAt(i) && s[i] !== prefix[i]) return false;
  return true;
}
