// HTTP Digest for SIP (RFC 3261 §22.4, RFC 2617 §3.2, RFC 7616 §3.4, RFC 8760): MD5 and SHA-256, qop=auth.
import { hash, timingSafeEqual } from 'node:crypto';
import { formatAuthParams } from './headers.ts';

export type DigestAlgorithm = 'MD5' | 'SHA-256';

function hashName(alg: string): 'md5' | 'sha256' | null {
  const a = alg.toUpperCase();
  if (a === 'MD5' || a === 'MD5-SESS') return 'md5';
  if (a === 'SHA-256' || a === 'SHA-256-SESS') return 'sha256';
  return null;
}

function h(alg: 'md5' | 'sha256', s: string | Uint8Array): string {
  return hash(alg, s, 'hex');
}

/** RFC 7616 §3.4.2: A1 = username ":" realm ":" passwd; HA1 = H(A1) in lower-case hex. */
export function ha1(alg: DigestAlgorithm, user: string, realm: string, password: string): string {
  const hn = hashName(alg);
  if (hn === null) throw new TypeError(`unsupported digest algorithm ${alg}`);
  return h(hn, `${user}:${realm}:${password}`);
}

/**
 * RFC 7616 §3.4.1: response = KD(H(A1), nonce:nc:cnonce:qop:H(A2)) with qop, else (RFC 2069) KD(H(A1), nonce:H(A2)).
 * A2 = method ":" uri (qop=auth), or method ":" uri ":" H(body) (qop=auth-int).
 */
export function digestResponse(opts: {
  alg: DigestAlgorithm | string; ha1: string; nonce: string; nc: string; cnonce: string; qop: string | null | undefined;
  method: string; uri: string; body?: Uint8Array;
}): string {
  const hn = hashName(opts.alg);
  if (hn === null) throw new TypeError(`unsupported digest algorithm ${opts.alg}`);
  let key = opts.ha1;
  // RFC 7616 §3.4.2: for -sess algorithms, HA1 = H(H(user:realm:pw) ":" nonce ":" cnonce)
  if (opts.alg.toUpperCase().endsWith('-SESS')) key = h(hn, `${opts.ha1}:${opts.nonce}:${opts.cnonce}`);
  const a2 = opts.qop === 'auth-int' ? `${opts.method}:${opts.uri}:${h(hn, opts.body ?? new Uint8Array(0))}` : `${opts.method}:${opts.uri}`;
  const ha2 = h(hn, a2);
  if (opts.qop) return h(hn, `${key}:${opts.nonce}:${opts.nc}:${opts.cnonce}:${opts.qop}:${ha2}`);
  return h(hn, `${key}:${opts.nonce}:${ha2}`);
}

/** A WWW-Authenticate / Proxy-Authenticate value (RFC 7616 §3.3) offering qop="auth". */
export function createChallenge(opts: { realm: string; nonce: string; algorithm: DigestAlgorithm; opaque?: string; stale?: boolean }): string {
  const p: [string, string, boolean][] = [
    ['realm', opts.realm, true],
    ['nonce', opts.nonce, true],
  ];
  if (opts.opaque !== undefined) p.push(['opaque', opts.opaque, true]);
  if (opts.stale) p.push(['stale', 'true', false]);
  p.push(['algorithm', opts.algorithm, false]);
  p.push(['qop', 'auth', true]);
  return formatAuthParams('Digest', p);
}

function safeEqualHex(a: string, b: string): boolean {
  const x = Buffer.from(a.toLowerCase(), 'latin1');
  const y = Buffer.from(b.toLowerCase(), 'latin1');
  if (x.length !== y.length) return false;
  return timingSafeEqual(x, y);
}

/**
 * Check Authorization credentials (params from parseAuthParams) against a stored HA1 (RFC 7616 §3.4, RFC 2617 §3.2.2).
 * The caller checks realm, nonce freshness and that `uri` matches the Request-URI. Constant-time compare.
 */
export function verifyDigest(opts: { params: Map<string, string>; method: string; ha1: string; body?: Uint8Array }): boolean {
  const p = opts.params;
  const response = p.get('response');
  const nonce = p.get('nonce');
  const uri = p.get('uri');
  if (response === undefined || nonce === undefined || uri === undefined) return false;
  const alg = p.get('algorithm') ?? 'MD5';
  if (hashName(alg) === null) return false;
  const qop = p.get('qop');
  let nc = '';
  let cnonce = '';
  if (qop !== undefined) {
    if (qop !== 'auth' && qop !== 'auth-int') return false;
    const n = p.get('nc');
    const c = p.get('cnonce');
    if (n === undefined || c === undefined) return false;
    nc = n;
    cnonce = c;
  }
  const expected = digestResponse({ alg, ha1: opts.ha1, nonce, nc, cnonce, qop, method: opts.method, uri, body: opts.body });
  return safeEqualHex(expected, response);
}

/**
 * Client side (RFC 3261 §22.2, RFC 7616 §3.4): an Authorization / Proxy-Authorization value answering a challenge
 * (params of the WWW-Authenticate from parseAuthParams). Uses qop=auth when offered, else the RFC 2069 form.
 * Takes the password, or instead the HA1 of the challenge's algorithm and realm (a carrier account stored as HA1).
 */
export function buildAuthorization(opts: {
  challenge: Map<string, string>; user: string; password?: string; ha1?: string; method: string; uri: string; nc: number | string; cnonce: string;
}): string {
  const c = opts.challenge;
  const realm = c.get('realm') ?? '';
  const nonce = c.get('nonce') ?? '';
  const algParam = c.get('algorithm');
  const alg = (algParam ?? 'MD5').toUpperCase();
  const base: DigestAlgorithm = alg.startsWith('SHA-256') ? 'SHA-256' : 'MD5';
  if (hashName(alg) === null) throw new TypeError(`unsupported digest algorithm ${algParam}`);
  const offered = (c.get('qop') ?? '').split(',').map((q) => q.trim().toLowerCase());
  const qop = offered.includes('auth') ? 'auth' : null;
  const nc = typeof opts.nc === 'number' ? opts.nc.toString(16).padStart(8, '0') : opts.nc;
  if (opts.password === undefined && opts.ha1 === undefined) throw new TypeError('buildAuthorization needs a password or an HA1');
  const key = opts.ha1 !== undefined ? opts.ha1.toLowerCase() : ha1(base, opts.user, realm, opts.password ?? '');
  const response = digestResponse({ alg: algParam ?? 'MD5', ha1: key, nonce, nc, cnonce: opts.cnonce, qop, method: opts.method, uri: opts.uri });
  const p: [string, string, boolean][] = [
    ['username', opts.user, true],
    ['realm', realm, true],
    ['nonce', nonce, true],
    ['uri', opts.uri, true],
    ['response', response, true],
  ];
  if (algParam !== undefined) p.push(['algorithm', algParam, false]);
  if (qop !== null) {
    p.push(['cnonce', opts.cnonce, true]);
    p.push(['qop', qop, false]);
    p.push(['nc', nc, false]);
  }
  const opaque = c.get('opaque');
  if (opaque !== undefined) p.push(['opaque', opaque, true]);
  return formatAuthParams('Digest', p);
}
