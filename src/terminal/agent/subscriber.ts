// The presence watcher of the TV agent (RFC 3856, RFC 6665 §4.1: the subscriber): one SUBSCRIBE dialog
// per contact, refreshed before expiry, started afresh when it ends; the PIDF of each NOTIFY becomes a
// `presence` event. SIP.js calls this part the Subscriber.
import type { TimerHandle } from '../../clock.ts';
import { Dialog } from '../../dialog/dialog.ts';
import { overallBasic, parsePidf, PIDF_CONTENT_TYPE } from '../../formats/pidf.ts';
import { expiresOf } from '../../sip/headers.ts';
import { newCallId, newTag } from '../../sip/ids.ts';
import { SipRequest } from '../../sip/message.ts';
import { createResponse } from '../../sip/response.ts';
import type { ServerTransaction } from '../../transaction/server-transaction.ts';
import { delay, type AgentContext } from './context.ts';
import { userOf } from './user-of.ts';

const EVENT = 'presence';

interface Subscription {
  contact: string;
  callId: string;
  fromTag: string;
  dialog: Dialog | null;
  timer: TimerHandle | null;
  closed: boolean;
}

export class Subscriber {
  readonly #ctx: AgentContext;
  readonly #subs = new Map<string, Subscription>();
  /** contacts' last known state, for the screen */
  readonly presence = new Map<string, boolean>();

  constructor(ctx: AgentContext) {
    this.#ctx = ctx;
  }

  subscribeAll(): void {
    for (const c of this.#ctx.options.contacts) if (!this.#subs.has(c)) void this.subscribe(c);
  }

  /** RFC 3856 / RFC 6665 §4.1: SUBSCRIBE Event: presence to a contact; refreshed in the dialog before expiry. */
  async subscribe(contact: string): Promise<void> {
    const ctx = this.#ctx;
    const core = ctx.core;
    if (core === null || ctx.stopped) return;
    const sub: Subscription = this.#subs.get(contact) ?? { contact, callId: newCallId(), fromTag: newTag(), dialog: null, timer: null, closed: false };
    this.#subs.set(contact, sub);
    let req: SipRequest;
    if (sub.dialog !== null) req = sub.dialog.createRequest('SUBSCRIBE');
    else {
      req = new SipRequest('SUBSCRIBE', `sip:${contact}@${ctx.domain}`);
      req.addHeader('From', `<${ctx.aor}>;tag=${sub.fromTag}`);
      req.addHeader('To', `<sip:${contact}@${ctx.domain.split(':')[0]}>`);
      req.addHeader('Call-ID', sub.callId);
      req.addHeader('CSeq', '1 SUBSCRIBE');
    }
    req.addHeader('Event', EVENT);
    req.addHeader('Accept', PIDF_CONTENT_TYPE);
    req.addHeader('Expires', String(ctx.options.presenceExpires));
    req.addHeader('Contact', `<${ctx.contact}>`);
    const res = await core.request(req, {}, sub.dialog ?? undefined);
    if (sub.closed || ctx.stopped) return;
    if (res.status >= 200 && res.status < 300) {
      if (sub.dialog === null) {
        try {
          sub.dialog = Dialog.asUac(req, res);
          core.addDialog(sub.dialog);
        } catch (err) {
          ctx.error(err);
        }
      }
      const granted = expiresOf(res) ?? ctx.options.presenceExpires;
      this.#retry(sub, Math.max(1_000, granted * 800));
      return;
    }
    // RFC 6665 §4.1.2.2: a failed refresh (481 …) ends the subscription; start a new one later.
    this.#restart(sub, res.status === 481 ? 1_000 : 30_000);
  }

  /** RFC 3856 §6.6: a NOTIFY with a PIDF body: 200, then show the contact's state. `d`: the dialog it came in. */
  onNotify(req: SipRequest, st: ServerTransaction, d?: Dialog): void {
    const sub = d === undefined ? undefined : [...this.#subs.values()].find((s) => s.dialog === d);
    this.#notify(req, st, sub);
  }

  /** RFC 6665 §4.1.2.4: a NOTIFY may arrive before the 2xx of its SUBSCRIBE. True when it was ours. */
  onUnknownDialogRequest(req: SipRequest, st: ServerTransaction): boolean {
    if (req.method !== 'NOTIFY') return false;
    const sub = [...this.#subs.values()].find((s) => s.callId === req.callId);
    if (sub === undefined) return false;
    this.#notify(req, st, sub);
    return true;
  }

  /** The flow they lived on is gone: forget every subscription (subscribeAll starts them afresh). */
  dropAll(): void {
    for (const sub of this.#subs.values()) this.#drop(sub);
    this.#subs.clear();
  }

  /** RFC 6665 §4.1.2.3: unsubscribe (Expires: 0, at most 2 s each) while still registered, then forget them. */
  async unsubscribeAll(registered: boolean): Promise<void> {
    const ctx = this.#ctx;
    for (const sub of this.#subs.values()) {
      if (sub.dialog !== null && registered && ctx.core !== null) {
        const req = sub.dialog.createRequest('SUBSCRIBE');
        req.addHeader('Event', EVENT);
        req.addHeader('Expires', '0');
        req.addHeader('Contact', `<${ctx.contact}>`);
        sub.closed = true;
        await Promise.race([ctx.core.request(req, {}, sub.dialog), delay(ctx.clock, 2_000)]);
      }
      this.#drop(sub);
    }
    this.#subs.clear();
  }

  #notify(req: SipRequest, st: ServerTransaction, sub: Subscription | undefined): void {
    const ctx = this.#ctx;
    st.respond(createResponse(req, 200));
    const contact = sub?.contact ?? userOf(req.header('from') ?? '');
    if (req.body.length > 0) {
      try {
        const basic = overallBasic(parsePidf(req.body));
        this.presence.set(contact, basic === 'open');
        ctx.emit('presence', { contact, online: basic === 'open', basic });
      } catch (err) {
        ctx.error(err);
      }
    }
    // RFC 6665 §4.1.3: Subscription-State: terminated ends it; subscribe again later.
    if (sub !== undefined && /^\s*terminated/i.test(req.header('subscription-state') ?? '')) this.#restart(sub, 5_000);
  }

  /** End the subscription's dialog; a new one (new Call-ID and tag) starts after `ms`. */
  #restart(sub: Subscription, ms: number): void {
    if (sub.dialog !== null) this.#ctx.core?.removeDialog(sub.dialog);
    sub.dialog = null;
    sub.callId = newCallId();
    sub.fromTag = newTag();
    this.#retry(sub, ms);
  }

  #retry(sub: Subscription, ms: number): void {
    const clock = this.#ctx.clock;
    if (sub.timer !== null) clock.clear(sub.timer);
    sub.timer = clock.set(() => void this.subscribe(sub.contact), ms, undefined);
  }

  #drop(sub: Subscription): void {
    sub.closed = true;
    if (sub.timer !== null) this.#ctx.clock.clear(sub.timer);
    if (sub.dialog !== null) this.#ctx.core?.removeDialog(sub.dialog);
  }
}
