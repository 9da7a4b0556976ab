// One video stream over RTP/RTCP (RFC 3550) on its own port pair, H.264 (RFC 6184) or VP8 (RFC 7741): frames
// packetised with a 90 kHz timestamp and the marker on each frame's last packet; received packets put back in order
// by a bounded reorder window, then depacketised; RTCP SR/RR, and the feedback the remote accepts (SDP a=rtcp-fb):
// RFC 4585 §6.2.1 Generic NACK (the receiver names missing sequence numbers, the sender resends them from a bounded
// history), §6.3.1 PLI and RFC 5104 §4.3.1 FIR (the receiver asks for a keyframe), both ways.
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { TvphoneError } from '../errors.ts';
import { H264Depacketizer, h264SpsSize, NAL_IDR, NAL_SPS, nalType, packetizeH264, type AccessUnit } from './h264-rtp.ts';
import { isVp8Keyframe, packetizeVp8, vp8KeyframeSize, Vp8Depacketizer } from './vp8-rtp.ts';
import { ReceptionStatistics } from './reception-statistics.ts';
import { senderClockOf, type SenderClock } from './lip-sync.ts';
import { buildRtcpCompound, ntpFromUnixMs, parseRtcpCompound } from './rtcp.ts';
import { parseRtpPacket, RtpPacketBuilder } from './rtp-packet.ts';
import { bindRtpPortPair, closeSocket } from './rtp-ports.ts';
import type { MediaDirection, VideoCodecName, VideoFeedback } from './sdp.ts';

const CLOCK_RATE = 90_000;
/** reorder window: packets held while an earlier one is missing, and for how long */
const REORDER_PACKETS = 128;
const REORDER_MS = 40;
/** with NACK, how long a gap is waited for (its retransmission needs a round trip), and when a NACK is repeated */
const NACK_WAIT_MS = 250;
const NACK_REPEAT_MS = 80;
/** RFC 4585 §6.2.1: NACKs a gap only up to this many packets (a longer one waits for a keyframe) */
const MAX_NACK_GAP = 64;
/** received frames whose times are kept for the frame rate (a power of two, above 2 s at 60 fps) */
const ARRIVALS = 128;
/** packets kept by the sender for retransmission (a power of two) */
const HISTORY_PACKETS = 512;
/** RFC 4585 §3.5 limits feedback to the RTCP bandwidth; we send at most one PLI per this interval */
const MIN_PLI_INTERVAL_MS = 300;

export interface VideoSessionOptions {
  localIp?: string;
  /** RFC 3550 §6.2 mean RTCP interval (default 5000 ms, randomised ×0.5–1.5) */
  rtcpIntervalMs?: number;
  /** RTP payload budget per packet, bytes (default 1200: below a 1500-byte MTU with IP/UDP/RTP headers) */
  payloadMtu?: number;
  cname?: string;
  /** largest access unit reassembled (default 1 MiB) */
  maxFrameBytes?: number;
}

/** How frames of one video codec travel in RTP: its packetizer and depacketizer (h264-rtp.ts, vp8-rtp.ts). */
export interface VideoRtpCodec {
  name: 'H264' | 'VP8';
  /** the RTP payloads of one frame (H.264: its NAL units; VP8: one element, the frame) */
  packetize(units: readonly Uint8Array[], mtu: number): Uint8Array[];
  isKeyframe(units: readonly Uint8Array[]): boolean;
  /** the picture size a keyframe gives (H.264: its SPS; VP8: its frame header) */
  frameSize(units: readonly Uint8Array[]): { width: number; height: number } | undefined;
  depacketizer(o: { maxFrameBytes: number }): VideoDepacketizer;
}

export interface VideoDepacketizer {
  push(p: { sequenceNumber: number; timestamp: number; marker: boolean; payload: Uint8Array }): AccessUnit[];
  takeKeyframeRequest(): boolean;
  readonly stats: { frames: number; keyframes: number; droppedFrames: number; malformed: number };
}

export const H264_RTP: VideoRtpCodec = {
  name: 'H264',
  packetize: (units, mtu) => packetizeH264(units, mtu),
  isKeyframe: (units) => units.some((n) => nalType(n) === NAL_IDR),
  frameSize: (units) => { const sps = units.find((n) => nalType(n) === NAL_SPS); return sps === undefined ? undefined : h264SpsSize(sps); },
  depacketizer: (o) => new H264Depacketizer(o),
};

/** The RTP format of a codec named in SDP, for one session. */
export function videoRtpCodecOf(name: VideoCodecName): VideoRtpCodec {
  return name === 'VP8' ? vp8RtpCodec() : H264_RTP;
}

/** VP8 (RFC 7741) for one session: each frame gets the next 15-bit picture ID, from a random start. */
export function vp8RtpCodec(): VideoRtpCodec {
  let pictureId = randomBytes(2).readUInt16BE(0) & 0x7fff;
  return {
    name: 'VP8',
    packetize: (units, mtu) => {
      const payloads = units[0] ? packetizeVp8(units[0], mtu, pictureId) : [];
      pictureId = (pictureId + 1) & 0x7fff;
      return payloads;
    },
    isKeyframe: (units) => units[0] !== undefined && isVp8Keyframe(units[0]),
    frameSize: (units) => (units[0] !== undefined && isVp8Keyframe(units[0]) ? vp8KeyframeSize(units[0]) : undefined),
    depacketizer: (o) => {
      const d = new Vp8Depacketizer(o);
      return {
        push: (p) => d.push(p).map((f) => ({ timestamp: f.timestamp, nals: [f.frame], keyframe: f.keyframe })),
        takeKeyframeRequest: () => d.takeKeyframeRequest(),
        get stats() { return d.stats; },
      };
    },
  };
}

export interface VideoStartOptions {
  remoteIp: string;
  remotePort: number;
  remoteRtcpPort?: number;
  payloadType: number;
  direction?: MediaDirection;
  /** the codec's RTP format (default H.264) */
  codec?: VideoRtpCodec;
  /** what the remote accepts (default PLI only, as before a=rtcp-fb was read) */
  feedback?: Partial<VideoFeedback>;
}

export interface VideoStats {
  sent: { frames: number; keyframes: number; packets: number; octets: number };
  received: { frames: number; keyframes: number; packets: number; lost: number; droppedFrames: number; malformed: number; discarded: number };
  plisSent: number;
  plisReceived: number;
  /** RFC 5104 FIRs sent and received (a repeated command sequence number counted once) */
  firsSent: number;
  firsReceived: number;
  /** keyframes sent that answered a PLI or FIR (the first one sent after a request; requests before it count once) */
  keyframesOnRequest: number;
  /** RFC 4585 Generic NACK: packets we sent, the sequence numbers they named, and the named packets that then came */
  nacksSent: number;
  nackedPackets: number;
  recoveredPackets: number;
  /** NACK packets received, and the packets we sent again for them */
  nacksReceived: number;
  retransmittedPackets: number;
}

/** The figures of two video streams of one call added up (a stream removed by re-INVITE, then another added). */
export function sumVideoStats(a: VideoStats, b: VideoStats): VideoStats {
  const add = <T extends object>(x: T, y: T): T => Object.fromEntries(Object.entries(x).map(([k, v]) =>
    [k, typeof v === 'number' ? v + ((y as Record<string, number>)[k] ?? 0) : add(v as object, (y as Record<string, object>)[k] ?? {})])) as T;
  return add(a, b);
}

export interface VideoSessionEvents {
  /** a complete access unit (in order; after a loss only from the next keyframe on) */
  accessUnit: [unit: AccessUnit];
  /** the remote sent a PLI or FIR about our stream: it wants a keyframe */
  keyframeRequested: [];
}

export class VideoSession extends EventEmitter<VideoSessionEvents> {
  readonly ssrc = randomBytes(4).readUInt32BE(0);
  readonly localIp: string;
  readonly cname: string;
  readonly #o: Required<Omit<VideoSessionOptions, 'localIp' | 'cname'>>;
  #rtp: dgram.Socket | undefined;
  #rtcp: dgram.Socket | undefined;
  #localPort = 0;
  #state: 'new' | 'bound' | 'started' | 'stopped' = 'new';
  #remote: { ip: string; port: number; rtcpPort: number } | undefined;
  #pt = 96;
  #sending = true;
  #receiving = true;
  readonly #builder = new RtpPacketBuilder();
  #seq = randomBytes(2).readUInt16BE(0);
  readonly #ts0 = randomBytes(4).readUInt32BE(0);
  #startedAt = 0;
  /** added to sendAccessUnit's mediaMs: the first frame's send time after start() less its mediaMs */
  #mediaOffsetMs: number | undefined;
  #remoteSsrc: number | undefined;
  /** the remote's last SR as a clock (lip sync, RFC 3550 §6.4.1) */
  #remoteClock: SenderClock | undefined;
  /** the picture size of the last keyframe received */
  #recvSize: { width: number; height: number } | undefined;
  /** when the last ARRIVALS frames were complete (performance.now), a ring */
  readonly #arrivals = new Float64Array(ARRIVALS);
  #arrivalCount = 0;
  #stats: ReceptionStatistics | undefined;
  #codec: VideoRtpCodec = H264_RTP;
  #feedback: VideoFeedback = { nack: false, pli: true, fir: false };
  #depack: VideoDepacketizer;
  /** our sent packets by sequence number mod HISTORY_PACKETS, for NACKs */
  readonly #history: Array<{ seq: number; bytes: Uint8Array } | undefined> = new Array(HISTORY_PACKETS);
  /** the highest sequence number received, and the missing ones NACKed: when last asked, how often */
  #highest: number | undefined;
  readonly #missing = new Map<number, { askedAt: number; tries: number }>();
  #firSeq = 0;
  readonly #firSeen = new Map<number, number>();
  /** reorder window, by sequence number: the next expected one, and those that came ahead of it */
  #expected: number | undefined;
  readonly #held = new Map<number, { p: { sequenceNumber: number; timestamp: number; marker: boolean; payload: Uint8Array }; at: number }>();
  #timer: NodeJS.Timeout | undefined;
  #nextRtcpAt = 0;
  #lastPliAt = -Infinity;
  /** a PLI or FIR came and no keyframe has been sent since */
  #keyframeOwed = false;
  #sentSinceReport = false;
  #stopping: Promise<VideoStats> | undefined;
  readonly #c = {
    frames: 0, keyframes: 0, packets: 0, octets: 0, recvPackets: 0, discarded: 0, plisSent: 0, plisReceived: 0, firsSent: 0, firsReceived: 0, keyframesOnRequest: 0,
    nacksSent: 0, nackedPackets: 0, recoveredPackets: 0, nacksReceived: 0, retransmittedPackets: 0,
  };

  constructor(o: VideoSessionOptions = {}) {
    super();
    this.localIp = o.localIp ?? '127.0.0.1';
    this.cname = o.cname ?? `tvphone-${randomBytes(4).toString('hex')}@${this.localIp}`;
    this.#o = { rtcpIntervalMs: o.rtcpIntervalMs ?? 5_000, payloadMtu: o.payloadMtu ?? 1200, maxFrameBytes: o.maxFrameBytes ?? 1 << 20 };
    this.#depack = this.#codec.depacketizer({ maxFrameBytes: this.#o.maxFrameBytes });
  }

  get localPort(): number { return this.#localPort; }
  /** The remote's wallclock against its RTP clock, from its last SR (RFC 3550 §6.4.1); undefined before one came. */
  get remoteClock(): SenderClock | undefined { return this.#remoteClock; }

  /** Binds an even RTP port and RTCP on +1 (RFC 3550 §11); port 0 picks a free pair. */
  async bind(host: string = this.localIp): Promise<number> {
    if (this.#state !== 'new') throw new TvphoneError('ERR_MEDIA_STATE', `bind() in state ${this.#state}`);
    const pair = await bindRtpPortPair(host);
    if ('error' in pair) throw new TvphoneError('ERR_MEDIA_BIND', `cannot bind a video RTP/RTCP port pair on ${host}`);
    this.#rtp = pair.rtp;
    this.#rtcp = pair.rtcp;
    this.#localPort = pair.port;
    this.#rtp.on('error', () => { this.#c.discarded++; });
    this.#rtcp.on('error', () => { this.#c.discarded++; });
    this.#rtp.on('message', (m, r) => this.#onRtp(m, r));
    this.#rtcp.on('message', (m, r) => this.#onRtcp(m, r));
    this.#state = 'bound';
    return this.#localPort;
  }

  start(o: VideoStartOptions): void {
    if (this.#state !== 'bound') throw new TvphoneError('ERR_MEDIA_STATE', `start() in state ${this.#state} (bind() first)`);
    this.#pt = o.payloadType;
    this.#codec = o.codec ?? H264_RTP;
    this.#depack = this.#codec.depacketizer({ maxFrameBytes: this.#o.maxFrameBytes });
    this.#feedback = { nack: false, pli: true, fir: false, ...o.feedback };
    this.#remote = { ip: o.remoteIp, port: o.remotePort, rtcpPort: o.remoteRtcpPort ?? o.remotePort + 1 };
    this.setDirection(o.direction ?? 'sendrecv');
    this.#state = 'started';
    this.#startedAt = performance.now();
    this.#nextRtcpAt = this.#startedAt + this.#rtcpInterval();
    this.#timer = setInterval(() => this.#tick(), 20);
  }

  setDirection(direction: MediaDirection): void {
    this.#sending = direction === 'sendrecv' || direction === 'sendonly';
    this.#receiving = direction === 'sendrecv' || direction === 'recvonly';
  }

  updateRemote(o: { remoteIp: string; remotePort: number; remoteRtcpPort?: number }): void {
    this.#remote = { ip: o.remoteIp, port: o.remotePort, rtcpPort: o.remoteRtcpPort ?? o.remotePort + 1 };
  }

  /**
   * Sends one frame captured `mediaMs` after the stream's first frame (H.264: an access unit's NAL units; VP8: [frame]):
   * all its packets carry the timestamp of that instant at 90 kHz (RFC 6184 §5.1, RFC 7741 §4.1), the marker on the
   * last one.
   */
  sendAccessUnit(units: readonly Uint8Array[], mediaMs: number): void {
    if (this.#state !== 'started' || !this.#sending || !this.#remote) return;
    // the first frame's media time is when it is sent: our SRs (which map start() to ts0) then give each frame's
    // timestamp its wallclock, for the receiver's lip sync (RFC 3550 §6.4.1), however late the encoder started
    this.#mediaOffsetMs ??= performance.now() - this.#startedAt - mediaMs;
    const timestamp = (this.#ts0 + Math.round((mediaMs + this.#mediaOffsetMs) * (CLOCK_RATE / 1000))) >>> 0;
    const payloads = this.#codec.packetize(units, this.#o.payloadMtu);
    for (const [i, payload] of payloads.entries()) {
      const bytes = this.#builder.build({ payloadType: this.#pt, marker: i === payloads.length - 1, sequenceNumber: this.#seq, timestamp, ssrc: this.ssrc, payload });
      // the builder may reuse its buffer: the history keeps a copy
      this.#history[this.#seq & (HISTORY_PACKETS - 1)] = { seq: this.#seq, bytes: bytes.slice() };
      this.#seq = (this.#seq + 1) & 0xffff;
      this.#c.packets++;
      this.#c.octets += payload.length;
      this.#rtp?.send(bytes, this.#remote.port, this.#remote.ip);
    }
    this.#c.frames++;
    if (this.#codec.isKeyframe(units)) {
      this.#c.keyframes++;
      if (this.#keyframeOwed) this.#c.keyframesOnRequest++;
      this.#keyframeOwed = false;
    }
    this.#sentSinceReport = true;
  }

  /**
   * Asks the remote sender for a keyframe (rate-limited): RFC 4585 §6.3.1 PLI, or RFC 5104 §4.3.1 FIR when the
   * remote accepts only that.
   */
  requestKeyframe(): void {
    if (this.#state !== 'started' || this.#remoteSsrc === undefined || !this.#remote || !this.#rtcp) return;
    const now = performance.now();
    if (now - this.#lastPliAt < MIN_PLI_INTERVAL_MS) return;
    this.#lastPliAt = now;
    if (!this.#feedback.pli && this.#feedback.fir) {
      // RFC 5104 §4.3.1.2: a new request takes the next command sequence number
      this.#firSeq = (this.#firSeq + 1) & 0xff;
      this.#c.firsSent++;
      this.#rtcp.send(this.#buildRtcp({ fir: true }), this.#remote.rtcpPort, this.#remote.ip);
      return;
    }
    this.#c.plisSent++;
    this.#rtcp.send(this.#buildRtcp({ pli: true }), this.#remote.rtcpPort, this.#remote.ip);
  }

  /** RFC 4585 §6.2.1: a Generic NACK for the missing packets whose (re)request is due; at most twice each. */
  #sendNack(now: number, force = false): void {
    if (!this.#feedback.nack || this.#remoteSsrc === undefined || !this.#remote || !this.#rtcp) return;
    const due: number[] = [];
    for (const [seq, m] of this.#missing) {
      if (m.tries >= 2) continue;
      if (!force && now - m.askedAt < NACK_REPEAT_MS) continue;
      m.tries++;
      m.askedAt = now;
      due.push(seq);
    }
    if (due.length === 0) return;
    this.#c.nacksSent++;
    this.#c.nackedPackets += due.length;
    this.#rtcp.send(this.#buildRtcp({ nack: due }), this.#remote.rtcpPort, this.#remote.ip);
  }

  /** Notes a sequence number received: a jump ahead makes the ones skipped missing (NACKed at once). */
  #track(seq: number, now: number): void {
    if (this.#missing.delete(seq)) this.#c.recoveredPackets++;
    if (this.#highest === undefined) { this.#highest = seq; return; }
    const d = (seq - this.#highest) & 0xffff;
    if (d === 0 || d >= 0x8000) return;
    if (this.#feedback.nack && d > 1 && d - 1 <= MAX_NACK_GAP) {
      for (let k = 1; k < d; k++) this.#missing.set((this.#highest + k) & 0xffff, { askedAt: now, tries: 0 });
      while (this.#missing.size > MAX_NACK_GAP) this.#missing.delete(this.#missing.keys().next().value as number);
      this.#highest = seq;
      this.#sendNack(now, true);
      return;
    }
    this.#highest = seq;
  }

  #rtcpInterval(): number { return this.#o.rtcpIntervalMs * (0.5 + Math.random()); }

  #tick(): void {
    const now = performance.now();
    this.#drain(now);
    if (this.#missing.size > 0) this.#sendNack(now);
    if (now >= this.#nextRtcpAt && this.#remote && this.#rtcp) {
      this.#rtcp.send(this.#buildRtcp({}), this.#remote.rtcpPort, this.#remote.ip);
      this.#nextRtcpAt = now + this.#rtcpInterval();
    }
  }

  #onRtp(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.#state !== 'started' || rinfo.address !== this.#remote?.ip) { this.#c.discarded++; return; }
    const p = parseRtpPacket(msg);
    if (!p || p.payloadType !== this.#pt) { this.#c.discarded++; return; }
    const now = performance.now();
    if (p.ssrc !== this.#remoteSsrc) {
      this.#remoteSsrc = p.ssrc;
      this.#stats = new ReceptionStatistics(p.ssrc, p.sequenceNumber, CLOCK_RATE);
      this.#depack = this.#codec.depacketizer({ maxFrameBytes: this.#o.maxFrameBytes });
      this.#held.clear();
      this.#missing.clear();
      this.#highest = undefined;
      this.#expected = p.sequenceNumber;
      this.#remoteClock = undefined;
    }
    this.#c.recvPackets++;
    this.#stats?.update(p.sequenceNumber, p.timestamp, now);
    this.#track(p.sequenceNumber, now);
    const ahead = (p.sequenceNumber - (this.#expected as number)) & 0xffff;
    if (ahead >= 0x8000) return; // older than the window: given up on already
    if (!this.#held.has(p.sequenceNumber)) this.#held.set(p.sequenceNumber, { p: { sequenceNumber: p.sequenceNumber, timestamp: p.timestamp, marker: p.marker, payload: p.payload.slice() }, at: now });
    this.#drain(now);
  }

  /**
   * Releases packets in order; a gap is skipped once the window is full or its oldest packet waited REORDER_MS
   * (NACK_WAIT_MS when the gap was NACKed: its retransmission needs a round trip).
   */
  #drain(now: number): void {
    const wait = this.#feedback.nack ? NACK_WAIT_MS : REORDER_MS;
    while (this.#held.size > 0 && this.#expected !== undefined) {
      const next = this.#held.get(this.#expected);
      if (!next) {
        let oldest = Infinity;
        for (const h of this.#held.values()) oldest = Math.min(oldest, h.at);
        if (this.#held.size < REORDER_PACKETS && now - oldest < wait) return;
        // give up on the missing packet(s): continue from the lowest held sequence number
        let best = 0x10000;
        for (const s of this.#held.keys()) best = Math.min(best, (s - this.#expected) & 0xffff);
        for (let k = 0; k < best; k++) this.#missing.delete((this.#expected + k) & 0xffff);
        this.#expected = (this.#expected + best) & 0xffff;
        continue;
      }
      this.#held.delete(this.#expected);
      this.#expected = (this.#expected + 1) & 0xffff;
      for (const unit of this.#depack.push(next.p)) {
        this.#noteReceived(unit, now);
        if (this.#receiving) this.#emit('accessUnit', unit);
      }
      if (this.#depack.takeKeyframeRequest()) this.requestKeyframe();
    }
  }

  #onRtcp(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.#state !== 'started' || rinfo.address !== this.#remote?.ip) { this.#c.discarded++; return; }
    for (const it of parseRtcpCompound(msg)) {
      if (it.kind === 'sr' && it.ssrc === this.#remoteSsrc) this.#remoteClock = senderClockOf(it, CLOCK_RATE);
      else if (it.kind === 'pli' && it.mediaSsrc === this.ssrc) {
        this.#c.plisReceived++;
        this.#keyframeOwed = true;
        this.#emit('keyframeRequested');
      } else if (it.kind === 'fir' && it.mediaSsrc === this.ssrc) {
        // RFC 5104 §4.3.1.2: a FIR repeating the last command sequence number of its sender is not a new request
        if (this.#firSeen.get(it.senderSsrc) === it.seq) continue;
        if (this.#firSeen.size >= 16) this.#firSeen.clear();
        this.#firSeen.set(it.senderSsrc, it.seq);
        this.#c.firsReceived++;
        this.#keyframeOwed = true;
        this.#emit('keyframeRequested');
      } else if (it.kind === 'nack' && it.mediaSsrc === this.ssrc) {
        this.#c.nacksReceived++;
        this.#retransmit(it.sequenceNumbers);
      }
    }
  }

  /** RFC 4585 §6.2.1: the NACKed packets still in our history are sent again as they were (RFC 4588 RTX is not offered). */
  #retransmit(seqs: readonly number[]): void {
    if (!this.#remote || !this.#rtp || !this.#sending) return;
    for (const seq of seqs.slice(0, 2 * MAX_NACK_GAP)) {
      const h = this.#history[seq & (HISTORY_PACKETS - 1)];
      if (h?.seq !== seq) continue;
      this.#c.retransmittedPackets++;
      this.#rtp.send(h.bytes, this.#remote.port, this.#remote.ip);
    }
  }

  #buildRtcp(o: { pli?: boolean; fir?: boolean; nack?: number[]; bye?: boolean }): Uint8Array {
    const now = performance.now();
    const ntp = ntpFromUnixMs(performance.timeOrigin + now);
    const rtpTimestamp = (this.#ts0 + Math.round((now - this.#startedAt) * (CLOCK_RATE / 1000))) >>> 0;
    const sender = this.#sentSinceReport ? { ntpSeconds: ntp.seconds, ntpFraction: ntp.fraction, rtpTimestamp, packetCount: this.#c.packets, octetCount: this.#c.octets } : undefined;
    this.#sentSinceReport = false;
    const reports = this.#stats && this.#remoteSsrc !== undefined && this.#stats.received > 0 ? [{ ssrc: this.#remoteSsrc, ...this.#stats.report(), lsr: 0, dlsr: 0 }] : [];
    return buildRtcpCompound({
      ssrc: this.ssrc, cname: this.cname, reports, ...(sender ? { sender } : {}),
      ...(o.pli && this.#remoteSsrc !== undefined ? { pli: { mediaSsrc: this.#remoteSsrc } } : {}),
      ...(o.fir && this.#remoteSsrc !== undefined ? { fir: { mediaSsrc: this.#remoteSsrc, seq: this.#firSeq } } : {}),
      ...(o.nack && this.#remoteSsrc !== undefined ? { nack: { mediaSsrc: this.#remoteSsrc, sequenceNumbers: o.nack } } : {}),
      ...(o.bye ? { bye: { reason: 'hangup' } } : {}),
    });
  }

  #emit<K extends keyof VideoSessionEvents>(event: K, ...args: VideoSessionEvents[K]): void {
    try { (this.emit as (e: K, ...a: VideoSessionEvents[K]) => boolean)(event, ...args); } catch { /* a throwing listener must not corrupt the session */ }
  }

  #noteReceived(unit: AccessUnit, now: number): void {
    if (unit.keyframe) this.#recvSize = this.#codec.frameSize(unit.nals) ?? this.#recvSize;
    this.#arrivals[this.#arrivalCount++ & (ARRIVALS - 1)] = now;
  }

  /** What is being received: the picture size of the last keyframe, and the frame rate over the last 2 s. */
  receiving(): { width?: number; height?: number; fps: number } {
    const now = performance.now();
    const n = Math.min(this.#arrivalCount, ARRIVALS);
    let count = 0;
    let first = Infinity;
    for (let i = 0; i < n; i++) {
      const t = this.#arrivals[i];
      if (now - t <= 2000) { count++; first = Math.min(first, t); }
    }
    // frames over the time they span, from the first of the window to now (a stalled stream's rate falls)
    const fps = count < 2 ? 0 : Math.round(((count - 1) * 1000) / Math.max(now - first, 1));
    return { ...(this.#recvSize ?? {}), fps };
  }

  stats(): VideoStats {
    const d = this.#depack.stats;
    return {
      sent: { frames: this.#c.frames, keyframes: this.#c.keyframes, packets: this.#c.packets, octets: this.#c.octets },
      received: {
        frames: d.frames, keyframes: d.keyframes, packets: this.#c.recvPackets, lost: Math.max(0, this.#stats?.cumulativeLost ?? 0),
        droppedFrames: d.droppedFrames, malformed: d.malformed, discarded: this.#c.discarded,
      },
      plisSent: this.#c.plisSent, plisReceived: this.#c.plisReceived, firsSent: this.#c.firsSent, firsReceived: this.#c.firsReceived,
      keyframesOnRequest: this.#c.keyframesOnRequest,
      nacksSent: this.#c.nacksSent, nackedPackets: this.#c.nackedPackets, recoveredPackets: this.#c.recoveredPackets,
      nacksReceived: this.#c.nacksReceived, retransmittedPackets: this.#c.retransmittedPackets,
    };
  }

  /** A last RTCP report with BYE (RFC 3550 §6.6), then both sockets closed. Idempotent. */
  stop(): Promise<VideoStats> {
    this.#stopping ??= (async () => {
      if (this.#timer) clearInterval(this.#timer);
      if (this.#state === 'started' && this.#remote && this.#rtcp) {
        const bytes = this.#buildRtcp({ bye: true });
        const rtcp = this.#rtcp;
        const r = this.#remote;
        await new Promise<void>((resolve) => { try { rtcp.send(bytes, r.rtcpPort, r.ip, () => resolve()); } catch { resolve(); } });
      }
      const s = this.stats();
      this.#state = 'stopped';
      await Promise.all([closeSocket(this.#rtp), closeSocket(this.#rtcp)]);
      return s;
    })();
    return this.#stopping;
  }
}
