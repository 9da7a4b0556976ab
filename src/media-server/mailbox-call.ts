// One call to the voicemail access number (Asterisk's VoiceMailMain() for TVs): the counts are announced, then the
// user's voice messages are played, new ones oldest first, then old ones; after each a key is awaited (DTMF, RFC 4733
// telephone-event or SIP INFO): 1 play again, 2 next, 7 delete, 9 save (heard), # end. A message played to its end is
// heard: marked delivered (old), as when a TV acknowledges it, and the owner's MWI subscribers are told (RFC 3842).
import type { Clock, TimerHandle } from '../clock.ts';
import type { AudioSource } from '../media/audio-io.ts';
import type { MediaSession } from '../media/rtp-session.ts';
import type { Negotiated } from '../media/sdp.ts';
import { toTelephonyPcm } from '../media/resample.ts';
import { readWav } from '../media/wav.ts';
import { audioTrackOf } from '../media/ffmpeg.ts';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VIDEO_MESSAGE_TYPE } from './message-types.ts';
import type { MessageStore, VoicemailRecord, VoicemailStore } from '../store/store.ts';
import { RtpWatch } from './rtp-watch.ts';
import { countsPrompt, deletedPrompt, endPrompt, menuPrompt, messagePrompt, savedPrompt } from './mailbox-prompts.ts';

export type MailboxEndReason = 'bye' | 'dtmf' | 'empty' | 'idle' | 'rtp-timeout' | 'no-ack' | 'closing' | 'failed';

export type MailboxStore = Pick<VoicemailStore, 'listVoicemails' | 'voicemailAudio' | 'deleteVoicemail'> & Pick<MessageStore, 'markDelivered'>;

export interface MailboxCallOptions {
  /** bound (media.bind() done), not started */
  media: MediaSession;
  negotiated: Omit<Negotiated, 'sdp'>;
  store: MailboxStore;
  /** the mailbox's owner (the authenticated caller) */
  userId: string;
  clock: Pick<Clock, 'now' | 'set' | 'clear'>;
  rtpTimeoutSeconds: number;
  /** a message was marked heard or deleted: the owner's message summary changed */
  onChanged: () => void;
  /** a store failure (logged by the owner); the call ends */
  onError?: (err: unknown) => void;
}

/** What the mailbox call did, for the log. */
export interface MailboxSummary {
  reason: MailboxEndReason;
  heard: number;
  deleted: number;
}

/** The keys (ITU-T Q.23 digits as RFC 4733 names them) of the access number's menu. */
export const MAILBOX_KEYS = { replay: '1', next: '2', delete: '7', save: '9', end: '#' } as const;
/** No key for this long after the last prompt ends the call. */
export const IDLE_MS = 30_000;
/** a bound whatever happens */
const MAX_CALL_MS = 30 * 60_000;

/** An AudioSource that plays one clip at a time and says when it has been played; silence between clips. */
export class PromptPlayer implements AudioSource {
  #clip: Int16Array | null = null;
  #at = 0;
  #onDone: (() => void) | null = null;

  play(clip: Int16Array, onDone: () => void): void {
    this.#clip = clip;
    this.#at = 0;
    this.#onDone = onDone;
  }

  stop(): void {
    this.#clip = null;
    this.#onDone = null;
  }

  get playing(): boolean {
    return this.#clip !== null;
  }

  read(frame: Int16Array): boolean {
    frame.fill(0);
    const clip = this.#clip;
    if (clip === null) return true;
    const n = Math.min(frame.length, clip.length - this.#at);
    frame.set(clip.subarray(this.#at, this.#at + n));
    this.#at += n;
    if (this.#at >= clip.length) {
      const done = this.#onDone;
      this.#clip = null;
      this.#onDone = null;
      // told after the frame is sent, never from inside the media session's send loop
      if (done !== null) queueMicrotask(done);
    }
    return true; // never "ended": the session sends silence between prompts
  }
}

/** The order messages are played in: new (pending) oldest first, then old (delivered) oldest first. */
export function playOrder(list: readonly VoicemailRecord[]): VoicemailRecord[] {
  const kept = list.filter((v) => v.state === 'pending' || v.state === 'delivered');
  return [...kept.filter((v) => v.state === 'pending'), ...kept.filter((v) => v.state === 'delivered')];
}

export class MailboxCall {
  readonly #o: MailboxCallOptions;
  readonly #player = new PromptPlayer();
  #list: VoicemailRecord[] = [];
  #index = 0;
  #heard = 0;
  #deleted = 0;
  /** keys are handled one at a time, in order (each may wait for the store) */
  #keys: Promise<void> = Promise.resolve();
  #watch: RtpWatch | null = null;
  #deadline: TimerHandle | null = null;
  #idle: TimerHandle | null = null;
  #ending: Promise<MailboxSummary> | null = null;
  #onEnd: ((reason: MailboxEndReason) => void) | null = null;
  #resolveDone!: (s: Promise<MailboxSummary>) => void;
  readonly done: Promise<MailboxSummary>;

  constructor(o: MailboxCallOptions) {
    this.#o = o;
    this.done = new Promise<MailboxSummary>((resolve) => { this.#resolveDone = resolve; });
  }

  /** Starts the media and the announcement; `onEnd` is told when the call ends by itself (the owner sends BYE then). */
  async start(onEnd: (reason: MailboxEndReason) => void): Promise<void> {
    const { media, negotiated: neg, clock } = this.#o;
    this.#onEnd = onEnd;
    media.on('dtmf', (digit) => this.key(digit));
    media.start({
      remoteIp: neg.remote.ip, remotePort: neg.remote.port, remoteRtcpPort: neg.remote.rtcpPort, payloadType: neg.payloadType,
      telephoneEventPayloadType: neg.telephoneEventPayloadType, source: this.#player, direction: neg.direction,
    });
    this.#watch = new RtpWatch({ clock, media, timeoutSeconds: this.#o.rtpTimeoutSeconds, onTimeout: () => this.#ended('rtp-timeout') });
    this.#deadline = clock.set(() => this.#ended('idle'), MAX_CALL_MS, undefined);
    this.#keys = this.#keys.then(async () => {
      this.#list = playOrder(await this.#o.store.listVoicemails({ toUser: this.#o.userId }));
      const fresh = this.#list.filter((v) => v.state === 'pending').length;
      const counts = countsPrompt(fresh, this.#list.length - fresh);
      // nothing kept: the empty prompt, then the end
      if (this.#list.length === 0) return this.#play(counts, () => this.#ended('empty'));
      this.#play(counts, () => this.#run(() => this.#playCurrent()));
    }).catch((err: unknown) => this.#failed(err));
  }

  /** A DTMF digit (RFC 4733 event or SIP INFO). */
  key(digit: string): void {
    if (this.#ending !== null) return;
    this.#run(async () => {
      switch (digit) {
        case MAILBOX_KEYS.end: return this.#ended('dtmf');
        case MAILBOX_KEYS.replay:
          if (this.#index >= this.#list.length && this.#list.length > 0) this.#index = this.#list.length - 1;
          return this.#playCurrent();
        case MAILBOX_KEYS.next:
          if (this.#index < this.#list.length) this.#index++;
          return this.#playCurrent();
        case MAILBOX_KEYS.save: {
          const vm = this.#list[this.#index];
          if (vm === undefined) return;
          await this.#markHeard(vm);
          this.#index++;
          return this.#play(savedPrompt(), () => this.#run(() => this.#playCurrent()));
        }
        case MAILBOX_KEYS.delete: {
          const vm = this.#list[this.#index];
          if (vm === undefined) return;
          this.#player.stop();
          await this.#o.store.deleteVoicemail(vm.id);
          this.#list.splice(this.#index, 1);
          this.#deleted++;
          this.#o.onChanged();
          return this.#play(deletedPrompt(), () => this.#run(() => this.#playCurrent()));
        }
        default: // other keys do nothing
      }
    });
  }

  /** Ends the call (idempotent): the media stops. */
  end(reason: MailboxEndReason): Promise<MailboxSummary> {
    this.#ending ??= (async () => {
      const { clock, media } = this.#o;
      this.#watch?.stop();
      for (const t of [this.#deadline, this.#idle]) if (t !== null) clock.clear(t);
      this.#watch = this.#deadline = this.#idle = null;
      this.#player.stop();
      await media.stop(reason === 'bye' ? 'hangup' : 'mailbox ended');
      await this.#keys;
      return { reason, heard: this.#heard, deleted: this.#deleted };
    })();
    this.#resolveDone(this.#ending);
    return this.#ending;
  }

  #run(step: () => Promise<void> | void): void {
    this.#keys = this.#keys.then(async () => {
      if (this.#ending === null) await step();
    }).catch((err: unknown) => this.#failed(err));
  }

  /** Plays the current message (a pip, then it); at its end it is heard and the menu awaits a key. */
  async #playCurrent(): Promise<void> {
    for (;;) {
      const vm = this.#list[this.#index];
      if (vm === undefined) return this.#play(endPrompt(), () => {});
      const audio = await this.#o.store.voicemailAudio(vm.id);
      if (audio === null) { // deleted meanwhile (another call, the CLI): the next one
        this.#list.splice(this.#index, 1);
        continue;
      }
      const pcm = vm.contentType === VIDEO_MESSAGE_TYPE ? await soundOfVideo(audio) : toTelephonyPcm(readWav(audio));
      return this.#play(messagePrompt(pcm), () => this.#run(async () => {
        await this.#markHeard(vm);
        this.#play(menuPrompt(), () => {});
      }));
    }
  }

  /** RFC 3842: a message heard is old (delivered, as a TV's acknowledgement makes it); its owner's summary changes. */
  async #markHeard(vm: VoicemailRecord): Promise<void> {
    if (vm.state !== 'pending') return;
    const now = this.#o.clock.now();
    await this.#o.store.markDelivered(vm.id, now);
    const at = this.#list.indexOf(vm);
    if (at >= 0) this.#list[at] = { ...vm, state: 'delivered', deliveredAt: now };
    this.#heard++;
    this.#o.onChanged();
  }

  /** Plays a prompt; no key within IDLE_MS after it ends the call. */
  #play(clip: Int16Array, then: () => void): void {
    const { clock } = this.#o;
    if (this.#idle !== null) clock.clear(this.#idle);
    this.#idle = null;
    this.#player.play(clip, () => {
      if (this.#ending !== null) return;
      this.#idle = clock.set(() => this.#ended('idle'), IDLE_MS, undefined);
      then();
    });
  }

  #failed(err: unknown): void {
    this.#o.onError?.(err);
    this.#ended('failed');
  }

  #ended(reason: MailboxEndReason): void {
    if (this.#ending !== null) return;
    void this.end(reason);
    this.#onEnd?.(reason);
  }
}

/** A video message heard on the phone: its sound (ffmpeg decodes the Matroska from a file of its own). */
async function soundOfVideo(mkv: Uint8Array): Promise<Int16Array> {
  const dir = await mkdtemp(join(tmpdir(), 'tvphone-mailbox-'));
  try {
    const file = join(dir, 'message.mkv');
    await writeFile(file, mkv);
    return await audioTrackOf(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
