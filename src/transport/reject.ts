// The answer to a request the transport cannot deliver (RFC 3261 §21.4.1 400, §21.5.6 505, §21.5.7 513), sent
// where its top Via says (RFC 3261 §18.2.2). Pure: the caller sends it. No answer when none can be routed.

import { readableTopVia } from '../sip/via.ts';
import type { SipRequest, SipResponse } from '../sip/message.ts';
import { SipParseError } from '../sip/parse-error.ts';
import { createResponse } from '../sip/response.ts';
import { responseTarget } from './response-target.ts';
import type { Source, Target } from './transport.ts';
import { stampTopVia } from './via-stamp.ts';

export interface Rejection {
  response: SipResponse;
  /** where RFC 3261 §18.2.2 sends it (on a stream: the connection the request came on) */
  target: Target;
}

/** The answer to a message parseMessage() threw `err` for: its status and reason, or null when it cannot be answered. */
export function rejectUnparsable(err: unknown, source: Source): Rejection | null {
  if (!(err instanceof SipParseError) || err.request === undefined) return null;
  return reject(err.request, err.status, err.reason, source);
}

/** `req` answered with `status`, or null for an ACK (it has no response, RFC 3261 §17) or a Via that cannot be read. */
export function reject(req: SipRequest, status: number, reason: string, source: Source): Rejection | null {
  if (req.method === 'ACK') return null;
  const via = readableTopVia(req);
  if (via === null) return null;
  // RFC 3261 §18.2.1, RFC 3581 §4: the Via the response copies carries received (and rport) like any other
  stampTopVia(req, source.address, source.port);
  return { response: createResponse(req, status, reason), target: responseTarget(via, source) };
}
