// A small in-memory Store with only what the registrar and the authenticator use. `down = true` makes
// every call reject with StoreUnavailableError, as a backend does when its database is unreachable.
import { FakeClock as SharedFakeClock } from '../../src/clock.ts';
import { StoreUnavailableError } from '../../src/errors.ts';
import type { Binding, BindingChange, Credentials, EpochMs, Presence, SavedBindings, Store } from '../../src/store/store.ts';

export class FakeStore {
  down = false;
  readonly users = new Map<string, Credentials>();
  readonly bindings = new Map<string, Binding[]>();
  readonly presence = new Map<string, Presence>();
  saves = 0;

  asStore(): Store {
    return this as unknown as Store;
  }

  #check(): void {
    if (this.down) throw new StoreUnavailableError('fake store is down');
  }

  async addUser(creds: Credentials, _now: EpochMs): Promise<void> {
    this.#check();
    if (this.users.has(creds.userId)) throw new Error(`user ${creds.userId} exists`);
    this.users.set(creds.userId, { ...creds });
  }

  async userExists(userId: string): Promise<boolean> {
    this.#check();
    return this.users.has(userId);
  }

  async getCredentials(userId: string): Promise<Credentials | null> {
    this.#check();
    return this.users.get(userId) ?? null;
  }

  async getBindings(userId: string, now: EpochMs): Promise<Binding[]> {
    this.#check();
    return this.#live(userId, now);
  }

  #live(userId: string, now: EpochMs): Binding[] {
    return (this.bindings.get(userId) ?? []).filter((b) => b.expiresAt > now).map((b) => ({ ...b }));
  }

  async saveBindings(
    userId: string, upsert: Binding[], remove: string[], removeAll: boolean, now: EpochMs, newUser?: Credentials, expect?: readonly Binding[],
  ): Promise<SavedBindings> {
    this.#check();
    this.saves++;
    if (expect !== undefined) {
      const current = this.#live(userId, now);
      const key = (b: Binding) => `${b.contact} ${b.callId} ${b.cseq} ${b.expiresAt}`;
      const same = current.length === expect.length && expect.every((e) => current.some((c) => key(c) === key(e)));
      if (!same) {
        const presence = this.presence.get(userId) ?? { userId, ip: null, netstate: 0, since: now };
        return { userId, bindings: current, presence, netstateChanged: false, stale: true };
      }
    }
    if (newUser && !this.users.has(userId)) this.users.set(userId, { ...newUser });
    let list = removeAll ? [] : (this.bindings.get(userId) ?? []).filter((b) => !remove.includes(b.contact));
    for (const b of upsert) list = [...list.filter((x) => x.contact !== b.contact), { ...b }];
    this.bindings.set(userId, list);
    return this.#change(userId, now);
  }

  /** every user at once; a change for each (the fake knows no subscriptions) */
  async removeConnectionBindings(node: string, now: EpochMs, _limit: number): Promise<{ users: number; changes: BindingChange[] }> {
    this.#check();
    const out: BindingChange[] = [];
    const ours = (b: Binding) => (b.node ?? node) === node;
    for (const [userId, list] of this.bindings) {
      const kept = list.filter((b) => b.flow.connectionId === null || !ours(b));
      if (kept.length === list.length) continue;
      this.bindings.set(userId, kept);
      out.push(this.#change(userId, now));
    }
    return { users: out.length, changes: out };
  }

  async removeBindingsByConnection(connectionId: number, node: string, now: EpochMs): Promise<BindingChange[]> {
    this.#check();
    const out: BindingChange[] = [];
    for (const [userId, list] of this.bindings) {
      const kept = list.filter((b) => b.flow.connectionId !== connectionId || (b.node ?? node) !== node);
      if (kept.length === list.length) continue;
      this.bindings.set(userId, kept);
      out.push(this.#change(userId, now));
    }
    return out;
  }

  async expireBindings(now: EpochMs): Promise<BindingChange[]> {
    this.#check();
    const out: BindingChange[] = [];
    for (const [userId, list] of this.bindings) {
      const kept = list.filter((b) => b.expiresAt > now);
      if (kept.length === list.length) continue;
      this.bindings.set(userId, kept);
      out.push(this.#change(userId, now));
    }
    return out;
  }

  #change(userId: string, now: EpochMs): BindingChange {
    const bindings = (this.bindings.get(userId) ?? []).filter((b) => b.expiresAt > now).map((b) => ({ ...b }));
    const netstate: 0 | 1 = bindings.length > 0 ? 1 : 0;
    const before = this.presence.get(userId);
    const changed = (before?.netstate ?? 0) !== netstate;
    const presence: Presence = changed || !before
      ? { userId, ip: bindings[0]?.flow.address ?? null, netstate, since: now }
      : { ...before, ip: bindings[0]?.flow.address ?? null };
    this.presence.set(userId, presence);
    return { userId, bindings, presence, netstateChanged: changed };
  }
}

/** The one fake clock (src/clock.ts), starting at a fixed date. */
export class FakeClock extends SharedFakeClock {
  constructor(t = Date.UTC(2025, 0, 1)) {
    super(t);
  }
}
