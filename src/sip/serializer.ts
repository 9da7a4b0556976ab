// SIP message serializer (RFC 3261 §7): wire bytes of a SipRequest/SipResponse. Pure.
import type { HeaderField, SipMessage } from './message.ts';

/** Does `raw` still carry `value` (so the field was not changed since it was parsed)? */
function rawMatches(h: HeaderField): boolean {
  const raw = h.raw as string;
  if (raw.endsWith(h.value)) {
    // the name part and colon must still be h.name
    return raw.startsWith(h.name);
  }
  // folded or trailing-whitespace lines: recompute the value from raw
  const colon = raw.indexOf(':');
  return colon >= 0 && raw.slice(colon + 1).replace(/[ \t]*\r\n[ \t]+/g, ' ').replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '') === h.value && raw.startsWith(h.name);
}

/**
 * Serialize a message. Content-Length is set from the body (RFC 3261 §20.14); header fields that were not
 * changed since parsing go out exactly as received (their `raw` text).
 */
export function serializeMessage(m: SipMessage): Buffer {
  let s = m.isRequest() ? `${m.method} ${m.uri} ${m.version}\r\n` : `${m.version} ${(m as unknown as { status: number }).status} ${(m as unknown as { reason: string }).reason}\r\n`;
  const bodyLen = m.body.length;
  const clText = String(bodyLen);
  let clDone = false;
  for (const h of m.headers) {
    if (h.key === 'content-length') {
      if (clDone) continue;
      clDone = true;
      if (h.value === clText && h.raw !== undefined && rawMatches(h)) s += h.raw + '\r\n';
      else s += `${h.name}: ${clText}\r\n`;
      continue;
    }
    if (h.raw !== undefined && rawMatches(h)) s += h.raw + '\r\n';
    else s += `${h.name}: ${h.value}\r\n`;
  }
  if (!clDone) s += `Content-Length: ${clText}\r\n`;
  s += '\r\n';
  const headLen = Buffer.byteLength(s, 'utf8');
  const out = Buffer.allocUnsafe(headLen + bodyLen);
  out.write(s, 0, 'utf8');
  if (bodyLen > 0) out.set(m.body, headLen);
  return out;
}
