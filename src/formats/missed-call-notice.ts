// The missed-call notice: one MESSAGE (RFC 3428) telling a user who was offline which calls it missed.
// Body: multipart/alternative (RFC 2046 §5.1.4), least rich part first —
//   1. text/plain; charset=utf-8   what a person reads on any SIP phone
//   2. application/json             what the TV agent reads (MissedCallNoticeJson below)
// The wire format both sides share: offline/ builds the notice from the store's call records, the TV agent
// reads it back with parseMissedCallNotice(). Pure.

export const MISSED_CALLS_TYPE = 'missed-calls';

/**
 * The application/json part:
 * ```json
 * {"type":"missed-calls","to":"1002",
 *  "calls":[{"from":"1001","count":2,"first":"2025-01-01T10:00:00.000Z","last":"2025-01-01T10:05:00.000Z"}]}
 * ```
 * `calls` has one entry per caller (user_call.User_id), ordered by the time of that caller's first missed
 * call; `first`/`last` are ISO 8601 UTC times of the earliest and latest missed call from that caller;
 * `count` is how many calls were missed from that caller.
 */
export interface MissedCallNoticeJson {
  type: typeof MISSED_CALLS_TYPE;
  /** the callee: the user the notice is for */
  to: string;
  calls: MissedCallGroup[];
}

export interface MissedCallGroup {
  from: string;
  count: number;
  first: string;
  last: string;
}

export interface MissedCallNoticeBody {
  /** the whole Content-Type header value, with the boundary */
  contentType: string;
  body: Uint8Array;
  json: MissedCallNoticeJson;
}

/** "2025-01-01 10:05 UTC": the server does not know the phone's time zone, so it says UTC. */
function humanTime(iso: string): string {
  return iso.slice(0, 10) + ' ' + iso.slice(11, 16) + ' UTC';
}

export function missedCallText(groups: readonly MissedCallGroup[]): string {
  const total = groups.reduce((n, g) => n + g.count, 0);
  const lines = [`You missed ${total} call${total === 1 ? '' : 's'} while offline:`];
  for (const g of groups) {
    const times = g.count === 1 ? `at ${humanTime(g.first)}` : `${g.count} times, ${humanTime(g.first)} to ${humanTime(g.last)}`;
    lines.push(`- ${g.from}: ${times}`);
  }
  return lines.join('\r\n') + '\r\n';
}

/**
 * The notice for `toUser` of the missed calls `calls` (one group per caller). `boundary` is injectable for
 * tests; it must not occur in either part (the text and JSON we write cannot contain "--tvphone-").
 */
export function encodeMissedCallNotice(toUser: string, calls: readonly MissedCallGroup[], boundary = 'tvphone-' + randomHex()): MissedCallNoticeBody {
  const json: MissedCallNoticeJson = { type: MISSED_CALLS_TYPE, to: toUser, calls: [...calls] };
  const parts = [
    `--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${missedCallText(json.calls)}\r\n`, // RFC 2046 §5.1.1: the CRLF before a delimiter is part of it
    `--${boundary}\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(json)}\r\n`,
    `--${boundary}--\r\n`,
  ];
  return {
    contentType: `multipart/alternative; boundary=${boundary}`,
    body: new TextEncoder().encode(parts.join('')),
    json,
  };
}

function randomHex(): string {
  const b = new Uint8Array(8);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export interface MimePart {
  contentType: string;
  body: string;
}

/** Split a multipart body (RFC 2046 §5.1.1) into its parts' Content-Type and text. Tolerates LF-only lines. */
export function splitMultipart(contentType: string, body: string): MimePart[] {
  const m = /;\s*boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  if (!m) return [];
  const delimiter = '--' + (m[1] ?? m[2]);
  const parts: MimePart[] = [];
  const chunks = body.split(delimiter);
  // chunks[0] is the preamble; a chunk starting with "--" is the close delimiter and the epilogue
  for (let i = 1; i < chunks.length && i <= 64; i++) {
    let chunk = chunks[i];
    if (chunk.startsWith('--')) break;
    chunk = chunk.replace(/^[ \t]*\r?\n/, '');
    const sep = /\r?\n\r?\n/.exec(chunk);
    const headerText = sep ? chunk.slice(0, sep.index) : '';
    let content = sep ? chunk.slice(sep.index + sep[0].length) : chunk.replace(/^\r?\n/, '');
    content = content.replace(/\r?\n$/, ''); // the CRLF before the next delimiter belongs to it
    const ct = /^content-type\s*:\s*(.+)$/im.exec(headerText);
    parts.push({ contentType: ct ? ct[1].trim() : 'text/plain', body: content });
  }
  return parts;
}

/**
 * Read a missed-call notice back: from its multipart/alternative JSON part, or from a bare application/json
 * body. Returns null when the message is not a missed-call notice.
 */
export function parseMissedCallNotice(contentType: string, body: Uint8Array | string): MissedCallNoticeJson | null {
  const text = typeof body === 'string' ? body : new TextDecoder('utf-8').decode(body);
  const mediaType = contentType.split(';')[0].trim().toLowerCase();
  let jsonText: string | null = null;
  if (mediaType === 'application/json') jsonText = text;
  else if (mediaType.startsWith('multipart/')) {
    const part = splitMultipart(contentType, text).find((p) => p.contentType.split(';')[0].trim().toLowerCase() === 'application/json');
    jsonText = part ? part.body : null;
  }
  if (jsonText === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(jsonText);
  } catch {
    return null;
  }
  if (!isObject(value) || value.type !== MISSED_CALLS_TYPE || !Array.isArray(value.calls)) return null;
  const calls: MissedCallGroup[] = [];
  for (const c of value.calls) {
    if (!isObject(c) || typeof c.from !== 'string' || typeof c.count !== 'number' || typeof c.first !== 'string' || typeof c.last !== 'string') {
      return null;
    }
    calls.push({ from: c.from, count: c.count, first: c.first, last: c.last });
  }
  return { type: MISSED_CALLS_TYPE, to: typeof value.to === 'string' ? value.to : '', calls };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
