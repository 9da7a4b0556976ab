// The one table from registrar failures to SIP replies (as Kamailio's registrar/reply.c pairs its rerrno
// enum with status codes), so that a 423 always carries Min-Expires and a 503 always carries Retry-After.
import { SipError } from '../errors.ts';
import { createResponse } from '../sip/response.ts';
import { newTag } from '../sip/ids.ts';
import type { SipRequest, SipResponse } from '../sip/message.ts';

export type RegistrarFailure =
  | 'wildcard-not-alone'
  | 'wildcard-expires-not-zero'
  | 'bad-contact'
  | 'bad-q'
  | 'interval-too-brief'
  | 'too-many-contacts'
  | 'cseq-out-of-order'
  | 'store-unavailable';

/** What the header lines of a failure need; each row of the table takes what it uses. */
export interface ReplyContext {
  minExpires: number;
  retryAfterSeconds: number;
}

interface Row {
  status: number;
  reason: string;
  headers(ctx: ReplyContext): [string, string][];
}

const none = (): [string, string][] => [];

export const REGISTRAR_REPLIES: Readonly<Record<RegistrarFailure, Row>> = {
  // RFC 3261 §10.3 step 6: "*" with more Contacts or an expiration other than zero → 400.
  'wildcard-not-alone': { status: 400, reason: 'Invalid Contact: * with other Contacts', headers: none },
  'wildcard-expires-not-zero': { status: 400, reason: 'Invalid Contact: * needs Expires: 0', headers: none },
  'bad-contact': { status: 400, reason: 'Invalid Contact', headers: none },
  'bad-q': { status: 400, reason: 'Invalid q Value', headers: none },
  // RFC 3261 §10.3 step 7 / §20.23: a 423 MUST carry Min-Expires.
  'interval-too-brief': { status: 423, reason: 'Interval Too Brief', headers: (c) => [['Min-Expires', String(c.minExpires)]] },
  // RFC 3261 §10.3 step 7: an update whose CSeq is not higher than the binding's (same Call-ID) fails (Kamailio: 400 Invalid CSeq number).
  'cseq-out-of-order': { status: 400, reason: 'Invalid CSeq Number (not higher than the binding\'s)', headers: none },
  // Kamailio's max_contacts reply.
  'too-many-contacts': { status: 403, reason: 'Too Many Contacts', headers: none },
  // RFC 3261 §21.5.4: 503 MAY carry Retry-After; we always do.
  'store-unavailable': { status: 503, reason: 'Service Unavailable', headers: (c) => [['Retry-After', String(c.retryAfterSeconds)]] },
};

export function registrarError(failure: RegistrarFailure, ctx: ReplyContext): SipError {
  const row = REGISTRAR_REPLIES[failure];
  return new SipError(row.status, row.reason, row.headers(ctx), `ERR_REGISTRAR_${failure.toUpperCase().replaceAll('-', '_')}`);
}

/** A final response to `req` built from a SipError (status, reason and its header lines). */
export function errorResponse(req: SipRequest, err: SipError): SipResponse {
  const res = createResponse(req, err.status, err.reason, newTag());
  for (const [name, value] of err.headers) res.addHeader(name, value);
  return res;
}
