// The client side of digest (RFC 3261 §22.2, RFC 8760 §2.4), shared by every UAC: the TV agent's UA core and the
// server's trunk registrations. Picks the challenge to answer, counts nonces (nc), adds the credentials and bumps
// the CSeq. buildAuthorization (digest.ts) computes the value.
import { randomBytes } from 'node:crypto';
import { buildAuthorization } from './digest.ts';
import { parseAuthParams } from './headers.ts';
import type { SipRequest, SipResponse } from './message.ts';

/** A password, or the HA1 values of one realm (RFC 7616 §3.4.2: H(username:realm:password)) per algorithm. */
export interface UacCredentials {
  user: string;
  password?: string;
  ha1?: { md5?: string; sha256?: string };
  /** the realm the HA1 values were computed for; a challenge for another realm cannot be answered with them */
  realm?: string;
}

/** Why a 401/407 could not be answered (for logs and status); null when credentials were added. */
export type ChallengeRefusal = 'no-credentials' | 'no-usable-challenge' | 'realm-mismatch';

export class DigestClient {
  /** nonce → the last nc sent with it (RFC 7616 §3.4: nc counts the requests sent with one nonce) */
  readonly #nc = new Map<string, number>();

  /**
   * RFC 3261 §22.2: answer a 401/407 by resending `req` with credentials for the challenge — SHA-256 preferred over
   * MD5 when both are offered (RFC 8760 §2.4) — with CSeq + 1 (§8.1.3.5; the caller sends a new branch).
   */
  answer(req: SipRequest, res: SipResponse, creds: UacCredentials | undefined): ChallengeRefusal | null {
    if (creds === undefined) return 'no-credentials';
    const proxy = res.status === 407;
    const challenges: Map<string, string>[] = [];
    for (const v of res.fields(proxy ? 'proxy-authenticate' : 'www-authenticate')) {
      try {
        const c = parseAuthParams(v.value);
        if (c.scheme.toLowerCase() === 'digest') challenges.push(c.params);
      } catch {
        // an unreadable challenge is skipped
      }
    }
    const usable = (c: Map<string, string>, alg: 'SHA-256' | 'MD5'): boolean => {
      if ((c.get('algorithm') ?? 'MD5').toUpperCase() !== alg) return false;
      if (creds.password !== undefined) return true;
      return (alg === 'MD5' ? creds.ha1?.md5 : creds.ha1?.sha256) !== undefined;
    };
    const pick = challenges.find((c) => usable(c, 'SHA-256')) ?? challenges.find((c) => usable(c, 'MD5'));
    if (pick === undefined) return 'no-usable-challenge';
    const alg = (pick.get('algorithm') ?? 'MD5').toUpperCase();
    let ha1: string | undefined;
    if (creds.password === undefined) {
      if (creds.realm !== undefined && pick.get('realm') !== creds.realm) return 'realm-mismatch';
      ha1 = alg === 'MD5' ? creds.ha1?.md5 : creds.ha1?.sha256;
    }
    const nonce = pick.get('nonce') ?? '';
    const nc = (this.#nc.get(nonce) ?? 0) + 1;
    if (this.#nc.size > 64) this.#nc.clear();
    this.#nc.set(nonce, nc);
    const value = buildAuthorization({
      challenge: pick, user: creds.user, password: creds.password, ha1, method: req.method, uri: req.uri,
      nc, cnonce: randomBytes(8).toString('hex'),
    });
    req.setHeader(proxy ? 'Proxy-Authorization' : 'Authorization', value);
    const cseq = req.cseq();
    req.setHeader('CSeq', `${cseq.seq + 1} ${cseq.method}`);
    return null;
  }
}
