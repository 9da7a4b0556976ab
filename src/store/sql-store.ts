// The Store interface over the shared operations (ops.ts). A backend supplies only how an operation runs:
// `write` inside a transaction that has committed when the promise resolves, `read` outside one. A write about one
// user names it (`key`): a backend may run the writes of several keys in one transaction (group commit), and keeps
// the order of one key's writes; a read about one user (a point lookup) names it too, and may share a connection.

import { StoreUnavailableError } from '../errors.ts';
import * as ops from './ops.ts';
import type { Op } from './ops.ts';
import type {
  Ban, Binding, BindingChange, CallQuery, CallRecord, CallUpdate, Credentials, Dialect, EpochMs, Kept, MessageQuery, MessageQuota, NewCall, NewMessage,
  NewVoicemail, NodeRecord, Presence, PushRegistration, RecoveredVoicemail, SavedBindings, Store, StoredMessage, Subscription, UserRecord, VoicemailCheckpoint,
  VoicemailQuery, VoicemailRecord,
} from './store.ts';

export abstract class SqlStore implements Store {
  abstract readonly dialect: Dialect;
  /** run a writing operation in one transaction; resolves after commit. `key`: the user it is about (see above) */
  protected abstract write<T>(op: () => Op<T>, key?: string): Promise<T>;
  /** run a reading operation; `key`: the user a point lookup is about */
  protected abstract read<T>(op: () => Op<T>, key?: string): Promise<T>;
  abstract close(): Promise<void>;

  schemaVersion(): Promise<number> { return this.read(() => ops.schemaVersion()); }

  addUser(creds: Credentials, now: EpochMs): Promise<void> { return this.write(() => ops.addUser(creds, now)); }
  importUsers(creds: Credentials[], now: EpochMs): Promise<number> { return this.write(() => ops.importUsers(creds, now)); }
  setCredentials(creds: Credentials): Promise<boolean> { return this.write(() => ops.setCredentials(creds)); }
  removeUser(userId: string): Promise<boolean> { return this.write(() => ops.removeUser(userId)); }
  getCredentials(userId: string): Promise<Credentials | null> { return this.read(() => ops.getCredentials(userId), userId); }
  listUsers(): Promise<UserRecord[]> { return this.read(() => ops.listUsers()); }
  userExists(userId: string): Promise<boolean> { return this.read(() => ops.userExists(userId), userId); }
  async serverSecret(name: string, candidate: Uint8Array, now: EpochMs): Promise<Uint8Array> {
    try {
      return await this.write(() => ops.serverSecret(name, candidate, now));
    } catch (err) {
      // another node stored it between our read and our insert (primary key): read theirs
      const theirs = await this.read(() => ops.getServerSecret(name));
      if (theirs === null) throw err;
      return theirs;
    }
  }
  usersByRealm(except: string): Promise<Array<{ realm: string; users: number }>> { return this.read(() => ops.usersByRealm(except)); }

  saveBindings(
    userId: string, upsert: Binding[], remove: string[], removeAll: boolean, now: EpochMs, newUser?: Credentials, expect?: readonly Binding[],
  ): Promise<SavedBindings> {
    if (expect === undefined) return this.write(() => ops.saveBindings(userId, upsert, remove, removeAll, now, newUser), userId);
    // a read first: a premise that does not hold is answered at once, not after the commit of a write batch
    return this.read(() => ops.checkBindings(userId, now, expect), userId).then((stale) => stale
      ?? this.write(() => ops.saveBindings(userId, upsert, remove, removeAll, now, newUser, expect), userId));
  }
  getBindings(userId: string, now: EpochMs): Promise<Binding[]> { return this.read(() => ops.getBindings(userId, now), userId); }
  listBindings(now: EpochMs): Promise<Binding[]> { return this.read(() => ops.listBindings(now)); }
  removeConnectionBindings(node: string, now: EpochMs, limit: number): Promise<{ users: number; changes: BindingChange[] }> {
    return this.write(() => ops.removeConnectionBindings(node, now, limit));
  }
  removeBindingsByConnection(connectionId: number, node: string, now: EpochMs): Promise<BindingChange[]> {
    return this.write(() => ops.removeBindingsByConnection(connectionId, node, now));
  }
  heartbeat(node: string, sipUri: string | null, now: EpochMs, starting: boolean): Promise<void> {
    return this.write(() => ops.heartbeat(node, sipUri, now, starting));
  }
  listNodes(now: EpochMs): Promise<NodeRecord[]> { return this.read(() => ops.listNodes(now)); }
  async claimLease(name: string, node: string, now: EpochMs, ttlMs: number): Promise<boolean> {
    try {
      return await this.write(() => ops.claimLease(name, node, now, ttlMs));
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw err;
      return false; // another node inserted it first (primary key), or holds it
    }
  }
  releaseLease(name: string, node: string): Promise<void> { return this.write(() => ops.releaseLease(name, node)); }
  saveBan(ban: Ban, now: EpochMs): Promise<void> { return this.write(() => ops.saveBan(ban, now)); }
  bansChanged(since: EpochMs, now: EpochMs): Promise<Ban[]> { return this.read(() => ops.bansChanged(since, now)); }
  purgeBans(now: EpochMs): Promise<number> { return this.write(() => ops.purgeBans(now)); }
  expireBindings(now: EpochMs): Promise<BindingChange[]> { return this.write(() => ops.expireBindings(now)); }
  getPresence(userId: string): Promise<Presence | null> { return this.read(() => ops.getPresence(userId), userId); }
  listPresence(): Promise<Presence[]> { return this.read(() => ops.listPresence()); }

  recordCall(call: NewCall): Promise<number> { return this.write(() => ops.recordCall(call), call.userId); }
  updateCall(id: number, update: CallUpdate): Promise<void> { return this.write(() => ops.updateCall(id, update)); }
  listCalls(query: CallQuery): Promise<CallRecord[]> { return this.read(() => ops.listCalls(query)); }
  markCallsNotified(ids: number[], at: EpochMs): Promise<void> { return this.write(() => ops.markCallsNotified(ids, at)); }

  storeMessage(msg: NewMessage, quota?: MessageQuota): Promise<StoredMessage> { return this.write(() => ops.storeMessage(msg, quota), msg.toUser); }
  pendingMessages(toUser: string, limit: number): Promise<StoredMessage[]> { return this.read(() => ops.pendingMessages(toUser, limit)); }
  pendingUsage(toUser: string): Promise<{ count: number; bytes: number }> { return this.read(() => ops.pendingUsage(toUser), toUser); }
  keptFor(userId: string): Promise<Kept> { return this.read(() => ops.keptFor(userId), userId); }
  markDelivered(id: number, at: EpochMs): Promise<void> { return this.write(() => ops.markDelivered(id, at)); }
  recordAttempt(id: number, _at: EpochMs, nextAttemptAt: EpochMs | null): Promise<void> {
    return this.write(() => ops.recordAttempt(id, nextAttemptAt));
  }
  expireMessages(now: EpochMs): Promise<StoredMessage[]> { return this.write(() => ops.expireMessages(now)); }
  purgeMessages(before: EpochMs): Promise<number> { return this.write(() => ops.purgeMessages(before)); }
  listMessages(query: MessageQuery): Promise<StoredMessage[]> { return this.read(() => ops.listMessages(query)); }

  storeVoicemail(vm: NewVoicemail, quota?: MessageQuota): Promise<VoicemailRecord> { return this.write(() => ops.storeVoicemail(vm, quota)); }
  listVoicemails(query: VoicemailQuery): Promise<VoicemailRecord[]> { return this.read(() => ops.listVoicemails(query)); }
  getVoicemail(id: number): Promise<VoicemailRecord | null> { return this.read(() => ops.getVoicemail(id)); }
  voicemailAudio(id: number): Promise<Uint8Array | null> { return this.read(() => ops.voicemailAudio(id)); }
  deleteVoicemail(id: number): Promise<boolean> { return this.write(() => ops.deleteVoicemail(id)); }

  saveVoicemailCheckpoint(c: VoicemailCheckpoint): Promise<void> { return this.write(() => ops.saveVoicemailCheckpoint(c)); }
  deleteVoicemailCheckpoint(callId: string): Promise<void> { return this.write(() => ops.deleteVoicemailCheckpoint(callId)); }
  recoverVoicemails(staleBefore: EpochMs, o: { minDurationMs: number; expiryMs: number; contentType: string; quota?: MessageQuota; exclude?: readonly string[] }): Promise<RecoveredVoicemail[]> {
    return this.write(() => ops.recoverVoicemails(staleBefore, o));
  }

  saveSubscription(sub: Subscription): Promise<void> { return this.write(() => ops.saveSubscription(sub)); }
  removeSubscription(id: string): Promise<void> { return this.write(() => ops.removeSubscription(id)); }
  subscriptionsFor(presentity: string, now: EpochMs): Promise<Subscription[]> { return this.read(() => ops.subscriptionsFor(presentity, now), presentity); }
  expireSubscriptions(now: EpochMs): Promise<Subscription[]> { return this.write(() => ops.expireSubscriptions(now)); }

  savePushRegistration(reg: PushRegistration): Promise<void> { return this.write(() => ops.savePushRegistration(reg), reg.userId); }
  removePushRegistration(userId: string, device: string): Promise<void> { return this.write(() => ops.removePushRegistration(userId, device), userId); }
  pushRegistrations(userId: string, now: EpochMs): Promise<PushRegistration[]> { return this.read(() => ops.pushRegistrations(userId, now), userId); }
  expirePushRegistrations(now: EpochMs): Promise<number> { return this.write(() => ops.expirePushRegistrations(now)); }

  setGreeting(userId: string, wav: Uint8Array, now: EpochMs): Promise<boolean> { return this.write(() => ops.setGreeting(userId, wav, now)); }
  greeting(userId: string): Promise<Uint8Array | null> { return this.read(() => ops.greeting(userId)); }
  removeGreeting(userId: string): Promise<boolean> { return this.write(() => ops.removeGreeting(userId)); }
}

/** Drive an operation whose queries run synchronously (SQLite). */
export function runSync<T>(op: Op<T>, exec: (q: ops.Query) => ops.QueryResult): T {
  let step = op.next(undefined as unknown as ops.QueryResult);
  while (!step.done) step = op.next(exec(step.value));
  return step.value;
}

/** Drive an operation whose queries run asynchronously (PostgreSQL, SQL Server). */
export async function runAsync<T>(op: Op<T>, exec: (q: ops.Query) => Promise<ops.QueryResult>): Promise<T> {
  let step = op.next(undefined as unknown as ops.QueryResult);
  while (!step.done) step = op.next(await exec(step.value));
  return step.value;
}
