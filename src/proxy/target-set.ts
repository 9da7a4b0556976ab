// The target set of a proxied request (RFC 3261 §16.5): each target is a next hop (transaction/locate.ts);
// routing builds it from the registrar's lookup (registrar/lookup.ts bindingTarget).
import type { NextHop } from '../transaction/locate.ts';

/** One target of the target set: the Request-URI of its branch and where the branch is sent. */
export type ProxyTarget = NextHop;
