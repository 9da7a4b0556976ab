// Our Record-Route carries a signature of the dialog it was added for, so that only requests of dialogs this proxy
// record-routed are relayed in dialog (RFC 3261 §16.4, §16.6 step 4 leave the URI to the proxy; Kamailio's rr checks
// and topoh do the same job). The parameter is an HMAC of the Call-ID and the caller's From tag: a request in that
// dialog carries the same Call-ID and the caller's tag as its From or its To tag, whichever side sends it.
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { SipRequest } from '../sip/message.ts';
import { parseSipUri } from '../sip/uri.ts';

/** the URI parameter of the signature */
export const SIGNATURE_PARAM = 'tvs';

export class RouteSigner {
  /** a KeyObject, as in registrar/nonce.ts: a raw key costs createHmac four times as much */
  readonly #key: KeyObject;

  constructor(key: Uint8Array) {
    if (key.byteLength < 16) throw new RangeError('a Record-Route key needs 16 bytes or more');
    this.#key = createSecretKey(key);
  }

  /** the parameter value for a dialog: 22 base64url characters (128 bits of HMAC-SHA256) */
  sign(callId: string, callerTag: string): string {
    return createHmac('sha256', this.#key).update(callId).update('\n').update(callerTag).digest('base64url').slice(0, 22);
  }

  /** `uri` with the signature of `req`'s dialog (its Call-ID and From tag: an initial request's caller) */
  signUri(uri: string, req: SipRequest): string {
    const tag = req.fromTag;
    return tag === null ? uri : `${uri};${SIGNATURE_PARAM}=${this.sign(req.callId, tag)}`;
  }

  /** True when `uri` (one of ours, from a Route or a strict router's Request-URI) was signed for `req`'s dialog. */
  verifies(uri: string, req: SipRequest): boolean {
    let value: string | null | undefined;
    try {
      value = parseSipUri(uri).params.get(SIGNATURE_PARAM);
    } catch {
      return false;
    }
    if (typeof value !== 'string' || value.length !== 22) return false;
    const got = Buffer.from(value);
    for (const tag of [req.fromTag, req.toTag]) {
      if (tag === null) continue;
      if (timingSafeEqual(got, Buffer.from(this.sign(req.callId, tag)))) return true;
    }
    return false;
  }
}
