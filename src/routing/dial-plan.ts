// The outbound dial plan (Kamailio's dialplan + drouting): the profile's routes[], tried in order; the first whose
// prefix or pattern matches the dialled number names the trunks and rewrites the number. Pure.
import type { RouteConfig } from '../config/profile.ts';

export interface DialPlanChoice {
  /** the route's index in the profile (for logs) */
  index: number;
  route: RouteConfig;
  /** the number as dialled, without visual separators */
  dialled: string;
  /** the number as sent to the carrier: strip, prepend, then E.164 when the route asks */
  number: string;
}

/** RFC 3966 §5.1.1 visual separators (- . ( )) and spaces a phone may leave in a number. */
const VISUAL = /[-.() ]/g;
const NUMBER = /^\+?[0-9*#]+$/;

/** The user part of a Request-URI as a number (tel: or a sip: user of digits), or null when it is not one. */
export function asNumber(user: string): string | null {
  const n = user.replace(VISUAL, '');
  return NUMBER.test(n) ? n : null;
}

/** The first route for `dialled` (already a number: asNumber), with the number rewritten; null when none matches. */
export function chooseRoute(routes: readonly RouteConfig[], dialled: string): DialPlanChoice | null {
  for (const [index, route] of routes.entries()) {
    const hit = route.prefix !== undefined ? dialled.startsWith(route.prefix)
      : route.pattern !== undefined ? new RegExp(`^(?:${route.pattern})$`).test(dialled)
      : true; // a route with neither matches every number (the default route)
    if (hit) return { index, route, dialled, number: rewrite(route, dialled) };
  }
  return null;
}

/** strip digits from the front, prepend, then normalise to E.164 (00… → +…, national 0… → +CC…). */
export function rewrite(route: RouteConfig, dialled: string): string {
  let n = route.prepend + dialled.slice(route.strip);
  if (route.e164 !== null && !n.startsWith('+')) {
    if (n.startsWith('00')) n = `+${n.slice(2)}`;
    else if (n.startsWith('0')) n = `+${route.e164.countryCode}${n.slice(1)}`;
  }
  return n;
}

/** Failover to the next trunk: no answer (408) or a server failure (5xx, 503 above all); busy (486/600) and other 4xx/6xx stand. */
export function failsOver(status: number): boolean {
  return status === 408 || (status >= 500 && status < 600);
}
