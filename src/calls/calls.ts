// The calls capability: owns user_call (the seed's call log). A call to an offline user is recorded here
// directly; a proxied call is recorded as the proxy reports it (started → updated with its outcome).
import type { CallLog, CallUpdate, NewCall } from '../store/store.ts';
import type { Clock } from '../clock.ts';
import type { Logger } from '../log/logger.ts';

/** Calls in progress remembered for their log line; beyond this the oldest is forgotten (a BYE that never came). */
const MAX_TRACKED = 50_000;

/** Who calls whom (user ids, not URIs) in which SIP call. */
export interface CallParties {
  caller: string;
  callee: string;
  callId: string;
}

/** A call that rang an online user first (no answer within the ring time, or busy): the proxy's record, if any. */
export interface AfterRing {
  recordId: number | null;
  /** what user_call says until the message is committed */
  missed: 'no-answer' | 'busy';
}

export interface CallsOptions {
  store: Pick<CallLog, 'recordCall' | 'updateCall'>;
  clock: Pick<Clock, 'now'>;
  /** one info line per call: caller, callee, outcome, status, duration */
  log?: Logger;
}

export class Calls {
  readonly #store: Pick<CallLog, 'recordCall' | 'updateCall'>;
  readonly #clock: Pick<Clock, 'now'>;
  readonly #log?: Logger;
  /** record id → the call, while its outcome or its end is still to come (Map order = age) */
  readonly #live = new Map<number, { caller: string; callee: string; callId: string; outcome?: string; status?: number | null }>();

  constructor(opts: CallsOptions) {
    this.#store = opts.store;
    this.#clock = opts.clock;
    this.#log = opts.log;
  }

  /** The seed: a call to an offline user is written to user_call, kept for the callee's next REGISTER (missed-call notice). */
  async offline(call: CallParties): Promise<void> {
    await this.#store.recordCall({ userId: call.caller, otherUserId: call.callee, callDate: this.#clock.now(), callId: call.callId, outcome: 'offline', status: 480 });
    this.#log?.info({ caller: call.caller, callee: call.callee, callId: call.callId, outcome: 'offline', status: 480 }, 'call');
  }

  /**
   * A call to an offline user that the media server answers to take a voice message. It is written as missed (offline)
   * until its message is committed (voicemailEnded): a server killed mid-recording leaves a missed call, never none.
   * `after`: a call that rang an online user first; missed as no-answer or busy then, in the proxy's record if it has one.
   */
  async voicemail(call: CallParties, after?: AfterRing): Promise<number> {
    const now = this.#clock.now();
    if (after?.recordId != null) {
      // the proxy's record of the call that rang: the media server's now (the proxy no longer updates it)
      this.#live.delete(after.recordId);
      await this.#store.updateCall(after.recordId, { outcome: after.missed, status: 200, answeredAt: now });
      return after.recordId;
    }
    const outcome = after?.missed ?? 'offline';
    const id = await this.#store.recordCall({ userId: call.caller, otherUserId: call.callee, callDate: now, callId: call.callId, outcome, status: 200 });
    await this.#store.updateCall(id, { answeredAt: now });
    return id;
  }

  /**
   * The voicemail call ended: outcome voicemail once its message is kept; with none (the caller hung up at the greeting,
   * the store refused it) it stays a missed call (offline: the callee gets the missed-call notice); `status` is the
   * failure's when the media server could not answer.
   */
  async voicemailEnded(id: number, call: CallParties, r: { messageId: number | null; durationMs: number; status?: number; missed?: AfterRing['missed'] }): Promise<void> {
    const endedAt = this.#clock.now();
    const outcome = r.messageId === null ? r.missed ?? 'offline' : 'voicemail';
    await this.#store.updateCall(id, { outcome, endedAt, durationMs: r.durationMs, ...(r.status !== undefined ? { status: r.status } : {}) });
    this.#log?.info({ caller: call.caller, callee: call.callee, callId: call.callId, outcome, messageId: r.messageId, durationS: Math.round(r.durationMs / 1000) }, 'call');
  }

  /** The proxy's call recorder: a proxied INVITE started (outcome pending); resolves with its record id. */
  async started(call: NewCall): Promise<number> {
    const id = await this.#store.recordCall(call);
    if (this.#live.size >= MAX_TRACKED) this.#live.delete(this.#live.keys().next().value!);
    this.#live.set(id, { caller: call.userId, callee: call.otherUserId, callId: call.callId });
    return id;
  }

  /** The proxy's call recorder: the call was answered, failed or ended. */
  async update(id: number, update: CallUpdate): Promise<void> {
    await this.#store.updateCall(id, update);
    const call = this.#live.get(id);
    if (call === undefined) return;
    if (update.outcome !== undefined) {
      call.outcome = update.outcome;
      call.status = update.status;
    }
    // an answered call is logged when it ends (with its duration); any other outcome is final at once
    if (update.endedAt != null || (update.outcome !== undefined && update.outcome !== 'answered' && update.outcome !== 'pending')) {
      this.#live.delete(id);
      const durationS = update.durationMs != null ? Math.round(update.durationMs / 1000) : null;
      this.#log?.info({ caller: call.caller, callee: call.callee, callId: call.callId, outcome: call.outcome ?? 'answered', status: call.status ?? null, durationS }, 'call');
    }
  }
}
