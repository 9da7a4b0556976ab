// The calls the server answers itself (the media server's recordings, the access number's mailbox): their dialogs as
// UAS (RFC 3261 §12.1.1), the 2xx retransmitted until the ACK (§13.3.1.4), the requests within them, and our BYE
// (§15.1.1). One table per server; each server supplies what its calls do with a re-INVITE, an INFO and a hang-up.
// The start of every answer is here too: the INVITE refused before any work, or its media bound and its dialog made.
import type { Clock } from '../clock.ts';
import { Dialog, dialogIdOfRequest, dialogKey } from '../dialog/dialog.ts';
import { Uas2xxRetransmitter } from '../dialog/uas-2xx.ts';
import { SipError } from '../errors.ts';
import type { Flow } from '../flow.ts';
import type { Logger } from '../log/logger.ts';
import type { MediaSession } from '../media/rtp-session.ts';
import { LocalMedia, type LocalMediaOptions, type Negotiated } from '../media/sdp.ts';
import { newTag } from '../sip/ids.ts';
import type { SipRequest, SipResponse } from '../sip/message.ts';
import { createResponse } from '../sip/response.ts';
import type { ServerTransaction } from '../transaction/server-transaction.ts';
import type { TimerValues } from '../transaction/timers.ts';
import type { Source, Transport } from '../transport/transport.ts';

/** What the table needs of a call: its dialog, the flow it came over, its media, and how it ends. */
export interface UasCall<R extends string> {
  dialog: Dialog;
  flow: Flow;
  local: LocalMedia;
  media: MediaSession;
  call: { end(reason: R | 'bye' | 'no-ack'): unknown };
}

export interface UasCallsOptions<L> {
  clock: Clock;
  log: Logger;
  transport: Pick<Transport, 'send'>;
  timerValues: Pick<TimerValues, 't1' | 't2'>;
  contact: (source: Source) => string;
  sendInDialog: (req: SipRequest, dialog: { remoteTarget: string; routeSet: readonly string[]; flow: Flow }) => Promise<SipResponse | null>;
  /** the Allow of our 2xx and 405s */
  allow: string;
  /** names the calls in logs ("voicemail", "mailbox") */
  what: string;
  /** a re-INVITE was answered with `neg`: streams beyond the audio follow it */
  reinvited?: (live: L, neg: Negotiated) => void;
  /** an INFO within the call (answered 200) */
  info?: (live: L, req: SipRequest) => void;
}

/** An answer made, not yet sent: the SDP answer to the offer, our dialog and its 2xx. */
export interface UasAnswer {
  local: LocalMedia;
  neg: Negotiated;
  dialog: Dialog;
  res: SipResponse;
}

export interface UasAnswerOptions {
  /** the server began to close while the media was bound: the call is refused */
  closed: () => boolean;
  /** binds the streams beyond the audio (on `media.localIp`) and says them to the SDP answer; the caller stops them */
  more?: (media: MediaSession) => Promise<Pick<LocalMediaOptions, 'video'>>;
}

export class UasCalls<R extends string, L extends UasCall<R>> {
  /** dialog key → the call */
  readonly calls = new Map<string, L>();
  readonly #o: UasCallsOptions<L>;
  readonly #retransmitter: Uas2xxRetransmitter;
  /** calls admitted and not yet answered or refused: counted against maxCalls with the answered ones */
  #starting = 0;

  constructor(o: UasCallsOptions<L>) {
    this.#o = o;
    this.#retransmitter = new Uas2xxRetransmitter({
      timers: o.clock, values: o.timerValues, transport: o.transport,
      // §13.3.1.4: no ACK: the session is ended with BYE
      onAckTimeout: (key) => this.hangUp(key, 'no-ack'),
    });
  }

  get size(): number {
    return this.calls.size;
  }

  /**
   * Admits `invite`, or refuses it before any work: 503 once `closed` or beyond `maxCalls` (the calls answered and
   * those being answered), 488 without an offer (`subject` names who needs it in the Warning). An admitted call counts
   * as being answered until the returned function is called, answered or not.
   */
  admit(invite: SipRequest, o: { maxCalls: number; closed: boolean; subject: string }): () => void {
    if (o.closed || this.calls.size + this.#starting >= o.maxCalls) throw new SipError('overloaded', { detail: `${this.#o.what} calls` });
    // RFC 3261 §13.3.1.1: an INVITE without an offer would need ours in the 200 and the caller's answer in the ACK
    if (invite.body.length === 0) throw new SipError('not-acceptable-here', { warning: `${o.subject} needs an SDP offer in the INVITE` });
    this.#starting++;
    let settled = false;
    return () => {
      if (!settled) this.#starting--;
      settled = true;
    };
  }

  /**
   * The start of an answer: the call's audio `media` bound (the caller's to stop), the streams `more` binds, the SDP
   * answer to the INVITE's offer (RFC 3264: 488 when nothing in it can be answered) and our dialog (§12.1.1) with its
   * 2xx. Throws 503 when the server closed meanwhile.
   */
  async answering(invite: SipRequest, st: ServerTransaction, media: MediaSession, o: UasAnswerOptions): Promise<UasAnswer> {
    await media.bind();
    const more = o.more ? await o.more(media) : {};
    const local = new LocalMedia({ ip: media.localIp, port: media.localPort, ...more });
    const neg = local.createAnswer(new TextDecoder().decode(invite.body));
    if (o.closed()) throw new SipError('overloaded', { detail: 'shutting down' });
    const tag = newTag();
    const dialog = Dialog.asUas(invite, tag);
    return { local, neg, dialog, res: this.#answerOf(invite, tag, st.source, neg.sdp) };
  }

  /** Our 2xx to `invite` (§12.1.1: its Record-Route copied; our Contact for `source`), with SDP `sdp`. */
  #answerOf(invite: SipRequest, tag: string, source: Source, sdp: string): SipResponse {
    const res = createResponse(invite, 200, undefined, tag);
    for (const rr of invite.fields('record-route')) res.addHeader('Record-Route', rr.value);
    res.addHeader('Contact', `<${this.#o.contact(source)}>`);
    res.addHeader('Allow', this.#o.allow);
    res.addHeader('Content-Type', 'application/sdp');
    res.body = new TextEncoder().encode(sdp);
    return res;
  }

  /** The call is answered: kept under its dialog, its 2xx sent and retransmitted until the ACK. */
  add(live: L, st: ServerTransaction, res: SipResponse): void {
    this.calls.set(live.dialog.key, live);
    this.#retransmitter.start(live.dialog.key, st, res);
  }

  /** The call is over: forgotten, and its 2xx no longer retransmitted. */
  remove(key: string): void {
    this.calls.delete(key);
    this.#retransmitter.stop(key);
  }

  /** Whether `req` (with a To tag) belongs to one of our dialogs. */
  handles(req: SipRequest): boolean {
    const id = dialogIdOfRequest(req);
    return id !== null && this.calls.has(dialogKey(id));
  }

  /** RFC 3261 §13.3.1.4: the ACK of our 2xx stops its retransmission. True when it was for one of our dialogs. */
  ack(ack: SipRequest): boolean {
    const id = dialogIdOfRequest(ack);
    if (id === null) return false;
    const key = dialogKey(id);
    if (!this.calls.has(key)) return false;
    this.#retransmitter.stop(key);
    return true;
  }

  /** A request within one of our dialogs (handles() said so). */
  inDialog(req: SipRequest, st: ServerTransaction): void {
    const id = dialogIdOfRequest(req);
    const live = id === null ? undefined : this.calls.get(dialogKey(id));
    if (live === undefined) return void st.respond(createResponse(req, 481));
    const bad = live.dialog.receiveRequest(req);
    if (bad !== null) return void st.respond(createResponse(req, bad.status, bad.reason));
    switch (req.method) {
      case 'BYE':
        // RFC 3261 §15.1.2: the UAS answers the BYE 200 and ends the session
        st.respond(createResponse(req, 200));
        this.#retransmitter.stop(live.dialog.key);
        void live.call.end('bye');
        return;
      case 'INVITE': {
        // a re-INVITE (session refresh, hold): answered with our streams again; RFC 3264 §8
        if (req.body.length === 0) return void st.respond(createResponse(req, 488));
        try {
          const neg = live.local.createAnswer(new TextDecoder().decode(req.body));
          live.media.updateRemote({ remoteIp: neg.remote.ip, remotePort: neg.remote.port, remoteRtcpPort: neg.remote.rtcpPort });
          this.#o.reinvited?.(live, neg);
          const res = createResponse(req, 200, undefined, live.dialog.localTag);
          res.addHeader('Contact', `<${this.#o.contact(st.source)}>`);
          res.addHeader('Content-Type', 'application/sdp');
          res.body = new TextEncoder().encode(neg.sdp);
          this.#retransmitter.start(live.dialog.key, st, res);
        } catch (err) {
          st.respond(createResponse(req, err instanceof SipError ? err.status : 488));
        }
        return;
      }
      case 'INFO':
        st.respond(createResponse(req, 200));
        this.#o.info?.(live, req);
        return;
      case 'OPTIONS':
      case 'UPDATE':
        return void st.respond(createResponse(req, 200));
      default: {
        const res = createResponse(req, 405);
        res.addHeader('Allow', this.#o.allow);
        st.respond(res);
      }
    }
  }

  /** The call ended on our side: BYE to the caller (§15.1.1), not awaited. */
  hangUp(key: string, reason: R | 'no-ack'): void {
    const live = this.calls.get(key);
    if (live === undefined) return;
    this.#retransmitter.stop(key);
    void live.call.end(reason);
    const bye = live.dialog.createRequest('BYE');
    const sent = this.#o.sendInDialog(bye, { remoteTarget: live.dialog.remoteTarget, routeSet: live.dialog.routeSet, flow: live.flow });
    sent.catch((err: unknown) => this.#o.log.debug({ err }, `${this.#o.what} BYE not sent`));
  }

  /** Hangs up every call (the servers wait for their ends themselves). */
  hangUpAll(reason: R): void {
    for (const key of [...this.calls.keys()]) this.hangUp(key, reason);
  }

  close(): void {
    this.#retransmitter.close();
  }
}
