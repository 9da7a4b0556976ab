// RFC 3261 §13.3.1.4: the UAS core (not the transaction) retransmits the 2xx of an INVITE it answered, at T1
// doubling to T2, until the ACK arrives; after 64*T1 with no ACK it gives up and tells its TU, which SHOULD send BYE.
// Shared by the TV agent's UA core and the server's media server (both answer INVITEs themselves).
import type { Clock } from '../clock.ts';
import type { SipResponse } from '../sip/message.ts';
import type { ServerTransaction } from '../transaction/server-transaction.ts';
import type { TimerValues } from '../transaction/timers.ts';
import type { Transport } from '../transport/transport.ts';

export interface Uas2xxOptions {
  timers: Pick<Clock, 'set' | 'clear'>;
  values: Pick<TimerValues, 't1' | 't2'>;
  transport: Pick<Transport, 'send'>;
  /** no ACK within 64*T1 of the 2xx sent under `key` */
  onAckTimeout: (key: string) => void;
}

interface Pending {
  st: ServerTransaction;
  res: SipResponse;
  interval: number;
  elapsed: number;
  timer: unknown;
}

export class Uas2xxRetransmitter {
  readonly #o: Uas2xxOptions;
  /** dialog key → the 2xx waiting for its ACK; bounded by the dialogs of whoever owns this */
  readonly #pending = new Map<string, Pending>();

  constructor(o: Uas2xxOptions) {
    this.#o = o;
  }

  /** Sends `res` through `st` and, over UDP, retransmits it until stop(key) (the ACK) or 64*T1. */
  start(key: string, st: ServerTransaction, res: SipResponse): void {
    st.respond(res);
    this.stop(key);
    const t1 = this.#o.values.t1;
    const entry: Pending = { st, res, interval: t1, elapsed: 0, timer: null };
    this.#pending.set(key, entry);
    entry.timer = this.#o.timers.set((k: string) => this.#tick(k), t1, key);
  }

  /** The ACK came (or the dialog ended): no more retransmissions. True when a 2xx was waiting for its ACK. */
  stop(key: string): boolean {
    const e = this.#pending.get(key);
    if (e === undefined) return false;
    this.#o.timers.clear(e.timer);
    this.#pending.delete(key);
    return true;
  }

  has(key: string): boolean {
    return this.#pending.has(key);
  }

  get size(): number {
    return this.#pending.size;
  }

  /** Stops every retransmission (idempotent). */
  close(): void {
    for (const k of [...this.#pending.keys()]) this.stop(k);
  }

  #tick(key: string): void {
    const e = this.#pending.get(key);
    if (e === undefined) return;
    const t1 = this.#o.values.t1;
    e.elapsed += e.interval;
    if (e.elapsed >= 64 * t1) {
      this.#pending.delete(key);
      this.#o.onAckTimeout(key);
      return;
    }
    // a reliable transport delivers the 2xx once; only UDP needs it again (§13.3.1.4, §17.1.1.2)
    if (e.st.target.transport === 'udp') this.#o.transport.send(e.res, e.st.target);
    e.interval = Math.min(e.interval * 2, this.#o.values.t2, 64 * t1 - e.elapsed);
    e.timer = this.#o.timers.set((k: string) => this.#tick(k), e.interval, key);
  }
}
