// SDP offer/answer (RFC 3264) for one G.711 audio stream, with RFC 4733 telephone-event, and optionally one H.264
// video stream (RFC 6184 §8: packetization-mode 1, Constrained Baseline), via sdp-transform.
import sdpTransform from 'sdp-transform';
import type { MediaDescription, SessionDescription } from 'sdp-transform';
import { SipError } from '../errors.ts';
import { PT_PCMA, PT_PCMU, type G711Codec } from './g711.ts';

export type MediaDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface CodecSpec {
  payloadType: number;
  /** encoding name as in a=rtpmap (case kept as given) */
  name: string;
  clockRate: number;
  fmtp?: string;
}

export const PCMU: CodecSpec = { payloadType: PT_PCMU, name: 'PCMU', clockRate: 8000 };
export const PCMA: CodecSpec = { payloadType: PT_PCMA, name: 'PCMA', clockRate: 8000 };
/** RFC 4733 §7.1.1: events 0-15 are DTMF digits, 16 is flash. */
export const TELEPHONE_EVENT: CodecSpec = { payloadType: 101, name: 'telephone-event', clockRate: 8000, fmtp: '0-16' };
export const DEFAULT_CODECS: readonly CodecSpec[] = [PCMU, PCMA, TELEPHONE_EVENT];

/** RFC 3551 table 4: static audio payload types we may see without a=rtpmap. */
const STATIC_PT: Record<number, CodecSpec> = { 0: PCMU, 8: PCMA, 3: { payloadType: 3, name: 'GSM', clockRate: 8000 }, 9: { payloadType: 9, name: 'G722', clockRate: 8000 }, 18: { payloadType: 18, name: 'G729', clockRate: 8000 } };

/**
 * An SDP that cannot be used. `status` is the SIP reply: 488 Not Acceptable Here with a Warning 305
 * (RFC 3261 §21.4.26, §20.43) for no common codec, 400 for an unparsable body.
 */
export class SdpError extends SipError {
  override readonly code: 'ERR_SDP_NO_COMMON_CODEC' | 'ERR_SDP_MALFORMED';
  constructor(status: 400 | 488, code: 'ERR_SDP_NO_COMMON_CODEC' | 'ERR_SDP_MALFORMED', detail: string) {
    super(status === 488 ? 'not-acceptable-here' : 'bad-request', status === 488 ? { warning: detail } : {});
    this.name = 'SdpError';
    this.code = code;
    this.message = `${status} ${detail}`;
  }
}

/** What the remote side's SDP says about its audio stream. */
export interface RemoteMedia {
  /** where to send RTP (c= of the m-line, else of the session) */
  ip: string;
  port: number;
  /** RFC 3605 a=rtcp, else port + 1 (RFC 3550 §11) */
  rtcpPort: number;
  /** payload types of the m-line, in preference order */
  payloadTypes: number[];
  codecs: CodecSpec[];
  /** the direction as written (media level, else session level, else sendrecv: RFC 3264 §5.1) */
  direction: MediaDirection;
  /** RFC 3264 §8.4: c=0.0.0.0 is the RFC 2543 way of putting a call on hold */
  legacyHold: boolean;
  /** true if the remote does not want to receive (sendonly/inactive or legacy hold) */
  onHold: boolean;
  ptime?: number;
  telephoneEventPayloadType?: number;
  sessionId: string;
  sessionVersion: number;
  /** index of the audio m-line in the description */
  mediaIndex: number;
}

function isDirection(s: unknown): s is MediaDirection {
  return s === 'sendrecv' || s === 'sendonly' || s === 'recvonly' || s === 'inactive';
}

function codecsOf(m: MediaDescription, pts: number[]): CodecSpec[] {
  return pts.map((pt) => {
    const map = m.rtp.find((r) => r.payload === pt);
    const fmtp = m.fmtp.find((f) => f.payload === pt)?.config;
    if (map) return { payloadType: pt, name: map.codec, clockRate: map.rate ?? 8000, ...(fmtp !== undefined ? { fmtp } : {}) };
    const st = STATIC_PT[pt];
    return st ? { ...st } : { payloadType: pt, name: `unknown/${pt}`, clockRate: 0 };
  });
}

function parseDescription(text: string): SessionDescription {
  let d: SessionDescription;
  try {
    d = sdpTransform.parse(text);
  } catch (err) {
    throw new SdpError(400, 'ERR_SDP_MALFORMED', `unparsable SDP: ${(err as Error).message}`);
  }
  if (d.version !== 0 || !d.origin || !Array.isArray(d.media)) throw new SdpError(400, 'ERR_SDP_MALFORMED', 'SDP lacks v=0, o= or m= lines');
  return d;
}

/** Parses the first usable audio stream (m=audio with a non-zero port) of an offer or answer. */
export function parseSdp(text: string): RemoteMedia {
  const d = parseDescription(text);
  const mediaIndex = d.media.findIndex((m) => m.type === 'audio' && m.port !== 0 && /RTP\/AVP/.test(m.protocol));
  if (mediaIndex < 0) throw new SdpError(488, 'ERR_SDP_NO_COMMON_CODEC', 'no active RTP/AVP audio stream');
  const m = d.media[mediaIndex];
  const ip = m.connection?.ip ?? d.connection?.ip;
  if (!ip) throw new SdpError(400, 'ERR_SDP_MALFORMED', 'no c= line for the audio stream');
  const payloadTypes = String(m.payloads ?? '').trim().split(/\s+/).filter(Boolean).map(Number).filter((n) => Number.isInteger(n) && n >= 0 && n <= 127);
  const codecs = codecsOf(m, payloadTypes);
  const written = isDirection(m.direction) ? m.direction : isDirection(d.direction) ? d.direction : 'sendrecv';
  const legacyHold = ip === '0.0.0.0';
  const onHold = legacyHold || written === 'sendonly' || written === 'inactive';
  const rtcpPort = m.rtcp?.port ?? m.port + 1;
  const te = codecs.find((c) => c.name.toLowerCase() === 'telephone-event' && c.clockRate === 8000);
  return {
    ip, port: m.port, rtcpPort, payloadTypes, codecs, direction: written, legacyHold, onHold,
    ...(m.ptime !== undefined ? { ptime: Number(m.ptime) } : {}),
    ...(te ? { telephoneEventPayloadType: te.payloadType } : {}),
    sessionId: String(d.origin.sessionId), sessionVersion: Number(d.origin.sessionVersion), mediaIndex,
  };
}

/** RFC 6184 §8.1: the H.264 we offer: Constrained Baseline (42e0), level 3.1 (1f), non-interleaved mode. */
export const H264: CodecSpec = { payloadType: 96, name: 'H264', clockRate: 90000, fmtp: 'profile-level-id=42e01f;packetization-mode=1' };

/** RFC 7741 §6.1: VP8 (no format parameters needed; the media server receives it, the TV agent does not send it). */
export const VP8: CodecSpec = { payloadType: 97, name: 'VP8', clockRate: 90000 };
export type VideoCodecName = 'H264' | 'VP8';

/** What the remote side's SDP says about its video stream (H.264, or VP8 where the caller accepts it). */
export interface RemoteVideo {
  /** the codec of the payload type chosen (H264 unless VP8 was accepted and offered first) */
  codec: VideoCodecName;
  ip: string;
  port: number;
  rtcpPort: number;
  /** the payload type chosen (H.264: packetization-mode=1, a Baseline-compatible profile) */
  payloadType: number;
  /** H.264's profile-level-id; empty for VP8 */
  profileLevelId: string;
  direction: MediaDirection;
  /** RFC 4585 §4.2: a=rtcp-fb ... nack pli offered for that payload type */
  pli: boolean;
  mediaIndex: number;
}

function fmtpParams(config: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const kv of (config ?? '').split(';')) {
    const [k, v] = kv.split('=');
    if (k?.trim()) out.set(k.trim().toLowerCase(), (v ?? '').trim());
  }
  return out;
}

/**
 * RFC 6184 §8.1: profile-level-id is profile_idc, profile-iop, level_idc in hex (default 420010: Baseline). We
 * send Constrained Baseline, which a receiver of Baseline, or of any profile with constraint_set1_flag (0x40 in
 * profile-iop: "Constrained Baseline compatible"), decodes.
 */
export function isConstrainedBaselineCompatible(profileLevelId: string): boolean {
  if (!/^[0-9a-f]{6}$/i.test(profileLevelId)) return false;
  const idc = parseInt(profileLevelId.slice(0, 2), 16);
  const iop = parseInt(profileLevelId.slice(2, 4), 16);
  return idc === 0x42 || (iop & 0x40) !== 0;
}

function h264Of(m: MediaDescription, accept: readonly VideoCodecName[] = ['H264']): { codec: VideoCodecName; payloadType: number; profileLevelId: string } | undefined {
  for (const pt of String(m.payloads ?? '').trim().split(/\s+/).map(Number)) {
    const map = m.rtp.find((r) => r.payload === pt);
    // RFC 7741 §6.1: VP8/90000, taken in the offer's order of preference when the caller accepts it
    if (map && accept.includes('VP8') && map.codec.toUpperCase() === 'VP8' && (map.rate ?? 0) === 90000) return { codec: 'VP8', payloadType: pt, profileLevelId: '' };
    if (!accept.includes('H264')) continue;
    if (!map || map.codec.toUpperCase() !== 'H264' || (map.rate ?? 0) !== 90000) continue;
    const f = fmtpParams(m.fmtp.find((x) => x.payload === pt)?.config);
    // RFC 6184 §8.1: packetization-mode absent means 0 (single NAL only): we send FU-A, so we need 1
    if (f.get('packetization-mode') !== '1') continue;
    const profileLevelId = f.get('profile-level-id') ?? '420010';
    if (isConstrainedBaselineCompatible(profileLevelId)) return { codec: 'H264', payloadType: pt, profileLevelId };
  }
  return undefined;
}

/** Parses the first active video stream (m=video, port ≠ 0) with a format we can use (`accept`: H.264 by default); undefined if none. */
export function parseVideo(text: string, accept: readonly VideoCodecName[] = ['H264']): RemoteVideo | undefined {
  const d = parseDescription(text);
  for (const [mediaIndex, m] of d.media.entries()) {
    if (m.type !== 'video' || m.port === 0 || !/RTP\/AVPF?$/.test(m.protocol)) continue;
    const h = h264Of(m, accept);
    const ip = m.connection?.ip ?? d.connection?.ip;
    if (!h || !ip) continue;
    const direction = isDirection(m.direction) ? m.direction : isDirection(d.direction) ? d.direction : 'sendrecv';
    const pli = (m.rtcpFb ?? []).some((f) => (f.payload === '*' || Number(f.payload) === h.payloadType) && f.type === 'nack' && f.subtype === 'pli');
    return { ip, port: m.port, rtcpPort: m.rtcp?.port ?? m.port + 1, ...h, direction, pli, mediaIndex };
  }
  return undefined;
}

/** The negotiated video stream of a call. */
export interface NegotiatedVideo {
  remote: RemoteVideo;
  payloadType: number;
  /** the direction in our SDP */
  direction: MediaDirection;
}

/** The G.711 codec named by a CodecSpec, or undefined. */
export function g711Of(c: CodecSpec): G711Codec | undefined {
  const n = c.name.toUpperCase();
  if (c.clockRate !== 8000) return undefined;
  return n === 'PCMU' ? 'PCMU' : n === 'PCMA' ? 'PCMA' : undefined;
}

/** RFC 3264 §6.1: the direction of an answer, given the offer's and what we want. */
export function answerDirection(offered: MediaDirection, wanted: MediaDirection): MediaDirection {
  const weSend = (wanted === 'sendrecv' || wanted === 'sendonly') && (offered === 'sendrecv' || offered === 'recvonly');
  const weRecv = (wanted === 'sendrecv' || wanted === 'recvonly') && (offered === 'sendrecv' || offered === 'sendonly');
  return weSend && weRecv ? 'sendrecv' : weSend ? 'sendonly' : weRecv ? 'recvonly' : 'inactive';
}

/** What our side should do with the stream, given the direction WE put in our SDP and the remote media. */
export function mayWeSend(ourDirection: MediaDirection, remote: RemoteMedia): boolean {
  return (ourDirection === 'sendrecv' || ourDirection === 'sendonly') && !remote.legacyHold && (remote.direction === 'sendrecv' || remote.direction === 'recvonly');
}

export interface LocalMediaOptions {
  /** address written in c= and o= */
  ip: string;
  /** RTP port (even; RTCP on port + 1) */
  port: number;
  /** offered codecs in preference order (default PCMU, PCMA, telephone-event/8000 0-16) */
  codecs?: readonly CodecSpec[];
  /** a=ptime (default 20) */
  ptime?: number;
  username?: string;
  /** decimal digits; default random */
  sessionId?: string;
  /** first o= version (default 1) */
  sessionVersion?: number;
  /** offer/accept H.264 video on this RTP port (RTCP on +1), sending and/or receiving as `direction` says */
  video?: { port: number; direction: MediaDirection; /** what an answer accepts (default H.264 only; offers are H.264) */ accept?: readonly VideoCodecName[] };
}

export interface Negotiated {
  /** the SDP text we send */
  sdp: string;
  /** the remote side's stream */
  remote: RemoteMedia;
  /** the voice codec chosen */
  codec: G711Codec;
  payloadType: number;
  telephoneEventPayloadType?: number;
  /** the direction in our SDP */
  direction: MediaDirection;
  /** both sides do H.264 video (absent: no m=video, or port 0 in the offer or the answer) */
  video?: NegotiatedVideo;
}

function videoLine(port: number, pt: number, direction: MediaDirection, codec: VideoCodecName = 'H264'): MediaDescription {
  return {
    type: 'video', port, protocol: 'RTP/AVP', payloads: String(pt), direction,
    rtp: [{ payload: pt, codec, rate: 90000 }], fmtp: codec === 'H264' ? [{ payload: pt, config: H264.fmtp as string }] : [],
    // RFC 4585 §4.2: we send and honour PLI; as most SIP phones do, under RTP/AVP (no AVPF early feedback timing)
    rtcpFb: [{ payload: String(pt), type: 'nack', subtype: 'pli' }],
  } as MediaDescription;
}

function build(o: BuildOptions & { version: number }, codecs: readonly CodecSpec[], direction: MediaDirection, rejected: MediaDescription[] = [], audioIndex = 0, video?: { index: number; line: MediaDescription }): string {
  const audio = {
    type: 'audio', port: o.port, protocol: 'RTP/AVP', payloads: codecs.map((c) => c.payloadType).join(' '),
    rtp: codecs.map((c) => ({ payload: c.payloadType, codec: c.name, rate: c.clockRate })),
    fmtp: codecs.filter((c) => c.fmtp !== undefined).map((c) => ({ payload: c.payloadType, config: c.fmtp as string })),
    ptime: o.ptime, direction,
  } as MediaDescription;
  const media: MediaDescription[] = rejected.map((m) => ({ type: m.type, port: 0, protocol: m.protocol, payloads: m.payloads, rtp: [], fmtp: [] }) as MediaDescription);
  media.splice(audioIndex, 0, audio);
  // an offer appends the video line; an answer puts it in place of the offer's (RFC 3264 §6: same order and count)
  if (video) media.splice(video.index, video.index < media.length ? 1 : 0, video.line);
  const ipVer = o.ip.includes(':') ? 6 : 4;
  const d = {
    version: 0,
    origin: { username: o.username, sessionId: o.sessionId, sessionVersion: o.version, netType: 'IN', ipVer, address: o.ip },
    name: 'tvphone', connection: { version: ipVer, ip: o.ip }, timing: { start: 0, stop: 0 }, media,
  } as SessionDescription;
  return sdpTransform.write(d);
}

/**
 * Our side of an audio session: keeps o='s session id and version across offers and answers.
 * RFC 3264 §8: each new offer/answer that differs from the previous one carries version + 1;
 * a repeated identical description keeps its version.
 */
type BuildOptions = Required<Omit<LocalMediaOptions, 'sessionVersion' | 'video'>>;

export class LocalMedia {
  readonly options: BuildOptions & Pick<LocalMediaOptions, 'video'>;
  #version: number;
  #lastBody: string | undefined;

  constructor(options: LocalMediaOptions) {
    this.options = {
      ip: options.ip, port: options.port, codecs: options.codecs ?? DEFAULT_CODECS, ptime: options.ptime ?? 20,
      username: options.username ?? '-',
      sessionId: options.sessionId ?? String(Math.floor(Math.random() * 2 ** 40) + 1),
      ...(options.video ? { video: { ...options.video } } : {}),
    };
    this.#version = options.sessionVersion ?? 1;
  }

  get sessionVersion(): number { return this.#version; }

  /** Changes our address/port (e.g. after a re-bind); the next description gets a new version. */
  setAddress(ip: string, port: number): void {
    (this.options as { ip: string }).ip = ip;
    (this.options as { port: number }).port = port;
  }

  #versioned(render: (version: number) => string): string {
    const body = render(0).replace(/^o=.*$/m, '');
    if (this.#lastBody !== undefined && body !== this.#lastBody) this.#version++;
    this.#lastBody = body;
    return render(this.#version);
  }

  /** An offer (initial or re-offer: pass 'sendonly' to put the call on hold, 'sendrecv' to resume). */
  createOffer(direction: MediaDirection = 'sendrecv'): string {
    const v = this.options.video;
    // on hold (sendonly/inactive audio) the video follows: RFC 3264 §8.4
    const video = v ? { index: 1, line: videoLine(v.port, H264.payloadType, direction === 'sendrecv' ? v.direction : answerDirection(direction === 'sendonly' ? 'recvonly' : 'inactive', v.direction)) } : undefined;
    return this.#versioned((version) => build({ ...this.options, version }, this.options.codecs, direction, [], 0, video));
  }

  /** RFC 3264 §6: our video answer to an offer's m=video (undefined: we reject it with port 0, or there is none). */
  #answerVideo(offer: string, wanted: MediaDirection): NegotiatedVideo | undefined {
    const v = this.options.video;
    const remote = v ? parseVideo(offer, v.accept ?? ['H264']) : undefined;
    if (!v || !remote) return undefined;
    const dir = answerDirection(remote.direction, wanted === 'sendrecv' ? v.direction : answerDirection(wanted === 'sendonly' ? 'recvonly' : 'inactive', v.direction));
    return { remote, payloadType: remote.payloadType, direction: dir };
  }

  /**
   * Answers an offer (RFC 3264 §6): the first voice codec of the offer that we support, plus
   * telephone-event if both support it, with the offer's payload type numbers. Other m-lines are
   * rejected with port 0. Throws SdpError 488 when no codec is common.
   */
  createAnswer(offer: string, wanted: MediaDirection = 'sendrecv'): Negotiated {
    const remote = parseSdp(offer);
    const ours = this.options.codecs.map((c) => g711Of(c)).filter((c): c is G711Codec => c !== undefined);
    // RFC 3264 §6.1: the answerer chooses among the offered formats; we keep the offerer's preference.
    const chosen = remote.codecs.find((c) => { const g = g711Of(c); return g !== undefined && ours.includes(g); });
    if (!chosen) {
      const offered = remote.codecs.map((c) => c.name).join(', ') || 'none';
      throw new SdpError(488, 'ERR_SDP_NO_COMMON_CODEC', `no common codec: offered ${offered}; we support ${ours.join(', ')}`);
    }
    const weTe = this.options.codecs.some((c) => c.name.toLowerCase() === 'telephone-event');
    const te = weTe ? remote.codecs.find((c) => c.payloadType === remote.telephoneEventPayloadType) : undefined;
    const codecs: CodecSpec[] = [{ ...chosen, name: g711Of(chosen) as string }];
    if (te) codecs.push({ payloadType: te.payloadType, name: 'telephone-event', clockRate: 8000, fmtp: te.fmtp ?? '0-16' });
    const offeredDirection: MediaDirection = remote.legacyHold ? (remote.direction === 'recvonly' ? 'inactive' : 'sendonly') : remote.direction;
    const direction = answerDirection(offeredDirection, wanted);
    const d = parseDescription(offer);
    const others = d.media.filter((_, i) => i !== remote.mediaIndex);
    const video = this.#answerVideo(offer, wanted);
    const videoLineOf = video && this.options.video ? { index: video.remote.mediaIndex, line: videoLine(this.options.video.port, video.payloadType, video.direction, video.remote.codec) } : undefined;
    const sdp = this.#versioned((version) => build({ ...this.options, version }, codecs, direction, others, remote.mediaIndex, videoLineOf));
    return {
      sdp, remote, codec: g711Of(chosen) as G711Codec, payloadType: chosen.payloadType, direction,
      ...(te ? { telephoneEventPayloadType: te.payloadType } : {}),
      ...(video ? { video } : {}),
    };
  }

  /** Reads the answer to our offer: the first codec of the answer that we offered (RFC 3264 §7). */
  acceptAnswer(answer: string, offeredDirection: MediaDirection = 'sendrecv'): Omit<Negotiated, 'sdp'> {
    const remote = parseSdp(answer);
    const ours = this.options.codecs.map((c) => g711Of(c)).filter((c): c is G711Codec => c !== undefined);
    const chosen = remote.codecs.find((c) => { const g = g711Of(c); return g !== undefined && ours.includes(g); });
    if (!chosen) throw new SdpError(488, 'ERR_SDP_NO_COMMON_CODEC', `answer has no codec we offered: ${remote.codecs.map((c) => c.name).join(', ')}`);
    // RFC 3264 §6: port 0 in the answer (or no usable H.264 in it) refuses the video; the audio goes on
    const rv = this.options.video ? parseVideo(answer) : undefined;
    const v = this.options.video;
    const videoDirection: MediaDirection | undefined = v ? (offeredDirection === 'sendrecv' ? v.direction : answerDirection(offeredDirection === 'sendonly' ? 'recvonly' : 'inactive', v.direction)) : undefined;
    return {
      remote, codec: g711Of(chosen) as G711Codec, payloadType: chosen.payloadType, direction: offeredDirection,
      ...(remote.telephoneEventPayloadType !== undefined ? { telephoneEventPayloadType: remote.telephoneEventPayloadType } : {}),
      ...(rv && videoDirection ? { video: { remote: rv, payloadType: rv.payloadType, direction: videoDirection } } : {}),
    };
  }
}

/** A one-shot offer (see LocalMedia for re-offers with version increments). */
export function createOffer(options: LocalMediaOptions & { direction?: MediaDirection }): string {
  return new LocalMedia(options).createOffer(options.direction ?? 'sendrecv');
}

/** A one-shot answer to `offer` (see LocalMedia.createAnswer). */
export function createAnswer(offer: string, local: LocalMediaOptions & { direction?: MediaDirection }): Negotiated {
  return new LocalMedia(local).createAnswer(offer, local.direction ?? 'sendrecv');
}
