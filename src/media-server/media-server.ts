// The media server: the UAS that answers a call itself when the routing script says so (a call to an offline user:
// Asterisk's app_voicemail, for TVs). It answers with SDP (RFC 3264: PCMU/PCMA and telephone-event; any other stream,
// a video stream offered as H.264 or VP8 accepted, receive only, and kept with the audio as a video message; any other
// stream refused with port 0), plays the greeting and the beep, records, and commits the recording to the store
// as a voice message for the callee before it forgets the call. Its dialogs are its own (RFC 3261 §12.1.1); the
// router hands it the ACK and the in-dialog requests of those dialogs.
import { QuotaExceededError, StoreUnavailableError } from '../errors.ts';
import { SipError } from '../errors.ts';
import type { Clock, TimerHandle } from '../clock.ts';
import type { VoicemailConfig } from '../config/profile.ts';
import type { Dialog } from '../dialog/dialog.ts';
import type { Flow } from '../flow.ts';
import type { Logger } from '../log/logger.ts';
import { MediaSession } from '../media/rtp-session.ts';
import { audioDelayMs } from '../media/lip-sync.ts';
import { muxMatroska } from '../media/matroska-mux.ts';
import { parseVideo, type LocalMedia } from '../media/sdp.ts';
import { VideoSession, videoRtpCodecOf } from '../media/video-session.ts';
import { writeWav } from '../media/wav.ts';
import { parseNameAddr } from '../sip/headers.ts';
import type { SipRequest, SipResponse } from '../sip/message.ts';
import type { MessageQuota, MessageStore, RecoveredVoicemail, VoicemailCheckpointStore, VoicemailStore } from '../store/store.ts';
import type { ServerTransaction } from '../transaction/server-transaction.ts';
import type { TimerValues } from '../transaction/timers.ts';
import type { Source, Transport } from '../transport/transport.ts';
import { builtInGreeting } from './greeting.ts';
import { CHECKPOINT_INTERVAL_MS, RecordingCheckpointer, STALE_INTERVALS } from './recording-checkpoint.ts';
import { VOICE_MESSAGE_TYPE, VIDEO_MESSAGE_TYPE } from './message-types.ts';
import { VideoRecording } from './video-recording.ts';
import { UasCalls } from './uas-calls.ts';
import { VoicemailCall, type VoicemailEndReason } from './voicemail-call.ts';

/** the most video kept per second of a message (2 Mbit/s: far above what a TV's camera sends at 320x240 or 640x480) */
const MAX_VIDEO_BYTES_PER_SECOND = 250_000;
const MAX_VIDEO_BYTES = 64 << 20;
/** the video a caller may send, recorded as received (RFC 6184 H.264, RFC 7741 VP8), in the offer's order */
const VIDEO_CODECS = ['H264', 'VP8'] as const;
/** Less than this after the beep (a caller who hung up at the greeting) is no message: the call stays a missed call. */
const MIN_RECORDING_SAMPLES = 4000; // 0.5 s
const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO';
/** how often the store is swept for recordings a killed server left (media-server/recording-checkpoint.ts) */
const RECOVERY_SWEEP_MS = 5000;

export interface VoicemailParties {
  /** user id of the caller (or the From user of an unauthenticated one) */
  caller: string;
  callee: string;
  callId: string;
  /** the user_call row of this call */
  callRecordId: number | null;
}

/** How a voicemail call ended, once its recording is committed (or is known to be none). */
export interface VoicemailOutcome {
  reason: VoicemailEndReason;
  /** the voice message's id (its messages row), null when nothing was kept */
  messageId: number | null;
  durationMs: number;
  /** the caller's RTP: received, lost and late packets over the call */
  received?: { packets: number; lost: number; late: number };
}

export interface MediaServerOptions {
  config: Pick<VoicemailConfig, 'maxSeconds' | 'silenceSeconds' | 'rtpTimeoutSeconds' | 'maxCalls'>;
  clock: Clock;
  log: Logger;
  store: Pick<VoicemailStore, 'storeVoicemail'> & Pick<MessageStore, 'pendingUsage'> & VoicemailCheckpointStore;
  /** time between two checkpoints of a recording in progress (default CHECKPOINT_INTERVAL_MS) */
  checkpointMs?: number;
  /** the profile's message limits, read at each call (SIGHUP may change them) */
  limits: () => { quota: MessageQuota; expiryMs: number };
  /** the address RTP binds and SDP names for a call that came from `source` (the listener's, never 0.0.0.0) */
  mediaAddress: (source: Source) => string;
  /** our Contact for a dialog with a peer reached over `source` */
  contact: (source: Source) => string;
  /** the transport and timer values the 2xx is retransmitted with (RFC 3261 §13.3.1.4) */
  transport: Pick<Transport, 'send'>;
  timerValues: Pick<TimerValues, 't1' | 't2'>;
  /** sends a request within a dialog (our BYE) and resolves with its final response */
  sendInDialog: (req: SipRequest, dialog: { remoteTarget: string; routeSet: readonly string[]; flow: Flow }) => Promise<SipResponse | null>;
  /** the prompt (8 kHz PCM, beep included); default the built-in one */
  greeting?: Int16Array;
  /** the callee's own greeting (beep included), null when it has none: played instead of `greeting` */
  greetingOf?: (callee: string) => Promise<Int16Array | null>;
}

interface LiveCall {
  dialog: Dialog;
  flow: Flow;
  call: VoicemailCall;
  local: LocalMedia;
  media: MediaSession;
  parties: VoicemailParties;
  invite: SipRequest;
  answeredAt: number;
  outcome: Promise<VoicemailOutcome>;
  checkpoints: RecordingCheckpointer;
  /** the caller's H.264, when it offered some (receive only) */
  video: { session: VideoSession; recording: VideoRecording } | null;
  /** when the beep ended and the audio began to be kept */
  armedAt: number | null;
}

export class MediaServer {
  readonly #o: MediaServerOptions;
  readonly #greeting: Int16Array;
  /** the calls answered (dialog key → the call): at most config.maxCalls */
  readonly #uas: UasCalls<VoicemailEndReason, LiveCall>;
  /** calls answered but not yet committed (bounded with the answered calls: a call leaves both when committed) */
  readonly #pending = new Set<Promise<VoicemailOutcome>>();
  #closed = false;
  #sweep: TimerHandle | null = null;
  #sweeping: Promise<unknown> | null = null;

  constructor(o: MediaServerOptions) {
    this.#o = o;
    this.#greeting = o.greeting ?? builtInGreeting();
    this.#uas = new UasCalls<VoicemailEndReason, LiveCall>({
      clock: o.clock, log: o.log, transport: o.transport, timerValues: o.timerValues, contact: o.contact, sendInDialog: o.sendInDialog,
      allow: ALLOW, what: 'voicemail',
      // a re-INVITE moves the caller's video too
      reinvited: (live, neg) => {
        if (neg.video) live.video?.session.updateRemote({ remoteIp: neg.video.remote.ip, remotePort: neg.video.remote.port, remoteRtcpPort: neg.video.remote.rtcpPort });
      },
    });
  }

  /** voicemail calls in progress (answered, not yet ended) */
  get activeCalls(): number {
    return this.#uas.size;
  }

  /**
   * Answers `invite` (a call to an offline user) with 200 and starts the greeting. Resolves once the 200 is sent, with
   * the promise of the call's outcome (settled after the recording is committed). Throws a SipError before answering:
   * 503 beyond maxCalls, 486 when the callee's message quota is full, 488 for an offer with no G.711 (or no offer).
   */
  async answer(invite: SipRequest, st: ServerTransaction, parties: VoicemailParties): Promise<{ outcome: Promise<VoicemailOutcome> }> {
    const o = this.#o;
    const admitted = this.#uas.admit(invite, { maxCalls: o.config.maxCalls, closed: this.#closed, subject: 'voicemail' });
    let media: MediaSession | null = null;
    let video = null as VideoSession | null;
    try {
      const { quota } = o.limits();
      const usage = await o.store.pendingUsage(parties.callee);
      if (usage.count + 1 > quota.count || usage.bytes + 16_044 > quota.bytes) throw new SipError('quota-full', { detail: `message quota for ${parties.callee} full` });
      const greeting = await this.#greetingFor(parties.callee);
      media = new MediaSession({ localIp: o.mediaAddress(st.source) });
      const { local, neg, dialog, res } = await this.#uas.answering(invite, st, media, {
        closed: () => this.#closed,
        // an H.264 or VP8 stream in the offer is accepted, receive only (RFC 3264 §6.1: recvonly answers sendrecv or sendonly)
        more: async (m) => {
          if (!offeredVideo(new TextDecoder().decode(invite.body))) return {};
          const v = new VideoSession({ localIp: m.localIp });
          video = v; // stopped below if the answer fails
          await v.bind();
          return { video: { port: v.localPort, direction: 'recvonly' as const, codecs: VIDEO_CODECS } };
        },
      });
      const call = new VoicemailCall({
        media, negotiated: neg, greeting, clock: o.clock,
        maxSeconds: o.config.maxSeconds, silenceSeconds: o.config.silenceSeconds, rtpTimeoutSeconds: o.config.rtpTimeoutSeconds,
      });
      const live: LiveCall = {
        dialog, flow: st.source, call, local, media, parties, invite, answeredAt: o.clock.now(), outcome: Promise.resolve(null as never),
        checkpoints: null as never, video: null, armedAt: null,
      };
      if (video !== null && neg.video !== undefined) {
        const recording = new VideoRecording({
          codec: neg.video.remote.codec, maxSeconds: o.config.maxSeconds + greetingSeconds(this.#greeting), now: () => o.clock.now(),
          maxBytes: Math.min(MAX_VIDEO_BYTES, MAX_VIDEO_BYTES_PER_SECOND * (o.config.maxSeconds + greetingSeconds(this.#greeting))),
        });
        video.on('accessUnit', (u) => recording.write(u));
        video.start({ remoteIp: neg.video.remote.ip, remotePort: neg.video.remote.port, remoteRtcpPort: neg.video.remote.rtcpPort, payloadType: neg.video.payloadType, direction: neg.video.direction, codec: videoRtpCodecOf(neg.video.remote.codec), feedback: neg.video.remote.feedback });
        live.video = { session: video, recording };
        video = null; // the call owns it now
      }
      media.on('sourceEnded', () => { live.armedAt = o.clock.now(); });
      live.checkpoints = this.#checkpointer(live);
      live.outcome = this.#finish(live);
      this.#pending.add(live.outcome);
      void live.outcome.finally(() => this.#pending.delete(live.outcome));
      this.#uas.add(live, st, res);
      call.start((reason) => this.#uas.hangUp(dialog.key, reason));
      live.checkpoints.start();
      o.log.info({ caller: parties.caller, callee: parties.callee, callId: parties.callId, codec: neg.codec, video: live.video !== null }, 'voicemail call answered');
      media = null; // the call owns it now
      return { outcome: live.outcome };
    } finally {
      admitted();
      if (media !== null) await media.stop();
      if (video !== null) await video.stop();
    }
  }

  /** The callee's own greeting, else the built-in one (a greeting that cannot be read is logged, never a lost call). */
  async #greetingFor(callee: string): Promise<Int16Array> {
    if (this.#o.greetingOf === undefined) return this.#greeting;
    try {
      return (await this.#o.greetingOf(callee)) ?? this.#greeting;
    } catch (err) {
      this.#o.log.warn({ err, callee }, "the user's greeting cannot be read: the built-in one is played");
      return this.#greeting;
    }
  }

  /** Whether `req` (with a To tag) belongs to one of our dialogs. */
  handles(req: SipRequest): boolean {
    return this.#uas.handles(req);
  }

  /** RFC 3261 §13.3.1.4: the ACK of our 2xx stops its retransmission. True when it was for one of our dialogs. */
  ack(ack: SipRequest): boolean {
    return this.#uas.ack(ack);
  }

  /** A request within one of our dialogs (handles() said so); what was recorded is kept whatever ends it. */
  inDialog(req: SipRequest, st: ServerTransaction): void {
    this.#uas.inDialog(req, st);
  }

  /** Ends every call (BYE sent, not awaited) and waits for their recordings to be committed. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#sweep !== null) this.#o.clock.clear(this.#sweep);
    this.#sweep = null;
    await this.#sweeping;
    this.#uas.hangUpAll('closing');
    await Promise.allSettled([...this.#pending]);
    this.#uas.close();
  }

  /** Waits for the end of the call, then commits what was said (nothing of it is lost to a BYE mid-message). */
  async #finish(live: LiveCall): Promise<VoicemailOutcome> {
    const take = await live.call.done;
    await live.video?.session.stop();
    const { parties, invite } = live;
    const durationMs = Math.round((take.samples.length / 8000) * 1000);
    let messageId: number | null = null;
    try {
      // the last checkpoint is written before the commit, which removes it (a later one would outlive the message)
      await live.checkpoints.stop();
      if (take.samples.length >= MIN_RECORDING_SAMPLES) messageId = await this.#commit(live, take.samples, take.codec, durationMs);
      else if (live.checkpoints.written > 0) await this.#o.store.deleteVoicemailCheckpoint(parties.callId).catch((err: unknown) => this.#o.log.warn({ err }, 'checkpoint not removed'));
    } finally {
      this.#uas.remove(live.dialog.key);
    }
    this.#o.log.info({
      caller: parties.caller, callee: parties.callee, callId: invite.callId, reason: take.reason, durationMs, messageId, packets: take.packets,
      ...(live.video ? { videoFrames: live.video.recording.frames } : {}),
    }, 'voicemail call ended');
    return { reason: take.reason, messageId, durationMs, received: { packets: take.packets, lost: take.lost, late: take.late } };
  }

  /**
   * What is kept: the WAV; with the caller's video, one Matroska file of both (its H.264 as received, the WAV's PCM),
   * the audio placed where it began against the pictures. A video that cannot be muxed (no ffmpeg) leaves the WAV.
   */
  async #body(live: LiveCall, samples: Int16Array, codec: string): Promise<{ body: Uint8Array; contentType: string; codec: string }> {
    const wav = writeWav(samples, 8000);
    const v = live.video?.recording;
    if (!v || v.frames === 0 || v.firstAt === null) return { body: wav, contentType: VOICE_MESSAGE_TYPE, codec };
    try {
      // lip sync (RFC 3550 §6.4.1): the audio placed by capture time when both streams sent an SR, else by arrival
      const audioTs = live.call.firstTimestamp;
      const sync = audioDelayMs(
        { rtpTimestamp: audioTs ?? 0, clock: audioTs === undefined ? undefined : live.media.remoteClock, arrivedAt: live.armedAt ?? v.firstAt },
        { rtpTimestamp: v.firstTimestamp, clock: live.video?.session.remoteClock, arrivedAt: v.firstAt },
      );
      const body = await muxMatroska({ video: v.container(), wav, audioDelayMs: sync.ms });
      this.#o.log.debug({ callId: live.parties.callId, audioDelayMs: Math.round(sync.ms), by: sync.by }, 'video message audio placed');
      return { body, contentType: VIDEO_MESSAGE_TYPE, codec: `${codec}+${v.codec}` };
    } catch (err) {
      this.#o.log.warn({ err, callId: live.parties.callId, frames: v.frames }, 'video message not muxed: its audio is kept as a voice message');
      return { body: wav, contentType: VOICE_MESSAGE_TYPE, codec };
    }
  }

  /** Writes what the call has recorded so far, from the beep on (null while there is too little to keep). */
  #checkpointer(live: LiveCall): RecordingCheckpointer {
    const o = this.#o;
    return new RecordingCheckpointer({
      clock: o.clock, intervalMs: o.checkpointMs ?? CHECKPOINT_INTERVAL_MS,
      onError: (err) => o.log.warn({ err, callId: live.parties.callId }, 'recording checkpoint not written'),
      save: () => {
        const samples = live.call.samplesSoFar();
        if (samples.length < MIN_RECORDING_SAMPLES) return null;
        const { fromHeader, fromUri, toUri } = addressesOf(live.invite);
        return o.store.saveVoicemailCheckpoint({
          callId: live.parties.callId, toUser: live.parties.callee, caller: live.parties.caller, callRecordId: live.parties.callRecordId,
          fromUri, fromHeader, toUri, recordedAt: live.answeredAt, codec: live.call.codec, durationMs: Math.round((samples.length / 8000) * 1000),
          audio: writeWav(samples, 8000), checkpointedAt: o.clock.now(),
        });
      },
    });
  }

  /**
   * Recovery: recordings whose checkpoints nobody renews any more (their server was killed mid-call) become voice
   * messages, or are dropped when too short (their calls stay missed). Run at start and every few seconds after.
   */
  async recover(): Promise<RecoveredVoicemail[]> {
    const o = this.#o;
    const { quota, expiryMs } = o.limits();
    const staleBefore = o.clock.now() - STALE_INTERVALS * (o.checkpointMs ?? CHECKPOINT_INTERVAL_MS);
    const done = await o.store.recoverVoicemails(staleBefore, {
      minDurationMs: (MIN_RECORDING_SAMPLES / 8000) * 1000, expiryMs, contentType: VOICE_MESSAGE_TYPE, quota,
      exclude: [...this.#uas.calls.values()].map((c) => c.parties.callId),
    });
    for (const r of done) {
      if (r.messageId !== null) o.log.info({ user: r.toUser, id: r.messageId, callId: r.callId, durationMs: r.durationMs }, 'voice message recovered from an interrupted recording');
      else o.log.info({ user: r.toUser, callId: r.callId, durationMs: r.durationMs }, 'interrupted recording not kept: the call stays missed');
    }
    return done;
  }

  /**
   * Runs recover() now and every RECOVERY_SWEEP_MS until close(): a restarted server (or another node of the database)
   * takes over what a killed one was recording. `onRecovered` is told of each voice message kept that way.
   */
  startRecovery(onRecovered: (r: RecoveredVoicemail) => void): void {
    if (this.#closed || this.#sweep !== null) return;
    const run = (): void => {
      this.#sweep = null;
      if (this.#closed) return;
      this.#sweeping = this.recover().then((done) => {
        for (const r of done) if (r.messageId !== null) onRecovered(r);
      }, (err: unknown) => this.#o.log.warn({ err }, 'voicemail recovery sweep failed (tried again)')).finally(() => {
        this.#sweeping = null;
        if (!this.#closed) this.#sweep = this.#o.clock.set(run, RECOVERY_SWEEP_MS, undefined);
      });
    };
    run();
  }

  async #commit(live: LiveCall, samples: Int16Array, codec: string, durationMs: number): Promise<number | null> {
    const o = this.#o;
    const { quota, expiryMs } = o.limits();
    const { fromHeader: from, fromUri, toUri } = addressesOf(live.invite);
    const recording = await this.#body(live, samples, codec);
    try {
      const vm = await o.store.storeVoicemail({
        message: {
          toUser: live.parties.callee, fromUri, fromHeader: from, toUri, contentType: recording.contentType, body: recording.body,
          receivedAt: live.answeredAt, expiresAt: live.answeredAt + expiryMs,
        },
        caller: live.parties.caller, callId: live.parties.callId, callRecordId: live.parties.callRecordId, durationMs, codec: recording.codec,
      }, quota);
      o.log.info({ user: vm.toUser, id: vm.id, durationMs, bytes: vm.bytes }, 'voice message stored');
      return vm.id;
    } catch (err) {
      if (err instanceof QuotaExceededError) o.log.warn({ user: live.parties.callee }, 'message quota full: voice message not kept');
      else if (err instanceof StoreUnavailableError) o.log.error({ err, user: live.parties.callee }, 'store unavailable: voice message not kept now (its last checkpoint is recovered later)');
      else o.log.error({ err, user: live.parties.callee }, 'voice message not kept');
      // a checkpoint left in the store is recovered once it is stale: only when the store could not be reached
      if (!(err instanceof StoreUnavailableError) && live.checkpoints.written > 0) {
        await o.store.deleteVoicemailCheckpoint(live.parties.callId).catch((e: unknown) => o.log.warn({ err: e }, 'checkpoint not removed'));
      }
      return null;
    }
  }
}

/** The From header and the From and To URIs of a call (validated by the router before; kept empty rather than lost). */
function addressesOf(invite: SipRequest): { fromHeader: string; fromUri: string; toUri: string } {
  const fromHeader = invite.header('from') ?? '';
  let fromUri = '';
  let toUri = '';
  try {
    fromUri = parseNameAddr(fromHeader).uri;
    toUri = parseNameAddr(invite.header('to') ?? '').uri;
  } catch { /* kept empty */ }
  return { fromHeader, fromUri, toUri };
}

/** Whether an offer has a video stream we take (H.264, RFC 6184 packetization-mode 1); a bad SDP is createAnswer's to refuse. */
function offeredVideo(offer: string): boolean {
  try {
    return parseVideo(offer, VIDEO_CODECS) !== undefined;
  } catch {
    return false;
  }
}

function greetingSeconds(greeting: Int16Array): number {
  return Math.ceil(greeting.length / 8000);
}
