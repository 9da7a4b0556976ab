// Processing of a REGISTER against the bindings of one AoR: RFC 3261 §10.3 steps 5–8, with Path
// (RFC 3327) and +sip.instance/reg-id (RFC 5626). Pure: takes the current bindings, returns what to write
// or throws the SipError to answer; src/registrar/registrar.ts does the I/O.
import type { SipRequest, SipResponse } from '../sip/message.ts';
import type { Binding, EpochMs } from '../store/store.ts';
import { flowOf, type Flow } from '../flow.ts';
import type { NameAddr } from '../sip/headers.ts';
import type { SipUri, TelUri } from '../sip/uri.ts';
import { contactExpires, parseContacts, expiresOf, parseTokenList } from '../sip/headers.ts';
import { parseUri, uriEquals } from '../sip/uri.ts';
import { createResponse } from '../sip/response.ts';
import { newTag } from '../sip/ids.ts';
import { SipError } from '../errors.ts';
import { orderBindings } from './lookup.ts';

export interface RegistrationPolicy {
  /** seconds granted when the REGISTER names no expiry */
  defaultExpires: number;
  /** the shortest non-zero expiry granted (Min-Expires) */
  minExpires: number;
  /** a shorter non-zero request: 'reject' → 423 with Min-Expires (default), 'raise' → granted minExpires (Kamailio) */
  belowMinExpires?: 'raise' | 'reject';
  /** longer requests are shortened to this */
  maxExpires: number;
  /** bindings per AoR */
  maxContacts: number;
}

export type RegistrationPlan =
  | { kind: 'query' }
  | { kind: 'update'; upsert: Binding[]; remove: string[]; removeAll: boolean; supportsPath: boolean };

/** A Contact parameter (names are lower-cased and values unquoted by parseNameAddr). */
function param(params: Map<string, string | null>, name: string): string | null | undefined {
  return params.get(name);
}

function tryParseUri(text: string): SipUri | TelUri | null {
  try {
    return parseUri(text);
  } catch {
    return null;
  }
}

function sameUri(text: string, uri: SipUri | TelUri): boolean {
  const u = tryParseUri(text);
  return u !== null && uriEquals(u, uri);
}

/** Option tags of every Supported header field; a malformed list counts as none. */
function supported(req: SipRequest): string[] {
  try {
    return req.fields('supported').flatMap((f) => parseTokenList(f.value));
  } catch {
    return [];
  }
}

function parseQ(v: string | null | undefined): number | null | 'bad' {
  if (v === undefined) return null;
  // RFC 3261 §25.1: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
  if (v === null || !/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(v.trim())) return 'bad';
  return Number(v.trim());
}

function contactsOf(req: SipRequest): '*' | NameAddr[] {
  const values = req.headerValues('contact');
  if (values.some((v) => v.trim() === '*')) {
    // RFC 3261 §10.3 step 6: "*" must be the only Contact value.
    if (values.length > 1) throw new SipError('wildcard-not-alone');
    return '*';
  }
  try {
    return parseContacts(req);
  } catch {
    throw new SipError('bad-contact');
  }
}

/** True when the request refreshes nothing: same Call-ID and a CSeq not higher than the binding's. */
function isStale(b: Binding, callId: string, cseq: number): boolean {
  return b.callId === callId && cseq <= b.cseq;
}

export function planRegistration(
  req: SipRequest,
  userId: string,
  existing: readonly Binding[],
  policy: RegistrationPolicy,
  source: Flow,
  now: EpochMs,
): RegistrationPlan {
  const contacts = contactsOf(req);
  const callId = req.callId;
  const cseq = req.cseq().seq;
  const headerExpires = expiresOf(req);

  if (contacts === '*') {
    // RFC 3261 §10.3 step 6: "*" is valid only with an Expires header field of zero.
    if (headerExpires !== 0) throw new SipError('wildcard-expires-not-zero');
    // RFC 3261 §10.3 step 6: each binding is removed only if the CSeq is higher than the one stored for the same
    // Call-ID; otherwise "the update MUST be aborted and the request fails" (step 7).
    if (existing.some((b) => isStale(b, callId, cseq))) throw new SipError('cseq-out-of-order');
    return { kind: 'update', upsert: [], remove: existing.map((b) => b.contact), removeAll: true, supportsPath: false };
  }
  // RFC 3261 §10.3 step 8 (query): no Contact → answer with the current bindings, change nothing.
  if (contacts.length === 0) return { kind: 'query' };

  const supportsPath = supported(req).includes('path');
  // RFC 3327 §5.3: the registrar stores the Path values (we do so only when the UA said Supported: path).
  const path = supportsPath ? req.headerValues('path') : [];
  const userAgent = req.header('user-agent') ?? null;

  const live = new Map<string, Binding>(existing.map((b) => [b.contact, b]));
  const upsert = new Map<string, Binding>();
  const remove = new Set<string>();

  for (const c of contacts) {
    const uri = tryParseUri(c.uri);
    if (!uri) throw new SipError('bad-contact');
    // RFC 3261 §10.3 step 6: the expires parameter, else the Expires header field, else a local default.
    let expires = contactExpires(c) ?? headerExpires ?? policy.defaultExpires;
    // RFC 3261 §10.3 step 6: a non-zero expiry shorter than the local minimum MAY be rejected with 423; else it is raised.
    if (expires > 0 && expires < policy.minExpires) {
      if (policy.belowMinExpires === 'raise') expires = policy.minExpires;
      else throw new SipError('interval-too-brief', { minExpires: policy.minExpires });
    }
    // RFC 3261 §10.3 step 6: the registrar MAY shorten the expiry.
    if (expires > policy.maxExpires) expires = policy.maxExpires;
    const q = parseQ(param(c.params, 'q'));
    if (q === 'bad') throw new SipError('bad-q');
    const instanceRaw = param(c.params, '+sip.instance');
    const instance = instanceRaw || null;
    const regIdRaw = param(c.params, 'reg-id');
    // RFC 5626 §4.2: reg-id is meaningful only together with +sip.instance.
    const regId = instance && regIdRaw && /^\d{1,9}$/.test(regIdRaw) ? Number(regIdRaw) : null;

    // RFC 5626 §6: a binding with the same instance-id and reg-id is replaced; otherwise the URI matches (§10.3 step 7).
    const matches = (b: Binding): boolean =>
      instance && regId !== null ? b.instance === instance && b.regId === regId : sameUri(b.contact, uri);
    const match = [...live.values()].find(matches);
    // RFC 3261 §10.3 step 7: same Call-ID and a CSeq not higher → "the update MUST be aborted and the request fails".
    if (match && isStale(match, callId, cseq)) throw new SipError('cseq-out-of-order');
    if (match) {
      live.delete(match.contact);
      remove.add(match.contact);
    }
    // an earlier Contact of this same request with the same URI is overridden by the later one
    for (const key of [...upsert.keys()]) if (sameUri(key, uri)) upsert.delete(key);
    // RFC 3261 §10.3 step 7: expiration zero removes the binding.
    if (expires === 0) continue;
    remove.delete(c.uri);
    upsert.set(c.uri, {
      userId,
      contact: c.uri,
      expiresAt: now + expires * 1000,
      q,
      callId,
      cseq,
      path,
      instance,
      regId,
      flow: flowOf(source),
      userAgent,
      updatedAt: now,
    });
  }

  const remaining = new Set([...live.keys(), ...upsert.keys()]);
  if (remaining.size > policy.maxContacts) throw new SipError('too-many-contacts');
  return { kind: 'update', upsert: [...upsert.values()], remove: [...remove], removeAll: false, supportsPath };
}

function formatContact(b: Binding, now: EpochMs): string {
  const expires = Math.max(0, Math.ceil((b.expiresAt - now) / 1000));
  let v = `<${b.contact}>;expires=${expires}`;
  if (b.q !== null) v += `;q=${b.q}`;
  if (b.instance !== null) v += `;+sip.instance="${b.instance.replace(/(["\\])/g, '\\$1')}"`;
  if (b.regId !== null) v += `;reg-id=${b.regId}`;
  return v;
}

/**
 * RFC 3261 §10.3 step 8: the 200 OK lists every current binding with its expires parameter, and a Date.
 * RFC 3327 §5.3: with Supported: path, the stored Path is returned.
 */
export function registrationOk(req: SipRequest, bindings: readonly Binding[], now: EpochMs, supportsPath: boolean): SipResponse {
  const res = createResponse(req, 200, 'OK', newTag());
  for (const b of orderBindings(bindings)) if (b.expiresAt > now) res.addHeader('Contact', formatContact(b, now));
  if (supportsPath) for (const p of req.headerValues('path')) res.addHeader('Path', p);
  // RFC 5626 §6: a registrar that applied a reg-id and was told Supported: outbound answers Require: outbound.
  const outbound = supported(req).includes('outbound');
  if (outbound && bindings.some((b) => b.regId !== null && b.callId === req.callId)) res.addHeader('Require', 'outbound');
  res.addHeader('Date', new Date(now).toUTCString());
  return res;
}
