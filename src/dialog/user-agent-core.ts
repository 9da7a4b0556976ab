// The UA core (RFC 3261 §8, §12–§15): sends requests through client transactions (Via, Max-Forwards,
// digest credentials on 401/407 per §22.2), sends the ACK for a 2xx itself (§13.2.2.4), retransmits the
// 2xx of an INVITE it answered until the ACK comes (§13.3.1.4), keeps the dialog table and matches
// in-dialog requests to it (§12.2.2), answers CANCEL (§9.2) and requests of unknown dialogs (481).
import { SipError } from '../errors.ts';
import { DigestClient } from '../sip/uac-auth.ts';
import { SipRequest, type SipResponse } from '../sip/message.ts';
import { createResponse } from '../sip/response.ts';
import type { ServerTransaction } from '../transaction/server-transaction.ts';
import type { Clock } from '../clock.ts';
import type { TimerValues } from '../transaction/timers.ts';
import { TransactionLayer } from '../transaction/transaction-layer.ts';
import { cancelFor } from '../transaction/request-from-invite.ts';
import type { Target, Transport } from '../transport/transport.ts';
import { Dialog, dialogIdOfRequest, dialogKey } from './dialog.ts';
import { Uas2xxRetransmitter } from './uas-2xx.ts';

export interface Credentials {
  user: string;
  password: string;
}

/** What the layer above (the TV agent) handles. */
export interface UserAgentHandler {
  /** A request outside any dialog (no To tag): answer it through `st`. */
  onRequest(req: SipRequest, st: ServerTransaction): void;
  /** A request in one of our dialogs, in CSeq order (§12.2.2): answer it through `st`. */
  onDialogRequest(dialog: Dialog, req: SipRequest, st: ServerTransaction): void;
  /**
   * A request with a To tag that matches no dialog. Return true when handled (e.g. a NOTIFY that overtook the
   * 2xx of its SUBSCRIBE, RFC 6665 §4.1.2.4); otherwise the core answers 481 (RFC 3261 §12.2.2).
   */
  onUnknownDialogRequest?(req: SipRequest, st: ServerTransaction): boolean;
  /** RFC 3261 §9.2: a CANCEL matched a pending INVITE; the core has answered the CANCEL 200; the TU sends 487. */
  onCancel?(invite: ServerTransaction, cancel: SipRequest): void;
  /** the ACK for a 2xx we sent arrived (§13.3.1.4) */
  onAck?(dialog: Dialog, ack: SipRequest): void;
  /** §13.3.1.4: no ACK within 64*T1 of our 2xx: the TU should end the session with BYE */
  onAckTimeout?(dialog: Dialog): void;
}

export interface UserAgentCoreOptions {
  transport: Transport;
  /** every request goes here (RFC 3261 §8.1.2 outbound proxy): the server the agent registers with */
  outboundProxy: Target;
  credentials?: Credentials;
  timers?: Clock;
  timerValues?: Partial<TimerValues>;
  /** a callback threw or a message was unusable: for the log */
  onError?: (err: unknown) => void;
}

export interface SendOptions {
  onProvisional?: (res: SipResponse) => void;
  /** how many times to answer 401/407 (default 2: a challenge, then a stale=true one) */
  authRetries?: number;
}

/** The outcome of an INVITE we sent. */
export interface InviteOutcome {
  /** the final response (locally made 408 on timeout, 503 on transport error) */
  response: SipResponse;
  /** the confirmed dialog, for a 2xx */
  dialog?: Dialog;
  /** the INVITE as last sent (after credentials were added) */
  request: SipRequest;
}

const MAX_DIALOGS = 1000;

export class UserAgentCore {
  readonly layer: TransactionLayer;
  readonly transport: Transport;
  readonly outboundProxy: Target;
  credentials: Credentials | undefined;
  handler: UserAgentHandler | null = null;
  private readonly dialogs = new Map<string, Dialog>();
  /** ACKs we sent for 2xx, by dialog key: resent when the 2xx is retransmitted (§13.2.2.4) */
  private readonly acks = new Map<string, SipRequest>();
  /** 2xx we sent and retransmit until their ACK (§13.3.1.4) */
  private readonly pending2xx: Uas2xxRetransmitter;
  private readonly onError: (err: unknown) => void;
  private readonly digest = new DigestClient();
  private closed = false;

  constructor(o: UserAgentCoreOptions) {
    this.transport = o.transport;
    this.outboundProxy = o.outboundProxy;
    this.credentials = o.credentials;
    this.onError = o.onError ?? (() => {});
    this.layer = new TransactionLayer(o.transport, {
      onRequest: (req, st) => this.receiveRequest(req, st),
      onAck: (ack) => this.receiveAck(ack),
      onStrayResponse: (res) => this.receiveStrayResponse(res),
    }, { timers: o.timers, timerValues: o.timerValues, onError: this.onError });
    this.pending2xx = new Uas2xxRetransmitter({
      timers: this.layer.timers, values: this.layer.values, transport: o.transport,
      onAckTimeout: (key) => {
        const dialog = this.dialogs.get(key);
        if (dialog !== undefined) this.safe(() => this.handler?.onAckTimeout?.(dialog));
      },
    });
  }

  // ------------------------------------------------------------------------------------------ dialogs

  addDialog(d: Dialog): void {
    if (this.dialogs.size >= MAX_DIALOGS && !this.dialogs.has(d.key)) throw new SipError('overloaded', { detail: 'too many dialogs' });
    this.dialogs.set(d.key, d);
  }

  removeDialog(d: Dialog): void {
    d.terminate();
    this.dialogs.delete(d.key);
    this.acks.delete(d.key);
    this.stop2xx(d.key);
  }

  findDialog(key: string): Dialog | undefined {
    return this.dialogs.get(key);
  }

  get dialogCount(): number {
    return this.dialogs.size;
  }

  // ------------------------------------------------------------------------------------------ UAC

  /** RFC 3261 §8.1.1.6: Max-Forwards 70 (the transaction layer adds the top Via with its branch, §8.1.1.7). */
  private maxForwards(req: SipRequest): void {
    if (!req.has('max-forwards')) req.addHeader('Max-Forwards', '70');
  }

  /** One transaction, resolving with its final response (a local 408/503 on timeout/transport failure). */
  private transact(req: SipRequest, opts: SendOptions, onExtra2xx?: (res: SipResponse) => void): Promise<SipResponse> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (res: SipResponse): void => {
        if (done) {
          if (res.status >= 200 && res.status < 300) onExtra2xx?.(res);
          return;
        }
        done = true;
        resolve(res);
      };
      try {
        this.layer.request(req, this.outboundProxy, {
          onProvisional: (res) => opts.onProvisional?.(res),
          onFinal: finish,
          onTimeout: finish,
          onTransportError: () => finish(createResponse(req, 503, 'Transport Error')),
        });
      } catch (err) {
        this.onError(err);
        finish(createResponse(req, 503, 'Transaction Limit'));
      }
    });
  }

  /** RFC 3261 §22.2: answer a 401/407 with credentials (sip/uac-auth.ts, shared with the trunks). False when it cannot. */
  private addCredentials(req: SipRequest, res: SipResponse): boolean {
    return this.digest.answer(req, res, this.credentials) === null;
  }

  /**
   * Send a non-INVITE request (out of dialog, or in dialog from dialog.createRequest()) and resolve with its final
   * response, answering digest challenges with the credentials. For an in-dialog request pass `dialog` so a CSeq
   * bump for credentials is kept in the dialog's local seq.
   */
  async request(req: SipRequest, opts: SendOptions = {}, dialog?: Dialog): Promise<SipResponse> {
    let retries = opts.authRetries ?? 2;
    for (;;) {
      this.maxForwards(req);
      const res = await this.transact(req, opts);
      if ((res.status === 401 || res.status === 407) && retries-- > 0 && this.addCredentials(req, res)) {
        if (dialog !== undefined) dialog.localSeq = req.cseq().seq;
        continue;
      }
      return res;
    }
  }

  /**
   * Send an INVITE (initial or re-INVITE in `dialog`). On a 2xx the core builds the dialog (§12.1.2), sends the
   * ACK (§13.2.2.4; `ackBody` for an offer in the 2xx) and answers retransmitted 2xx with the same ACK; an extra 2xx
   * from another fork is ACKed and ended with BYE.
   */
  async invite(req: SipRequest, opts: SendOptions & { dialog?: Dialog; ackBody?: () => Uint8Array | undefined } = {}): Promise<InviteOutcome> {
    let retries = opts.authRetries ?? 2;
    let confirmed: Dialog | undefined = opts.dialog;
    const extra = (res: SipResponse): void => {
      const tag = res.toTag;
      const key = tag === null ? '' : dialogKey({ callId: req.callId, localTag: req.fromTag ?? '', remoteTag: tag });
      const ack = this.acks.get(key);
      if (ack !== undefined) {
        this.transport.send(ack, this.outboundProxy);
        return;
      }
      // §13.2.2.4: a 2xx from a second fork: ACK it, then BYE that dialog.
      try {
        const d = Dialog.asUac(req, res);
        this.sendAck(d, req, undefined);
        void this.request(d.createRequest('BYE'));
      } catch (err) {
        this.onError(err);
      }
    };
    for (;;) {
      this.maxForwards(req);
      const res = await this.transact(req, opts, extra);
      if ((res.status === 401 || res.status === 407) && retries-- > 0 && this.addCredentials(req, res)) {
        if (opts.dialog !== undefined) opts.dialog.localSeq = req.cseq().seq;
        continue;
      }
      if (res.status >= 200 && res.status < 300) {
        if (confirmed === undefined) {
          confirmed = Dialog.asUac(req, res);
          this.addDialog(confirmed);
        } else confirmed.confirm(res);
        this.sendAck(confirmed, req, opts.ackBody?.());
        return { response: res, dialog: confirmed, request: req };
      }
      return { response: res, request: req };
    }
  }

  /** RFC 3261 §13.2.2.4: the ACK is built by the UA core with the INVITE's CSeq number and a new branch. */
  private sendAck(d: Dialog, invite: SipRequest, body: Uint8Array | undefined): void {
    const seq = invite.cseq().seq;
    const ack = d.createRequest('ACK', { seq, body });
    // §13.2.2.4: the ACK carries the INVITE's credentials when the INVITE had them
    for (const name of ['authorization', 'proxy-authorization']) {
      const v = invite.header(name);
      if (v !== undefined) ack.addHeader(name === 'authorization' ? 'Authorization' : 'Proxy-Authorization', v);
    }
    this.maxForwards(ack);
    this.acks.set(d.key, ack);
    this.layer.sendStateless(ack, this.outboundProxy);
  }

  /** RFC 3261 §9.1: CANCEL a pending INVITE: same Request-URI, Call-ID, From, To, CSeq number, top Via and Route. */
  cancel(invite: SipRequest): Promise<SipResponse> {
    return this.transact(cancelFor(invite), {});
  }

  // ------------------------------------------------------------------------------------------ UAS

  /**
   * Send a 2xx to an INVITE and, over UDP, retransmit it with T1 doubling to T2 until the ACK arrives; with no
   * ACK after 64*T1 the handler's onAckTimeout runs (RFC 3261 §13.3.1.4).
   */
  respond2xx(st: ServerTransaction, res: SipResponse, d: Dialog): void {
    this.pending2xx.start(d.key, st, res);
  }

  private stop2xx(key: string): void {
    this.pending2xx.stop(key);
  }

  private receiveAck(ack: SipRequest): void {
    const id = dialogIdOfRequest(ack);
    if (id === null) return;
    const key = dialogKey(id);
    const d = this.dialogs.get(key);
    if (d === undefined) return;
    if (!this.pending2xx.stop(key)) return; // a retransmitted ACK
    this.safe(() => this.handler?.onAck?.(d, ack));
  }

  private receiveStrayResponse(res: SipResponse): void {
    // RFC 3261 §13.2.2.4: a 2xx retransmission after the INVITE transaction ended gets the same ACK again.
    if (res.status < 200 || res.status >= 300) return;
    let method = '';
    try {
      method = res.cseq().method;
    } catch {
      return;
    }
    if (method !== 'INVITE') return;
    const localTag = res.fromTag;
    const remoteTag = res.toTag;
    if (localTag === null || remoteTag === null) return;
    const ack = this.acks.get(dialogKey({ callId: res.callId, localTag, remoteTag }));
    if (ack !== undefined) this.transport.send(ack, this.outboundProxy);
  }

  private receiveRequest(req: SipRequest, st: ServerTransaction): void {
    if (this.closed) return;
    const h = this.handler;
    if (req.method === 'CANCEL') {
      // RFC 3261 §9.2: 200 to the CANCEL when it matches a transaction, else 481.
      const invite = this.layer.findInviteForCancel(req);
      if (invite === undefined || invite.finalResponse !== null) {
        st.respond(createResponse(req, invite === undefined ? 481 : 200));
        return;
      }
      st.respond(createResponse(req, 200));
      if (h?.onCancel) this.safe(() => h.onCancel?.(invite, req));
      else invite.respond(createResponse(invite.request, 487));
      return;
    }
    const id = dialogIdOfRequest(req);
    if (id === null) {
      if (h === null) return void st.respond(createResponse(req, 503));
      this.safe(() => h.onRequest(req, st), req, st);
      return;
    }
    const d = this.dialogs.get(dialogKey(id));
    if (d === undefined) {
      if (h?.onUnknownDialogRequest !== undefined) {
        let handled = false;
        this.safe(() => { handled = h.onUnknownDialogRequest?.(req, st) ?? false; }, req, st);
        if (handled) return;
      }
      // RFC 3261 §12.2.2: a request with a To tag that matches no dialog gets 481.
      st.respond(createResponse(req, 481));
      return;
    }
    const bad = d.receiveRequest(req);
    if (bad !== null) {
      const res = createResponse(req, bad.status, bad.reason);
      st.respond(res);
      return;
    }
    if (h === null) return void st.respond(createResponse(req, 503));
    this.safe(() => h.onDialogRequest(d, req, st), req, st);
  }

  private safe(fn: () => void, req?: SipRequest, st?: ServerTransaction): void {
    try {
      fn();
    } catch (err) {
      this.onError(err);
      if (req !== undefined && st !== undefined && st.finalResponse === null && req.method !== 'ACK') {
        const status = err instanceof SipError ? err.status : 500;
        st.respond(createResponse(req, status, err instanceof SipError ? err.reason : undefined));
      }
    }
  }

  /** Stop every timer and transaction (idempotent). Dialogs are forgotten; the TU sends BYE first if it wants. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending2xx.close();
    this.dialogs.clear();
    this.acks.clear();
    this.layer.close();
  }
}

