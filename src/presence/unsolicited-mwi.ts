// Unsolicited message waiting indication (profile voicemail.unsolicitedMwi; Asterisk's, for phones that never
// SUBSCRIBE): RFC 3842 §3 lets a notifier send message-summary NOTIFYs outside a subscription. Each registered
// binding of the mailbox's owner gets one when the summary changes and when it registers (so a phone that was off
// learns the state at once). Out of any dialog: no Subscription-State, as Asterisk's chan_sip sends it.
import { newCallId, newTag } from '../sip/ids.ts';
import { SipRequest, type SipResponse } from '../sip/message.ts';
import type { Logger } from '../log/logger.ts';
import type { Binding } from '../store/store.ts';
import { MESSAGE_SUMMARY_CONTENT_TYPE, MESSAGE_SUMMARY_EVENT } from '../formats/message-summary.ts';

export interface UnsolicitedMwiOptions {
  /** the mailbox summary of a user now (the message-summary package's body) */
  body: (userId: string) => Promise<Uint8Array>;
  /** the user's registered bindings */
  bindingsOf: (userId: string) => Promise<Binding[]>;
  /** sends a request of ours to a binding (its Path, flow and node) */
  send: (req: SipRequest, binding: Binding) => Promise<SipResponse | null>;
  /** the domain of AoRs */
  domain: string;
  log: Logger;
}

export class UnsolicitedMwi {
  readonly #o: UnsolicitedMwiOptions;
  /** per user, the NOTIFYs in progress: one after the other, so the last a phone gets tells the latest state */
  readonly #chains = new Map<string, Promise<void>>();

  constructor(o: UnsolicitedMwiOptions) {
    this.#o = o;
  }

  /** The summary of `userId` changed: a NOTIFY to each of its bindings. Never rejects. */
  changed(userId: string): Promise<void> {
    return this.#queue(userId, async () => {
      const bindings = await this.#o.bindingsOf(userId);
      if (bindings.length === 0) return;
      const body = await this.#o.body(userId);
      await Promise.all(bindings.map((b) => this.#notify(userId, b, body)));
    });
  }

  /** `binding` was just registered: it learns the summary now. Never rejects. */
  registered(userId: string, binding: Binding): Promise<void> {
    return this.#queue(userId, async () => this.#notify(userId, binding, await this.#o.body(userId)));
  }

  #queue(userId: string, task: () => Promise<void>): Promise<void> {
    const next = (this.#chains.get(userId) ?? Promise.resolve()).then(task).catch((err: unknown) => {
      this.#o.log.warn({ err, userId }, 'unsolicited MWI not sent');
    });
    this.#chains.set(userId, next);
    void next.finally(() => {
      if (this.#chains.get(userId) === next) this.#chains.delete(userId);
    });
    return next;
  }

  async #notify(userId: string, b: Binding, body: Uint8Array): Promise<void> {
    const { domain } = this.#o;
    const req = new SipRequest('NOTIFY', b.contact);
    // RFC 3327 §5.3: a request to a registered contact carries its Path as a preloaded route set
    for (const p of b.path) req.addHeader('Route', p);
    req.addHeader('From', `<sip:tvphone@${domain}>;tag=${newTag()}`);
    req.addHeader('To', `<sip:${userId}@${domain}>`);
    req.addHeader('Call-ID', newCallId(domain));
    req.addHeader('CSeq', '1 NOTIFY');
    req.addHeader('Max-Forwards', '70');
    req.addHeader('Event', MESSAGE_SUMMARY_EVENT);
    req.addHeader('Content-Type', MESSAGE_SUMMARY_CONTENT_TYPE);
    req.body = body;
    const res = await this.#o.send(req, b);
    if (res === null || res.status >= 300) this.#o.log.debug({ userId, contact: b.contact, status: res?.status ?? null }, 'unsolicited MWI refused');
  }
}
