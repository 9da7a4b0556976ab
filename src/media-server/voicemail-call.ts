// One call the server answers to take a voice message (Asterisk's app_voicemail VoiceMail()): the greeting and
// the beep are sent over RTP, then the caller's audio is recorded until BYE, "#" (RFC 4733 telephone-event), the
// recording is full (maxSeconds), silenceSeconds of silence, or no RTP for rtpTimeoutSeconds.
import type { Clock, TimerHandle } from '../clock.ts';
import { PcmSource } from '../media/audio-io.ts';
import type { G711Codec } from '../media/g711.ts';
import type { MediaSession } from '../media/rtp-session.ts';
import type { Negotiated } from '../media/sdp.ts';
import { Recording } from './recording.ts';
import { RtpWatch } from './rtp-watch.ts';

export type VoicemailEndReason = 'bye' | 'dtmf' | 'silence' | 'full' | 'rtp-timeout' | 'no-ack' | 'closing';

export interface VoicemailCallOptions {
  /** bound (media.bind() done), not started */
  media: MediaSession;
  negotiated: Omit<Negotiated, 'sdp'>;
  greeting: Int16Array;
  maxSeconds: number;
  silenceSeconds: number;
  rtpTimeoutSeconds: number;
  clock: Pick<Clock, 'now' | 'set' | 'clear'>;
}

export interface VoicemailTake {
  reason: VoicemailEndReason;
  /** what was said after the beep, 8 kHz, trailing silence cut */
  samples: Int16Array;
  codec: G711Codec;
  /** RTP packets received over the whole call */
  packets: number;
  /** of them: lost (RFC 3550 A.3) and arrived after their playout slot */
  lost: number;
  late: number;
}

/** the RFC 4733 event that ends the recording (Asterisk: "#" to finish) */
const FINISH_DIGIT = '#';

export class VoicemailCall {
  readonly #o: VoicemailCallOptions;
  readonly #recording: Recording;
  #watch: RtpWatch | null = null;
  #deadline: TimerHandle | null = null;
  #ending: Promise<VoicemailTake> | null = null;
  #onEnd: ((reason: VoicemailEndReason) => void) | null = null;
  #resolveDone!: (take: Promise<VoicemailTake>) => void;
  /** settles when the call has ended, however it ended, with what was recorded */
  readonly done: Promise<VoicemailTake>;

  constructor(o: VoicemailCallOptions) {
    this.#o = o;
    this.done = new Promise<VoicemailTake>((resolve) => { this.#resolveDone = resolve; });
    this.#recording = new Recording({
      maxSeconds: o.maxSeconds, silenceSeconds: o.silenceSeconds,
      onFull: () => this.#ended('full'), onSilence: () => this.#ended('silence'),
    });
  }

  /** Seconds of audio recorded so far. */
  get recordedSeconds(): number {
    return this.#recording.length / 8000;
  }

  /** RTP timestamp of the first sample recorded (after the beep), when the stream gave one */
  get firstTimestamp(): number | undefined {
    return this.#recording.firstTimestamp;
  }

  get codec(): G711Codec {
    return this.#o.negotiated.codec;
  }

  /** What was said so far (a checkpoint): what the take would hold if the call ended now; empty before the beep. */
  samplesSoFar(): Int16Array {
    return this.#recording.samples();
  }

  /** The greeting starts at once; `onEnd` is told when the call ends by itself (not by end()): the owner sends BYE then. */
  start(onEnd: (reason: VoicemailEndReason) => void): void {
    const { media, negotiated: neg, clock } = this.#o;
    this.#onEnd = onEnd;
    media.on('sourceEnded', () => this.#recording.arm());
    media.on('dtmf', (digit) => { if (digit === FINISH_DIGIT) this.#ended('dtmf'); });
    media.start({
      remoteIp: neg.remote.ip, remotePort: neg.remote.port, remoteRtcpPort: neg.remote.rtcpPort, payloadType: neg.payloadType,
      telephoneEventPayloadType: neg.telephoneEventPayloadType, source: new PcmSource(this.#o.greeting), sink: this.#recording,
      // we send the prompt and receive the message: sendrecv unless the offer limits it (RFC 3264 §6.1)
      direction: neg.direction,
    });
    this.#watch = new RtpWatch({ clock, media, timeoutSeconds: this.#o.rtpTimeoutSeconds, onTimeout: () => this.#ended('rtp-timeout') });
    // a bound whatever the media does: the greeting, the longest recording and a margin
    const greetingMs = (this.#o.greeting.length / 8000) * 1000;
    this.#deadline = clock.set(() => this.#ended('full'), greetingMs + this.#o.maxSeconds * 1000 + 5000, undefined);
  }

  /** Ends the call (idempotent): the media stops; resolves with what was recorded. */
  end(reason: VoicemailEndReason): Promise<VoicemailTake> {
    this.#ending ??= (async () => {
      const { clock, media } = this.#o;
      this.#watch?.stop();
      if (this.#deadline !== null) clock.clear(this.#deadline);
      this.#watch = this.#deadline = null;
      const stats = await media.stop(reason === 'bye' ? 'hangup' : 'voicemail ended');
      return {
        reason, samples: this.#recording.samples(), codec: this.#o.negotiated.codec,
        packets: stats.received.packets, lost: stats.received.lost, late: stats.received.late,
      };
    })();
    this.#resolveDone(this.#ending);
    return this.#ending;
  }

  #ended(reason: VoicemailEndReason): void {
    if (this.#ending !== null) return;
    void this.end(reason);
    this.#onEnd?.(reason);
  }
}
