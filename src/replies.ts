// The one table from failures (and the proxy's own answers) to SIP replies (Kamailio's registrar/reply.c pairs its rerrno enum with status
// codes; fastify's lib/errors.js keeps one list of codes). Capabilities throw a SipError naming a code; only
// routing turns it into a response, so a 423 always carries Min-Expires and a 503 always carries Retry-After.
// Imports nothing.

/** What a row's reason and header lines may use, given by whoever throws. */
export interface FailureParams {
  /** appended to the reason phrase in parentheses: "Busy Here (message quota for 1002 full)" */
  detail?: string;
  /** 423: the shortest interval granted (RFC 3261 §20.23) */
  minExpires?: number;
  /** 405/501: the methods served (RFC 3261 §20.5) */
  allow?: string;
  /** 415: the media types accepted (RFC 3261 §21.4.13) */
  accept?: string;
  /** 489: the event packages served (RFC 6665 §8.2.2) */
  allowEvents?: string;
  /** 420: the option-tags not supported (RFC 3261 §20.40) */
  unsupported?: string;
  /** 488: the text of a Warning 305 "Incompatible media format" (RFC 3261 §20.43) */
  warning?: string;
}

/** Policy values of the replies, from the profile once (profile.retryAfterSeconds). */
export interface ReplyPolicy {
  retryAfterSeconds: number;
}

type Lines = (p: FailureParams, policy: ReplyPolicy) => [string, string][];

interface Row {
  status: number;
  /** the reason phrase; `detail` is appended to it */
  reason: string;
  headers?: Lines;
}

const retryAfter: Lines = (_p, policy) => [['Retry-After', String(policy.retryAfterSeconds)]];

export const FAILURES = {
  // RFC 3261 §21.4.1: a request that cannot be understood.
  'bad-request': { status: 400, reason: 'Bad Request' },
  'bad-from-to': { status: 400, reason: 'Bad From or To' },
  'bad-contact': { status: 400, reason: 'Invalid Contact' },
  'missing-content-type': { status: 400, reason: 'Missing Content-Type' },
  'malformed-credentials': { status: 400, reason: 'Malformed Credentials' },
  // RFC 3261 §16.3 item 3: Max-Forwards must be a number.
  'bad-max-forwards': { status: 400, reason: 'Invalid Max-Forwards' },
  // RFC 3261 §10.3 step 6: "*" with more Contacts or an expiration other than zero → 400.
  'wildcard-not-alone': { status: 400, reason: 'Invalid Contact: * with other Contacts' },
  'wildcard-expires-not-zero': { status: 400, reason: 'Invalid Contact: * needs Expires: 0' },
  'bad-q': { status: 400, reason: 'Invalid q Value' },
  // RFC 3261 §10.3 step 7: same Call-ID and a CSeq not higher than the binding's (Kamailio: 400 Invalid CSeq number).
  'cseq-out-of-order': { status: 400, reason: 'Invalid CSeq Number (not higher than the binding\'s)' },
  'forbidden': { status: 403, reason: 'Forbidden' },
  // Kamailio htable ban (issue 16): too many refused credentials from this source, or for this user, within the window.
  'source-banned': { status: 403, reason: 'Forbidden (too many failed authentications)' },
  'user-banned': { status: 403, reason: 'Forbidden (too many failed authentications for this user)' },
  // Kamailio's max_contacts reply.
  'too-many-contacts': { status: 403, reason: 'Too Many Contacts' },
  // No open relay: requests for other domains are refused (trunks would route them).
  'relaying-denied': { status: 403, reason: 'Relaying Denied' },
  'user-not-found': { status: 404, reason: 'User Not Found' },
  // A number no route of the dial plan takes (Kamailio drouting: 404 No Route), or a trunk's DID that names nobody.
  'no-route': { status: 404, reason: 'No Route' },
  'unknown-did': { status: 404, reason: 'Not Found (no such number here)' },
  // Kamailio's loose_route() failing for an in-dialog request.
  'not-routed-here': { status: 404, reason: 'Not Here (dialog not routed through this proxy)' },
  // RFC 3261 §21.4.6: 405 MUST carry Allow.
  'method-not-allowed': { status: 405, reason: 'Method Not Allowed', headers: (p) => [['Allow', p.allow ?? '']] },
  // RFC 3856 §6.7 / RFC 3261 §21.4.13: 415 lists what is accepted.
  'unsupported-media-type': { status: 415, reason: 'Unsupported Media Type', headers: (p) => [['Accept', p.accept ?? '']] },
  // RFC 3261 §16.3 item 2.
  'unsupported-uri-scheme': { status: 416, reason: 'Unsupported URI Scheme' },
  // RFC 3261 §16.3 item 5: 420 lists the tags in Unsupported.
  'bad-extension': { status: 420, reason: 'Bad Extension', headers: (p) => [['Unsupported', p.unsupported ?? '']] },
  // RFC 3261 §10.3 step 7 / RFC 6665 §4.2.1.1 / §20.23: a 423 MUST carry Min-Expires.
  'interval-too-brief': { status: 423, reason: 'Interval Too Brief', headers: (p) => [['Min-Expires', String(p.minExpires ?? 0)]] },
  // RFC 3261 §21.4.18: the callee has no binding; Retry-After says when to try again.
  'user-offline': { status: 480, reason: 'User Offline', headers: retryAfter },
  // RFC 5626 §5.3: the flow a request was routed to (by another node, issue 18) is gone.
  'flow-failed': { status: 430, reason: 'Flow Failed' },
  // RFC 6665 §4.2.1.2 / RFC 3261 §12.2.2: a request in an unknown dialog.
  'subscription-does-not-exist': { status: 481, reason: 'Subscription Does Not Exist' },
  'loop-detected': { status: 482, reason: 'Loop Detected' },
  'too-many-hops': { status: 483, reason: 'Too Many Hops' },
  // msilo: the user's quota of stored messages is full.
  'quota-full': { status: 486, reason: 'Busy Here' },
  // RFC 3261 §21.4.26: an SDP offer with nothing we can use; §20.43: Warning 305 says what.
  'not-acceptable-here': {
    status: 488, reason: 'Not Acceptable Here',
    headers: (p) => (p.warning === undefined ? [] : [['Warning', `305 - "${p.warning.replace(/"/g, "'")}"`]]),
  },
  // RFC 6665 §4.2.1.1: an event package the notifier does not understand; Allow-Events lists ours.
  'bad-event': { status: 489, reason: 'Bad Event', headers: (p) => [['Allow-Events', p.allowEvents ?? '']] },
  // A bug: logged by whoever catches it, never with its details on the wire.
  'internal-error': { status: 500, reason: 'Server Internal Error' },
  // RFC 3261 §12.2.2: a request in a dialog with a CSeq not above the remote sequence number "MUST be rejected with a 500".
  'dialog-cseq-out-of-order': { status: 500, reason: 'CSeq Out of Order' },
  // RFC 3261 §21.5.2: 501 for a method we do not know; Allow lists those we do.
  'not-implemented': { status: 501, reason: 'Not Implemented', headers: (p) => [['Allow', p.allow ?? '']] },
  // RFC 3261 §21.5.4: 503 MAY carry Retry-After; we always do.
  'store-unavailable': { status: 503, reason: 'Service Unavailable', headers: retryAfter },
  'overloaded': { status: 503, reason: 'Service Unavailable', headers: retryAfter },
  // Kamailio pike (issue 16): the source sends more than security.maxRequestsPerSecond.
  'rate-limited': { status: 503, reason: 'Service Unavailable (request rate)', headers: retryAfter },
  // Every trunk of the route is down (ping, registration) or at its maxCalls.
  'trunks-unavailable': { status: 503, reason: 'Service Unavailable', headers: retryAfter },
  // RFC 3428 §7: a MESSAGE too large for the element.
  'message-too-large': { status: 513, reason: 'Message Too Large' },

  // The stateful proxy's own answers (RFC 3261 §16), with the RFC's reason phrases.
  // §16.10: "the element MUST immediately return a 200 (OK) response to the CANCEL" — a success, but the proxy's own.
  'cancel-accepted': { status: 200, reason: 'OK' },
  // §16.7 step 6: no final response in the context; §16.8: Timer C for a branch that never answered.
  'request-timeout': { status: 408, reason: 'Request Timeout' },
  // §16.5: "If the target set is empty ... SHOULD be the 480 (Temporarily Unavailable) response".
  'empty-target-set': { status: 480, reason: 'Temporarily Unavailable' },
  // §16.10 / §9.2: a CANCEL that matches no transaction.
  'no-such-transaction': { status: 481, reason: 'Call/Transaction Does Not Exist' },
  // §16.10 / §9.2: the INVITE the caller cancelled (and a branch given up before its first provisional).
  'request-terminated': { status: 487, reason: 'Request Terminated' },
  // §14.2: a re-INVITE that crosses ours on the same dialog (the TV agent).
  'request-pending': { status: 491, reason: 'Request Pending' },
  // §16.9: a transport error on a branch counts "as if a 503 (Service Unavailable) status code had been received".
  'branch-unreachable': { status: 503, reason: 'Service Unavailable' },
} as const satisfies Record<string, Row>;

export type FailureCode = keyof typeof FAILURES;

/** Status, reason phrase and header lines of a failure. */
export function replyOf(code: FailureCode, params: FailureParams, policy: ReplyPolicy): { status: number; reason: string; headers: [string, string][] } {
  const row: Row = FAILURES[code];
  return { status: row.status, reason: reasonOf(code, params), headers: row.headers?.(params, policy) ?? [] };
}

export function reasonOf(code: FailureCode, params: FailureParams): string {
  const row: Row = FAILURES[code];
  return params.detail ? `${row.reason} (${params.detail})` : row.reason;
}
