// The store's logic, written once for every SQL backend. Each operation is a generator that yields the
// queries it needs and receives their results; a backend runs it: SQLite synchronously inside its
// group-commit transaction, PostgreSQL and SQL Server over a pooled connection (and again on a conflict).

import { QuotaExceededError, TvphoneError } from '../errors.ts';
import type { Flow, TransportName } from '../flow.ts';
import { NO_LIMIT, type QueryName } from './queries.ts';
import type {
  Binding, BindingChange, CallQuery, CallRecord, CallUpdate, Credentials, EpochMs, Kept, MessageQuery, MessageQuota, MessageState,
  Ban, NewCall, NewMessage, NewVoicemail, NodeRecord, Presence, PushRegistration, RecoveredVoicemail, StoredMessage, Subscription, UserRecord,
  SavedBindings, VoicemailCheckpoint, VoicemailQuery, VoicemailRecord,
} from './store.ts';

/** A Date is a point in time: each backend binds it as its date-time type (schema 2). */
export type Param = string | number | null | Uint8Array | Date;
export type Row = Record<string, unknown>;
export interface Query { name: QueryName; params: Param[] }
export interface QueryResult { rows: Row[]; changes: number }
export type Op<T> = Generator<Query, T, QueryResult>;

function* q(name: QueryName, ...params: Param[]): Generator<Query, QueryResult, QueryResult> {
  return yield { name, params };
}

// ---- row mapping (drivers differ: BIGINT may come back as a string, bytes as Buffer) ----

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}
function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : num(v);
}
function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

/** DATETIME2's range, 0001-01-01 to 9999-12-31 (SQLite's fixed-width text needs four-digit years too). */
const FIRST_MS = -62_135_596_800_000;
const LAST_MS = 253_402_300_799_999;
/** An epoch-ms time as a date-time parameter: whole milliseconds in range, else a RangeError (never rounded). */
export function at(ms: EpochMs): Date {
  if (!Number.isInteger(ms) || ms < FIRST_MS || ms > LAST_MS) throw new RangeError(`time ${ms} is not whole epoch milliseconds from year 1 to 9999`);
  return new Date(ms);
}
/**
 * A date-time parameter as the ISO-8601 UTC text SQLite stores (schema 2) and PostgreSQL is sent. A write names the
 * same instant several times (its `now`, a binding's expiry): the last two are remembered, so most parameters are not
 * formatted again (Date#toISOString took 8 % of a REGISTER's store time on SQLite).
 */
export function isoText(d: Date): string {
  const t = d.getTime();
  if (t === iso.ms0) return iso.text0;
  if (t !== iso.ms1) {
    iso.ms1 = t;
    iso.text1 = d.toISOString();
  }
  // the one just used goes first
  const { ms0, text0 } = iso;
  iso.ms0 = t;
  iso.text0 = iso.text1;
  iso.ms1 = ms0;
  iso.text1 = text0;
  return iso.text0;
}
const iso = { ms0: NaN, text0: '', ms1: NaN, text1: '' };

function atOrNull(ms: EpochMs | null): Date | null {
  return ms === null ? null : at(ms);
}
/** YYYY-MM-DDTHH:MM:SS.sssZ, the only text a time column holds (SQLite) */
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** A date-time column back to epoch ms: a Date (pg, mssql) or ISO-8601 UTC text (SQLite). */
function time(v: unknown): EpochMs {
  const ms = v instanceof Date ? v.getTime() : typeof v === 'string' && ISO_UTC.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(ms)) throw new TypeError(`not a date-time column value: ${String(v)}`);
  return ms;
}
function timeOrNull(v: unknown): EpochMs | null {
  return v === null || v === undefined ? null : time(v);
}
function bytes(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  throw new TypeError('message body is not binary');
}

/**
 * The one conversion between the flow columns (transport, source_ip, source_port, connection_id TEXT) and a Flow.
 * A connection id that is not a number (none of ours) reaches no connection: null.
 */
function toFlow(r: Row): Flow {
  const id = r.connection_id === null || r.connection_id === undefined ? NaN : Number(r.connection_id);
  return {
    transport: String(r.transport).toLowerCase() as TransportName, address: String(r.source_ip), port: num(r.source_port),
    connectionId: Number.isInteger(id) ? id : null,
  };
}
function flowParams(f: Flow): Param[] {
  return [f.transport, f.address, f.port, connectionParam(f.connectionId)];
}
function connectionParam(id: number | null): string | null {
  return id === null ? null : String(id);
}

function toBinding(r: Row): Binding {
  return {
    userId: String(r.user_id), contact: String(r.contact), expiresAt: time(r.expires_at), q: numOrNull(r.q),
    callId: String(r.call_id), cseq: num(r.cseq), path: JSON.parse(String(r.path)) as string[],
    instance: strOrNull(r.instance), regId: numOrNull(r.reg_id), flow: toFlow(r),
    userAgent: strOrNull(r.user_agent), updatedAt: time(r.updated_at), node: strOrNull(r.node_id),
  };
}
function toPresence(r: Row): Presence {
  return { userId: String(r.user_id), ip: strOrNull(r.user_ip), netstate: num(r.user_netstate) === 1 ? 1 : 0, since: time(r.netstate_since) };
}
function toCredentials(r: Row): Credentials {
  return { userId: String(r.user_id), realm: String(r.realm), ha1Md5: String(r.ha1_md5), ha1Sha256: String(r.ha1_sha256) };
}
function toCall(r: Row): CallRecord {
  return {
    id: num(r.id), userId: String(r.user_id), otherUserId: String(r.otheruser_id), callDate: time(r.call_date),
    callId: String(r.call_id), outcome: String(r.outcome) as CallRecord['outcome'], status: numOrNull(r.status),
    answeredAt: timeOrNull(r.answered_at), endedAt: timeOrNull(r.ended_at), durationMs: numOrNull(r.duration_ms),
    notifiedAt: timeOrNull(r.notified_at),
    trunk: strOrNull(r.trunk), dialledNumber: strOrNull(r.dialled_number), sentNumber: strOrNull(r.sent_number),
  };
}
function toMessage(r: Row): StoredMessage {
  return {
    id: num(r.id), toUser: String(r.to_user), fromUri: String(r.from_uri), fromHeader: String(r.from_header),
    toUri: String(r.to_uri), contentType: String(r.content_type), body: bytes(r.body), receivedAt: time(r.received_at),
    expiresAt: time(r.expires_at), state: String(r.state) as MessageState, attempts: num(r.attempts),
    nextAttemptAt: timeOrNull(r.next_attempt_at), deliveredAt: timeOrNull(r.delivered_at),
  };
}
function toVoicemail(r: Row): VoicemailRecord {
  return {
    id: num(r.id), toUser: String(r.to_user), caller: String(r.caller), fromUri: String(r.from_uri), callId: String(r.call_id),
    callRecordId: numOrNull(r.call_record_id), recordedAt: time(r.recorded_at), durationMs: num(r.duration_ms), codec: String(r.codec),
    bytes: num(r.body_bytes), state: String(r.state) as MessageState, deliveredAt: timeOrNull(r.delivered_at), contentType: String(r.content_type),
  };
}
function toSubscription(r: Row): Subscription {
  return {
    id: String(r.id), watcher: String(r.watcher), presentity: String(r.presentity), callId: String(r.call_id),
    localTag: String(r.local_tag), remoteTag: String(r.remote_tag), remoteTarget: String(r.remote_target),
    routeSet: JSON.parse(String(r.route_set)) as string[], cseq: num(r.cseq), expiresAt: time(r.expires_at), flow: toFlow(r),
    event: String(r.event), node: strOrNull(r.node_id),
  };
}

// ---- schema ----

export function* schemaVersion(): Op<number> {
  const { rows } = yield* q('selectVersion');
  return num(rows[0]?.v ?? 0) || 0;
}

// ---- users and credentials ----

function* writeUser(c: Credentials, now: EpochMs, replace: boolean): Op<void> {
  const exists = (yield* q('selectUser', c.userId)).rows.length > 0;
  if (exists && !replace) throw new TvphoneError('ERR_USER_EXISTS', `user ${c.userId} already exists`);
  if (exists) {
    yield* q('updateUserRealm', c.userId, c.realm);
    yield* q('updateCredentials', c.userId, c.realm, c.ha1Md5, c.ha1Sha256);
    return;
  }
  yield* q('insertUser', c.userId, c.realm, at(now));
  yield* q('insertCredentials', c.userId, c.realm, c.ha1Md5, c.ha1Sha256);
  if ((yield* q('selectPresence', c.userId)).rows.length === 0) yield* q('insertPresence', c.userId, null, 0, at(now));
}

export function* addUser(c: Credentials, now: EpochMs): Op<void> {
  yield* writeUser(c, now, false);
}

export function* importUsers(list: Credentials[], now: EpochMs): Op<number> {
  for (const c of list) yield* writeUser(c, now, true);
  return list.length;
}

export function* setCredentials(c: Credentials): Op<boolean> {
  const { changes } = yield* q('updateCredentials', c.userId, c.realm, c.ha1Md5, c.ha1Sha256);
  if (changes > 0) yield* q('updateUserRealm', c.userId, c.realm);
  return changes > 0;
}

/** Removes the user, its credentials, bindings and presence row; call records and messages stay as history. */
export function* removeUser(userId: string): Op<boolean> {
  yield* q('deleteCredentials', userId);
  const { changes } = yield* q('deleteUser', userId);
  yield* q('deleteUserBindings', userId);
  yield* q('deleteUserPushRegistrations', userId);
  yield* q('deleteGreeting', userId);
  yield* q('deletePresence', userId);
  return changes > 0;
}

export function* getCredentials(userId: string): Op<Credentials | null> {
  const { rows } = yield* q('selectCredentials', userId);
  return rows.length ? toCredentials(rows[0]) : null;
}

export function* listUsers(): Op<UserRecord[]> {
  const { rows } = yield* q('selectUsers');
  return rows.map((r) => ({ userId: String(r.user_id), realm: String(r.realm), createdAt: time(r.created_at) }));
}

export function* usersByRealm(except: string): Op<Array<{ realm: string; users: number }>> {
  return (yield* q('selectUsersByRealm', except)).rows.map((r) => ({ realm: String(r.realm), users: num(r.n) }));
}

export function* userExists(userId: string): Op<boolean> {
  return (yield* q('selectUser', userId)).rows.length > 0;
}

/** The secret named `name`: the one stored, else `candidate`, stored now (the first node to ask sets it). */
export function* serverSecret(name: string, candidate: Uint8Array, now: EpochMs): Op<Uint8Array> {
  const { rows } = yield* q('selectSecret', name);
  if (rows.length) return bytes(rows[0].secret);
  yield* q('insertSecret', name, candidate, at(now));
  return candidate;
}

export function* getServerSecret(name: string): Op<Uint8Array | null> {
  const { rows } = yield* q('selectSecret', name);
  return rows.length ? bytes(rows[0].secret) : null;
}

// ---- bindings and presence ----

function bindingParams(b: Binding): Param[] {
  return [
    b.userId, b.contact, at(b.expiresAt), b.q, b.callId, b.cseq, JSON.stringify(b.path), b.instance, b.regId, ...flowParams(b.flow),
    b.userAgent, at(b.updatedAt), b.node ?? null,
  ];
}

/**
 * The common part of every binding change: lock the user's presence row, let `change` modify the bindings,
 * drop the expired ones, then set User_netstate (1 while a binding remains) and User_ip (the address of the
 * most recently refreshed binding; kept as the last known address once offline).
 */
function* changeBindings(
  userId: string, now: EpochMs, newUser: Credentials | undefined, change: (created: boolean) => Op<void>, expect?: readonly Binding[],
): Op<SavedBindings> {
  const locked = (yield* q('lockPresence', userId)).rows;
  const before: Presence | null = locked.length ? toPresence(locked[0]) : null;
  if (expect !== undefined) {
    // the caller planned from `expect`: under the lock, check that premise before writing anything
    const current = yield* unlessExpected(userId, now, expect);
    if (current !== null) return staleChange(userId, current, before, now);
  }
  // A user has its presence row from its creation on (writeUser): no row, maybe no user — create it when asked.
  const created = before === null && newUser !== undefined && (yield* q('selectUser', userId)).rows.length === 0;
  if (created) {
    yield* q('insertUser', userId, newUser.realm, at(now));
    yield* q('insertCredentials', userId, newUser.realm, newUser.ha1Md5, newUser.ha1Sha256);
  }
  yield* change(created);
  // every binding read once, the expired ones deleted only when there are any (a statement fewer per REGISTER)
  const bindings: Binding[] = [];
  let expired = false;
  for (const r of (yield* q('selectUserBindings', userId)).rows) {
    const b = toBinding(r);
    if (b.expiresAt > now) bindings.push(b);
    else expired = true;
  }
  if (expired) yield* q('deleteExpiredUserBindings', userId, at(now));
  const netstate: 0 | 1 = bindings.length > 0 ? 1 : 0;
  const latest = bindings.reduce<Binding | null>((a, b) => (a === null || b.updatedAt >= a.updatedAt ? b : a), null);
  const ip = latest ? latest.flow.address : (before?.ip ?? null);
  const netstateChanged = (before?.netstate ?? 0) !== netstate;
  const since = netstateChanged || !before ? now : before.since;
  // a refresh that changes neither state nor address leaves the row as it is (the lock above is held all the same)
  if (before && (before.ip !== ip || before.netstate !== netstate || before.since !== since)) yield* q('updatePresence', userId, ip, netstate, at(since));
  else if (!before) yield* q('insertPresence', userId, ip, netstate, at(since));
  const presence = { userId, ip, netstate, since };
  // the watchers the NOTIFYs of this change go to, in this transaction: one round trip to the store fewer
  if (netstateChanged) return { userId, bindings, presence, netstateChanged, watchers: yield* subscriptionsFor(userId, now) };
  return { userId, bindings, presence, netstateChanged };
}

/** A saveBindings premise that does not hold: nothing written; the current bindings and the stored state. */
function staleChange(userId: string, current: Binding[], presence: Presence | null, now: EpochMs): SavedBindings {
  return { userId, bindings: current, presence: presence ?? { userId, ip: null, netstate: 0, since: now }, netstateChanged: false, stale: true };
}

/**
 * saveBindings' premise read before its write (which checks it again under the lock): null when it holds, else the
 * stale answer, so that a REGISTER planned from the wrong bindings neither takes a place in a write nor waits for it.
 */
export function* checkBindings(userId: string, now: EpochMs, expect: readonly Binding[]): Op<SavedBindings | null> {
  const current = yield* unlessExpected(userId, now, expect);
  return current === null ? null : staleChange(userId, current, yield* getPresence(userId), now);
}

/** The user's unexpired bindings when they are not `expect`, else null. */
function* unlessExpected(userId: string, now: EpochMs, expect: readonly Binding[]): Op<Binding[] | null> {
  const current = (yield* q('selectBindings', userId, at(now))).rows.map(toBinding);
  return sameBindings(current, expect) ? null : current;
}

/** The same bindings, as far as a registrar's plan goes: contact, Call-ID, CSeq and expiry (RFC 3261 §10.3 steps 6–7). */
function sameBindings(a: readonly Binding[], b: readonly Binding[]): boolean {
  if (a.length !== b.length) return false;
  const byContact = new Map(a.map((x) => [x.contact, x]));
  return b.every((y) => {
    const x = byContact.get(y.contact);
    return x !== undefined && x.callId === y.callId && x.cseq === y.cseq && x.expiresAt === y.expiresAt;
  });
}

export function* saveBindings(
  userId: string, upsert: Binding[], remove: string[], removeAll: boolean, now: EpochMs, newUser?: Credentials, expect?: readonly Binding[],
): Op<SavedBindings> {
  if (newUser !== undefined && newUser.userId !== userId) throw new TypeError(`credentials of ${newUser.userId} given for ${userId}`);
  const change = yield* changeBindings(userId, now, newUser, function* (created) {
    if (removeAll) yield* q('deleteUserBindings', userId);
    for (const contact of remove) yield* q('deleteBinding', userId, contact);
    // a user made in this transaction has no binding to update, but for a contact given twice
    const inserted = created ? new Set<string>() : null;
    for (const b of upsert) {
      if (b.userId !== userId) throw new TypeError(`binding of ${b.userId} saved under ${userId}`);
      const params = bindingParams(b);
      const fresh = inserted !== null && !inserted.has(b.contact);
      inserted?.add(b.contact);
      if (fresh || (yield* q('updateBinding', ...params)).changes === 0) yield* q('insertBinding', ...params);
    }
  }, expect);
  // m_dump's question, in this transaction: one round trip to the store per REGISTER fewer
  return upsert.length > 0 && change.stale === undefined ? { ...change, kept: yield* keptFor(userId) } : change;
}

export function* getBindings(userId: string, now: EpochMs): Op<Binding[]> {
  return (yield* q('selectBindings', userId, at(now))).rows.map(toBinding);
}

export function* listBindings(now: EpochMs): Op<Binding[]> {
  return (yield* q('selectAllBindings', at(now))).rows.map(toBinding);
}

export function* removeBindingsByConnection(connectionId: number, node: string, now: EpochMs): Op<BindingChange[]> {
  const id = connectionParam(connectionId);
  const users = (yield* q('selectUsersOnConnection', id, node)).rows.map((r) => String(r.user_id)).sort();
  const changes: BindingChange[] = [];
  for (const userId of users) {
    changes.push(yield* changeBindings(userId, now, undefined, function* () {
      yield* q('deleteConnectionBindings', userId, id, node);
    }));
  }
  return changes;
}

/**
 * One batch of a node's connection-bound bindings (its start and its shutdown): the first `limit` of them in the order
 * of the index (node_id, connection_id), and any others on the same connections. Those of a node unnamed (before
 * schema 9) become this node's first. The users someone watches (a live subscription) go one by one, for their changes
 * (the notifier's NOTIFY); the rest set-based over the batch's connection_id range: user_property offline where no
 * other binding is left (User_ip kept, as changeBindings keeps it), then the bindings deleted. `users` 0: none left.
 */
export function* removeConnectionBindings(node: string, now: EpochMs, limit: number): Op<{ users: number; changes: BindingChange[] }> {
  yield* q('adoptUnownedConnectionBindings', node);
  const rows = (yield* q('selectNodeConnectionsBatch', node, limitOf(limit))).rows;
  if (rows.length === 0) return { users: 0, changes: [] };
  // in the database's order (its collation), as the range compares
  const [lo, hi] = [String(rows[0].connection_id), String(rows[rows.length - 1].connection_id)];
  const watched = (yield* q('selectWatchedOnNodeConnections', node, lo, hi, at(now))).rows.map((r) => String(r.user_id)).sort();
  const changes: BindingChange[] = [];
  for (const userId of watched) {
    changes.push(yield* changeBindings(userId, now, undefined, function* () {
      yield* q('deleteAllConnectionBindings', userId, node);
    }));
  }
  yield* q('markNodeConnectionUsersOffline', node, lo, hi, at(now));
  yield* q('deleteNodeConnectionsIn', node, lo, hi);
  return { users: new Set(rows.map((r) => String(r.user_id))).size, changes };
}

// ---- nodes (issue 18) ----

/** The node's heartbeat row; `starting` also resets its start time (a restart). */
export function* heartbeat(node: string, sipUri: string | null, now: EpochMs, starting: boolean): Op<void> {
  if ((yield* q(starting ? 'startNode' : 'updateNode', node, sipUri, at(now))).changes === 0) yield* q('insertNode', node, sipUri, at(now));
}

/** Takes (or renews) lease `name` for `node` until now + ttlMs; a second node's insert fails on the primary key. */
export function* claimLease(name: string, node: string, now: EpochMs, ttlMs: number): Op<boolean> {
  if ((yield* q('updateLease', name, node, at(now + ttlMs), at(now))).changes > 0) return true;
  if ((yield* q('selectLease', name)).rows.length > 0) return false; // held by another node, unexpired
  yield* q('insertLease', name, node, at(now + ttlMs));
  return true;
}

export function* releaseLease(name: string, node: string): Op<void> {
  yield* q('deleteLease', name, node);
}

/** Records a ban (or a later end of one); an earlier end than the one kept changes nothing. */
export function* saveBan(ban: Ban, now: EpochMs): Op<void> {
  if ((yield* q('updateBan', ban.kind, ban.key, at(ban.until), ban.node, at(now))).changes > 0) return;
  if ((yield* q('selectBan', ban.kind, ban.key)).rows.length > 0) return; // kept with a later end
  yield* q('insertBan', ban.kind, ban.key, at(ban.until), ban.node, at(now));
}

/** The bans recorded or lengthened since `since` that are still running at `now`, oldest change first. */
export function* bansChanged(since: EpochMs, now: EpochMs): Op<Ban[]> {
  return (yield* q('selectBansChanged', at(since), at(now))).rows.map((r) => ({
    kind: String(r.kind) === 'user' ? 'user' : 'source', key: String(r.ban_key), until: time(r.until_at), node: String(r.node_id),
  }));
}

export function* purgeBans(now: EpochMs): Op<number> {
  return (yield* q('purgeBans', at(now))).changes;
}

export function* listNodes(now: EpochMs): Op<NodeRecord[]> {
  const counts = new Map<string | null, { bindings: number; connections: number }>();
  for (const r of (yield* q('countBindingsByNode', at(now))).rows) {
    counts.set(strOrNull(r.node_id), { bindings: num(r.bindings), connections: num(r.connections ?? 0) });
  }
  return (yield* q('selectNodes')).rows.map((r) => ({
    node: String(r.node_id), sipUri: strOrNull(r.sip_uri), startedAt: time(r.started_at), heartbeatAt: time(r.heartbeat_at),
    ...(counts.get(String(r.node_id)) ?? { bindings: 0, connections: 0 }),
  }));
}

export function* expireBindings(now: EpochMs): Op<BindingChange[]> {
  const users = (yield* q('selectUsersWithExpiredBindings', at(now))).rows.map((r) => String(r.user_id)).sort();
  const changes: BindingChange[] = [];
  for (const userId of users) changes.push(yield* changeBindings(userId, now, undefined, function* () {}));
  return changes;
}

export function* getPresence(userId: string): Op<Presence | null> {
  const { rows } = yield* q('selectPresence', userId);
  return rows.length ? toPresence(rows[0]) : null;
}

export function* listPresence(): Op<Presence[]> {
  return (yield* q('selectAllPresence')).rows.map(toPresence);
}

// ---- calls ----

export function* recordCall(c: NewCall): Op<number> {
  const { rows } = yield* q('insertCall', c.userId, c.otherUserId, at(c.callDate), c.callId, c.outcome, c.status ?? null,
    c.dialledNumber ?? null, c.sentNumber ?? null);
  return num(rows[0].id);
}

export function* updateCall(id: number, u: CallUpdate): Op<void> {
  const { rows } = yield* q('selectCall', id);
  if (!rows.length) throw new TvphoneError('ERR_NO_SUCH_CALL', `no call record ${id}`);
  const c = toCall(rows[0]);
  yield* q(
    'updateCall', id, u.outcome ?? c.outcome, u.status !== undefined ? u.status : c.status,
    atOrNull(u.answeredAt !== undefined ? u.answeredAt : c.answeredAt), atOrNull(u.endedAt !== undefined ? u.endedAt : c.endedAt),
    u.durationMs !== undefined ? u.durationMs : c.durationMs, u.trunk !== undefined ? u.trunk : c.trunk,
  );
}

export function* listCalls(query: CallQuery): Op<CallRecord[]> {
  if (query.userId === undefined && query.missedBy !== undefined && query.trunk === undefined) {
    // the generic query's `?1 IS NULL OR …` scans the whole table; this one uses the callee index
    const { rows } = yield* q('selectMissedCalls', query.missedBy, query.unnotified ? 1 : 0, limitOf(query.limit));
    return rows.map(toCall);
  }
  const { rows } = yield* q('selectCalls', query.userId ?? null, query.missedBy ?? null, query.unnotified ? 1 : 0, limitOf(query.limit), query.trunk ?? null);
  return rows.map(toCall);
}

export function* markCallsNotified(ids: number[], notifiedAt: EpochMs): Op<void> {
  const when = at(notifiedAt);
  for (const id of ids) yield* q('markCallNotified', id, when);
}

function limitOf(limit: number | undefined): number {
  if (limit === undefined) return NO_LIMIT;
  if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`bad limit ${limit}`);
  return Math.min(limit, NO_LIMIT);
}

// ---- messages ----

export function* storeMessage(m: NewMessage, quota?: MessageQuota): Op<StoredMessage> {
  if (quota) {
    // The user's presence row is the lock that serialises concurrent stores for one user (FOR UPDATE, or an UPDATE of it).
    yield* q('lockPresence', m.toUser);
    const usage = yield* pendingUsage(m.toUser);
    if (usage.count + 1 > quota.count || usage.bytes + m.body.byteLength > quota.bytes) throw new QuotaExceededError(m.toUser, usage);
  }
  const { rows } = yield* q(
    'insertMessage', m.toUser, m.fromUri, m.fromHeader, m.toUri, m.contentType, m.body, m.body.byteLength, at(m.receivedAt),
    at(m.expiresAt),
  );
  return {
    id: num(rows[0].id), toUser: m.toUser, fromUri: m.fromUri, fromHeader: m.fromHeader, toUri: m.toUri, contentType: m.contentType,
    body: m.body, receivedAt: m.receivedAt, expiresAt: m.expiresAt, state: 'pending', attempts: 0, nextAttemptAt: null, deliveredAt: null,
  };
}

export function* pendingMessages(toUser: string, limit: number): Op<StoredMessage[]> {
  return (yield* q('selectPendingMessages', toUser, limitOf(limit))).rows.map(toMessage);
}

export function* keptFor(userId: string): Op<Kept> {
  const r = (yield* q('selectKept', userId)).rows[0];
  return { messages: num(r?.messages ?? 0) > 0, missedCalls: num(r?.missed_calls ?? 0) > 0 };
}

export function* pendingUsage(toUser: string): Op<{ count: number; bytes: number }> {
  const r = (yield* q('selectPendingUsage', toUser)).rows[0];
  return { count: num(r?.n ?? 0), bytes: num(r?.bytes ?? 0) };
}

export function* markDelivered(id: number, deliveredAt: EpochMs): Op<void> {
  yield* q('markDelivered', id, at(deliveredAt));
}

export function* recordAttempt(id: number, nextAttemptAt: EpochMs | null): Op<void> {
  yield* q('recordAttempt', id, atOrNull(nextAttemptAt));
}

export function* expireMessages(now: EpochMs): Op<StoredMessage[]> {
  const expired = (yield* q('selectExpiredMessages', at(now))).rows.map(toMessage);
  for (const m of expired) {
    yield* q('markExpired', m.id);
    m.state = 'expired';
    m.nextAttemptAt = null;
  }
  return expired;
}

export function* purgeMessages(before: EpochMs): Op<number> {
  yield* q('purgeVoicemails', at(before));
  return (yield* q('purgeMessages', at(before))).changes;
}

export function* listMessages(query: MessageQuery): Op<StoredMessage[]> {
  return (yield* q('selectMessages', query.toUser ?? null, query.state ?? null, limitOf(query.limit))).rows.map(toMessage);
}

// ---- voice messages ----

export function* storeVoicemail(v: NewVoicemail, quota?: MessageQuota): Op<VoicemailRecord> {
  // a recovery sweep that took this call's checkpoint for a dead one (its writes failed for a while) kept part of it:
  // the whole message replaces that part if it is not delivered yet (one call, one message)
  for (const r of (yield* q('selectPendingVoicemailsOfCall', v.callId)).rows) {
    yield* q('deleteVoicemail', num(r.id));
    yield* q('deleteMessage', num(r.id));
  }
  const m = yield* storeMessage(v.message, quota);
  // the recording in progress becomes this message: its checkpoint goes in the same transaction (never both, never none)
  yield* q('deleteVoicemailCheckpoint', v.callId);
  yield* q('insertVoicemail', m.id, m.toUser, v.caller, v.callId, v.callRecordId, at(m.receivedAt), Math.round(v.durationMs), v.codec);
  return {
    id: m.id, toUser: m.toUser, caller: v.caller, fromUri: m.fromUri, callId: v.callId, callRecordId: v.callRecordId, recordedAt: m.receivedAt,
    durationMs: Math.round(v.durationMs), codec: v.codec, bytes: m.body.byteLength, state: 'pending', deliveredAt: null,
    contentType: m.contentType,
  };
}

export function* listVoicemails(query: VoicemailQuery): Op<VoicemailRecord[]> {
  return (yield* q('selectVoicemails', query.toUser ?? null, limitOf(query.limit))).rows.map(toVoicemail);
}

export function* getVoicemail(id: number): Op<VoicemailRecord | null> {
  const { rows } = yield* q('selectVoicemail', id);
  return rows.length ? toVoicemail(rows[0]) : null;
}

export function* voicemailAudio(id: number): Op<Uint8Array | null> {
  const { rows } = yield* q('selectVoicemailAudio', id);
  return rows.length ? bytes(rows[0].body) : null;
}

export function* deleteVoicemail(id: number): Op<boolean> {
  const { changes } = yield* q('deleteVoicemail', id);
  if (changes === 0) return false;
  yield* q('deleteMessage', id);
  return true;
}

// ---- recordings in progress (schema 10) ----

function toCheckpoint(r: Row): VoicemailCheckpoint {
  return {
    callId: String(r.call_id), toUser: String(r.to_user), caller: String(r.caller), callRecordId: numOrNull(r.call_record_id),
    fromUri: String(r.from_uri), fromHeader: String(r.from_header), toUri: String(r.to_uri), recordedAt: time(r.recorded_at),
    codec: String(r.codec), durationMs: num(r.duration_ms), audio: bytes(r.audio), checkpointedAt: time(r.checkpointed_at),
  };
}

export function* saveVoicemailCheckpoint(c: VoicemailCheckpoint): Op<void> {
  yield* q('deleteVoicemailCheckpoint', c.callId);
  yield* q(
    'insertVoicemailCheckpoint', c.callId, c.toUser, c.caller, c.callRecordId, c.fromUri, c.fromHeader, c.toUri, at(c.recordedAt), c.codec,
    Math.round(c.durationMs), c.audio, at(c.checkpointedAt),
  );
}

export function* deleteVoicemailCheckpoint(callId: string): Op<void> {
  yield* q('deleteVoicemailCheckpoint', callId);
}

export function* recoverVoicemails(
  staleBefore: EpochMs, o: { minDurationMs: number; expiryMs: number; contentType: string; quota?: MessageQuota; exclude?: readonly string[] },
): Op<RecoveredVoicemail[]> {
  const out: RecoveredVoicemail[] = [];
  for (const c of (yield* q('selectStaleVoicemailCheckpoints', at(staleBefore))).rows.map(toCheckpoint)) {
    if (o.exclude?.includes(c.callId)) continue; // still recording here (its checkpoints failed for a while)
    let messageId: number | null = null;
    let fits = c.durationMs >= o.minDurationMs;
    if (fits && o.quota) {
      // as storeMessage checks it, but a full quota drops the checkpoint rather than failing the whole recovery
      yield* q('lockPresence', c.toUser);
      const usage = yield* pendingUsage(c.toUser);
      fits = usage.count + 1 <= o.quota.count && usage.bytes + c.audio.byteLength <= o.quota.bytes;
    }
    if (fits) {
      const vm = yield* storeVoicemail({
        message: {
          toUser: c.toUser, fromUri: c.fromUri, fromHeader: c.fromHeader, toUri: c.toUri, contentType: o.contentType, body: c.audio,
          receivedAt: c.recordedAt, expiresAt: c.recordedAt + o.expiryMs,
        },
        caller: c.caller, callId: c.callId, callRecordId: c.callRecordId, durationMs: c.durationMs, codec: c.codec,
      });
      messageId = vm.id;
      if (c.callRecordId !== null) {
        const { rows } = yield* q('selectCall', c.callRecordId);
        if (rows.length) yield* updateCall(c.callRecordId, { outcome: 'voicemail', endedAt: c.checkpointedAt, durationMs: c.durationMs });
      }
    }
    yield* q('deleteVoicemailCheckpoint', c.callId);
    out.push({ callId: c.callId, toUser: c.toUser, callRecordId: c.callRecordId, durationMs: c.durationMs, messageId });
  }
  return out;
}

// ---- subscriptions ----

export function* saveSubscription(s: Subscription): Op<void> {
  const params: Param[] = [
    s.id, s.watcher, s.presentity, s.callId, s.localTag, s.remoteTag, s.remoteTarget, JSON.stringify(s.routeSet), s.cseq,
    at(s.expiresAt), ...flowParams(s.flow), s.event, s.node ?? null,
  ];
  if ((yield* q('updateSubscription', ...params)).changes === 0) yield* q('insertSubscription', ...params);
}

export function* removeSubscription(id: string): Op<void> {
  yield* q('deleteSubscription', id);
}

export function* subscriptionsFor(presentity: string, now: EpochMs): Op<Subscription[]> {
  return (yield* q('selectSubscriptionsFor', presentity, at(now))).rows.map(toSubscription);
}

export function* expireSubscriptions(now: EpochMs): Op<Subscription[]> {
  const expired = (yield* q('selectExpiredSubscriptions', at(now))).rows.map(toSubscription);
  for (const s of expired) yield* q('deleteSubscription', s.id);
  return expired;
}

// ---- push registrations (RFC 8599) ----

function toPushRegistration(r: Row): PushRegistration {
  return {
    userId: String(r.user_id), device: String(r.device), provider: String(r.provider), prid: String(r.prid), param: strOrNull(r.param),
    contact: String(r.contact), expiresAt: time(r.expires_at), updatedAt: time(r.updated_at),
  };
}

export function* savePushRegistration(p: PushRegistration): Op<void> {
  const params: Param[] = [p.userId, p.device, p.provider, p.prid, p.param, p.contact, at(p.expiresAt), at(p.updatedAt)];
  if ((yield* q('updatePushRegistration', ...params)).changes === 0) yield* q('insertPushRegistration', ...params);
}

export function* removePushRegistration(userId: string, device: string): Op<void> {
  yield* q('deletePushRegistration', userId, device);
}

export function* pushRegistrations(userId: string, now: EpochMs): Op<PushRegistration[]> {
  return (yield* q('selectPushRegistrations', userId, at(now))).rows.map(toPushRegistration);
}

export function* expirePushRegistrations(now: EpochMs): Op<number> {
  return (yield* q('deleteExpiredPushRegistrations', at(now))).changes;
}

// ---- voicemail greetings (schema 8) ----

/** Keeps (or replaces) the user's greeting, a WAV; false when there is no such user. */
export function* setGreeting(userId: string, wav: Uint8Array, now: EpochMs): Op<boolean> {
  if ((yield* q('selectUser', userId)).rows.length === 0) return false;
  if ((yield* q('updateGreeting', userId, wav, at(now))).changes === 0) yield* q('insertGreeting', userId, wav, at(now));
  return true;
}

export function* greeting(userId: string): Op<Uint8Array | null> {
  const { rows } = yield* q('selectGreeting', userId);
  return rows.length ? bytes(rows[0].audio) : null;
}

export function* removeGreeting(userId: string): Op<boolean> {
  return (yield* q('deleteGreeting', userId)).changes > 0;
}
