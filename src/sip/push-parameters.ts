// RFC 8599 §4.1: the SIP URI parameters with which a UA asks to be woken by a push notification. Pure.
import { parseUri } from './uri.ts';

/** What a Contact URI names for push: the PNS (pn-provider), the device's token (pn-prid), and pn-param. */
export interface PushParameters {
  provider: string;
  prid: string;
  param: string | null;
}

/** The longest pn-* value we keep (a PNS token is some hundred characters); longer ones are not a push registration. */
export const MAX_PUSH_VALUE = 255;
/** pn-provider names a PNS with a short token (RFC 8599 §4.1.1: apns, fcm, webpush …); longer ones are refused. */
export const MAX_PROVIDER = 64;

/**
 * The push parameters of a Contact URI, or null when it has none. RFC 8599 §4.1: pn-provider and pn-prid are both
 * needed (pn-param is optional, PNS-specific); an empty or overlong value, or one that does not percent-decode, is
 * treated as none (never thrown: the Contact is still a valid binding).
 */
export function pushParametersOf(contact: string): PushParameters | null {
  let params: ReadonlyMap<string, string | null>;
  try {
    const u = parseUri(contact);
    if (u.scheme === 'tel') return null;
    params = u.params;
  } catch {
    return null;
  }
  const provider = value(params.get('pn-provider'));
  const prid = value(params.get('pn-prid'));
  if (provider === null || prid === null || provider.length > MAX_PROVIDER) return null;
  const raw = params.get('pn-param');
  const param = raw === undefined ? null : value(raw);
  if (raw !== undefined && param === null) return null;
  return { provider, prid, param };
}

function value(v: string | null | undefined): string | null {
  if (v === null || v === undefined || v.length === 0) return null;
  let d: string;
  try {
    d = decodeURIComponent(v); // RFC 3261 §25.1: a URI parameter value may be escaped
  } catch {
    return null;
  }
  return d.length > 0 && d.length <= MAX_PUSH_VALUE ? d : null;
}
