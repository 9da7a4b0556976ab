// The target set of a proxied request (RFC 3261 §16.5): each target is a next hop (transaction/locate.ts);
// routing builds it from the registrar's lookup (registrar/lookup.ts bindingTarget) or from a trunk's legs.
import type { SipRequest, SipResponse } from '../sip/message.ts';
import type { NextHop } from '../transaction/locate.ts';

/** One target of the target set: the Request-URI of its branch, where the branch is sent, and the target's hooks. */
export interface ProxyTarget extends NextHop {
  /** a name for logs and the call record (the trunk's name) */
  label?: string;
  /** changes the branch's copy before it is sent (a trunk's caller-ID policy, its codecs) */
  prepare?(req: SipRequest): void;
  /**
   * RFC 3261 §22.2 on the target's behalf (Kamailio's uac_auth()): add credentials for the 401/407 to `req` (a fresh
   * copy of the branch's request, CSeq + 1) and return true, or return false to pass the challenge upstream
   */
  authorize?(req: SipRequest, challenge: SipResponse): boolean;
  /** false when the target cannot take a request now (a trunk at its maxCalls): the branch ends as a 503 */
  acquire?(): boolean;
  /** the target's request is over: a final non-2xx, or — answered — the dialog's BYE or expiry; once per acquire() */
  release?(): void;
}
