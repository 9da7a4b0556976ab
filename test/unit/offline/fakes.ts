// Test doubles for the offline and presence capabilities: an in-memory Store (only what they use, the rest
// throws) and a fake clock whose timers run when the test advances time.
import type {
  Binding, BindingChange, CallQuery, CallRecord, MessageQuota, NewCall, NewMessage, Presence, Store, StoredMessage, Subscription,
} from '../../../src/store/store.ts';
import { QuotaExceededError } from '../../../src/errors.ts';

export class FakeClock {
  time: number;
  #timers: { at: number; fn: () => void; id: number }[] = [];
  #next = 1;
  constructor(start = Date.UTC(2025, 0, 1, 10, 0, 0)) {
    this.time = start;
  }
  now = (): number => this.time;
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = this.#next++;
    this.#timers.push({ at: this.time + ms, fn, id });
    return id;
  };
  clearTimeout = (handle: unknown): void => {
    this.#timers = this.#timers.filter((t) => t.id !== handle);
  };
  get pending(): number {
    return this.#timers.length;
  }
  /** the delay until the next timer, or null */
  nextDelay(): number | null {
    if (this.#timers.length === 0) return null;
    return Math.min(...this.#timers.map((t) => t.at)) - this.time;
  }
  /** advance time by ms, running due timers in order and letting promises settle between them */
  async tick(ms: number): Promise<void> {
    const end = this.time + ms;
    for (let guard = 0; guard < 10_000; guard++) {
      await settle();
      const due = this.#timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.time = Math.max(this.time, due.at);
      due.fn();
    }
    this.time = end;
    await settle();
  }
}

/** let every chain of resolved promises run */
export async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise<void>((r) => setImmediate(r));
}

function unsupported(name: string): never {
  throw new Error(`FakeStore.${name} is not faked`);
}

export class FakeStore implements Store {
  readonly dialect = 'sqlite' as const;
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

  async schemaVersion() { return 1; }
  async close() {}
  async addUser() { unsupported('addUser'); }
  async importUsers(): Promise<number> { unsupported('importUsers'); }
  async setCredentials(): Promise<boolean> { unsupported('setCredentials'); }
  async removeUser(): Promise<boolean> { unsupported('removeUser'); }
  async getCredentials() { return null; }
  async listUsers() { return []; }
  async userExists() { return true; }
  async usersByRealm() { return []; }
  async saveBindings(): Promise<BindingChange> { unsupported('saveBindings'); }
  async getBindings(): Promise<Binding[]> { return []; }
  async listBindings(): Promise<Binding[]> { return []; }
  async removeBindingsByConnection(): Promise<BindingChange[]> { return []; }
  async expireBindings(): Promise<BindingChange[]> { return []; }
  async getPresence(userId: string) { this.#check(); return this.presence.get(userId) ?? null; }
  async listPresence() { return [...this.presence.values()]; }

  async recordCall(call: NewCall): Promise<number> {
    const id = this.calls.length + 1;
    this.calls.push({
      id, userId: call.userId, otherUserId: call.otherUserId, callDate: call.callDate, callId: call.callId, outcome: call.outcome,
      status: call.status ?? null, answeredAt: null, endedAt: null, durationMs: null, notifiedAt: null,
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
    transport: 'tcp', sourceIp: '127.0.0.1', sourcePort: 5070, connectionId: 'c1', userAgent: null, updatedAt: 0,
  };
}
