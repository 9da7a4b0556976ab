// Digest authentication of SIP requests (RFC 3261 §22, RFC 7616, RFC 8760): REGISTER is challenged with
// 401 WWW-Authenticate, other requests with 407 Proxy-Authenticate. Used by routing/ for every request.
import { randomBytes } from 'node:crypto';
import { SipError, StoreUnavailableError } from '../errors.ts';
import type { SipRequest, SipResponse } from '../sip/message.ts';
import type { CredentialStore } from '../store/store.ts';
import type { Logger } from '../log/logger.ts';
import { parseAuthParams, parseNameAddr } from '../sip/headers.ts';
import { parseUri, uriEquals } from '../sip/uri.ts';
import { createResponse } from '../sip/response.ts';
import { newTag } from '../sip/ids.ts';
import { createChallenge, ha1, verifyDigest, type DigestAlgorithm } from '../sip/digest.ts';
import { NonceCounts, NonceIssuer } from './nonce.ts';
import { systemClock, type Clock } from '../clock.ts';

export interface AuthenticatorOptions {
  store: Pick<CredentialStore, 'getCredentials'>;
  /** the realm(s) we answer for; the first is the one challenged when the request names none of them */
  realm: string | readonly string[];
  clock?: Pick<Clock, 'now'>;
  /** how long a nonce is good for; default 300 000 ms. An older nonce with a right digest gets stale=true. */
  nonceTtlMs?: number;
  /** 'digest' (default) or 'none': no authentication, any user part is accepted (the registrar creates users) */
  mode?: 'digest' | 'none';
  /** HMAC key of the nonces (≥ 16 bytes); nodes sharing one must share it. Default: random per process. */
  secret?: Uint8Array;
  /** bound of the nonce-count table; default 100 000 */
  maxTrackedNonces?: number;
  /**
   * The challenges offered, most preferred first (RFC 8760 §2.4); default SHA-256 then MD5. Clients that read only
   * the first challenge (sipp, sipsak) or refuse any non-MD5 one (baresip 1.0) need MD5 only; credentials with an
   * algorithm not offered to the request are challenged.
   */
  algorithms?: readonly DigestAlgorithm[];
  /** per User-Agent family: the first entry whose `match` the User-Agent contains (case-insensitive) sets the challenges */
  algorithmsByUserAgent?: ReadonlyArray<{ match: string; algorithms: readonly DigestAlgorithm[] }>;
  log?: Logger;
}

/** The authenticated user, or the challenge to send instead (401/407). Failures (400, 403) throw a SipError. */
export type AuthResult = { userId: string } | SipResponse;

/** Why credentials were refused: logged at warn with user, realm and source (fail2ban's filter is in contrib/). */
export type AuthFailure =
  | 'wrong password' | 'unknown user' | 'stale nonce' | 'unknown nonce' | 'replayed nonce-count' | 'unsupported algorithm'
  | 'incomplete credentials' | 'realm mismatch' | 'user mismatch' | 'spent nonce';

/** The refusals that are guesses (a password or a user tried): what routing counts towards a ban (issue 16 item 3). */
export const GUESSES: ReadonlySet<AuthFailure> = new Set<AuthFailure>(['wrong password', 'unknown user', 'user mismatch', 'spent nonce']);

type Verdict = 'ok' | 'stale' | { refused: AuthFailure };

/** Told of each refused credential, with the user it named (routing counts the guesses). */
export type OnRefused = (user: string, reason: AuthFailure) => void;

/** Where a request came from, for the log of a failed authentication. */
export interface AuthSource {
  address: string;
  port: number;
}

const ALGORITHMS: readonly DigestAlgorithm[] = ['SHA-256', 'MD5']; // RFC 8760 §2.4: preferred first

export const DIGEST_ALGORITHMS = ALGORITHMS;

export class Authenticator {
  readonly #store: Pick<CredentialStore, 'getCredentials'>;
  readonly #realms: readonly string[];
  readonly #clock: Pick<Clock, 'now'>;
  readonly #mode: 'digest' | 'none';
  #nonces: NonceIssuer;
  readonly #secret: Uint8Array;
  readonly #counts: NonceCounts;
  /** the nonces being checked now, each with the end of its last check */
  readonly #checking = new Map<string, Promise<void>>();
  #algorithms: readonly DigestAlgorithm[];
  #byUserAgent: ReadonlyArray<{ match: string; algorithms: readonly DigestAlgorithm[] }>;
  readonly #log?: Logger;
  /** HA1s of a password nobody knows: compared against when the user is unknown, so timing stays alike */
  readonly #dummy: Record<DigestAlgorithm, string>;

  constructor(opts: AuthenticatorOptions) {
    this.#store = opts.store;
    this.#realms = typeof opts.realm === 'string' ? [opts.realm] : [...opts.realm];
    if (this.#realms.length === 0) throw new TypeError('Authenticator needs at least one realm');
    this.#clock = opts.clock ?? systemClock;
    this.#mode = opts.mode ?? 'digest';
    this.#secret = opts.secret ?? randomBytes(32);
    this.#nonces = new NonceIssuer(this.#secret, opts.nonceTtlMs ?? 300_000);
    this.#counts = new NonceCounts(opts.maxTrackedNonces ?? 100_000);
    this.#algorithms = opts.algorithms?.length ? [...opts.algorithms] : ALGORITHMS;
    this.#byUserAgent = (opts.algorithmsByUserAgent ?? []).map((e) => ({ match: e.match.toLowerCase(), algorithms: [...e.algorithms] }));
    this.#log = opts.log;
    const pw = randomBytes(16).toString('hex');
    this.#dummy = { MD5: ha1('MD5', 'x', this.#realms[0], pw), 'SHA-256': ha1('SHA-256', 'x', this.#realms[0], pw) };
  }

  /**
   * Authenticate `req`. `proxy: false` (REGISTER, or a request we answer as the UAS) challenges with
   * 401/WWW-Authenticate and reads Authorization; `proxy: true` with 407/Proxy-Authenticate and reads
   * Proxy-Authorization (RFC 3261 §22.2, §22.3). A store outage throws StoreUnavailableError (routing answers 503).
   */
  async authenticate(req: SipRequest, opts: { proxy: boolean; source?: AuthSource; onRefused?: OnRefused }): Promise<AuthResult> {
    const claimed = claimedUser(req);
    if (claimed === undefined) throw new SipError('bad-from-to');
    try {
      if (this.#mode === 'none') return this.#admit(claimed);
      return await this.#digest(req, opts.proxy, claimed, opts.source, opts.onRefused);
    } catch (err) {
      // the outage itself is logged once by the server
      if (err instanceof StoreUnavailableError) this.#log?.debug({ err }, 'store unavailable: request answered 503');
      throw err;
    }
  }

  /** A 401/407 with one challenge per configured algorithm, preferred first (RFC 8760 §2.4). */
  challenge(req: SipRequest, opts: { proxy: boolean; stale?: boolean }): SipResponse {
    const realm = this.#realmFor(req);
    const nonce = this.#nonces.issue(realm, this.#clock.now());
    const res = createResponse(req, opts.proxy ? 407 : 401, undefined, newTag());
    const name = opts.proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate';
    for (const algorithm of this.algorithmsFor(req)) res.addHeader(name, createChallenge({ realm, nonce, algorithm, stale: opts.stale === true }));
    return res;
  }

  /** SIGHUP: the challenges offered and the nonce lifetime change for the next request; issued nonces stay valid. */
  reconfigure(p: Pick<AuthenticatorOptions, 'algorithms' | 'algorithmsByUserAgent' | 'nonceTtlMs'>): void {
    if (p.algorithms?.length) this.#algorithms = [...p.algorithms];
    if (p.algorithmsByUserAgent) this.#byUserAgent = p.algorithmsByUserAgent.map((e) => ({ match: e.match.toLowerCase(), algorithms: [...e.algorithms] }));
    if (p.nonceTtlMs !== undefined) this.#nonces = new NonceIssuer(this.#secret, p.nonceTtlMs);
  }

  /**
   * RFC 3261 §22.3 / Kamailio consume_credentials(): once a proxied request is authenticated, the credentials for our
   * realm go no further — the callee has no use for them and must not get a digest response to guess passwords from.
   */
  consumeCredentials(req: SipRequest): void {
    const kept = req.fields('proxy-authorization').filter((f) => {
      try {
        return !this.#realms.includes(parseAuthParams(f.value).params.get('realm') ?? '');
      } catch {
        return true;
      }
    });
    req.removeHeader('proxy-authorization');
    for (const f of kept) req.addHeader(f.name, f.value);
  }

  /** The challenges this request's User-Agent is offered, preferred first. */
  algorithmsFor(req: SipRequest): readonly DigestAlgorithm[] {
    if (this.#byUserAgent.length === 0) return this.#algorithms;
    const ua = req.header('user-agent')?.toLowerCase();
    if (ua === undefined) return this.#algorithms;
    for (const e of this.#byUserAgent) if (ua.includes(e.match)) return e.algorithms;
    return this.#algorithms;
  }

  #admit(claimed: string | null): AuthResult {
    // --auth none: the claimed user is who it says (a REGISTER of an unknown user creates it: Registrar createUsers).
    if (!claimed) throw new SipError('forbidden');
    return { userId: claimed };
  }

  async #digest(req: SipRequest, proxy: boolean, claimed: string | null, source: AuthSource | undefined, onRefused: OnRefused | undefined): Promise<AuthResult> {
    const refused = (reason: AuthFailure, params: Map<string, string>) => {
      this.#refused(reason, params, req, source);
      onRefused?.(params.get('username') ?? '', reason);
    };
    const header = proxy ? 'proxy-authorization' : 'authorization';
    let params: Map<string, string> | null = null;
    let foreign: Map<string, string> | null = null;
    for (const field of req.fields(header)) {
      let parsed: { scheme: string; params: Map<string, string> };
      try {
        parsed = parseAuthParams(field.value);
      } catch {
        throw new SipError('malformed-credentials');
      }
      const p = parsed.params; // names lower-cased by parseAuthParams
      // RFC 3261 §22.4: use the credentials whose realm is ours
      if (parsed.scheme.toLowerCase() === 'digest' && this.#realms.includes(p.get('realm') ?? '')) {
        params = p;
        break;
      }
      if (parsed.scheme.toLowerCase() === 'digest') foreign ??= p;
    }
    if (!params) {
      if (foreign) refused('realm mismatch', foreign);
      return this.challenge(req, { proxy });
    }

    // one check at a time per nonce: a guess pipelined behind a wrong one finds the nonce spent (issue 16)
    const verdict = await this.#oneAtATime(params.get('nonce') ?? '', () => this.#verify(req, params));
    if (verdict === 'stale') {
      refused('stale nonce', params);
      return this.challenge(req, { proxy, stale: true });
    }
    if (verdict !== 'ok') {
      refused(verdict.refused, params);
      return this.challenge(req, { proxy });
    }
    const username = params.get('username') ?? '';
    // RFC 3261 §22.4 / Kamailio auth_check: the credentials must be those of the To user (REGISTER) or From user.
    if (claimed !== username) {
      refused('user mismatch', params);
      throw new SipError('forbidden');
    }
    return { userId: username };
  }

  /** Runs `fn` after every earlier check of the same key has ended; the table holds only checks in progress. */
  async #oneAtATime<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prior = this.#checking.get(key);
    const run = prior === undefined ? fn() : prior.then(fn);
    const tail = run.then(() => undefined, () => undefined);
    this.#checking.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.#checking.get(key) === tail) this.#checking.delete(key);
    }
  }

  /** One stable warn line per refused credential (contrib/fail2ban: user, realm, ip, port, reason). */
  #refused(reason: AuthFailure, params: Map<string, string>, req: SipRequest, source: AuthSource | undefined): void {
    this.#log?.warn({ user: params.get('username') ?? '', realm: params.get('realm') ?? '', ip: source?.address ?? null, port: source?.port ?? null, method: req.method, reason }, 'authentication failed');
  }

  async #verify(req: SipRequest, params: Map<string, string>): Promise<Verdict> {
    const realm = params.get('realm') ?? '';
    const username = params.get('username');
    const nonce = params.get('nonce');
    const uri = params.get('uri');
    const algorithm = algorithmOf(params.get('algorithm'));
    const nc = params.get('nc');
    if (!username || !nonce || !uri || !params.get('response')) return { refused: 'incomplete credentials' };
    if (!algorithm || !this.algorithmsFor(req).includes(algorithm)) return { refused: 'unsupported algorithm' };
    // RFC 7616 §3.4: we offered qop="auth"; its nc is what makes a replay detectable, so it is required.
    if (params.get('qop')?.toLowerCase() !== 'auth' || !nc || !/^[0-9a-fA-F]{8}$/.test(nc) || !params.get('cnonce')) return { refused: 'incomplete credentials' };
    // RFC 7616 §3.4.6 asks that the digest-uri name the Request-URI; some UAs (sipp) put the domain there. As Kamailio,
    // accept it: with qop=auth the nonce, its lifetime and the nonce-count still refuse every replay.
    if (!sameUri(uri, req.uri)) this.#log?.debug({ username, uri, requestUri: req.uri }, 'digest uri differs from the Request-URI');
    const now = this.#clock.now();
    const state = this.#nonces.check(nonce, realm, now);
    if (state.state === 'invalid') return { refused: 'unknown nonce' };
    // issue 16: a nonce a wrong guess was made with is not checked again; one the count table forgot is renewed
    // (stale=true) unchecked, so neither answers whether a password was right
    if (this.#counts.spent(nonce)) return { refused: 'spent nonce' };
    if (this.#counts.forgotten(nonce, state.issuedAt)) return 'stale';
    const spend = () => this.#counts.spend(nonce, state.issuedAt, state.issuedAt + this.#nonces.ttlMs, now);

    const creds = await this.#store.getCredentials(username);
    const stored = creds && creds.realm === realm ? (algorithm === 'MD5' ? creds.ha1Md5 : creds.ha1Sha256) : '';
    // Unknown user or unusable HA1: compare against a dummy anyway, so the answer and its timing are alike.
    const right = verifyDigest({ params, method: req.method, ha1: stored || this.#dummy[algorithm], body: req.body });
    if (!creds) {
      spend();
      return { refused: 'unknown user' };
    }
    if (creds.realm !== realm) return { refused: 'realm mismatch' }; // the user's HA1s were made with another realm
    if (!stored) return { refused: 'unsupported algorithm' };
    if (!right) {
      spend();
      return { refused: 'wrong password' };
    }
    // RFC 7616 §3.3 stale: the digest was right but the nonce is old → new nonce, stale=true.
    if (state.state === 'stale') return 'stale';
    const counted = this.#counts.accept(nonce, parseInt(nc, 16), state.issuedAt, state.issuedAt + this.#nonces.ttlMs, now);
    if (counted === 'forgotten') return 'stale';
    if (counted === 'replay') return { refused: 'replayed nonce-count' };
    return 'ok';
  }

  #realmFor(req: SipRequest): string {
    const host = hostOf(req.header(req.method === 'REGISTER' ? 'to' : 'from'));
    return host && this.#realms.includes(host) ? host : this.#realms[0];
  }
}

function algorithmOf(v: string | undefined): DigestAlgorithm | null {
  // RFC 7616 §3.3: no algorithm means MD5. The -sess variants are not offered, so not accepted.
  if (v === undefined) return 'MD5';
  const u = v.toUpperCase();
  return u === 'MD5' || u === 'SHA-256' ? u : null;
}

function sameUri(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return uriEquals(parseUri(a), parseUri(b));
  } catch {
    return false;
  }
}

/** The user part of the To URI (REGISTER: the AoR, RFC 3261 §10.3 step 4) or of the From URI; null when it has none; undefined when unreadable. */
function claimedUser(req: SipRequest): string | null | undefined {
  const value = req.header(req.method === 'REGISTER' ? 'to' : 'from');
  if (value === undefined) return undefined;
  try {
    const uri = parseUri(parseNameAddr(value).uri);
    return uri.scheme === 'tel' ? uri.number : uri.user;
  } catch {
    return undefined;
  }
}

function hostOf(value: string | undefined): string | null {
  if (value === undefined) return null;
  try {
    const uri = parseUri(parseNameAddr(value).uri);
    return uri.scheme === 'tel' ? null : uri.host;
  } catch {
    return null;
  }
}
