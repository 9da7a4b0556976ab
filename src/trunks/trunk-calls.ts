// Calls through one trunk: the legs the proxy sends out (Request-URI at the carrier, caller-ID policy, codecs,
// the carrier's challenges answered with the trunk's credentials, maxCalls) and what identifies the carrier's
// own requests coming in (its allowed source addresses, its DIDs).
import { BlockList, isIP } from 'node:net';
import sdpTransform from 'sdp-transform';
import type { DidConfig, TrunkConfig } from '../config/profile.ts';
import type { SipRequest, SipResponse } from '../sip/message.ts';
import { DigestClient, type UacCredentials } from '../sip/uac-auth.ts';
import type { Target } from '../transport/transport.ts';

/** The trunk's digest credentials (a password, or HA1 values of its realm); shared by REGISTER and INVITE. */
export function trunkCredentials(t: TrunkConfig): UacCredentials | undefined {
  const s = t.secret;
  if (s === null) return undefined;
  const user = t.authUsername ?? t.username ?? '';
  if (s.kind === 'password') return { user, password: s.password };
  return { user, ha1: { md5: s.md5, sha256: s.sha256 }, realm: t.realm };
}

/** The user of our account at the carrier: the REGISTER's AoR, and the From of what we send it out of a call. */
export function trunkUser(t: TrunkConfig): string {
  return t.username ?? t.fromUser ?? `trunk-${t.name}`;
}

/** The domain of our From towards the carrier (and of the REGISTER's AoR). */
export function trunkDomain(t: TrunkConfig): string {
  return t.fromDomain ?? t.realm ?? t.host;
}

/**
 * Where every request to the carrier goes — REGISTER, OPTIONS, a call's INVITE — once its next hop (the outbound
 * proxy, else the host) is resolved to `address`. A tls next hop named by host name keeps the name: the carrier's
 * certificate must be for it, not for the address it resolved to (RFC 5922 §7.3).
 */
export function carrierTarget(t: TrunkConfig, address: string, port?: number): Target {
  const next = t.outboundProxy ?? { host: t.host, port: t.port };
  const target: Target = { transport: t.transport, address, port: port ?? next.port };
  if (t.transport === 'tls' && isIP(next.host) === 0) target.serverName = next.host;
  return target;
}

/** One way out for a call: a ProxyTarget (proxy/target-set.ts) with the trunk's hooks. */
export interface TrunkLeg {
  label: string;
  uri: string;
  destination: Target;
  prepare(req: SipRequest): void;
  authorize(req: SipRequest, challenge: SipResponse): boolean;
  acquire(): boolean;
  release(): void;
}

/** Who calls, for the caller-ID policy: the local user id (its number) and display name. */
export interface Caller {
  user: string;
  display?: string;
}

/** Identity headers a caller may not set towards a carrier: the trust domain's own (RFC 3325 §9.1). */
const IDENTITY_HEADERS = ['p-asserted-identity', 'p-preferred-identity', 'remote-party-id'];

export class TrunkCalls {
  readonly trunk: TrunkConfig;
  readonly #digest = new DigestClient();
  readonly #allowed = new BlockList();
  readonly #dids: { did: DidConfig; re: RegExp | null }[];
  #active = 0;
  /** the carrier's numeric address (outbound proxy or host), as last resolved */
  #address: string | null = null;
  /** the port of that address when its SRV record gave one (RFC 3263 §4.2), else the configured port */
  #port: number | undefined;

  constructor(trunk: TrunkConfig) {
    this.trunk = trunk;
    for (const a of trunk.allow) {
      const [ip, bits] = a.split('/');
      const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.#allowed.addAddress(ip, family);
      else this.#allowed.addSubnet(ip, Number(bits), family);
    }
    this.#dids = trunk.dids.map((did) => ({ did, re: did.pattern === undefined ? null : new RegExp(`^(?:${did.pattern})$`) }));
    const next = trunk.outboundProxy ?? { host: trunk.host, port: trunk.port };
    if (isIP(next.host) !== 0) this.#address = next.host;
  }

  get active(): number {
    return this.#active;
  }

  /** maxCalls not reached */
  get hasRoom(): boolean {
    return this.trunk.maxCalls === 0 || this.#active < this.trunk.maxCalls;
  }

  /** the carrier was resolved to this address, and port when an SRV record named it (the registration's and ping's target) */
  resolved(address: string, port?: number): void {
    this.#address = address;
    this.#port = port;
  }

  /**
   * True when a request from `address`:`port` comes from this carrier: an address of its allow list, or the address and
   * port we send it to (a carrier sends from its SIP port; a phone beside it on the same host does not)
   */
  isFrom(address: string, port: number): boolean {
    const a = address.startsWith('::ffff:') ? address.slice(7) : address;
    if (this.#address !== null && a === this.#address && port === (this.#port ?? (this.trunk.outboundProxy ?? this.trunk).port)) return true;
    const family = isIP(a) === 6 ? 'ipv6' : isIP(a) === 4 ? 'ipv4' : null;
    return family !== null && this.trunk.allow.length > 0 && this.#allowed.check(a, family);
  }

  /** The local user a DID names: an exact number, or a pattern whose $1… fill the user; with no DIDs, the number itself. */
  userOfDid(number: string): string | null {
    if (this.#dids.length === 0) return number;
    for (const { did, re } of this.#dids) {
      if (re === null) {
        if (did.number === number) return did.user;
        continue;
      }
      const m = re.exec(number);
      if (m !== null) return did.user.replace(/\$(\d)/g, (_, i: string) => m[Number(i)] ?? '');
    }
    return null;
  }

  /** True when an SDP offer has at least one audio codec this trunk takes (or it takes any, or there is no SDP). */
  acceptsOffer(body: Uint8Array, contentType: string | undefined): boolean {
    if (this.trunk.codecs.length === 0 || body.length === 0 || !/application\/sdp/i.test(contentType ?? '')) return true;
    try {
      const sdp = sdpTransform.parse(Buffer.from(body).toString('utf8'));
      const audio = sdp.media.find((m) => m.type === 'audio');
      return audio === undefined || formatsOf(audio).some((r) => this.#codecWanted(r.codec, r.rate));
    } catch {
      return true; // the carrier judges an SDP we cannot read
    }
  }

  /** The leg of a call to `number` through this trunk; null when the carrier's address is not known yet. */
  leg(number: string, caller: Caller): TrunkLeg | null {
    const t = this.trunk;
    if (this.#address === null) return null;
    const hostPart = isIP(t.host) === 6 ? `[${t.host}]` : t.host;
    const defaultPort = t.transport === 'tls' ? 5061 : 5060;
    const uri = `sip:${number}@${hostPart}${t.port === defaultPort ? '' : `:${t.port}`}${t.transport === 'udp' ? '' : `;transport=${t.transport}`}`;
    let held = false;
    return {
      label: t.name,
      uri,
      destination: carrierTarget(t, this.#address, this.#port),
      prepare: (req) => this.#prepare(req, caller),
      authorize: (req, challenge) => this.#digest.answer(req, challenge, trunkCredentials(t)) === null,
      acquire: () => {
        if (!this.hasRoom) return false;
        this.#active++;
        held = true;
        return true;
      },
      release: () => {
        if (!held) return;
        held = false;
        this.#active--;
      },
    };
  }

  /** The caller-ID policy (From / P-Asserted-Identity / Privacy, RFC 3325 §9.1, RFC 3323 §4.2) and the trunk's codecs. */
  #prepare(req: SipRequest, caller: Caller): void {
    const t = this.trunk;
    const domain = trunkDomain(t);
    const tag = req.fromTag;
    const tagPart = tag === null ? '' : `;tag=${tag}`;
    // a caller asking for privacy (RFC 3323 §4.2 Privacy: id) gets it whatever the trunk's policy
    const wantsPrivacy = /\bid\b/i.test(req.header('privacy') ?? '');
    for (const h of IDENTITY_HEADERS) req.removeHeader(h);
    req.removeHeader('privacy');
    const display = caller.display === undefined ? '' : `"${caller.display.replace(/["\\]/g, '')}" `;
    const asserted = `<sip:${caller.user}@${domain}>`;
    const account = t.fromUser ?? t.username ?? caller.user;
    const policy = wantsPrivacy ? 'privacy' : t.callerId;
    if (policy === 'from') req.setHeader('From', `${display}<sip:${caller.user}@${domain}>${tagPart}`);
    else if (policy === 'pai') {
      req.setHeader('From', `${display}<sip:${account}@${domain}>${tagPart}`);
      req.setHeader('P-Asserted-Identity', `${display}${asserted}`);
    } else {
      // RFC 3323 §4.1.1.3: an anonymous From; the identity goes in P-Asserted-Identity, withheld beyond the carrier
      req.setHeader('From', `"Anonymous" <sip:anonymous@anonymous.invalid>${tagPart}`);
      req.setHeader('P-Asserted-Identity', asserted);
      req.setHeader('Privacy', 'id');
    }
    this.#filterCodecs(req);
  }

  /** The audio m-line keeps only the trunk's codecs, in its order, and telephone-event (RFC 3264 §5.1). */
  #filterCodecs(req: SipRequest): void {
    if (this.trunk.codecs.length === 0 || req.body.length === 0 || !/application\/sdp/i.test(req.header('content-type') ?? '')) return;
    let sdp;
    try {
      sdp = sdpTransform.parse(Buffer.from(req.body).toString('utf8'));
    } catch {
      return;
    }
    const rank = (codec: string, rate: number | undefined): number => {
      const i = this.trunk.codecs.findIndex((c) => codecMatches(c, codec, rate));
      return i < 0 ? (codec.toLowerCase() === 'telephone-event' ? this.trunk.codecs.length : -1) : i;
    };
    let changed = false;
    for (const m of sdp.media) {
      if (m.type !== 'audio') continue;
      const formats = formatsOf(m);
      const kept = formats.filter((r) => rank(r.codec, r.rate) >= 0).sort((a, b) => rank(a.codec, a.rate) - rank(b.codec, b.rate));
      if (kept.length === 0 || (kept.length === formats.length && kept.every((r, i) => r === formats[i]))) continue;
      const pts = new Set(kept.map((r) => r.payload));
      m.rtp = m.rtp.filter((r) => pts.has(r.payload));
      m.fmtp = m.fmtp.filter((f) => pts.has(f.payload));
      if (m.rtcpFb) m.rtcpFb = m.rtcpFb.filter((f) => pts.has(Number(f.payload)));
      m.payloads = kept.map((r) => r.payload).join(' ');
      changed = true;
    }
    if (changed) req.body = new TextEncoder().encode(sdpTransform.write(sdp));
  }

  #codecWanted(codec: string, rate: number | undefined): boolean {
    return this.trunk.codecs.some((c) => codecMatches(c, codec, rate));
  }
}

/** RFC 3551 §6: static payload types a phone may offer without an rtpmap */
const STATIC: Record<number, [string, number]> = { 0: ['PCMU', 8000], 3: ['GSM', 8000], 8: ['PCMA', 8000], 9: ['G722', 8000], 18: ['G729', 8000] };

/** The formats of an m-line in its order: each payload type with its rtpmap, or the static one. */
function formatsOf(m: { payloads?: string | number; rtp: { payload: number; codec: string; rate?: number }[] }): { payload: number; codec: string; rate?: number }[] {
  const pts = String(m.payloads ?? '').split(/\s+/).filter((x) => x !== '').map(Number);
  const out: { payload: number; codec: string; rate?: number }[] = [];
  for (const pt of pts) {
    const r = m.rtp.find((x) => x.payload === pt);
    if (r !== undefined) out.push(r);
    else if (STATIC[pt] !== undefined) out.push({ payload: pt, codec: STATIC[pt][0], rate: STATIC[pt][1] });
  }
  return out;
}

/** `PCMA` or `opus/48000` against an rtpmap's codec and rate */
function codecMatches(spec: string, codec: string, rate: number | undefined): boolean {
  const [name, r] = spec.split('/');
  return name.toLowerCase() === codec.toLowerCase() && (r === undefined || Number(r) === rate);
}
