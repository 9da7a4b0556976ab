// Test doubles for the offline and presence capabilities: the store slices they take (messages, calls,
// subscriptions, presence) in memory, and a fake clock whose timers run when the test advances time.
import { FakeClock as SharedFakeClock } from '../../src/clock.ts';
import type {
  Binding, CallLog, CallQuery, CallRecord, LocationStore, MessageQuota, MessageStore, NewCall, NewMessage, Presence, StoredMessage, Subscription,
  SubscriptionStore,
} from '../../src/store/store.ts';
import { QuotaExceededError } from '../../src/errors.ts';

/** The one fake clock (src/clock.ts), starting at a fixed date. */
export class FakeClock extends SharedFakeClock {
  constructor(start = Date.UTC(2025, 0, 1, 10, 0, 0)) {
    super(start);
  }
}

/** let every chain of resolved promises run */
export async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise<void>((r) => setImmediate(r));
}

export class FakeStore implements MessageStore, CallLog, SubscriptionStore, Pick<LocationStore, 'getPresence' | 'listPresence'> {
  messages: StoredMessage[] = [];
  calls: CallRecord[] = [];
  presence = new Map<string, Presence>();
  subscriptions = new Map<string, Subscription>();
  /** when set, storeMessage waits for this promise (to observe that nothing is answered before it resolves) */
  storeGate: Promise<void> | null = null;
  /** when set, every call throws it */
  failWith: Error | null = null;
  #nextMsg = 1;

  #check(): void {
    if (this.failWith) throw this.failWith;
  }

  async getPresence(userId: string) { this.#check(); return this.presence.get(userId) ?? null; }
  async listPresence() { return [...this.presence.values()]; }

  async recordCall(call: NewCall): Promise<number> {
    const id = this.calls.length + 1;
    this.calls.push({
      id, userId: call.userId, otherUserId: call.otherUserId, callDate: call.callDate, callId: call.callId, outcome: call.outcome,
      status: call.status ?? null, answeredAt: null, endedAt: null, durationMs: null, notifiedAt: null,
      trunk: null, dialledNumber: call.dialledNumber ?? null, sentNumber: call.sentNumber ?? null,
    });
    return id;
  }
  async updateCall() {}
  async listCalls(q: CallQuery): Promise<CallRecord[]> {
    this.#check();
    const missed = ['offline', 'no-answer', 'busy', 'cancelled'];
    return this.calls
      .filter((c) => (q.missedBy === undefined || (c.otherUserId === q.missedBy && missed.includes(c.outcome))))
      .filter((c) => (!q.unnotified || c.notifiedAt === null))
      .slice(-(q.limit ?? 1000)); // the newest, oldest first (as the SQL stores)
  }
  async markCallsNotified(ids: number[], at: number) {
    for (const c of this.calls) if (ids.includes(c.id)) c.notifiedAt = at;
  }

  async storeMessage(m: NewMessage, quota?: MessageQuota): Promise<StoredMessage> {
    this.#check();
    if (this.storeGate) await this.storeGate;
    if (quota) {
      const usage = await this.pendingUsage(m.toUser);
      if (usage.count + 1 > quota.count || usage.bytes + m.body.byteLength > quota.bytes) throw new QuotaExceededError(m.toUser, usage);
    }
    const stored: StoredMessage = {
      ...m, body: new Uint8Array(m.body), id: this.#nextMsg++, state: 'pending', attempts: 0, nextAttemptAt: null, deliveredAt: null,
    };
    this.messages.push(stored);
    return { ...stored };
  }
  async pendingMessages(toUser: string, limit: number) {
    this.#check();
    return this.messages.filter((m) => m.toUser === toUser && m.state === 'pending').slice(0, limit).map((m) => ({ ...m }));
  }
  async keptFor(userId: string) {
    this.#check();
    const missed = ['offline', 'no-answer', 'busy', 'cancelled'];
    return {
      messages: this.messages.some((m) => m.toUser === userId && m.state === 'pending'),
      missedCalls: this.calls.some((c) => c.otherUserId === userId && missed.includes(c.outcome) && c.notifiedAt === null),
    };
  }
  async pendingUsage(toUser: string) {
    this.#check();
    const p = this.messages.filter((m) => m.toUser === toUser && m.state === 'pending');
    return { count: p.length, bytes: p.reduce((n, m) => n + m.body.length, 0) };
  }
  async markDelivered(id: number, at: number) {
    const m = this.messages.find((x) => x.id === id);
    if (m) { m.state = 'delivered'; m.deliveredAt = at; }
  }
  async recordAttempt(id: number, _at: number, next: number | null) {
    const m = this.messages.find((x) => x.id === id);
    if (m) { m.attempts++; m.nextAttemptAt = next; }
  }
  async expireMessages(now: number) {
    const out = this.messages.filter((m) => m.state === 'pending' && m.expiresAt <= now);
    for (const m of out) m.state = 'expired';
    return out.map((m) => ({ ...m }));
  }
  async purgeMessages(before: number) {
    const keep = this.messages.filter((m) => m.state === 'pending' || m.receivedAt >= before);
    const n = this.messages.length - keep.length;
    this.messages = keep;
    return n;
  }
  async listMessages() { return this.messages.map((m) => ({ ...m })); }

  async saveSubscription(sub: Subscription) { this.#check(); this.subscriptions.set(sub.id, { ...sub, routeSet: [...sub.routeSet] }); }
  async removeSubscription(id: string) { this.subscriptions.delete(id); }
  async subscriptionsFor(presentity: string, now: number) {
    return [...this.subscriptions.values()].filter((s) => s.presentity === presentity && s.expiresAt > now).map((s) => ({ ...s }));
  }
  async expireSubscriptions(now: number) {
    const out = [...this.subscriptions.values()].filter((s) => s.expiresAt <= now);
    for (const s of out) this.subscriptions.delete(s.id);
    return out;
  }
}

export function binding(userId: string, contact = `sip:${userId}@127.0.0.1:5070;transport=tcp`): Binding {
  return {
    userId, contact, expiresAt: Date.UTC(2030, 0, 1), q: null, callId: 'reg-1', cseq: 1, path: [], instance: null, regId: null,
    flow: { transport: 'tcp', address: '127.0.0.1', port: 5070, connectionId: 1 }, userAgent: null, updatedAt: 0,
  };
}
