// Calls of the TV agent (RFC 3261 §13-§15, RFC 3264): one call at a time, placed (INVITE with an SDP offer) or
// answered (180, then 200 on a key or at once), held and resumed by re-INVITE, ended by BYE or CANCEL, with
// G.711 audio from the media session (media/), and H.264 video (media/video-session.ts, ffmpeg encoding and
// recording) when --video or --record-video asks for it and both sides negotiate it — from the start, or added and
// removed later by re-INVITE (RFC 3264 §8.1, §8.2). A spare bound RTP port waits for the next call. Dead calls end
// by themselves: an outgoing call rings at most ringTimeoutMs (then CANCEL), a call with no RTP or RTCP from the
// peer for mediaTimeoutMs is hung up, and RFC 4028 session timers (dialog/session-timer.ts) refresh the session by
// re-INVITE or send BYE when the refresh fails or never comes.
// SIP.js calls this part the SessionManager.
import { writeFile, readFile } from 'node:fs/promises';
import type { TimerHandle } from '../../clock.ts';
import { Dialog } from '../../dialog/dialog.ts';
import {
  addUacHeaders, addUasHeaders, parseMinSe, SessionTimer, uacNegotiated, uasNegotiate, type SessionInterval,
} from '../../dialog/session-timer.ts';
import { SipError, TvphoneError } from '../../errors.ts';
import { PcmRecorder, PcmSource, ToneSource, type AudioSource } from '../../media/audio-io.ts';
import { toTelephonyPcm } from '../../media/resample.ts';
import { MediaSession, type MediaStats } from '../../media/rtp-session.ts';
import { LocalMedia, parseVideo, type MediaDirection, type Negotiated, type NegotiatedVideo, type VideoCodecName } from '../../media/sdp.ts';
import { envHasDisplay } from '../../config/env.ts';
import { checkFfmpeg, VideoEncoder, VideoPlayer, VideoRecorder, DEFAULT_VIDEO_FORMAT } from '../../media/ffmpeg.ts';
import { sumVideoStats, VideoSession, videoRtpCodecOf, type VideoStats } from '../../media/video-session.ts';
import { readWav } from '../../media/wav.ts';
import { newCallId, newTag } from '../../sip/ids.ts';
import { SipRequest, type SipResponse } from '../../sip/message.ts';
import { createResponse } from '../../sip/response.ts';
import type { ServerTransaction } from '../../transaction/server-transaction.ts';
import type { CallEndReason } from '../events.ts';
import { delay, type AgentContext } from './context.ts';
import { userOf } from './user-of.ts';

interface Call {
  callId: string;
  peer: string;
  direction: 'in' | 'out';
  state: 'ringing' | 'active' | 'ended';
  media: MediaSession;
  local: LocalMedia;
  recorder: PcmRecorder | null;
  dialog: Dialog | null;
  /** incoming: the INVITE server transaction while ringing */
  st: ServerTransaction | null;
  offer: string | null;
  /** outgoing: the INVITE as sent, for CANCEL */
  invite: SipRequest | null;
  provisional: boolean;
  cancelWanted: boolean;
  startedAt: number;
  held: boolean;
  /** on hold by us (our offers say sendonly) */
  heldLocal: boolean;
  /** outgoing: the ring timeout fired (the CANCEL is ours, the reason no-answer) */
  noAnswer: boolean;
  ringTimer: TimerHandle | null;
  /** the RTP/RTCP inactivity check, and the last time the peer sent anything */
  mediaTimer: TimerHandle | null;
  /** the next video-stats, while a video stream runs */
  videoStatsTimer: TimerHandle | null;
  lastActivity: { at: number; count: number };
  /** RFC 4028 */
  session: SessionTimer | null;
  /** incoming: the interval settled for our 2xx (§9) */
  uasInterval: SessionInterval | null;
  /** the video stream's port pair (bound when we do video), and its ffmpeg children once it runs */
  video: VideoSession | null;
  encoder: VideoEncoder | null;
  videoRecorder: VideoRecorder | null;
  /** --show-video: ffplay showing what is received */
  videoPlayer: VideoPlayer | null;
  /** the video as negotiated last: what we send and receive now, its codec and the peer's limit */
  videoFlow: { sending: boolean; receiving: boolean; codec: VideoCodecName; bitrateKbps?: number } | null;
  /** frames given to the video session, and when the first was (timestamps follow the clock across a camera pause) */
  videoFrames: number;
  videoT0: number;
  /** the figures of the call's video streams removed so far (RFC 3264 §8.2), and the codec the recorder was started with */
  videoStats: VideoStats | null;
  recorderCodec: VideoCodecName | null;
  /** ffmpeg children started one after the other, in the order the offers and answers came; those being stopped */
  videoOps: Promise<void>;
  videoStops: Set<Promise<void>>;
  /** RFC 3261 §14: our re-INVITE is waiting for its final response; we are answering one (a port pair being bound) */
  reInviting: boolean;
  answering: boolean;
}

/** how often a running video stream's figures are told (video-stats) */
const VIDEO_STATS_MS = 2_000;

/**
 * RFC 3261 §14.1: after a 491 "if the UAC is the owner of the Call-ID of the dialog ID ... T has a randomly chosen
 * value between 2.1 and 4 seconds in units of 10 ms"; if not, "between 0 and 2 seconds in units of 10 ms".
 */
export function glareWaitMs(ownsCallId: boolean, random: () => number = Math.random): number {
  return ownsCallId ? 2_100 + 10 * Math.floor(random() * 191) : 10 * Math.floor(random() * 201);
}

export const ALLOW = 'INVITE, ACK, CANCEL, BYE, UPDATE, OPTIONS, MESSAGE, NOTIFY';

export class SessionManager {
  readonly #ctx: AgentContext;
  /** the bound RTP port waiting for the next call */
  #media: MediaSession | null = null;
  #call: Call | null = null;
  /** the `play` file as 8 kHz PCM */
  #audio: Int16Array | null = null;
  /** dial() is taking its media port (the call does not exist yet): set, a second dial or an INVITE is refused */
  #dialing: { aborted: boolean } | null = null;
  /** BYEs sent and not yet answered */
  readonly #pendingByes = new Set<Promise<void>>();

  constructor(ctx: AgentContext) {
    this.#ctx = ctx;
  }

  get inCall(): boolean {
    return this.#call !== null;
  }

  /** Read the `play` file and bind the first RTP port (before registering: RFC 3261 §10.2 names a ready Contact). */
  async start(): Promise<void> {
    const o = this.#ctx.options;
    if (o.play !== undefined) this.#audio = toTelephonyPcm(readWav(await readFile(o.play)));
    // video is done by ffmpeg: say at once when it is missing, not at the first call
    if (o.video !== undefined || o.recordVideo !== undefined) await checkFfmpeg();
    if (o.showVideo) {
      if (!envHasDisplay()) throw new TvphoneError('ERR_NO_DISPLAY', '--show-video needs a display: DISPLAY and WAYLAND_DISPLAY are not set (or name an SDL_VIDEODRIVER)');
      await checkFfmpeg('ffplay');
    }
    this.#media = await this.#newMedia();
  }

  /** Hang up the call in progress (stop() of the agent). */
  async endAll(): Promise<void> {
    const call = this.#call;
    if (call === null) return;
    try {
      await this.hangup();
      if (call.state !== 'ended') await this.#endCall(call, 'local-hangup');
    } catch (err) {
      this.#ctx.error(err);
    }
    // give the BYE a moment to be answered (the peer has it; a lost one is the peer's media timeout to find)
    if (this.#pendingByes.size > 0) await Promise.race([Promise.all(this.#pendingByes), delay(this.#ctx.clock, 2_000)]);
  }

  /** Release the spare RTP port. */
  async close(): Promise<void> {
    if (this.#media !== null) await this.#media.stop();
    this.#media = null;
  }

  async #newMedia(): Promise<MediaSession> {
    const m = new MediaSession({ localIp: this.#ctx.options.localIp, rtcpIntervalMs: this.#ctx.options.rtcpIntervalMs });
    await m.bind();
    return m;
  }

  /** We receive video to show it (--show-video) or record it (--record-video). */
  #showsOrRecords(): boolean {
    return this.#ctx.options.recordVideo !== undefined || this.#ctx.options.showVideo === true;
  }

  /** The video direction we want: we send with --video, receive with --record-video or --show-video (null: no video). */
  #videoDirection(): MediaDirection | null {
    const o = this.#ctx.options;
    const send = o.video !== undefined;
    const recv = this.#showsOrRecords();
    return send && recv ? 'sendrecv' : send ? 'sendonly' : recv ? 'recvonly' : null;
  }

  async #newVideo(): Promise<VideoSession | null> {
    if (this.#videoDirection() === null) return null;
    const v = new VideoSession({ localIp: this.#ctx.options.localIp, rtcpIntervalMs: this.#ctx.options.rtcpIntervalMs });
    await v.bind();
    return v;
  }

  #localMedia(media: MediaSession, video: VideoSession | null): LocalMedia {
    const direction = this.#videoDirection();
    const o = this.#ctx.options;
    const bw = o.videoBandwidthKbps !== undefined ? { bandwidthKbps: o.videoBandwidthKbps } : {};
    // an agent that does video has video options even with no port pair (port 0: no m=video, or one at port 0)
    return new LocalMedia({ ip: o.localIp, port: media.localPort, ...(direction ? { video: { port: video?.localPort ?? 0, direction, codecs: o.videoCodecs, ...bw } } : {}) });
  }

  /** RFC 3264 §6.1: we send when our SDP and the peer's both allow it (and we have a camera), receive likewise. */
  #videoFlowOf(nv: NonNullable<Negotiated['video']>): { sending: boolean; receiving: boolean } {
    const o = this.#ctx.options;
    const ours = nv.direction;
    const r = nv.remote.direction;
    return {
      sending: o.video !== undefined && (ours === 'sendrecv' || ours === 'sendonly') && (r === 'sendrecv' || r === 'recvonly'),
      receiving: this.#showsOrRecords() && (ours === 'sendrecv' || ours === 'recvonly') && (r === 'sendrecv' || r === 'sendonly'),
    };
  }

  async #startEncoder(call: Call, v: VideoSession): Promise<void> {
    const o = this.#ctx.options;
    const f = call.videoFlow;
    // the stream was removed, or the camera turned off again, before our turn came
    if (o.video === undefined || f === null || call.video !== v || !f.sending || call.encoder !== null || call.state !== 'active') return;
    const enc = new VideoEncoder({ source: o.video, codec: f.codec, ...(f.bitrateKbps !== undefined ? { bitrateKbps: f.bitrateKbps } : {}) });
    call.encoder = enc;
    const fps = enc.format.fps;
    // after a pause (camera off), the frames go on from where the clock is, not from where they stopped
    if (call.videoFrames > 0) call.videoFrames = Math.max(call.videoFrames, Math.round(((this.#ctx.clock.now() - call.videoT0) * fps) / 1000));
    enc.on('accessUnit', (units) => {
      if (call.videoFrames === 0) call.videoT0 = this.#ctx.clock.now();
      v.sendAccessUnit(units, (call.videoFrames++ * 1000) / fps);
    });
    enc.on('error', (err) => this.#ctx.error(err));
    await enc.start();
  }

  async #startRecorder(call: Call): Promise<void> {
    const o = this.#ctx.options;
    if (call.videoFlow === null || call.state !== 'active') return;
    // one file (and one window) a call: a stream added again later is written on in it (its frames, the pause left out)
    if (o.showVideo && call.videoPlayer === null) {
      const player = new VideoPlayer(`tvphone: ${call.peer}`, { fps: DEFAULT_VIDEO_FORMAT.fps, codec: call.videoFlow.codec });
      call.videoPlayer = player;
      call.recorderCodec = call.videoFlow.codec;
      await player.start();
    }
    if (o.recordVideo === undefined || call.videoRecorder !== null) return;
    const rec = new VideoRecorder(o.recordVideo, { fps: DEFAULT_VIDEO_FORMAT.fps, codec: call.videoFlow.codec });
    call.videoRecorder = rec;
    call.recorderCodec = call.videoFlow.codec;
    await rec.start();
  }

  /** ffmpeg children are started in order, one at a time; a failure is reported and the call goes on. */
  #queueVideo(call: Call, op: () => Promise<void>): void {
    call.videoOps = call.videoOps.then(op).catch((err: unknown) => this.#ctx.error(err));
  }

  /**
   * Stopping a child (or a stream) goes on beside the starts, not before them: ffmpeg may take its 2 s of grace to
   * exit, and the camera turned on again meanwhile should not wait for that.
   */
  #stopAside(call: Call, stop: () => Promise<void>): void {
    const p = stop().catch((err: unknown) => this.#ctx.error(err));
    call.videoStops.add(p);
    void p.finally(() => call.videoStops.delete(p));
  }

  /**
   * A new offer/answer (the first, or a re-INVITE's, either way) for the video:
   * - RFC 3264 §8.1, a stream added (or the first answer): the RTP session starts, ffmpeg encodes when we send and
   *   records when we receive; video-started;
   * - §8.2, the stream removed (port 0 in the offer or the answer, or refused at the start): its session and encoder
   *   stop, its m-line stays at port 0 in later offers; video-stopped (not when it never ran);
   * - a new direction (our camera or the peer's turned off or on, a=inactive): the encoder stops or starts again, the
   *   recorder starts when video first comes; video-changed.
   * The state changes at once; the ffmpeg children start in order (#queueVideo) and stop aside (#stopAside).
   */
  #applyVideo(call: Call, nv: NegotiatedVideo | undefined, by: 'local' | 'remote'): void {
    const v = call.video;
    if (v === null || call.state !== 'active') return;
    if (nv === undefined) {
      call.local.rejectVideo();
      call.video = null;
      const flow = call.videoFlow;
      call.videoFlow = null;
      const enc = call.encoder;
      call.encoder = null;
      if (enc !== null) this.#stopAside(call, () => enc.stop());
      this.#stopAside(call, async () => {
        const stats = await v.stop();
        if (flow === null) return; // refused at once: it never ran
        call.videoStats = call.videoStats === null ? stats : sumVideoStats(call.videoStats, stats);
        this.#ctx.emit('video-stopped', { callId: call.callId, by, video: stats });
      });
      return;
    }
    const prev = call.videoFlow;
    if (prev === null) return this.#startVideo(call, v, nv);
    const flow = this.#videoFlowOf(nv);
    v.updateRemote({ remoteIp: nv.remote.ip, remotePort: nv.remote.port, remoteRtcpPort: nv.remote.rtcpPort });
    v.setDirection(flow.sending && flow.receiving ? 'sendrecv' : flow.sending ? 'sendonly' : flow.receiving ? 'recvonly' : 'inactive');
    if (flow.sending === prev.sending && flow.receiving === prev.receiving) return;
    call.videoFlow = { ...prev, ...flow };
    this.#ctx.emit('video-changed', { callId: call.callId, ...flow });
    const enc = !flow.sending ? call.encoder : null;
    if (enc !== null) {
      call.encoder = null;
      this.#stopAside(call, () => enc.stop());
    }
    this.#queueVideo(call, async () => {
      if (flow.sending) await this.#startEncoder(call, v);
      if (flow.receiving) await this.#startRecorder(call);
    });
  }

  /**
   * Turn our camera off or on in the call (key c): a re-INVITE whose video says recvonly (inactive when we do not
   * receive video) or, on again, what we did at first (RFC 3264 §8.4's directions, for one stream). False when the
   * call has no video we send, or the peer refused the re-INVITE (the camera stays as it was).
   */
  async camera(on: boolean): Promise<boolean> {
    const call = this.#call;
    const wanted = this.#videoDirection();
    if (call === null || call.state !== 'active' || call.dialog === null || call.videoFlow === null || wanted === null || this.#ctx.options.video === undefined) return false;
    const direction: MediaDirection = on ? wanted : wanted === 'sendrecv' ? 'recvonly' : 'inactive';
    const before = call.local.options.video?.direction;
    call.local.setVideoDirection(direction);
    const res = await this.#reInvite(call, call.heldLocal ? 'sendonly' : 'sendrecv', call.session?.current?.interval ?? this.#ctx.options.sessionExpires);
    if (res.status < 200 || res.status >= 300) {
      if (before !== undefined) call.local.setVideoDirection(before);
      return false;
    }
    return true;
  }

  /**
   * Add a video stream to the call (key v; RFC 3264 §8.1): a port pair, and a re-INVITE whose offer has an m=video line
   * — in the slot of the one removed before, else after the others. True when the answer takes it (video-started);
   * an answer with port 0 refuses it and the call goes on with audio. RFC 3261 §14.1: after a 491 the re-INVITE is
   * sent once more after the random wait, if there is still no video (the peer may have added it meanwhile); any other
   * failure keeps the session as it was (RFC 3264 §8: the offer is void).
   */
  async addVideo(): Promise<boolean> {
    const wanted = this.#videoDirection();
    for (let attempt = 0; ; attempt++) {
      const call = this.#call;
      if (call === null || call.state !== 'active' || call.dialog === null || wanted === null) return false;
      if (call.video !== null) return attempt > 0 && call.videoFlow !== null;
      const v = (await this.#newVideo())!;
      if (this.#call !== call || call.state !== 'active' || call.video !== null) {
        await v.stop(); // hung up, or the peer added video while we bound the port pair
        return call.videoFlow !== null;
      }
      call.video = v;
      call.local.enableVideo(v.localPort, wanted);
      const res = await this.#reInvite(call, call.heldLocal ? 'sendonly' : 'sendrecv', call.session?.current?.interval ?? this.#ctx.options.sessionExpires);
      if (res.status >= 200 && res.status < 300) return call.video === v && call.videoFlow !== null;
      if (call.video === v) {
        // the peer's offer, answered while ours was on its way, took our port pair: the video is there
        if (call.videoFlow !== null) return true;
        call.video = null;
        call.local.rejectVideo();
      }
      await v.stop();
      if (res.status !== 491 || attempt > 0) return false;
      await delay(this.#ctx.clock, glareWaitMs(call.direction === 'out'));
    }
  }

  /**
   * Remove the call's video stream (key v; RFC 3264 §8.2): a re-INVITE whose offer has the m=video line at port 0;
   * on its 2xx the video session and ffmpeg's children stop (video-stopped) and the audio goes on. 491: once more after
   * the random wait (RFC 3261 §14.1); any other failure: the video goes on as it was.
   */
  async removeVideo(): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      const call = this.#call;
      if (call === null || call.state !== 'active' || call.dialog === null) return false;
      const before = call.local.options.video;
      if (call.video === null || call.videoFlow === null || before === undefined) return attempt > 0;
      const { port, direction } = before;
      call.local.rejectVideo();
      const res = await this.#reInvite(call, call.heldLocal ? 'sendonly' : 'sendrecv', call.session?.current?.interval ?? this.#ctx.options.sessionExpires);
      if (res.status >= 200 && res.status < 300) return true;
      if (call.video !== null) call.local.enableVideo(port, direction);
      if (res.status !== 491 || attempt > 0) return false;
      await delay(this.#ctx.clock, glareWaitMs(call.direction === 'out'));
    }
  }

  /** Whether the call in progress has a video stream (key v adds or removes it). */
  get hasVideo(): boolean {
    return this.#call?.videoFlow != null;
  }

  /** Whether our camera is off in the call in progress (key c turned it off). */
  get cameraOff(): boolean {
    const d = this.#call?.local.options.video?.direction;
    return d === 'recvonly' || d === 'inactive';
  }

  /**
   * Both sides negotiated video: the RTP session starts, ffmpeg encodes when we send and records when we receive.
   * A PLI or FIR from the peer (RFC 4585 §6.3.1, RFC 5104 §4.3.1) gets a keyframe from the next picture on: the encoder
   * switches to its waiting ffmpeg, whose first picture is one (VideoEncoder.requestKeyframe); the same RTP session
   * sends it, its SSRC, sequence numbers and frame-count timestamps going on.
   */
  #startVideo(call: Call, v: VideoSession, nv: NegotiatedVideo): void {
    const r = nv.remote;
    const { sending, receiving } = this.#videoFlowOf(nv);
    v.start({
      remoteIp: r.ip, remotePort: r.port, remoteRtcpPort: r.rtcpPort, payloadType: nv.payloadType,
      direction: sending && receiving ? 'sendrecv' : sending ? 'sendonly' : receiving ? 'recvonly' : 'inactive',
      codec: videoRtpCodecOf(r.codec), feedback: r.feedback,
    });
    v.on('keyframeRequested', () => { if (call.video === v) call.encoder?.requestKeyframe(); });
    let told = false;
    v.on('accessUnit', (u) => {
      const rec = call.videoRecorder;
      const player = call.videoPlayer;
      if (rec === null && player === null) return;
      if (call.recorderCodec === r.codec) {
        rec?.write(u.nals);
        player?.write(u.nals);
        return;
      }
      if (!told) this.#ctx.error(new TvphoneError('ERR_VIDEO_RECORDING', `the video added again is ${r.codec}, the recording ${String(call.recorderCodec)}: not recorded`));
      told = true;
    });
    // a new stream: a new SSRC and timestamp origin, frames counted from 0
    call.videoFrames = 0;
    // RFC 3890 / RFC 4566 §5.8: we send no more than the remote's b=TIAS or b=AS says it takes
    const bitrateKbps = r.bandwidthKbps;
    call.videoFlow = { sending, receiving, codec: r.codec, ...(bitrateKbps !== undefined ? { bitrateKbps } : {}) };
    this.#ctx.emit('video-started', {
      callId: call.callId, codec: r.codec, payloadType: nv.payloadType, ...(r.profileLevelId !== undefined ? { profileLevelId: r.profileLevelId } : {}),
      sending, receiving, remoteRtp: `${r.ip}:${r.port}`, feedback: r.feedback, ...(bitrateKbps !== undefined ? { bitrateKbps } : {}),
    });
    this.#queueVideo(call, async () => {
      if (receiving) await this.#startRecorder(call);
      if (sending) await this.#startEncoder(call, v);
    });
    this.#watchVideo(call, v);
  }

  /** Every VIDEO_STATS_MS while this stream runs: video-stats, what the call screen shows of it. */
  #watchVideo(call: Call, v: VideoSession): void {
    const clock = this.#ctx.clock;
    if (call.videoStatsTimer !== null) clock.clear(call.videoStatsTimer);
    const tick = (): void => {
      call.videoStatsTimer = null;
      if (call.video !== v || call.state !== 'active') return; // the stream was removed, or the call is over
      const flow = call.videoFlow;
      const st = v.stats();
      const rx = v.receiving();
      this.#ctx.emit('video-stats', {
        callId: call.callId, sending: flow?.sending ?? false, receiving: flow?.receiving ?? false, ...rx,
        sentFrames: st.sent.frames, receivedFrames: st.received.frames, lost: st.received.lost, recovered: st.recoveredPackets,
      });
      call.videoStatsTimer = clock.set(tick, VIDEO_STATS_MS, undefined);
    };
    call.videoStatsTimer = clock.set(tick, VIDEO_STATS_MS, undefined);
  }

  /** The call ended: every ffmpeg child of it stops; the figures of all its video streams, added up. */
  async #stopVideo(call: Call): Promise<(VideoStats & { recordedVideo?: string }) | undefined> {
    await call.videoOps; // an encoder or recorder still starting is one to stop
    await Promise.all(call.videoStops); // and a stream removed just before counts
    const { video, encoder, videoRecorder, videoPlayer } = call;
    if (call.videoStatsTimer !== null) this.#ctx.clock.clear(call.videoStatsTimer);
    call.videoStatsTimer = null;
    call.encoder = call.videoRecorder = null;
    call.videoPlayer = null;
    call.video = null;
    await encoder?.stop();
    const last = video !== null ? await video.stop() : undefined;
    await Promise.all([videoRecorder?.stop(), videoPlayer?.stop()]);
    const stats = last !== undefined && call.videoStats !== null ? sumVideoStats(call.videoStats, last) : last ?? call.videoStats ?? undefined;
    if (stats === undefined) return undefined;
    return { ...stats, ...(videoRecorder !== null && videoRecorder.units > 0 ? { recordedVideo: videoRecorder.file } : {}) };
  }

  #source(): AudioSource {
    return this.#audio !== null ? new PcmSource(this.#audio, { loop: true }) : new ToneSource({ frequency: this.#ctx.options.toneHz });
  }

  async #takeMedia(): Promise<MediaSession> {
    const m = this.#media ?? await this.#newMedia();
    this.#media = null;
    return m;
  }

  /** An INVITE outside a dialog: 486 when busy (one call at a time), else ring (180) and answer now or on a key. */
  async onInvite(req: SipRequest, st: ServerTransaction): Promise<void> {
    if (this.#call !== null || this.#dialing !== null) return void st.respond(createResponse(req, 486));
    const offer = req.body.length > 0 ? new TextDecoder().decode(req.body) : null;
    if (offer === null) return void st.respond(createResponse(req, 488, 'Offer Required'));
    const o = this.#ctx.options;
    const timer = uasNegotiate(req, { interval: o.sessionExpires, minSe: o.minSe });
    if ('reject' in timer) {
      // RFC 4028 §9: an interval below our Min-SE gets 422 with the Min-SE we take
      const res = createResponse(req, 422, 'Session Interval Too Small');
      res.addHeader('Min-SE', String(timer.minSe));
      return void st.respond(res);
    }
    const media = await this.#takeMedia();
    if (this.#call !== null || this.#dialing !== null) {
      if (this.#media === null && !this.#ctx.stopped) this.#media = media;
      else await media.stop();
      return void st.respond(createResponse(req, 486));
    }
    const video = await this.#newVideo();
    const tag = newTag();
    const dialog = Dialog.asUas(req, tag, 'early');
    const call: Call = {
      callId: req.callId, peer: userOf(req.header('from') ?? ''), direction: 'in', state: 'ringing', media,
      local: this.#localMedia(media, video), recorder: this.#ctx.options.record ? new PcmRecorder() : null,
      dialog, st, offer, invite: null, provisional: true, cancelWanted: false, startedAt: this.#ctx.clock.now(), held: false,
      heldLocal: false, noAnswer: false, ringTimer: null, mediaTimer: null, lastActivity: { at: 0, count: 0 }, session: null, uasInterval: null,
      video, encoder: null, videoRecorder: null, videoPlayer: null, videoStatsTimer: null, videoFlow: null, videoFrames: 0, videoT0: 0,
      videoStats: null, recorderCodec: null, videoOps: Promise.resolve(), videoStops: new Set(), reInviting: false, answering: false,
    };
    call.uasInterval = timer;
    this.#call = call;
    const ringing = createResponse(req, 180, undefined, tag);
    ringing.addHeader('Contact', `<${this.#ctx.contact}>`);
    for (const rr of req.fields('record-route')) ringing.addHeader('Record-Route', rr.value);
    st.respond(ringing);
    this.#ctx.emit('call-incoming', { callId: call.callId, from: call.peer });
    if (this.#ctx.options.autoAnswer) this.answer();
  }

  /** Answer the ringing call (key a, or --auto-answer): 200 with our SDP answer, retransmitted until ACK. */
  answer(): boolean {
    const call = this.#call;
    const core = this.#ctx.core;
    if (call === null || core === null || call.direction !== 'in' || call.state !== 'ringing' || call.st === null || call.dialog === null || call.offer === null) return false;
    const st = call.st;
    let neg: Negotiated;
    try {
      neg = call.local.createAnswer(call.offer);
    } catch (err) {
      st.respond(createResponse(st.request, err instanceof SipError ? err.status : 488));
      void this.#endCall(call, 'error', err instanceof SipError ? err.status : 488);
      return false;
    }
    const res = createResponse(st.request, 200, undefined, call.dialog.localTag);
    for (const rr of st.request.fields('record-route')) res.addHeader('Record-Route', rr.value);
    res.addHeader('Contact', `<${this.#ctx.contact}>`);
    res.addHeader('Allow', ALLOW);
    if (call.uasInterval !== null) addUasHeaders(res, call.uasInterval);
    res.addHeader('Content-Type', 'application/sdp');
    res.body = new TextEncoder().encode(neg.sdp);
    call.dialog.confirm();
    core.addDialog(call.dialog);
    core.respond2xx(st, res, call.dialog);
    call.st = null;
    this.#startMedia(call, neg);
    if (call.uasInterval !== null) this.#startSession(call, call.uasInterval.interval, call.uasInterval.refresher === 'uas');
    return true;
  }

  #startMedia(call: Call, neg: Omit<Negotiated, 'sdp'>): void {
    call.state = 'active';
    call.startedAt = this.#ctx.clock.now();
    // RFC 4733: digits the peer sends as telephone-events
    call.media.on('dtmf', (digit) => this.#ctx.emit('dtmf', { callId: call.callId, digit }));
    call.media.start({
      remoteIp: neg.remote.ip, remotePort: neg.remote.port, remoteRtcpPort: neg.remote.rtcpPort, payloadType: neg.payloadType,
      telephoneEventPayloadType: neg.telephoneEventPayloadType, source: this.#source(), sink: call.recorder ?? undefined,
      direction: neg.direction === 'sendrecv' && neg.remote.onHold ? 'recvonly' : neg.direction,
    });
    this.#watchMedia(call);
    this.#ctx.emit('call-answered', { callId: call.callId, peer: call.peer, codec: neg.codec, direction: neg.direction, remoteRtp: `${neg.remote.ip}:${neg.remote.port}` });
    this.#applyVideo(call, neg.video, 'remote');
  }

  /**
   * No RTP and no RTCP from the peer for mediaTimeoutMs: the peer is gone (crashed, unplugged, the path lost) and
   * no BYE will come — hang up. Not while the call is on hold (a held peer may send nothing).
   */
  #watchMedia(call: Call): void {
    const limit = this.#ctx.options.mediaTimeoutMs;
    if (limit <= 0) return;
    const clock = this.#ctx.clock;
    call.lastActivity = { at: clock.now(), count: 0 };
    const check = (): void => {
      call.mediaTimer = null;
      if (call.state !== 'active') return;
      const st = call.media.stats();
      const count = st.received.packets + (st.remote?.reports ?? 0);
      const now = clock.now();
      if (count !== call.lastActivity.count || call.held) call.lastActivity = { at: now, count };
      else if (now - call.lastActivity.at >= limit) return void this.#drop(call, 'no-media');
      call.mediaTimer = clock.set(check, Math.min(1_000, limit / 4), undefined);
    };
    call.mediaTimer = clock.set(check, Math.min(1_000, limit / 4), undefined);
  }

  /** RFC 4028 §10: refresh at half the interval when we are the refresher, else expect a refresh before it runs out. */
  #startSession(call: Call, interval: number, weRefresh: boolean): void {
    call.session ??= new SessionTimer(this.#ctx.clock, {
      refresh: () => void this.#refresh(call),
      // §10: "If no refresh is received before the session expires, the UA SHOULD send a BYE"
      expired: () => void this.#drop(call, 'session-expired'),
    });
    call.session.start(interval, weRefresh);
  }

  /** RFC 4028 §7.4: a session refresh is a re-INVITE with the SDP in force (no change of media). */
  async #refresh(call: Call): Promise<void> {
    const core = this.#ctx.core;
    const cur = call.session?.current;
    if (core === null || call.state !== 'active' || call.dialog === null || cur === undefined || cur === null) return;
    const direction: MediaDirection = call.heldLocal ? 'sendonly' : 'sendrecv';
    const out = await this.#reInvite(call, direction, cur.interval);
    if (call.state !== 'active') return;
    const st = out.status;
    if (st >= 200 && st < 300) return;
    // §10: a refresh that gets 408 or 481 (or no answer at all: our transport error) ends the session
    if (st === 408 || st === 481 || st === 503) return void this.#drop(call, 'session-expired');
    call.session?.start(cur.interval, true); // another failure (491, 500 …): the session goes on; try again later
  }

  /** A re-INVITE in the call's dialog with our offer and the session-timer headers; on 2xx the media and timer follow. */
  async #reInvite(call: Call, direction: MediaDirection, interval: number): Promise<SipResponse> {
    const core = this.#ctx.core!;
    const o = this.#ctx.options;
    const d = call.dialog!;
    // whether our offer still has the video: if it has and the answer has not, the peer refused it
    const videoOffered = call.local.videoEnabled;
    const req = d.createRequest('INVITE', { body: new TextEncoder().encode(call.local.createOffer(direction)) });
    req.addHeader('Contact', `<${this.#ctx.contact}>`);
    req.addHeader('Allow', ALLOW);
    addUacHeaders(req, interval, o.minSe, 'uac');
    call.reInviting = true;
    let out: Awaited<ReturnType<typeof core.invite>>;
    try {
      out = await core.invite(req, { dialog: d });
      const minSe = out.response.status === 422 ? parseMinSe(out.response) : null;
      if (minSe !== null && minSe > interval && call.state === 'active') {
        // RFC 4028 §7.3: 422: retry once with the peer's Min-SE
        const again = d.createRequest('INVITE', { body: new TextEncoder().encode(call.local.createOffer(direction)) });
        again.addHeader('Contact', `<${this.#ctx.contact}>`);
        addUacHeaders(again, minSe, minSe, 'uac');
        out = await core.invite(again, { dialog: d });
        interval = minSe;
      }
    } finally {
      call.reInviting = false;
    }
    const res = out.response;
    if (res.status >= 200 && res.status < 300 && call.state === 'active') {
      try {
        const neg = call.local.acceptAnswer(new TextDecoder().decode(res.body), direction);
        call.media.updateRemote({ remoteIp: neg.remote.ip, remotePort: neg.remote.port, remoteRtcpPort: neg.remote.rtcpPort });
        call.media.setDirection(direction);
        this.#applyVideo(call, neg.video, videoOffered ? 'remote' : 'local');
      } catch (err) {
        this.#ctx.error(err);
      }
      const s = uacNegotiated(res, interval);
      this.#startSession(call, s.interval, s.refresher === 'uac');
    }
    return res;
  }

  /** End a dead call: BYE (not waited for) and call-ended with the reason. */
  async #drop(call: Call, reason: CallEndReason): Promise<void> {
    if (call.state !== 'active') return;
    this.#bye(call);
    await this.#endCall(call, reason);
  }

  /**
   * Place a call to a user of our server (RFC 3261 §13.2.1: INVITE with an SDP offer). `video: false` makes it a voice
   * call (no m=video, whatever --video says; addVideo() can add it later).
   */
  async dial(user: string, o: { video?: boolean } = {}): Promise<boolean> {
    const core = this.#ctx.core;
    if (core === null || this.#call !== null || this.#dialing !== null) return false;
    const dialing = { aborted: false };
    this.#dialing = dialing;
    let media: MediaSession;
    try {
      media = await this.#takeMedia();
    } finally {
      this.#dialing = null;
    }
    if (dialing.aborted || this.#ctx.stopped || this.#call !== null) {
      // hung up (or an INVITE came in) before anything was sent: nothing to cancel
      if (this.#media === null && !this.#ctx.stopped) this.#media = media;
      else await media.stop();
      return false;
    }
    const req = new SipRequest('INVITE', `sip:${user}@${this.#ctx.domain}`);
    const video = o.video === false ? null : await this.#newVideo();
    const call: Call = {
      callId: newCallId(), peer: user, direction: 'out', state: 'ringing', media,
      local: this.#localMedia(media, video), recorder: this.#ctx.options.record ? new PcmRecorder() : null,
      dialog: null, st: null, offer: null, invite: req, provisional: false, cancelWanted: false, startedAt: this.#ctx.clock.now(), held: false,
      heldLocal: false, noAnswer: false, ringTimer: null, mediaTimer: null, lastActivity: { at: 0, count: 0 }, session: null, uasInterval: null,
      video, encoder: null, videoRecorder: null, videoPlayer: null, videoStatsTimer: null, videoFlow: null, videoFrames: 0, videoT0: 0,
      videoStats: null, recorderCodec: null, videoOps: Promise.resolve(), videoStops: new Set(), reInviting: false, answering: false,
    };
    this.#call = call;
    req.addHeader('From', `<${this.#ctx.aor}>;tag=${newTag()}`);
    req.addHeader('To', `<sip:${user}@${this.#ctx.domain.split(':')[0]}>`);
    req.addHeader('Call-ID', call.callId);
    req.addHeader('CSeq', '1 INVITE');
    req.addHeader('Contact', `<${this.#ctx.contact}>`);
    req.addHeader('Allow', ALLOW);
    // RFC 4028 §7.1: we do session timers; the callee picks the refresher
    addUacHeaders(req, this.#ctx.options.sessionExpires, this.#ctx.options.minSe);
    req.addHeader('Content-Type', 'application/sdp');
    req.body = new TextEncoder().encode(call.local.createOffer('sendrecv'));
    this.#ctx.emit('call-outgoing', { callId: call.callId, to: user });
    // nobody answers within the ring timeout: CANCEL (once a provisional came, §9.1), the call ends as no-answer
    call.ringTimer = this.#ctx.clock.set(() => {
      call.ringTimer = null;
      if (call.invite === null || call.state !== 'ringing') return;
      call.noAnswer = true;
      void this.hangup();
    }, this.#ctx.options.ringTimeoutMs, undefined);
    const out = await core.invite(req, {
      onProvisional: (res) => {
        if (res.status === 100) return;
        call.provisional = true;
        this.#ctx.emit('call-ringing', { callId: call.callId, status: res.status });
        // RFC 3261 §9.1: a CANCEL may only be sent once a provisional response arrived.
        if (call.cancelWanted) void core.cancel(req);
      },
    });
    call.invite = null;
    if (call.ringTimer !== null) this.#ctx.clock.clear(call.ringTimer);
    call.ringTimer = null;
    if (out.dialog === undefined) {
      const st = out.response.status;
      const reason = call.noAnswer ? 'no-answer' : call.cancelWanted ? 'cancelled' : st === 486 || st === 600 ? 'busy' : 'rejected';
      await this.#endCall(call, reason, st);
      return false;
    }
    call.dialog = out.dialog;
    if (call.cancelWanted || call.state === 'ended') {
      // the 2xx crossed our CANCEL (§9.1): end the call that was set up after all
      this.#bye(call);
      await this.#endCall(call, call.noAnswer ? 'no-answer' : 'cancelled', 200);
      return false;
    }
    try {
      const neg = call.local.acceptAnswer(new TextDecoder().decode(out.response.body));
      this.#startMedia(call, neg);
    } catch (err) {
      this.#ctx.error(err);
      this.#bye(call);
      await this.#endCall(call, 'error', 488);
      return false;
    }
    // RFC 4028 §7.2: the 2xx settles the interval and who refreshes
    const timer = uacNegotiated(out.response, this.#ctx.options.sessionExpires);
    this.#startSession(call, timer.interval, timer.refresher === 'uac');
    return true;
  }

  /**
   * Send DTMF digits (0-9 * # A-D) in the answered call as RFC 4733 telephone-events, 100 ms each. False when
   * there is no answered call; throws TvphoneError ERR_MEDIA_DTMF when the peer did not offer telephone-event.
   */
  sendDtmf(digits: string): boolean {
    const call = this.#call;
    if (call === null || call.state !== 'active') return false;
    call.media.sendDtmf(digits);
    return true;
  }

  /** RTP/RTCP figures of the call in progress (null when no call has media). */
  callStats(): MediaStats | null {
    const call = this.#call;
    return call !== null && call.state === 'active' ? call.media.stats() : null;
  }

  /** The figures of the call's video stream now (null: no video stream running). */
  videoStats(): VideoStats | null {
    const call = this.#call;
    return call !== null && call.state === 'active' && call.video !== null && call.videoFlow !== null ? call.video.stats() : null;
  }

  /** Whether the call in progress is on hold (by us or by the peer). */
  get onHold(): boolean {
    return this.#call?.held ?? false;
  }

  /** Put the call on hold (re-INVITE with a=sendonly, RFC 3264 §8.4) or take it off hold (sendrecv). */
  async hold(on: boolean): Promise<boolean> {
    const call = this.#call;
    const core = this.#ctx.core;
    if (call === null || core === null || call.state !== 'active' || call.dialog === null) return false;
    const direction: MediaDirection = on ? 'sendonly' : 'sendrecv';
    // a re-INVITE is a session refresh too (RFC 4028 §7.4)
    const res = await this.#reInvite(call, direction, call.session?.current?.interval ?? this.#ctx.options.sessionExpires);
    if (res.status < 200 || res.status >= 300 || call.state !== 'active') return false;
    call.held = on;
    call.heldLocal = on;
    this.#ctx.emit('call-held', { callId: call.callId, held: on, by: 'local' });
    return true;
  }

  /** Hang up (key h): BYE when answered, CANCEL while our INVITE is pending, 603 to a ringing incoming call. */
  async hangup(): Promise<boolean> {
    const call = this.#call;
    const core = this.#ctx.core;
    if (this.#dialing !== null) {
      this.#dialing.aborted = true; // dial() has sent nothing yet
      return true;
    }
    if (call === null || core === null) return false;
    if (call.state === 'active') {
      this.#bye(call);
      await this.#endCall(call, 'local-hangup');
      return true;
    }
    if (call.direction === 'in' && call.st !== null) {
      call.st.respond(createResponse(call.st.request, 603));
      await this.#endCall(call, 'rejected', 603);
      return true;
    }
    if (call.direction === 'out' && call.invite !== null) {
      call.cancelWanted = true;
      if (call.provisional) await core.cancel(call.invite);
      return true; // the INVITE's 487 ends the call
    }
    return false;
  }

  /**
   * RFC 3261 §15.1.1: send BYE; "the UAC core MUST consider the session terminated ... as soon as the BYE request is
   * passed to the client transaction" — so the call ends now, not when (or whether) the BYE is answered. The
   * transaction goes on (retransmissions, Timer F); stop() waits a little for the answers of those still open.
   */
  #bye(call: Call): void {
    const core = this.#ctx.core;
    if (core === null || call.dialog === null) return;
    const d = call.dialog;
    const req = d.createRequest('BYE');
    core.removeDialog(d);
    const pending = core.request(req, {}, d).then(() => undefined, () => undefined);
    this.#pendingByes.add(pending);
    void pending.finally(() => this.#pendingByes.delete(pending));
  }

  async #endCall(call: Call, reason: CallEndReason, status?: number): Promise<void> {
    if (call.state === 'ended') return;
    const wasActive = call.state === 'active';
    call.state = 'ended';
    const clock = this.#ctx.clock;
    if (call.ringTimer !== null) clock.clear(call.ringTimer);
    if (call.mediaTimer !== null) clock.clear(call.mediaTimer);
    call.ringTimer = call.mediaTimer = null;
    call.session?.stop();
    if (call.dialog !== null) this.#ctx.core?.removeDialog(call.dialog);
    let rtcp: MediaStats | null = null;
    let recorded: string | undefined;
    // every ffmpeg child of the call ends with it
    const video = await this.#stopVideo(call);
    call.video = null;
    if (wasActive) {
      rtcp = await call.media.stop();
      if (call.recorder !== null && this.#ctx.options.record !== undefined) {
        recorded = this.#ctx.options.record;
        try {
          await writeFile(recorded, call.recorder.toWav());
        } catch (err) {
          this.#ctx.error(err);
          recorded = undefined;
        }
      }
    } else if (!this.#ctx.stopped && this.#media === null) {
      this.#media = call.media; // never started: keep the bound port for the next call
    } else await call.media.stop();
    if (this.#call === call) this.#call = null;
    if (this.#media === null && !this.#ctx.stopped) {
      try {
        this.#media = await this.#newMedia();
      } catch (err) {
        this.#ctx.error(err);
      }
    }
    this.#ctx.emit('call-ended', {
      callId: call.callId, peer: call.peer, reason, ...(status !== undefined ? { status } : {}),
      durationMs: wasActive ? this.#ctx.clock.now() - call.startedAt : 0, rtcp, ...(recorded ? { recorded } : {}),
      ...(wasActive && video !== undefined && video.sent.packets + video.received.packets > 0 ? { video } : {}),
    });
  }

  onCancel(st: ServerTransaction): void {
    st.respond(createResponse(st.request, 487, undefined, this.#call?.dialog?.localTag));
    const call = this.#call;
    if (call !== null && call.st === st) {
      call.st = null;
      void this.#endCall(call, 'cancelled', 487);
    }
  }

  async onAckTimeout(d: Dialog): Promise<void> {
    const call = this.#call;
    if (call === null || call.dialog !== d) return;
    this.#bye(call);
    await this.#endCall(call, 'no-ack');
  }

  /** RFC 3261 §15.1.2: a BYE ends the call of its dialog (or just the dialog): 200. */
  onBye(d: Dialog, req: SipRequest, st: ServerTransaction): void {
    st.respond(createResponse(req, 200));
    const call = this.#callOf(d);
    if (call !== null) void this.#endCall(call, 'remote-hangup');
    else this.#ctx.core?.removeDialog(d);
  }

  #callOf(d: Dialog): Call | null {
    return this.#call !== null && this.#call.dialog === d ? this.#call : null;
  }

  /**
   * RFC 3261 §14.2: a re-INVITE: answer the new offer (hold/resume, a moved address) in a 200. RFC 3311: an UPDATE
   * likewise, with or without an offer. Either is a session refresh (RFC 4028 §9): the 2xx names the interval and
   * the refresher, and our session timer starts again.
   */
  async onReInvite(d: Dialog, req: SipRequest, st: ServerTransaction): Promise<void> {
    const call = this.#callOf(d);
    const core = this.#ctx.core;
    if (call === null || core === null || call.state !== 'active') return void st.respond(createResponse(req, 481));
    const update = req.method === 'UPDATE';
    if (req.body.length === 0 && !update) return void st.respond(createResponse(req, 488, 'Offer Required'));
    // RFC 3261 §14.2: "If a UAS receives a re-INVITE while it has an outstanding INVITE client transaction it
    // initiated for that dialog, it MUST return a 491"; one that comes while we answer another gets 500 and a
    // Retry-After "between 0 and 10 seconds"
    if (call.reInviting) return void st.respond(createResponse(req, 491));
    if (call.answering) {
      const busy = createResponse(req, 500);
      busy.addHeader('Retry-After', String(Math.floor(Math.random() * 11)));
      return void st.respond(busy);
    }
    const o = this.#ctx.options;
    const timer = uasNegotiate(req, { interval: call.session?.current?.interval ?? o.sessionExpires, minSe: o.minSe });
    if ('reject' in timer) {
      const res = createResponse(req, 422, 'Session Interval Too Small');
      res.addHeader('Min-SE', String(timer.minSe));
      return void st.respond(res);
    }
    let neg: Negotiated | null = null;
    if (req.body.length > 0) {
      const offer = new TextDecoder().decode(req.body);
      let added: VideoSession | null = null;
      call.answering = true;
      try {
        // RFC 3264 §8.1: the offer adds a video stream (to a call without one) that we can take: a port pair for it
        const wanted = this.#videoDirection();
        if (call.video === null && wanted !== null && parseVideo(offer, o.videoCodecs) !== undefined) {
          added = await this.#newVideo();
          // while it was bound, our own re-INVITE went out (§14.2 again: 491), or added the video itself
          if (call.reInviting) throw new SipError('request-pending');
          if (added !== null && call.state === 'active' && call.video === null) {
            call.video = added;
            call.local.enableVideo(added.localPort, wanted);
          } else {
            void added?.stop();
            added = null;
          }
        }
        if (call.state !== 'active') throw new SipError('no-such-transaction');
        neg = call.local.createAnswer(offer);
      } catch (err) {
        if (added !== null) {
          if (call.video === added) {
            call.video = null;
            call.local.rejectVideo();
          }
          void added.stop();
        }
        return void st.respond(createResponse(req, err instanceof SipError ? err.status : 488));
      } finally {
        call.answering = false;
      }
    }
    const res = createResponse(req, 200, undefined, d.localTag);
    res.addHeader('Contact', `<${this.#ctx.contact}>`);
    addUasHeaders(res, timer);
    if (neg !== null) {
      res.addHeader('Content-Type', 'application/sdp');
      res.body = new TextEncoder().encode(neg.sdp);
    }
    // a 2xx to INVITE is retransmitted until its ACK (§13.3.1.4); an UPDATE's is an ordinary response
    if (update) st.respond(res);
    else core.respond2xx(st, res, d);
    this.#startSession(call, timer.interval, timer.refresher === 'uas');
    if (neg === null) return;
    call.media.updateRemote({ remoteIp: neg.remote.ip, remotePort: neg.remote.port, remoteRtcpPort: neg.remote.rtcpPort });
    call.media.setDirection(neg.direction);
    this.#applyVideo(call, neg.video, 'remote');
    const held = neg.remote.onHold;
    if (held !== call.held) {
      call.held = held;
      call.heldLocal = false;
      this.#ctx.emit('call-held', { callId: call.callId, held, by: 'remote' });
    }
  }
}
