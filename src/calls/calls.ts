// The calls capability: owns user_call (the seed's call log). A call to an offline user is recorded here
// directly; a proxied call is recorded as the proxy reports it (started → updated with its outcome).
import type { CallLog, CallUpdate, NewCall } from '../store/store.ts';
import type { Clock } from '../clock.ts';

/** Who calls whom (user ids, not URIs) in which SIP call. */
export interface CallParties {
  caller: string;
  callee: string;
  callId: string;
}

export interface CallsOptions {
  store: Pick<CallLog, 'recordCall' | 'updateCall'>;
  clock: Pick<Clock, 'now'>;
}

export class Calls {
  readonly #store: Pick<CallLog, 'recordCall' | 'updateCall'>;
  readonly #clock: Pick<Clock, 'now'>;

  constructor(opts: CallsOptions) {
    this.#store = opts.store;
    this.#clock = opts.clock;
  }

  /** The seed: a call to an offline user is written to user_call, kept for the callee's next REGISTER (missed-call notice). */
  async offline(call: CallParties): Promise<void> {
    await this.#store.recordCall({ userId: call.caller, otherUserId: call.callee, callDate: this.#clock.now(), callId: call.callId, outcome: 'offline', status: 480 });
  }

  /** The proxy's call recorder: a proxied INVITE started (outcome pending); resolves with its record id. */
  started(call: NewCall): Promise<number> {
    return this.#store.recordCall(call);
  }

  /** The proxy's call recorder: the call was answered, failed or ended. */
  update(id: number, update: CallUpdate): Promise<void> {
    return this.#store.updateCall(id, update);
  }
}
