// Dialogs (RFC 3261 §12): a dialog of the UA core — its state (dialog-state.ts: plain data), whether it is
// early or confirmed, and which side created it. Builds in-dialog requests and checks incoming ones; the UA
// core sends them.
import type { SipRequest, SipResponse } from '../sip/message.ts';
import { SipError } from '../errors.ts';
import {
  createRequest, firstContactUri, uacDialogState, uasDialogState, type DialogState, type InDialogRequestOptions,
} from './dialog-state.ts';

export type DialogPhase = 'early' | 'confirmed' | 'terminated';

export interface DialogId {
  callId: string;
  localTag: string;
  remoteTag: string;
}

/** `callId;local;remote`: the key the UA core keeps its dialogs under. */
export function dialogKey(id: DialogId): string {
  return `${id.callId};${id.localTag};${id.remoteTag}`;
}

/** The id of the dialog an incoming in-dialog request belongs to (RFC 3261 §12.2.2: local tag = To tag). */
export function dialogIdOfRequest(req: SipRequest): DialogId | null {
  const localTag = req.toTag;
  const remoteTag = req.fromTag;
  if (localTag === null || remoteTag === null) return null;
  return { callId: req.callId, localTag, remoteTag };
}

export class Dialog {
  /** the dialog state, plain data (RFC 3261 §12); the accessors below are shorthands for the UA core and the TU */
  readonly data: DialogState;
  state: DialogPhase;
  readonly isUac: boolean;

  constructor(data: DialogState, state: DialogPhase, isUac: boolean) {
    this.data = data;
    this.state = state;
    this.isUac = isUac;
  }

  get callId(): string {
    return this.data.callId;
  }
  get localTag(): string {
    return this.data.localTag;
  }
  get remoteTag(): string {
    return this.data.remoteTag;
  }
  get remoteTarget(): string {
    return this.data.remoteTarget;
  }
  get routeSet(): readonly string[] {
    return this.data.routeSet;
  }
  get localSeq(): number {
    return this.data.localSeq;
  }
  set localSeq(seq: number) {
    this.data.localSeq = seq;
  }
  get remoteSeq(): number | null {
    return this.data.remoteSeq;
  }

  get id(): DialogId {
    return { callId: this.callId, localTag: this.localTag, remoteTag: this.remoteTag };
  }

  get key(): string {
    return dialogKey(this.id);
  }

  /** RFC 3261 §12.1.2: the UAC's dialog, from a 1xx-with-tag or 2xx response. */
  static asUac(req: SipRequest, res: SipResponse): Dialog {
    return new Dialog(uacDialogState(req, res), res.status >= 200 ? 'confirmed' : 'early', true);
  }

  /** RFC 3261 §12.1.1: the UAS's dialog, from the request and the To tag we add. */
  static asUas(req: SipRequest, localTag: string, state: DialogPhase = 'confirmed'): Dialog {
    return new Dialog(uasDialogState(req, localTag), state, false);
  }

  /** An early dialog becomes confirmed on the 2xx (RFC 3261 §12.1.2); its remote target follows the 2xx's Contact. */
  confirm(res?: SipResponse): void {
    if (this.state === 'terminated') return;
    this.state = 'confirmed';
    if (res !== undefined) {
      const c = firstContactUri(res);
      if (c !== null) this.data.remoteTarget = c;
    }
  }

  /** RFC 3261 §12.2.1.1: the next request within the dialog (createRequest in dialog-state.ts); advances the local seq. */
  createRequest(method: string, opts: InDialogRequestOptions = {}): SipRequest {
    const req = createRequest(this.data, method, opts);
    if (opts.seq === undefined) this.data.localSeq += 1;
    return req;
  }

  /**
   * RFC 3261 §12.2.2: a request whose CSeq is lower than the remote seq is out of order: 500. Otherwise the
   * remote seq is updated; a target refresh (re-INVITE, SUBSCRIBE, NOTIFY per RFC 6665) may change the remote target.
   * Returns a SipError to answer with, or null when the request is in order.
   */
  receiveRequest(req: SipRequest): SipError | null {
    let seq: number;
    try {
      seq = req.cseq().seq;
    } catch {
      return new SipError('bad-request', { detail: 'Bad CSeq' });
    }
    if (req.method === 'ACK' || req.method === 'CANCEL') return null;
    if (this.remoteSeq !== null && seq <= this.remoteSeq) return new SipError('dialog-cseq-out-of-order');
    this.data.remoteSeq = seq;
    if (req.method === 'INVITE' || req.method === 'UPDATE' || req.method === 'NOTIFY' || req.method === 'SUBSCRIBE') {
      const c = firstContactUri(req);
      if (c !== null) this.data.remoteTarget = c;
    }
    return null;
  }

  terminate(): void {
    this.state = 'terminated';
  }
}
