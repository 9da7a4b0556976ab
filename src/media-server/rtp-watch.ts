// The media server's calls (a voice message being recorded, the mailbox) end when the caller's RTP stops for
// voicemail.rtpTimeoutSeconds (a caller gone without a BYE): one home for that policy.
import type { Clock, TimerHandle } from '../clock.ts';
import type { MediaSession } from '../media/rtp-session.ts';

/** how often the time since the last RTP packet is looked at */
const WATCH_MS = 500;

export class RtpWatch {
  readonly #clock: Clock;
  #lastRtpAt: number;
  #timer: TimerHandle | null = null;

  /** Watches `media` from now on: `onTimeout` once no RTP came for `timeoutSeconds`. */
  constructor(o: { clock: Clock; media: Pick<MediaSession, 'on'>; timeoutSeconds: number; onTimeout: () => void }) {
    const clock = this.#clock = o.clock;
    this.#lastRtpAt = clock.now();
    o.media.on('rtp', () => { this.#lastRtpAt = clock.now(); });
    const tick = (): void => {
      this.#timer = null;
      if (clock.now() - this.#lastRtpAt >= o.timeoutSeconds * 1000) return o.onTimeout();
      this.#timer = clock.set(tick, WATCH_MS, undefined);
    };
    this.#timer = clock.set(tick, WATCH_MS, undefined);
  }

  /** Idempotent. */
  stop(): void {
    if (this.#timer !== null) this.#clock.clear(this.#timer);
    this.#timer = null;
  }
}
