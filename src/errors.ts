// Errors shared by every layer. Imports only the reply table (replies.ts, rank 0 too).
import { FAILURES, reasonOf, type FailureCode, type FailureParams } from './replies.ts';

/**
 * A failure that becomes a SIP reply (drachtio-srf's SipError). Bugs stay plain exceptions. Whoever throws names a
 * row of the table in replies.ts with its params; sip/response.ts errorResponse() builds the reply (routing, for the server).
 */
export class SipError extends Error {
  readonly status: number;
  readonly reason: string;
  /** the stable code (undici style): the row's, unless a subclass names its own */
  readonly code: string;
  /** the row of replies.ts */
  readonly failure: FailureCode;
  readonly params: FailureParams;
  constructor(failure: FailureCode, params: FailureParams = {}) {
    const status = FAILURES[failure].status;
    const reason = reasonOf(failure, params);
    super(`${status} ${reason}`);
    this.name = 'SipError';
    this.status = status;
    this.reason = reason;
    this.code = failure;
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
