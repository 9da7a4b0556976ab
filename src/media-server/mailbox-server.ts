// The voicemail access number's UAS (profile voicemail.accessNumber, "*97"): the routing script hands it an
// authenticated user's INVITE to that number; it answers with SDP (RFC 3264: PCMU/PCMA and RFC 4733 telephone-event,
// anything else refused with port 0) and runs a MailboxCall over the user's own voice messages. Its dialogs are its
// own (RFC 3261 §12.1.1), apart from the media server's recording calls: the router hands it their ACK and in-dialog
// requests. DTMF comes as telephone-event or as SIP INFO (application/dtmf-relay, application/dtmf).
import type { Clock } from '../clock.ts';
import type { VoicemailConfig } from '../config/profile.ts';
import type { Dialog } from '../dialog/dialog.ts';
import type { Flow } from '../flow.ts';
import type { Logger } from '../log/logger.ts';
import { MediaSession } from '../media/rtp-session.ts';
import type { LocalMedia } from '../media/sdp.ts';
import type { SipRequest, SipResponse } from '../sip/message.ts';
import type { ServerTransaction } from '../transaction/server-transaction.ts';
import type { TimerValues } from '../transaction/timers.ts';
import type { Source, Transport } from '../transport/transport.ts';
import { UasCalls } from './uas-calls.ts';
import { MailboxCall, type MailboxEndReason, type MailboxStore, type MailboxSummary } from './mailbox-call.ts';

const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO';

export interface MailboxServerOptions {
  config: Pick<VoicemailConfig, 'rtpTimeoutSeconds' | 'maxCalls'>;
  clock: Clock;
  log: Logger;
  store: MailboxStore;
  /** the user's message summary changed (a message heard or deleted): its MWI subscribers are told (RFC 3842) */
  onChanged: (userId: string) => void;
  mediaAddress: (source: Source) => string;
  contact: (source: Source) => string;
  transport: Pick<Transport, 'send'>;
  timerValues: Pick<TimerValues, 't1' | 't2'>;
  sendInDialog: (req: SipRequest, dialog: { remoteTarget: string; routeSet: readonly string[]; flow: Flow }) => Promise<SipResponse | null>;
}

interface LiveMailbox {
  dialog: Dialog;
  flow: Flow;
  call: MailboxCall;
  local: LocalMedia;
  media: MediaSession;
  userId: string;
}

/** The digit of a SIP INFO's DTMF body: application/dtmf-relay ("Signal=5") or application/dtmf ("5"); null otherwise. */
export function infoDigit(contentType: string | null, body: Uint8Array): string | null {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  const text = new TextDecoder().decode(body).trim();
  const signal = type === 'application/dtmf-relay' ? /^\s*signal\s*=\s*([0-9*#A-Da-d])\s*$/im.exec(text)?.[1]
    : type === 'application/dtmf' ? /^([0-9*#A-Da-d])$/.exec(text)?.[1] : undefined;
  return signal === undefined ? null : signal.toUpperCase();
}

export class MailboxServer {
  readonly #o: MailboxServerOptions;
  readonly #uas: UasCalls<MailboxEndReason, LiveMailbox>;
  readonly #pending = new Set<Promise<MailboxSummary>>();
  #closed = false;

  constructor(o: MailboxServerOptions) {
    this.#o = o;
    this.#uas = new UasCalls<MailboxEndReason, LiveMailbox>({
      clock: o.clock, log: o.log, transport: o.transport, timerValues: o.timerValues, contact: o.contact, sendInDialog: o.sendInDialog,
      allow: ALLOW, what: 'mailbox',
      // SIP INFO DTMF (the dtmf-relay body of many phones): the same keys as telephone-event
      info: (live, req) => {
        const digit = infoDigit(req.header('content-type') ?? null, req.body);
        if (digit !== null) live.call.key(digit);
      },
    });
  }

  get activeCalls(): number {
    return this.#uas.size;
  }

  /**
   * Answers `invite` (the authenticated `userId` calling the access number) with 200 and starts the announcement.
   * Throws a SipError before answering: 503 beyond maxCalls, 488 for an offer with no G.711 (or no offer).
   */
  async answer(invite: SipRequest, st: ServerTransaction, userId: string): Promise<{ done: Promise<MailboxSummary> }> {
    const o = this.#o;
    const admitted = this.#uas.admit(invite, { maxCalls: o.config.maxCalls, closed: this.#closed, subject: 'the mailbox' });
    let media: MediaSession | null = null;
    try {
      media = new MediaSession({ localIp: o.mediaAddress(st.source) });
      const { local, neg, dialog, res } = await this.#uas.answering(invite, st, media, { closed: () => this.#closed });
      const call = new MailboxCall({
        media, negotiated: neg, store: o.store, userId, clock: o.clock, rtpTimeoutSeconds: o.config.rtpTimeoutSeconds,
        onChanged: () => o.onChanged(userId),
        onError: (err) => o.log.error({ err, userId, callId: invite.callId }, 'mailbox call failed'),
      });
      const live: LiveMailbox = { dialog, flow: st.source, call, local, media, userId };
      const done = call.done.then((s) => {
        o.log.info({ userId, callId: invite.callId, ...s }, 'mailbox call ended');
        return s;
      }).finally(() => this.#uas.remove(dialog.key));
      this.#pending.add(done);
      void done.finally(() => this.#pending.delete(done)).catch(() => {});
      this.#uas.add(live, st, res);
      void call.start((reason) => this.#uas.hangUp(dialog.key, reason));
      o.log.info({ userId, callId: invite.callId, codec: neg.codec }, 'mailbox call answered');
      media = null; // the call owns it now
      return { done };
    } finally {
      admitted();
      if (media !== null) await media.stop();
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

  /** A request within one of our dialogs (handles() said so). */
  inDialog(req: SipRequest, st: ServerTransaction): void {
    this.#uas.inDialog(req, st);
  }

  /** Ends every call (BYE sent, not awaited) and waits for them to end. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#uas.hangUpAll('closing');
    await Promise.allSettled([...this.#pending]);
    this.#uas.close();
  }
}
