// Delivery of a voice message by content indirection (RFC 4483): the MESSAGE carries a message/external-body part
// naming an HTTP URL where the WAV is fetched, instead of the WAV itself. A recording is far larger than a MESSAGE may
// be on UDP (RFC 3428 §7: 1300 bytes unless the path is congestion controlled), so this is what reaches a UDP-only TV
// too. The URL holds a per-message token: an HMAC of the message id and the URL's expiry, with a key of this process.
//
//   Content-Type: message/external-body; access-type="URL"; expiration="<RFC 1123 date>"; size=<bytes>;
//                 URL="http://<host>:<port>/voicemail/<id>.wav?e=<expiry ms>&t=<token>"
//
//   Content-Type: audio/wav                     (a video message: video/x-matroska, /voicemail/<id>.mkv)
//   Content-ID: <voicemail-<id>@<host>>
//   Content-Disposition: render
//   Content-Description: voice message, <seconds> s
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SipRequest } from '../sip/message.ts';

/** How long a delivered URL may be fetched: the TV fetches it before it answers the MESSAGE (well within Timer F). */
export const FETCH_URL_LIFETIME_MS = 10 * 60_000;

export function fetchToken(secret: Uint8Array, id: number, expiresAt: number): string {
  return createHmac('sha256', secret).update(`${id}.${expiresAt}`).digest('base64url');
}

/** True when `token` was made by fetchToken for this id and expiry and the expiry has not passed. */
export function verifyFetchToken(secret: Uint8Array, id: number, expiresAt: number, token: string, now: number): boolean {
  if (!Number.isSafeInteger(expiresAt) || expiresAt <= now) return false;
  const want = Buffer.from(fetchToken(secret, id, expiresAt));
  const got = Buffer.from(token);
  return got.length === want.length && timingSafeEqual(got, want);
}

export function fetchPath(id: number, contentType = 'audio/wav'): string {
  return `/voicemail/${id}.${/^video\//i.test(contentType) ? 'mkv' : 'wav'}`;
}

/** The RFC 1123 date (RFC 2046 §5.2.3.1 expiration) */
function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/** The length in milliseconds of a 16-bit mono 8 kHz WAV, from its size (44-byte header). */
export function wavDurationMs(bytes: number): number {
  return Math.max(0, Math.round(((bytes - 44) / 16000) * 1000));
}

/**
 * Turns the delivery MESSAGE of a stored voice message (as the silo built it: From, To, Call-ID, Date, message id)
 * into its content-indirection form (RFC 4483 §4.1): the body is replaced by the external-body part naming `baseUrl`.
 */
export function indirect(req: SipRequest, o: { id: number; bytes: number; contentType: string; baseUrl: string; secret: Uint8Array; now: number; host: string }): SipRequest {
  const expiresAt = o.now + FETCH_URL_LIFETIME_MS;
  const url = `${o.baseUrl}${fetchPath(o.id, o.contentType)}?e=${expiresAt}&t=${fetchToken(o.secret, o.id, expiresAt)}`;
  req.removeHeader('content-type');
  req.addHeader('Content-Type', `message/external-body; access-type="URL"; expiration="${httpDate(expiresAt)}"; size=${o.bytes}; URL="${url}"`);
  const video = /^video\//i.test(o.contentType);
  const seconds = (wavDurationMs(o.bytes) / 1000).toFixed(1);
  req.body = new TextEncoder().encode(
    `Content-Type: ${o.contentType}\r\nContent-ID: <voicemail-${o.id}@${o.host}>\r\nContent-Disposition: render\r\n` +
    `Content-Description: ${video ? 'video message' : `voice message, ${seconds} s`}\r\n\r\n`,
  );
  return req;
}
