// The one error the SIP parser throws (RFC 3261 §21.4.1 400 Bad Request, §21.5.6 505). Imports nothing, so every
// parser of header values can throw it; ./message.ts adds the `request` field's type.

/** A malformed SIP message or header. `reason` is short enough to be a 400 reason phrase. */
export class SipParseError extends Error {
  /** short phrase naming the fault, e.g. "Bad CSeq header" */
  readonly reason: string;
  /** what exactly is wrong, e.g. 'bad sequence number' ('' when the reason says it all) */
  readonly detail: string;
  /** status to answer with: 400, or 505 for an unsupported SIP version */
  readonly status: number;
  constructor(reason: string, detail?: string, status = 400) {
    super(detail ? `${reason}: ${detail}` : reason);
    this.name = 'SipParseError';
    this.reason = reason;
    this.detail = detail ?? '';
    this.status = status;
  }
}
