// SDP offer/answer (RFC 3264) for one G.711 audio stream, with RFC 4733 telephone-event, and optionally one video
// stream: H.264 (RFC 6184 §8: packetization-mode 1, Constrained Baseline) and/or VP8 (RFC 7741 §6), with RFC 4585
// §4.2 a=rtcp-fb (nack, nack pli, ccm fir of RFC 5104 §7) and the stream's bandwidth (RFC 4566 §5.8 b=AS, RFC 3890
// b=TIAS); via sdp-transform.
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
const H264_PROFILE_LEVEL_ID = '42e01f';
export const H264: CodecSpec = { payloadType: 96, name: 'H264', clockRate: 90000, fmtp: `profile-level-id=${H264_PROFILE_LEVEL_ID};packetization-mode=1` };
/** RFC 7741 §6.1: VP8/90000, no required parameters. */
export const VP8: CodecSpec = { payloadType: 97, name: 'VP8', clockRate: 90000 };

export type VideoCodecName = 'H264' | 'VP8';
export const DEFAULT_VIDEO_CODECS: readonly VideoCodecName[] = ['H264', 'VP8'];

/** The RTCP feedback a side accepts (RFC 4585 §4.2: a=rtcp-fb nack, nack pli; RFC 5104 §7.1: ccm fir). */
export interface VideoFeedback {
  nack: boolean;
  pli: boolean;
  fir: boolean;
}

/** What the remote side's SDP says about its video stream. */
export interface RemoteVideo {
  ip: string;
  port: number;
  rtcpPort: number;
  /** the codec of the payload type chosen: the first of the answerer's preference that the offer has */
  codec: VideoCodecName;
  /** the payload type chosen (H.264: packetization-mode=1, a Baseline-compatible profile) */
  payloadType: number;
  /** H.264 only */
  profileLevelId?: string;
  direction: MediaDirection;
  /** RFC 4585 §4.2: a=rtcp-fb ... nack pli offered for that payload type */
  pli: boolean;
  /** all the feedback offered for that payload type (or *) */
  feedback: VideoFeedback;
  /** the most the remote wants to receive on this stream, kbit/s: b=TIAS (RFC 3890) else b=AS, media level else session level */
  bandwidthKbps?: number;
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

/**
 * RFC 6184 §8.2.2: without level-asymmetry-allowed on both sides the answer's level is the offer's or lower; we say
 * our Constrained Baseline at the lower of our level (3.1) and the offer's.
 */
export function h264AnswerFmtp(offeredProfileLevelId: string): string {
  const ours = H264_PROFILE_LEVEL_ID;
  const valid = /^[0-9a-f]{6}$/i.test(offeredProfileLevelId);
  const offered = valid ? parseInt(offeredProfileLevelId.slice(4), 16) : Infinity;
  const level = Math.min(parseInt(ours.slice(4), 16), offered);
  // level 1b of Baseline is level_idc 11 with constraint_set3_flag (0x10), not level 1.1 (RFC 6184 §8.1)
  const level1b = level === 11 && valid && (parseInt(offeredProfileLevelId.slice(2, 4), 16) & 0x10) !== 0;
  const iop = parseInt(ours.slice(2, 4), 16) | (level1b ? 0x10 : 0);
  const hex = (n: number): string => n.toString(16).padStart(2, '0');
  return `profile-level-id=${ours.slice(0, 2)}${hex(iop)}${hex(level)};packetization-mode=1`;
}

/** The payload types of `m` we can use, each with its codec, in the m-line's order. */
function videoFormatsOf(m: MediaDescription, accept: readonly VideoCodecName[]): Array<{ payloadType: number; codec: VideoCodecName; profileLevelId?: string }> {
  const out: Array<{ payloadType: number; codec: VideoCodecName; profileLevelId?: string }> = [];
  for (const pt of String(m.payloads ?? '').trim().split(/\s+/).map(Number)) {
    const map = m.rtp.find((r) => r.payload === pt);
    if (!map || (map.rate ?? 0) !== 90000) continue;
    const name = map.codec.toUpperCase();
    if (name === 'VP8' && accept.includes('VP8')) { out.push({ payloadType: pt, codec: 'VP8' }); continue; }
    if (name !== 'H264' || !accept.includes('H264')) continue;
    const f = fmtpParams(m.fmtp.find((x) => x.payload === pt)?.config);
    // RFC 6184 §8.1: packetization-mode absent means 0 (single NAL only): we send FU-A, so we need 1
    if (f.get('packetization-mode') !== '1') continue;
    const profileLevelId = f.get('profile-level-id') ?? '420010';
    if (isConstrainedBaselineCompatible(profileLevelId)) out.push({ payloadType: pt, codec: 'H264', profileLevelId });
  }
  return out;
}

/** RFC 4585 §4.2: the feedback listed for `pt` or for all formats (*). */
function feedbackOf(m: MediaDescription, pt: number): VideoFeedback {
  const fb = (m.rtcpFb ?? []).filter((f) => f.payload === '*' || Number(f.payload) === pt);
  return {
    nack: fb.some((f) => f.type === 'nack' && (f.subtype === undefined || f.subtype === '')),
    pli: fb.some((f) => f.type === 'nack' && f.subtype === 'pli'),
    fir: fb.some((f) => f.type === 'ccm' && f.subtype === 'fir'),
  };
}

/**
 * RFC 3890 §6.2: b=TIAS is bit/s without IP/UDP overhead; RFC 4566 §5.8: b=AS is kbit/s. The media level wins over
 * the session level (RFC 4566 §5.8: the session's is the total); 0 or a bad value is no limit we can use.
 */
function bandwidthOf(m: MediaDescription, d: SessionDescription): number | undefined {
  for (const list of [m.bandwidth, d.bandwidth]) {
    const tias = list?.find((b) => b.type.toUpperCase() === 'TIAS');
    if (tias && Number(tias.limit) > 0) return Number(tias.limit) / 1000;
    const as = list?.find((b) => b.type.toUpperCase() === 'AS');
    if (as && Number(as.limit) > 0) return Number(as.limit);
  }
  return undefined;
}

/**
 * Parses the first active video stream (m=video, port ≠ 0) with a format we accept; undefined if none. Of its
 * formats, the first of `prefer` wins (RFC 3264 §6.1 lets the answerer choose: TVs decode H.264 in hardware).
 */
export function parseVideo(text: string, prefer: readonly VideoCodecName[] = DEFAULT_VIDEO_CODECS): RemoteVideo | undefined {
  const d = parseDescription(text);
  for (const [mediaIndex, m] of d.media.entries()) {
    if (m.type !== 'video' || m.port === 0 || !/RTP\/AVPF?$/.test(m.protocol)) continue;
    const formats = videoFormatsOf(m, prefer);
    const h = prefer.map((c) => formats.find((f) => f.codec === c)).find((f) => f !== undefined);
    const ip = m.connection?.ip ?? d.connection?.ip;
    if (!h || !ip) continue;
    const direction = isDirection(m.direction) ? m.direction : isDirection(d.direction) ? d.direction : 'sendrecv';
    const feedback = feedbackOf(m, h.payloadType);
    const bandwidthKbps = bandwidthOf(m, d);
    return {
      ip, port: m.port, rtcpPort: m.rtcp?.port ?? m.port + 1, ...h, direction, pli: feedback.pli, feedback,
      ...(bandwidthKbps !== undefined ? { bandwidthKbps } : {}), mediaIndex,
    };
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
  /**
   * offer/accept video on this RTP port (RTCP on +1), sending and/or receiving as `direction` says; `codecs` in our
   * order of preference (default H.264, VP8); `bandwidthKbps` the most we want to receive (b=AS and b=TIAS)
   */
  video?: { port: number; direction: MediaDirection; codecs?: readonly VideoCodecName[]; bandwidthKbps?: number };
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
  /** both sides do video (absent: no m=video, or port 0 in the offer or the answer) */
  video?: NegotiatedVideo;
}

const FEEDBACK_LINES = [{ type: 'nack' }, { type: 'nack', subtype: 'pli' }, { type: 'ccm', subtype: 'fir' }] as const;

/**
 * Our m=video: the formats given (an offer: all we do; an answer: the one chosen), each with the feedback we send
 * and honour (RFC 4585 §4.2; an answer keeps only what the offer listed), under RTP/AVP as most SIP phones do (no
 * AVPF early-feedback timing), and our receive limit as b=AS (kbit/s) and b=TIAS (bit/s, RFC 3890 §6.2).
 */
function videoLine(port: number, formats: ReadonlyArray<{ payloadType: number; codec: VideoCodecName; feedback?: VideoFeedback; offeredProfileLevelId?: string }>, direction: MediaDirection, bandwidthKbps?: number): MediaDescription {
  const spec = (c: VideoCodecName): CodecSpec => (c === 'H264' ? H264 : VP8);
  const fmtpOf = (f: (typeof formats)[number]): string | undefined =>
    (f.codec === 'H264' && f.offeredProfileLevelId !== undefined ? h264AnswerFmtp(f.offeredProfileLevelId) : spec(f.codec).fmtp);
  const rtcpFb = formats.flatMap((f) => FEEDBACK_LINES
    .filter((l) => !f.feedback || ('subtype' in l ? (l.subtype === 'pli' ? f.feedback.pli : f.feedback.fir) : f.feedback.nack))
    .map((l) => ({ payload: String(f.payloadType), ...l })));
  return {
    type: 'video', port, protocol: 'RTP/AVP', payloads: formats.map((f) => f.payloadType).join(' '), direction,
    ...(bandwidthKbps !== undefined ? { bandwidth: [{ type: 'AS', limit: Math.round(bandwidthKbps) }, { type: 'TIAS', limit: Math.round(bandwidthKbps * 1000) }] } : {}),
    rtp: formats.map((f) => ({ payload: f.payloadType, codec: spec(f.codec).name, rate: 90000 })),
    fmtp: formats.filter((f) => fmtpOf(f) !== undefined).map((f) => ({ payload: f.payloadType, config: fmtpOf(f) as string })),
    rtcpFb,
  } as MediaDescription;
}

/** An m-line of the session as it stands: its kind, and what a disabled one says (RFC 3264 §8.2: port 0, kept in place). */
interface Slot {
  type: string;
  protocol: string;
  payloads: string;
}

/** The m-lines of the session: their slots in order, where our audio and our video stream are (video: undefined, no slot). */
interface Layout {
  slots: Slot[];
  audioIndex: number;
  videoIndex?: number;
}

function disabled(slot: Slot): MediaDescription {
  return { type: slot.type, port: 0, protocol: slot.protocol, payloads: slot.payloads, rtp: [], fmtp: [] } as MediaDescription;
}

function slotOf(m: MediaDescription): Slot {
  return { type: m.type, protocol: m.protocol, payloads: String(m.payloads ?? '') };
}

function build(o: BuildOptions & { version: number }, media: MediaDescription[]): string {
  const ipVer = o.ip.includes(':') ? 6 : 4;
  const d = {
    version: 0,
    origin: { username: o.username, sessionId: o.sessionId, sessionVersion: o.version, netType: 'IN', ipVer, address: o.ip },
    name: 'tvphone', connection: { version: ipVer, ip: o.ip }, timing: { start: 0, stop: 0 }, media,
  } as SessionDescription;
  return sdpTransform.write(d);
}

function audioLine(o: BuildOptions, codecs: readonly CodecSpec[], direction: MediaDirection): MediaDescription {
  return {
    type: 'audio', port: o.port, protocol: 'RTP/AVP', payloads: codecs.map((c) => c.payloadType).join(' '),
    rtp: codecs.map((c) => ({ payload: c.payloadType, codec: c.name, rate: c.clockRate })),
    fmtp: codecs.filter((c) => c.fmtp !== undefined).map((c) => ({ payload: c.payloadType, config: c.fmtp as string })),
    ptime: o.ptime, direction,
  } as MediaDescription;
}

/** The m-lines of a layout: every slot disabled but ours, our audio and video put in theirs (a new one appended). */
function compose(layout: Layout, audio: MediaDescription, video?: MediaDescription): MediaDescription[] {
  const media = layout.slots.map(disabled);
  media[layout.audioIndex] = audio;
  if (video !== undefined && layout.videoIndex !== undefined) media[layout.videoIndex] = video;
  return media;
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
  /** the m-lines as last agreed (null: no offer/answer yet), and those of the offer we sent and wait to see answered */
  #layout: Layout | null = null;
  #offered: Layout | null = null;

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

  /**
   * The video direction we want from now on (the camera turned off: recvonly or inactive; on again: as before); the
   * next offer or answer says it. No effect without video.
   */
  setVideoDirection(direction: MediaDirection): void {
    if (this.options.video) this.options.video.direction = direction;
  }

  /**
   * The video was refused (port 0), removed, or its session ended: later offers keep its m-line with port 0 (RFC 3264
   * §8.2), and answers refuse video offered again until enableVideo().
   */
  rejectVideo(): void {
    if (this.options.video) this.options.video.port = 0;
  }

  /**
   * A video stream on this RTP port from now on (RFC 3264 §8.1, adding a stream): the next offer carries it — in the
   * slot of the disabled video line, else of another disabled line, else a new m-line at the end — and the next
   * answer accepts a video offer. No effect without video.
   */
  enableVideo(port: number, direction: MediaDirection): void {
    if (this.options.video) Object.assign(this.options.video, { port, direction });
  }

  /** Whether our descriptions carry an active video stream (a port, not 0). */
  get videoEnabled(): boolean {
    return (this.options.video?.port ?? 0) !== 0;
  }

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

  /**
   * RFC 3264 §8: "the offer MUST contain exactly the same number of media descriptions as the previous one, plus
   * any new ones", in the same order. A new video stream takes the slot of a disabled one (§8.1), else goes at the end.
   */
  #offerLayout(): Layout {
    const v = this.options.video;
    const wantsVideo = v !== undefined && v.port !== 0;
    const prev = this.#layout;
    if (prev === null) return { slots: [{ type: 'audio', protocol: 'RTP/AVP', payloads: '' }], audioIndex: 0, ...(wantsVideo ? { videoIndex: 1 } : {}) };
    if (prev.videoIndex !== undefined || !wantsVideo) return prev;
    const free = prev.slots.findIndex((s, i) => i !== prev.audioIndex && s.type === 'video');
    const reuse = free >= 0 ? free : prev.slots.findIndex((_, i) => i !== prev.audioIndex);
    return { ...prev, videoIndex: reuse >= 0 ? reuse : prev.slots.length };
  }

  /** An offer (initial or re-offer: pass 'sendonly' to put the call on hold, 'sendrecv' to resume). */
  createOffer(direction: MediaDirection = 'sendrecv'): string {
    const v = this.options.video;
    const layout = this.#offerLayout();
    // on hold (sendonly/inactive audio) the video follows: RFC 3264 §8.4
    const formats = (v?.codecs ?? DEFAULT_VIDEO_CODECS).map((codec) => ({ codec, payloadType: codec === 'H264' ? H264.payloadType : VP8.payloadType }));
    const video = v && layout.videoIndex !== undefined ? videoLine(v.port, formats, direction === 'sendrecv' ? v.direction : answerDirection(direction === 'sendonly' ? 'recvonly' : 'inactive', v.direction), v.bandwidthKbps) : undefined;
    const audio = audioLine(this.options, this.options.codecs, direction);
    const slots = [...layout.slots];
    slots[layout.audioIndex] = slotOf(audio);
    if (video !== undefined && layout.videoIndex !== undefined) slots[layout.videoIndex] = slotOf(video);
    this.#offered = { ...layout, slots };
    const media = compose(this.#offered, audio, video);
    return this.#versioned((version) => build({ ...this.options, version }, media));
  }

  /** RFC 3264 §6: our video answer to an offer's m=video (undefined: we reject it with port 0, or there is none). */
  #answerVideo(offer: string, wanted: MediaDirection): NegotiatedVideo | undefined {
    const v = this.options.video;
    const remote = v && v.port !== 0 ? parseVideo(offer, v.codecs ?? DEFAULT_VIDEO_CODECS) : undefined;
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
    const video = this.#answerVideo(offer, wanted);
    const ov = this.options.video;
    // RFC 3264 §6: the answer has the offer's m-lines in the offer's order; ours is the video line we answer, else the
    // first m=video (a slot a later offer of ours adds video in, §8.1)
    const firstVideo = d.media.findIndex((m, i) => i !== remote.mediaIndex && m.type === 'video');
    const videoIndex = video ? video.remote.mediaIndex : firstVideo >= 0 ? firstVideo : undefined;
    this.#layout = { slots: d.media.map(slotOf), audioIndex: remote.mediaIndex, ...(videoIndex !== undefined ? { videoIndex } : {}) };
    this.#offered = null;
    // RFC 4585 §4.2: the answer names the feedback of the offer that we do, for the format chosen
    const line = video && ov ? videoLine(ov.port, [{
      codec: video.remote.codec, payloadType: video.payloadType, feedback: video.remote.feedback,
      ...(video.remote.profileLevelId !== undefined ? { offeredProfileLevelId: video.remote.profileLevelId } : {}),
    }], video.direction, ov.bandwidthKbps) : undefined;
    const media = compose(this.#layout, audioLine(this.options, codecs, direction), line);
    const sdp = this.#versioned((version) => build({ ...this.options, version }, media));
    return {
      sdp, remote, codec: g711Of(chosen) as G711Codec, payloadType: chosen.payloadType, direction,
      ...(te ? { telephoneEventPayloadType: te.payloadType } : {}),
      ...(video ? { video } : {}),
    };
  }

  /**
   * Reads the answer to our offer: the first codec of the answer that we offered (RFC 3264 §7). The offer's m-lines
   * become the session's (an offer never answered, or refused with 488, leaves the session as it was: §8).
   */
  acceptAnswer(answer: string, offeredDirection: MediaDirection = 'sendrecv'): Omit<Negotiated, 'sdp'> {
    const remote = parseSdp(answer);
    const ours = this.options.codecs.map((c) => g711Of(c)).filter((c): c is G711Codec => c !== undefined);
    const chosen = remote.codecs.find((c) => { const g = g711Of(c); return g !== undefined && ours.includes(g); });
    if (!chosen) throw new SdpError(488, 'ERR_SDP_NO_COMMON_CODEC', `answer has no codec we offered: ${remote.codecs.map((c) => c.name).join(', ')}`);
    if (this.#offered !== null) this.#layout = this.#offered;
    this.#offered = null;
    // RFC 3264 §6: port 0 in the answer (or no usable H.264 in it) refuses the video; the audio goes on
    const rv = this.options.video && this.options.video.port !== 0 ? parseVideo(answer, this.options.video.codecs ?? DEFAULT_VIDEO_CODECS) : undefined;
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
