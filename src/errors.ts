// Errors shared by every layer. Imports only the reply table (replies.ts, rank 0 too).
import { FAILURES, reasonOf, type FailureCode, type FailureParams } from './replies.ts';

/**
 * A failure that becomes a SIP reply (drachtio-srf's SipError). Bugs stay plain exceptions. Capabilities name a
 * code of the table in replies.ts with its params; routing answers it with sip/response.ts errorResponse().
 * The (status, reason, headers) form is for a status the table does not name (the user agent's dialog/, media/).
 */
export class SipError extends Error {
  readonly status: number;
  readonly reason: string;
  /** header lines of the (status, reason) form; a table code's lines are made by errorResponse with the policy */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly code: FailureCode | string;
  readonly failure: FailureCode | null;
  readonly params: FailureParams;
  constructor(code: FailureCode, params?: FailureParams);
  constructor(status: number, reason: string, headers?: ReadonlyArray<readonly [string, string]>, code?: string);
  constructor(a: FailureCode | number, b?: FailureParams | string, headers: ReadonlyArray<readonly [string, string]> = [], code?: string) {
    const failure = typeof a === 'string' ? a : null;
    const params = typeof b === 'object' ? b : {};
    const status = failure !== null ? FAILURES[failure].status : (a as number);
    const reason = failure !== null ? reasonOf(failure, params) : String(b);
    super(`${status} ${reason}`);
    this.name = 'SipError';
    this.status = status;
    this.reason = reason;
    this.headers = headers;
    this.code = failure ?? code ?? `SIP_${status}`;
    this.failure = failure;
    this.params = params;
  }
}

/** An expected, non-SIP failure with a stable code (undici's UND_ERR_* style): config, store, CLI input. */
export class TvphoneError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TvphoneError';
    this.code = code;
  }
}

/** The store could not be reached or failed to commit: routing answers 503 with Retry-After (replies.ts store-unavailable). */
export class StoreUnavailableError extends TvphoneError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_STORE_UNAVAILABLE', message, options);
    this.name = 'StoreUnavailableError';
  }
}

/** A user's quota of stored messages is full (checked atomically with the insert). */
export class QuotaExceededError extends TvphoneError {
  readonly count: number;
  readonly bytes: number;
  constructor(user: string, usage: { count: number; bytes: number }) {
    super('ERR_QUOTA', `message quota of ${user} full (${usage.count} messages, ${usage.bytes} bytes pending)`);
    this.name = 'QuotaExceededError';
    this.count = usage.count;
    this.bytes = usage.bytes;
  }
}
