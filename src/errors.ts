// Errors shared by every layer. Imports nothing.

/** A failure that becomes a SIP reply (drachtio-srf's SipError). Bugs stay plain exceptions. */
export class SipError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly code: string;
  constructor(status: number, reason: string, headers: ReadonlyArray<readonly [string, string]> = [], code = `SIP_${status}`) {
    super(`${status} ${reason}`);
    this.name = 'SipError';
    this.status = status;
    this.reason = reason;
    this.headers = headers;
    this.code = code;
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

/** The store could not be reached or failed to commit: callers answer 503 with Retry-After. */
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
