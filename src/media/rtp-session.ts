// One G.711 audio stream over RTP/RTCP (RFC 3550) on node:dgram: sends 20 ms frames paced by an
// absolute-time scheduler, receives into a jitter buffer, exchanges RTCP reports, and carries RFC
// 4733 DTMF.
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { TvphoneError } from '../errors.ts';
import { SilenceSource, type AudioSink, type AudioSource } from './audio-io.ts';
import { TelephoneEventReceiver, telephoneEventPackets, type TelephoneEventPacket } from './dtmf.ts';
import { codecOfPayloadType, decodeG711, encodeG711, type G711Codec } from './g711.ts';
import { JitterBuffer } from './jitter-buffer.ts';
import { ReceptionStatistics } from './reception-statistics.ts';
import { senderClockOf, type SenderClock } from './lip-sync.ts';
import { buildRtcpCompound, ntpFromUnixMs, ntpMiddle32, parseRtcpCompound, roundTripMs, type ReportBlock } from './rtcp.ts';
import { parseRtpPacket, RtpPacketBuilder } from './rtp-packet.ts';
import { bindRtpPortPair, closeSocket } from './rtp-ports.ts';
import type { MediaDirection } from './sdp.ts';

const FRAME_MS = 20;
const FRAME_SAMPLES = 160; // 20 ms at 8000 Hz
/** If the event loop stalls, at most this many missed frames are sent late; beyond, the clock skips ahead. */
const MAX_CATCH_UP_FRAMES = 5;
const MAX_DTMF_QUEUE = 32;

export interface MediaSessionOptions {
  /** address to bind and to write in SDP (default 127.0.0.1) */
  localIp?: string;
  /** RFC 3550 §6.2: mean RTCP report interval (default 5000 ms; randomised ×0.5–1.5 per §6.3.1) */
  rtcpIntervalMs?: number;
  /** jitter buffer playout delay (default 60 ms) */
  playoutDelayMs?: number;
  /** let the jitter buffer grow its delay on late packets (default false) */
  adaptivePlayout?: boolean;
  /** RTCP CNAME (default random "tvphone-<hex>@<localIp>") */
  cname?: string;
}

export interface StartOptions {
  remoteIp: string;
  remotePort: number;
  /** default remotePort + 1 (RFC 3550 §11), or SDP a=rtcp */
  remoteRtcpPort?: number;
  /** negotiated G.711 payload type: 0 (PCMU) or 8 (PCMA) */
  payloadType: number;
  /** negotiated RFC 4733 telephone-event payload type, if any */
  telephoneEventPayloadType?: number;
  /** what to send (default silence) */
  source?: AudioSource;
  /** where received audio goes (default: dropped after decoding) */
  sink?: AudioSink;
  /** from our SDP (default sendrecv) */
  direction?: MediaDirection;
}

export interface MediaStats {
  durationMs: number;
  codec?: G711Codec;
  sent: { packets: number; octets: number; dtmfPackets: number };
  received: {
    packets: number;
    octets: number;
    /** RFC 3550 A.3 cumulative loss, from sequence numbers */
    lost: number;
    /** RFC 3550 A.8 interarrival jitter */
    jitterMs: number;
    duplicates: number;
    /** arrived after their playout slot (jitter buffer) */
    late: number;
    /** frames concealed at playout */
    concealed: number;
    /** not RTP/RTCP, wrong payload type, or from an address other than the SDP's */
    discarded: number;
  };
  /** from the remote's last RTCP report about our stream */
  remote?: { fractionLost: number; cumulativeLost: number; jitterMs: number; rttMs?: number; reports: number };
  remoteBye: boolean;
}

export interface MediaSessionEvents {
  /** an RFC 4733 digit was received */
  dtmf: [digit: string];
  /** the remote sent RTCP BYE */
  bye: [reason: string | undefined];
  /** the source returned false (played once to its end); silence follows */
  sourceEnded: [];
  /** diagnostics (benchmarks, tests): every accepted RTP packet; emitted only while someone listens */
  rtp: [info: { ssrc: number; sequenceNumber: number; timestamp: number; payloadType: number; arrivalMs: number }];
}

function randomUint32(): number { return randomBytes(4).readUInt32BE(0); }

/**
 * A G.711 media session: one RTP/RTCP port pair, one audio stream each way.
 *
 * ```ts
 * const media = new MediaSession({ localIp: '127.0.0.1' });
 * await media.bind();                        // FIRST, before REGISTER: even RTP port, RTCP on +1
 * const offer = createOffer({ ip: media.localIp, port: media.localPort });
 * // … after the answer (see sdp.ts, LocalMedia.acceptAnswer / createAnswer):
 * media.start({ remoteIp, remotePort, payloadType: 0, telephoneEventPayloadType: 101,
 *               source: new ToneSource({ frequency: 1000 }), sink: new PcmRecorder() });
 * media.on('dtmf', (digit) => …);
 * media.sendDtmf('5');                       // RFC 4733, 100 ms
 * media.hold(true);                          // stop sending and playing out (re-INVITE with sendonly/inactive)
 * media.setDirection('recvonly');            // or apply a re-negotiated direction exactly
 * const stats = await media.stop();          // sends RTCP BYE, closes the sockets; idempotent
 * ```
 * Symmetric RTP: we send from the port we receive on, and accept RTP/RTCP only from the IP the
 * SDP gave (start/updateRemote). Every queue is bounded.
 */
export class MediaSession extends EventEmitter<MediaSessionEvents> {
  readonly localIp: string;
  readonly cname: string;
  readonly ssrc = randomUint32();
  readonly #options: Required<Omit<MediaSessionOptions, 'localIp' | 'cname'>>;
  #rtp: dgram.Socket | undefined;
  #rtcp: dgram.Socket | undefined;
  #localPort = 0;
  #remote: { ip: string; port: number; rtcpPort: number } | undefined;
  #payloadType = 0;
  #codec: G711Codec = 'PCMU';
  #tePayloadType: number | undefined;
  #source: AudioSource = new SilenceSource();
  #sink: AudioSink | undefined;
  #sending = true;
  #receiving = true;
  #directionBeforeHold: MediaDirection | undefined;
  #direction: MediaDirection = 'sendrecv';
  #sourceEnded = false;
  // send clock (RFC 3550 §5.1: random initial sequence number and timestamp)
  #seq = randomUint32() & 0xffff;
  readonly #ts0 = randomUint32();
  #frameIndex = 0;
  #startedAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #marker = true;
  readonly #builder = new RtpPacketBuilder();
  readonly #frame = new Int16Array(FRAME_SAMPLES);
  #dtmfQueue: string[] = [];
  #dtmfPackets: TelephoneEventPacket[] = [];
  #dtmfTimestamp = 0;
  // receive side
  #jitter: JitterBuffer;
  #remoteSsrc: number | undefined;
  #stats: ReceptionStatistics | undefined;
  readonly #teReceiver = new TelephoneEventReceiver();
  #lastSr: { middle32: number; arrivalMs: number } | undefined;
  /** the remote's last SR as a clock (lip sync, RFC 3550 §6.4.1) */
  #remoteClock: SenderClock | undefined;
  /** RTP timestamp of the frame last played out to the sink */
  #playedTs: number | undefined;
  // RTCP
  #nextRtcpAt = 0;
  #sentSinceReport = false;
  #remoteReport: MediaStats['remote'];
  #remoteBye = false;
  #counters = { sentPackets: 0, sentOctets: 0, dtmfPackets: 0, recvPackets: 0, recvOctets: 0, discarded: 0 };
  #state: 'new' | 'bound' | 'started' | 'stopped' = 'new';
  #stopping: Promise<MediaStats> | undefined;

  constructor(options: MediaSessionOptions = {}) {
    super();
    this.localIp = options.localIp ?? '127.0.0.1';
    this.cname = options.cname ?? `tvphone-${randomBytes(4).toString('hex')}@${this.localIp}`;
    this.#options = {
      rtcpIntervalMs: options.rtcpIntervalMs ?? 5000,
      playoutDelayMs: options.playoutDelayMs ?? 60,
      adaptivePlayout: options.adaptivePlayout ?? false,
    };
    this.#jitter = this.#newJitterBuffer();
  }

  #newJitterBuffer(): JitterBuffer {
    return new JitterBuffer({ playoutDelayMs: this.#options.playoutDelayMs, adaptive: this.#options.adaptivePlayout, maxPackets: 50 });
  }

  /** The bound RTP port (even); RTCP is localPort + 1. 0 before bind(). */
  get localPort(): number { return this.#localPort; }
  get localRtcpPort(): number { return this.#localPort === 0 ? 0 : this.#localPort + 1; }
  get direction(): MediaDirection { return this.#direction; }
  /** Send clock: the RTP timestamp of frame 0 and when (performance.now()) it was scheduled; frame n is due at startedAt + 20n ms with timestamp ts0 + 160n. */
  get sendClock(): { ssrc: number; timestamp0: number; startedAtMs: number } { return { ssrc: this.ssrc, timestamp0: this.#ts0, startedAtMs: this.#startedAt }; }
  /** The remote's wallclock against its RTP clock, from its last SR (RFC 3550 §6.4.1); undefined before one came. */
  get remoteClock(): SenderClock | undefined { return this.#remoteClock; }

  /**
   * Binds the RTP port (even, RFC 3550 §11) and the RTCP port (+1). With port 0 a free pair is
   * chosen (bounded retries). Call before registering, so the port is known for the SDP.
   */
  async bind(host: string = this.localIp, port = 0): Promise<number> {
    if (this.#state !== 'new') throw new TvphoneError('ERR_MEDIA_STATE', `bind() in state ${this.#state}`);
    if (port % 2 !== 0) throw new TvphoneError('ERR_MEDIA_PORT', `RTP port must be even (RFC 3550 §11), got ${port}`);
    const pair = await bindRtpPortPair(host, port);
    if ('error' in pair) throw new TvphoneError('ERR_MEDIA_BIND', `cannot bind an RTP/RTCP port pair on ${host}:${port}: ${(pair.error as Error | undefined)?.message ?? 'no even port found'}`, { cause: pair.error });
    this.#rtp = pair.rtp;
    this.#rtcp = pair.rtcp;
    this.#localPort = pair.port;
    // Network input never throws: socket errors (e.g. ICMP port unreachable) are counted and ignored.
    this.#rtp.on('error', () => { this.#counters.discarded++; });
    this.#rtcp.on('error', () => { this.#counters.discarded++; });
    this.#rtp.on('message', (msg, rinfo) => this.#onRtp(msg, rinfo));
    this.#rtcp.on('message', (msg, rinfo) => this.#onRtcp(msg, rinfo));
    this.#state = 'bound';
    return this.#localPort;
  }

  /** Starts sending and receiving towards the negotiated remote. */
  start(o: StartOptions): void {
    if (this.#state !== 'bound') throw new TvphoneError('ERR_MEDIA_STATE', `start() in state ${this.#state} (bind() first)`);
    const codec = codecOfPayloadType(o.payloadType);
    if (!codec) throw new TvphoneError('ERR_MEDIA_CODEC', `payload type ${o.payloadType} is not G.711 (0 or 8)`);
    this.#codec = codec;
    this.#payloadType = o.payloadType;
    this.#tePayloadType = o.telephoneEventPayloadType;
    this.#source = o.source ?? new SilenceSource();
    this.#sink = o.sink;
    this.updateRemote(o);
    this.setDirection(o.direction ?? 'sendrecv');
    this.#state = 'started';
    this.#startedAt = performance.now();
    this.#nextRtcpAt = this.#startedAt + this.#rtcpInterval();
    this.#schedule();
  }

  /** A re-INVITE moved the remote: new address/port (and optionally RTCP port). */
  updateRemote(o: { remoteIp: string; remotePort: number; remoteRtcpPort?: number }): void {
    this.#remote = { ip: o.remoteIp, port: o.remotePort, rtcpPort: o.remoteRtcpPort ?? o.remotePort + 1 };
  }

  /** Applies a negotiated direction: we send RTP only for sendrecv/sendonly, play out only for sendrecv/recvonly. */
  setDirection(direction: MediaDirection): void {
    const wasSending = this.#sending;
    this.#direction = direction;
    this.#sending = direction === 'sendrecv' || direction === 'sendonly';
    this.#receiving = direction === 'sendrecv' || direction === 'recvonly';
    // RFC 3551 §4.1: the marker bit flags the first packet after a silence period.
    if (this.#sending && !wasSending) this.#marker = true;
  }

  /** Hold: stop sending and playing out (RTCP continues). hold(false) restores the direction before the hold. */
  hold(on: boolean): void {
    if (on) {
      if (this.#directionBeforeHold === undefined) this.#directionBeforeHold = this.#direction;
      this.setDirection('inactive');
    } else if (this.#directionBeforeHold !== undefined) {
      this.setDirection(this.#directionBeforeHold);
      this.#directionBeforeHold = undefined;
    }
  }

  /**
   * Queues DTMF digits (0-9 * # A-D) as RFC 4733 events, 100 ms each with 50 ms gaps; they replace
   * the audio frames while they play. Throws if telephone-event was not negotiated.
   */
  sendDtmf(digits: string): void {
    if (this.#tePayloadType === undefined) throw new TvphoneError('ERR_MEDIA_DTMF', 'telephone-event was not negotiated');
    for (const d of digits) {
      telephoneEventPackets(d); // validates the digit
      if (this.#dtmfQueue.length >= MAX_DTMF_QUEUE) throw new TvphoneError('ERR_MEDIA_DTMF', `more than ${MAX_DTMF_QUEUE} digits queued`);
      this.#dtmfQueue.push(d);
    }
  }

  #rtcpInterval(): number {
    // RFC 3550 §6.3.1: the interval is randomised over [0.5, 1.5] × the computed interval.
    return this.#options.rtcpIntervalMs * (0.5 + Math.random());
  }

  /** Absolute-time scheduling: frame n is due at startedAt + 20·n ms, so timer lateness never accumulates. */
  #schedule(): void {
    if (this.#state !== 'started') return;
    const due = this.#startedAt + this.#frameIndex * FRAME_MS;
    this.#timer = setTimeout(() => this.#tick(), Math.max(0, due - performance.now()));
  }

  #tick(): void {
    if (this.#state !== 'started') return;
    const now = performance.now();
    let sentThisTick = 0;
    while (this.#startedAt + this.#frameIndex * FRAME_MS <= now) {
      if (sentThisTick >= MAX_CATCH_UP_FRAMES) {
        // Stalled for long: skip the missed frames (the timestamp still follows the clock, RFC 3550 §5.1).
        this.#frameIndex = Math.floor((now - this.#startedAt) / FRAME_MS) + 1;
        this.#marker = true;
        break;
      }
      this.#sendFrame();
      this.#frameIndex++;
      sentThisTick++;
    }
    this.#playout(now);
    if (now >= this.#nextRtcpAt) {
      this.#sendRtcp();
      this.#nextRtcpAt = now + this.#rtcpInterval();
    }
    this.#schedule();
  }

  #sendFrame(): void {
    const timestamp = (this.#ts0 + this.#frameIndex * FRAME_SAMPLES) >>> 0;
    const haveAudio = this.#source.read(this.#frame);
    if (!haveAudio && !this.#sourceEnded) { this.#sourceEnded = true; this.#emit('sourceEnded'); }
    if (!this.#sending || !this.#remote) { this.#dtmfPackets = []; return; }
    if (this.#dtmfPackets.length === 0 && this.#dtmfQueue.length > 0 && this.#tePayloadType !== undefined) {
      const digit = this.#dtmfQueue.shift() as string;
      // 100 ms tone, then ~50 ms of audio before the next digit (the 3 end packets take 60 ms).
      this.#dtmfPackets = telephoneEventPackets(digit, 100);
      this.#dtmfTimestamp = timestamp; // RFC 4733 §2.5.1.2: all packets of an event carry its start time
    }
    const dtmf = this.#dtmfPackets.shift();
    let bytes: Uint8Array;
    if (dtmf && this.#tePayloadType !== undefined) {
      bytes = this.#builder.build({ payloadType: this.#tePayloadType, marker: dtmf.marker, sequenceNumber: this.#seq, timestamp: this.#dtmfTimestamp, ssrc: this.ssrc, payload: dtmf.payload });
      this.#counters.dtmfPackets++;
    } else {
      const payload = encodeG711(this.#codec, this.#frame);
      bytes = this.#builder.build({ payloadType: this.#payloadType, marker: this.#marker, sequenceNumber: this.#seq, timestamp, ssrc: this.ssrc, payload });
      this.#marker = false;
      this.#counters.sentOctets += payload.length;
    }
    this.#seq = (this.#seq + 1) & 0xffff;
    this.#counters.sentPackets++;
    this.#sentSinceReport = true;
    this.#rtp?.send(bytes, this.#remote.port, this.#remote.ip);
  }

  #playout(now: number): void {
    const frames = this.#jitter.pop(now);
    for (const f of frames) {
      // a lost frame is one frame after the last one played
      this.#playedTs = f.kind === 'packet' ? f.packet.timestamp : this.#playedTs === undefined ? undefined : (this.#playedTs + FRAME_SAMPLES) >>> 0;
      if (!this.#sink || !this.#receiving) continue;
      const pcm = f.kind === 'packet' && f.packet.payloadType === this.#payloadType
        ? decodeG711(this.#codec, f.packet.payload)
        : new Int16Array(FRAME_SAMPLES); // lost frame or DTMF: silence
      try { this.#sink.write(pcm, this.#playedTs); } catch { /* a throwing sink must not stop the media clock */ }
    }
  }

  #fromRemote(address: string): boolean {
    // Symmetric RTP: accept media only from the address the SDP gave.
    return this.#remote !== undefined && address === this.#remote.ip;
  }

  #onRtp(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.#state !== 'started' || !this.#fromRemote(rinfo.address)) { this.#counters.discarded++; return; }
    const p = parseRtpPacket(msg);
    if (!p || (p.payloadType !== this.#payloadType && p.payloadType !== this.#tePayloadType)) { this.#counters.discarded++; return; }
    const now = performance.now();
    if (p.ssrc !== this.#remoteSsrc) {
      // A new source (first packet, or the remote restarted its stream): fresh statistics and buffer.
      this.#remoteSsrc = p.ssrc;
      this.#stats = new ReceptionStatistics(p.ssrc, p.sequenceNumber);
      this.#jitter = this.#newJitterBuffer();
      this.#lastSr = undefined;
      this.#remoteClock = undefined;
      this.#playedTs = undefined;
    }
    this.#counters.recvPackets++;
    this.#counters.recvOctets += p.payload.length;
    if (this.listenerCount('rtp') > 0) this.#emit('rtp', { ssrc: p.ssrc, sequenceNumber: p.sequenceNumber, timestamp: p.timestamp, payloadType: p.payloadType, arrivalMs: now });
    this.#stats?.update(p.sequenceNumber, p.timestamp, now);
    if (p.payloadType === this.#tePayloadType) {
      const digit = this.#teReceiver.receive(p.timestamp, p.payload);
      if (digit !== undefined) this.#emit('dtmf', digit);
    }
    // DTMF packets go through the buffer too: they hold sequence numbers, and play out as silence.
    this.#jitter.push({ sequenceNumber: p.sequenceNumber, timestamp: p.timestamp, payload: p.payload, marker: p.marker, payloadType: p.payloadType }, now);
  }

  #onRtcp(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.#state !== 'started' || !this.#fromRemote(rinfo.address)) { this.#counters.discarded++; return; }
    const items = parseRtcpCompound(msg);
    if (items.length === 0) { this.#counters.discarded++; return; }
    const nowUnix = performance.timeOrigin + performance.now();
    for (const it of items) {
      if (it.kind === 'sr' && it.ssrc === this.#remoteSsrc) {
        this.#lastSr = { middle32: ntpMiddle32(it.ntpSeconds, it.ntpFraction), arrivalMs: performance.now() };
        this.#remoteClock = senderClockOf(it, 8000);
      }
      if (it.kind === 'sr' || it.kind === 'rr') {
        const mine = it.reports.find((r) => r.ssrc === this.ssrc);
        if (mine) {
          const a = ntpFromUnixMs(nowUnix);
          const rtt = roundTripMs(ntpMiddle32(a.seconds, a.fraction), mine.lsr, mine.dlsr);
          this.#remoteReport = {
            fractionLost: mine.fractionLost / 256, cumulativeLost: mine.cumulativeLost, jitterMs: (mine.jitter * 1000) / 8000,
            ...(rtt !== undefined ? { rttMs: rtt } : this.#remoteReport?.rttMs !== undefined ? { rttMs: this.#remoteReport.rttMs } : {}),
            reports: (this.#remoteReport?.reports ?? 0) + 1,
          };
        }
      }
      if (it.kind === 'bye' && !this.#remoteBye) { this.#remoteBye = true; this.#emit('bye', it.reason); }
    }
  }

  #reportBlocks(): ReportBlock[] {
    if (!this.#stats || this.#remoteSsrc === undefined || this.#stats.received === 0) return [];
    const f = this.#stats.report();
    const lsr = this.#lastSr?.middle32 ?? 0;
    const dlsr = this.#lastSr ? Math.round(((performance.now() - this.#lastSr.arrivalMs) / 1000) * 65536) : 0;
    return [{ ssrc: this.#remoteSsrc, ...f, lsr, dlsr }];
  }

  #buildRtcp(bye?: { reason?: string }): Uint8Array {
    const nowUnix = performance.timeOrigin + performance.now();
    const ntp = ntpFromUnixMs(nowUnix);
    // §6.4.1: the SR's RTP timestamp corresponds to the same instant as the NTP timestamp.
    const rtpTs = (this.#ts0 + Math.round(((performance.now() - this.#startedAt) * 8000) / 1000)) >>> 0;
    const sender = this.#sentSinceReport
      ? { ntpSeconds: ntp.seconds, ntpFraction: ntp.fraction, rtpTimestamp: rtpTs, packetCount: this.#counters.sentPackets, octetCount: this.#counters.sentOctets }
      : undefined;
    this.#sentSinceReport = false;
    return buildRtcpCompound({ ssrc: this.ssrc, cname: this.cname, reports: this.#reportBlocks(), ...(sender ? { sender } : {}), ...(bye ? { bye } : {}) });
  }

  #sendRtcp(): void {
    if (!this.#remote || !this.#rtcp) return;
    this.#rtcp.send(this.#buildRtcp(), this.#remote.rtcpPort, this.#remote.ip);
  }

  #emit<K extends keyof MediaSessionEvents>(event: K, ...args: MediaSessionEvents[K]): void {
    // A throwing listener must not corrupt the session's state.
    try { (this.emit as (e: K, ...a: MediaSessionEvents[K]) => boolean)(event, ...args); } catch { /* ignored */ }
  }

  /** Statistics so far (also returned by stop()). */
  stats(): MediaStats {
    const jb = this.#jitter.stats();
    return {
      durationMs: this.#startedAt ? performance.now() - this.#startedAt : 0,
      ...(this.#state === 'started' || this.#state === 'stopped' ? { codec: this.#codec } : {}),
      sent: { packets: this.#counters.sentPackets, octets: this.#counters.sentOctets, dtmfPackets: this.#counters.dtmfPackets },
      received: {
        packets: this.#counters.recvPackets, octets: this.#counters.recvOctets,
        lost: Math.max(0, this.#stats?.cumulativeLost ?? 0), jitterMs: this.#stats?.jitterMs ?? 0,
        duplicates: jb.duplicates, late: jb.late, concealed: jb.lost, discarded: this.#counters.discarded,
      },
      ...(this.#remoteReport ? { remote: { ...this.#remoteReport } } : {}),
      remoteBye: this.#remoteBye,
    };
  }

  /** Stops the stream: a final RTCP report with BYE (RFC 3550 §6.6), then closes both sockets. Idempotent. */
  stop(reason = 'hangup'): Promise<MediaStats> {
    if (this.#stopping) return this.#stopping;
    this.#stopping = (async () => {
      if (this.#timer) clearTimeout(this.#timer);
      const wasStarted = this.#state === 'started';
      if (wasStarted && this.#remote && this.#rtcp) {
        const bytes = this.#buildRtcp({ reason });
        const rtcp = this.#rtcp;
        const remote = this.#remote;
        await new Promise<void>((resolve) => { try { rtcp.send(bytes, remote.rtcpPort, remote.ip, () => resolve()); } catch { resolve(); } });
      }
      const stats = this.stats();
      this.#state = 'stopped';
      await Promise.all([closeSocket(this.#rtp), closeSocket(this.#rtcp)]);
      return stats;
    })();
    return this.#stopping;
  }
}
