// Building a response to a request (RFC 3261 §8.2.6), and the one builder of failure replies. Pure.
import { SipError, StoreUnavailableError } from '../errors.ts';
import { replyOf, type FailureCode, type FailureParams, type ReplyPolicy } from '../replies.ts';
import { SipResponse } from './message.ts';
import type { HeaderField, SipRequest } from './message.ts';
import { newTag, statelessTag } from './ids.ts';
import { SipParseError } from './parse-error.ts';

const REASONS: Record<number, string> = {
  100: 'Trying', 180: 'Ringing', 181: 'Call Is Being Forwarded', 182: 'Queued', 183: 'Session Progress',
  199: 'Early Dialog Terminated',
  200: 'OK', 202: 'Accepted', 204: 'No Notification',
  300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Moved Temporarily', 305: 'Use Proxy', 380: 'Alternative Service',
  400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 406: 'Not Acceptable', 407: 'Proxy Authentication Required', 408: 'Request Timeout',
  410: 'Gone', 412: 'Conditional Request Failed', 413: 'Request Entity Too Large', 414: 'Request-URI Too Long',
  415: 'Unsupported Media Type', 416: 'Unsupported URI Scheme', 417: 'Unknown Resource-Priority',
  420: 'Bad Extension', 421: 'Extension Required', 422: 'Session Interval Too Small', 423: 'Interval Too Brief',
  428: 'Use Identity Header', 429: 'Provide Referrer Identity', 430: 'Flow Failed', 433: 'Anonymity Disallowed',
  436: 'Bad Identity-Info', 437: 'Unsupported Certificate', 438: 'Invalid Identity Header',
  439: 'First Hop Lacks Outbound Support', 440: 'Max-Breadth Exceeded', 469: 'Bad Info Package',
  470: 'Consent Needed', 480: 'Temporarily Unavailable', 481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected', 483: 'Too Many Hops', 484: 'Address Incomplete', 485: 'Ambiguous', 486: 'Busy Here',
  487: 'Request Terminated', 488: 'Not Acceptable Here', 489: 'Bad Event', 491: 'Request Pending',
  493: 'Undecipherable', 494: 'Security Agreement Required',
  500: 'Server Internal Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable',
  504: 'Server Time-out', 505: 'Version Not Supported', 513: 'Message Too Large', 555: 'Push Notification Service Not Supported',
  580: 'Precondition Failure',
  600: 'Busy Everywhere', 603: 'Decline', 604: 'Does Not Exist Anywhere', 606: 'Not Acceptable', 607: 'Unwanted',
  608: 'Rejected',
};

/** The RFC reason phrase for a status, or a generic one for its class. */
export function reasonPhrase(status: number): string {
  const r = REASONS[status];
  if (r !== undefined) return r;
  if (status < 200) return 'Session Progress';
  if (status < 300) return 'OK';
  if (status < 400) return 'Redirection';
  if (status < 500) return 'Request Failure';
  if (status < 600) return 'Server Error';
  return 'Global Failure';
}

/**
 * RFC 3261 §8.2.6.2: the response copies Via (all, in order), From, To, Call-ID and CSeq; a To tag is added when
 * given and the request's To has none (a 100 Trying carries no new tag: pass none).
 */
export function createResponse(req: SipRequest, status: number, reason?: string, toTag?: string): SipResponse {
  const headers: HeaderField[] = [];
  for (const h of req.headers) {
    switch (h.key) {
      case 'via':
      case 'from':
      case 'call-id':
      case 'cseq':
        headers.push({ name: h.name, key: h.key, value: h.value, raw: h.raw });
        break;
      case 'to': {
        if (toTag !== undefined && req.toTag === null) headers.push({ name: h.name, key: h.key, value: `${h.value};tag=${toTag}` });
        else headers.push({ name: h.name, key: h.key, value: h.value, raw: h.raw });
        break;
      }
    }
  }
  return new SipResponse(status, reason ?? reasonPhrase(status), headers);
}

/** The To tag of a stateless answer to `req` (RFC 3261 §8.2.7): its retransmission, same top Via, From, Call-ID and CSeq, gets the same. */
export function statelessTagOf(req: SipRequest): string {
  return statelessTag(`${req.header('via')}\0${req.header('from')}\0${req.callId}\0${req.header('cseq')}`);
}

/**
 * The response to `req` for a row of the table (replies.ts): status, reason and the row's header lines, with the
 * policy values (Retry-After) from the profile. RFC 3261 §8.2.6.2: a final response carries a To tag; a proxy's
 * answer standing in for a branch's (§16.7 step 3, §16.9) has none: `toTag` null.
 */
export function replyResponse(
  req: SipRequest, code: FailureCode, policy: ReplyPolicy, params: FailureParams = {}, toTag: string | null = newTag(),
): SipResponse {
  const reply = replyOf(code, params, policy);
  const res = createResponse(req, reply.status, reply.reason, toTag ?? undefined);
  for (const [name, value] of reply.headers) res.addHeader(name, value);
  return res;
}

/** The final response to `req` for a failure (replies.ts), with a To tag. */
export function errorResponse(req: SipRequest, err: SipError, policy: ReplyPolicy): SipResponse {
  return replyResponse(req, err.failure, policy, err.params);
}

/**
 * The SipError an expected failure stands for: itself, a store outage (503), a header that does not parse as the
 * capability needs it (400 with the parser's phrase). Null for anything else: a bug, answered 500 and logged.
 */
export function failureOf(err: unknown): SipError | null {
  if (err instanceof SipError) return err;
  if (err instanceof StoreUnavailableError) return new SipError('store-unavailable');
  if (err instanceof SipParseError) return new SipError('bad-request', { detail: err.reason });
  return null;
}
