// The store contract: plain data, no SIP parsing, no driver. Backends live in store/<backend>/ and are
// chosen by URL in store/open.ts. Every method that writes resolves only once the write is durable
// (committed); if the database cannot be reached it rejects with StoreUnavailableError (callers answer 503).
//
// Seed tables (names and columns kept in every dialect):
//   user_property(User_id, User_ip, User_netstate, ...)   one row per user: online state and address
//   user_call(User_id, otheruser_id, Call_date, ...)      one row per call attempt: User_id = caller, otheruser_id = callee

import type { Flow } from '../flow.ts';

export type Dialect = 'sqlite' | 'postgres' | 'mssql';

/** Times are epoch milliseconds everywhere in this contract (the tables hold date-time types: sql/<dialect>/002_datetime.sql). */
export type EpochMs = number;

export interface UserRecord {
  userId: string;
  realm: string;
  createdAt: EpochMs;
}

/** Digest credentials kept as HA1 = H(user:realm:password), never the password (RFC 7616 §3.4.2). */
export interface Credentials {
  userId: string;
  realm: string;
  ha1Md5: string;
  ha1Sha256: string;
}

/** A registrar binding (RFC 3261 §10.3): one Contact of one AoR. */
export interface Binding {
  userId: string;
  /** Contact URI as registered (the key of the binding within the user) */
  contact: string;
  expiresAt: EpochMs;
  /** q-value 0..1, null when the Contact had none */
  q: number | null;
  callId: string;
  cseq: number;
  /** Path header values (RFC 3327), in order */
  path: string[];
  /** +sip.instance and reg-id (RFC 5626 §4.2), null when absent */
  instance: string | null;
  regId: number | null;
  /** the flow the REGISTER came over (RFC 5626 §3.3): requests reuse its connection, and its loss removes the binding */
  flow: Flow;
  userAgent: string | null;
  updatedAt: EpochMs;
  /** the node the flow's connection lives on (issue 18); absent or null: this node, or a row from before schema 9 */
  node?: string | null;
}

/** A tvphone node on the database, its heartbeat, and the live bindings (and connection-bound ones) it holds. */
export interface NodeRecord {
  node: string;
  sipUri: string | null;
  startedAt: EpochMs;
  heartbeatAt: EpochMs;
  bindings: number;
  connections: number;
}

/** A ban (issue 16) kept in the database: a source address or a user's authentication, until `until`, given by `node`. */
export interface Ban {
  kind: 'source' | 'user';
  key: string;
  until: EpochMs;
  node: string;
}

/** Bans shared by the nodes of one database, and kept across restarts. */
export interface BanStore {
  /** records a ban, or a later end of one (an earlier end changes nothing) */
  saveBan(ban: Ban, now: EpochMs): Promise<void>;
  /** the bans recorded or lengthened since `since` (ms), still running at `now` */
  bansChanged(since: EpochMs, now: EpochMs): Promise<Ban[]>;
  /** removes bans ended by `now`; how many */
  purgeBans(now: EpochMs): Promise<number>;
}

/** The user_property row of the seed, plus when the state last changed. */
export interface Presence {
  userId: string;
  ip: string | null;
  /** User_netstate: 1 online (at least one binding), 0 offline */
  netstate: 0 | 1;
  since: EpochMs;
}

/** Result of a change to a user's bindings, computed in the same transaction as the change. */
export interface BindingChange {
  userId: string;
  bindings: Binding[];
  presence: Presence;
  /** true when User_netstate changed with this write */
  netstateChanged: boolean;
  /**
   * when User_netstate changed: the user's unexpired subscriptions (every event), read in the same transaction for
   * the NOTIFYs this change makes; absent: ask subscriptionsFor
   */
  watchers?: Subscription[];
}

/** Whether anything waits for a user: pending messages, missed calls whose notice has not reached it. */
export interface Kept {
  messages: boolean;
  missedCalls: boolean;
}

/** saveBindings' result: a store that keeps messages too reads what waits for the user in the same transaction. */
export interface SavedBindings extends BindingChange {
  /** absent: ask keptFor */
  kept?: Kept;
  /**
   * true: the unexpired bindings were not the `expect`ed ones, so nothing was written; `bindings` are the current
   * ones and `presence` the stored state (plan again from them)
   */
  stale?: true;
}

export type CallOutcome =
  | 'pending' | 'answered' | 'busy' | 'no-answer' | 'cancelled' | 'offline' | 'rejected' | 'failed'
  /** the callee was offline and the server took a voice message (its voicemails row names this call record) */
  | 'voicemail';

export interface CallRecord {
  id: number;
  /** User_id: the caller */
  userId: string;
  /** otheruser_id: the callee */
  otherUserId: string;
  /** Call_date */
  callDate: EpochMs;
  callId: string;
  outcome: CallOutcome;
  /** final SIP status when known */
  status: number | null;
  answeredAt: EpochMs | null;
  endedAt: EpochMs | null;
  durationMs: number | null;
  /** for calls to an offline user: when the missed-call notice reached the callee (2xx), else null */
  notifiedAt: EpochMs | null;
  /** a call out through a trunk: the trunk (the one that answered, else the last tried), the number dialled and as sent */
  trunk: string | null;
  dialledNumber: string | null;
  sentNumber: string | null;
}

export interface NewCall {
  userId: string;
  otherUserId: string;
  callDate: EpochMs;
  callId: string;
  outcome: CallOutcome;
  status?: number | null;
  /** a call out through a trunk: the number as dialled and as sent to the carrier */
  dialledNumber?: string | null;
  sentNumber?: string | null;
}

export interface CallUpdate {
  outcome?: CallOutcome;
  status?: number | null;
  answeredAt?: EpochMs | null;
  endedAt?: EpochMs | null;
  durationMs?: number | null;
  /** the trunk the call went out through (the last one tried when none answered) */
  trunk?: string | null;
}

export interface CallQuery {
  /** calls where this user is caller or callee */
  userId?: string;
  /** only calls to this user that it missed (offline, no-answer, busy, cancelled) */
  missedBy?: string;
  /** only missed calls whose notice has not been delivered */
  unnotified?: boolean;
  /** at most the newest `limit` calls; the result is always oldest first */
  limit?: number;
  /** only calls out through this trunk */
  trunk?: string;
}

export type MessageState = 'pending' | 'delivered' | 'expired';

export interface NewMessage {
  toUser: string;
  fromUri: string;
  /** the From header as received (display name and tag included) */
  fromHeader: string;
  toUri: string;
  contentType: string;
  body: Uint8Array;
  receivedAt: EpochMs;
  expiresAt: EpochMs;
}

/** A MESSAGE kept for a user (RFC 3428), body byte for byte. */
export interface StoredMessage extends NewMessage {
  /** stable identifier, ascending in arrival order; also what the UA sees to recognise a repeat */
  id: number;
  state: MessageState;
  attempts: number;
  nextAttemptAt: EpochMs | null;
  deliveredAt: EpochMs | null;
}

/** Most pending messages (count and body bytes) a user may have. */
export interface MessageQuota {
  count: number;
  bytes: number;
}

export interface MessageQuery {
  toUser?: string;
  state?: MessageState;
  limit?: number;
}

/** A subscription (RFC 6665) kept so that NOTIFYs survive a restart. */
export interface Subscription {
  id: string;
  /** RFC 6665 §8.2.1: its event package, `presence` (RFC 3856) or `message-summary` (RFC 3842) */
  event: string;
  watcher: string;
  /** the user whose state is watched: the presentity, or the mailbox's owner */
  presentity: string;
  /** the dialog needed to send NOTIFY: Call-ID, tags, the watcher's Contact and route set */
  callId: string;
  localTag: string;
  remoteTag: string;
  remoteTarget: string;
  routeSet: string[];
  cseq: number;
  expiresAt: EpochMs;
  /** the flow the SUBSCRIBE came over: NOTIFYs reuse its connection */
  flow: Flow;
  /** the node that connection lives on (issue 18); absent or null: this node, or a row from before schema 9 */
  node?: string | null;
}

// The store contract in slices (Kamailio's usrloc / msilo APIs): each capability takes only the slice it uses.
// The SQL backends implement them all (Store).

/** users and their HA1 credentials */
export interface CredentialStore {
  addUser(creds: Credentials, now: EpochMs): Promise<void>;
  /** add or replace many users in one transaction; returns how many were written */
  importUsers(creds: Credentials[], now: EpochMs): Promise<number>;
  setCredentials(creds: Credentials): Promise<boolean>;
  removeUser(userId: string): Promise<boolean>;
  getCredentials(userId: string): Promise<Credentials | null>;
  listUsers(): Promise<UserRecord[]>;
  userExists(userId: string): Promise<boolean>;
  /**
   * A key kept across restarts and shared by the nodes of one database (schema 5): the stored one, else `candidate`
   * stored now; two nodes racing both get the one that was stored first.
   */
  serverSecret(name: string, candidate: Uint8Array, now: EpochMs): Promise<Uint8Array>;
  /**
   * how many users have credentials made with each realm other than `except` (a realm change leaves the old HA1s
   * unusable); by an index (schema 12), not by reading every user
   */
  usersByRealm(except: string): Promise<Array<{ realm: string; users: number }>>;
}

/** bindings (usrloc) and the online state they make (user_property) */
export interface LocationStore {
  /**
   * Apply one REGISTER's changes atomically: upsert these bindings, remove those contacts (all when
   * removeAll), and update user_property from what remains. With `newUser`, a user that does not exist yet is
   * created with those credentials in the same transaction (auth none: users are made by their first REGISTER).
   * With `expect`, the change is made only if the user's unexpired bindings are still those (same contact, Call-ID,
   * CSeq and expiry; `stale` otherwise): a registrar plans without reading first, and the store checks its premise.
   */
  saveBindings(
    userId: string, upsert: Binding[], remove: string[], removeAll: boolean, now: EpochMs, newUser?: Credentials, expect?: readonly Binding[],
  ): Promise<SavedBindings>;
  getBindings(userId: string, now: EpochMs): Promise<Binding[]>;
  /** every unexpired binding of every user, by user, then as getBindings orders them (`tvphone registrations`) */
  listBindings(now: EpochMs): Promise<Binding[]>;
  /** remove the bindings that came over a closed connection; one change per user affected */
  removeBindingsByConnection(connectionId: number, node: string, now: EpochMs): Promise<BindingChange[]>;
  /**
   * remove the bindings bound to a connection of `node` (TCP/TLS/WS flows die with the process), at start and at
   * shutdown, about `limit` a call (call again until `users` is 0); `changes` only for the users a live subscription
   * watches (the others' user_property is set offline in bulk: a node restarting under 100,000 TVs)
   */
  removeConnectionBindings(node: string, now: EpochMs, limit: number): Promise<{ users: number; changes: BindingChange[] }>;
  /** remove bindings expired at `now`; one change per user affected */
  expireBindings(now: EpochMs): Promise<BindingChange[]>;
  getPresence(userId: string): Promise<Presence | null>;
  listPresence(): Promise<Presence[]>;
  /** this node's heartbeat row (issue 18); `starting` marks a (re)start */
  heartbeat(node: string, sipUri: string | null, now: EpochMs, starting: boolean): Promise<void>;
  /** the nodes on this database, their heartbeats and the live bindings each holds (`tvphone nodes`) */
  listNodes(now: EpochMs): Promise<NodeRecord[]>;
  /** take or renew lease `name` for `node` until now + ttlMs: false while another node holds it (issue 18) */
  claimLease(name: string, node: string, now: EpochMs, ttlMs: number): Promise<boolean>;
  /** give lease `name` up, if `node` holds it */
  releaseLease(name: string, node: string): Promise<void>;
}

/**
 * An RFC 8599 push registration (schema 7): what a binding's Contact URI said with pn-provider, pn-prid and pn-param,
 * kept after the binding expires or its connection drops (the TV in standby, User_netstate 0), until expiresAt.
 */
export interface PushRegistration {
  userId: string;
  /** the device: the binding's +sip.instance, else `provider:prid`; one row per user and device */
  device: string;
  provider: string;
  prid: string;
  param: string | null;
  /** the Contact URI the binding had */
  contact: string;
  expiresAt: EpochMs;
  updatedAt: EpochMs;
}

/** push registrations (RFC 8599): how a user in standby is woken */
export interface PushStore {
  /** add or replace the row of (userId, device) */
  savePushRegistration(reg: PushRegistration): Promise<void>;
  removePushRegistration(userId: string, device: string): Promise<void>;
  /** the unexpired push registrations of a user, most recently refreshed first */
  pushRegistrations(userId: string, now: EpochMs): Promise<PushRegistration[]>;
  /** delete the rows expired at `now`; how many */
  expirePushRegistrations(now: EpochMs): Promise<number>;
}

/** call records (user_call) */
export interface CallLog {
  recordCall(call: NewCall): Promise<number>;
  updateCall(id: number, update: CallUpdate): Promise<void>;
  listCalls(query: CallQuery): Promise<CallRecord[]>;
  markCallsNotified(ids: number[], at: EpochMs): Promise<void>;
}

/** stored messages (msilo) */
export interface MessageStore {
  /**
   * Keep a message. With a quota, the user's pending usage is checked in the same transaction as the insert
   * (under the user's row lock), so messages arriving together cannot overrun it: QuotaExceededError then.
   */
  storeMessage(msg: NewMessage, quota?: MessageQuota): Promise<StoredMessage>;
  /** pending messages of a user, oldest first */
  pendingMessages(toUser: string, limit: number): Promise<StoredMessage[]>;
  /** count and total body bytes of a user's pending messages (for the quota) */
  pendingUsage(toUser: string): Promise<{ count: number; bytes: number }>;
  /** whether anything waits for the user: pending messages, missed calls whose notice has not reached it (one read) */
  keptFor(userId: string): Promise<Kept>;
  markDelivered(id: number, at: EpochMs): Promise<void>;
  recordAttempt(id: number, at: EpochMs, nextAttemptAt: EpochMs | null): Promise<void>;
  /** mark pending messages past their expiry as expired; returns them */
  expireMessages(now: EpochMs): Promise<StoredMessage[]>;
  /** delete delivered and expired messages older than `before` (history retention) */
  purgeMessages(before: EpochMs): Promise<number>;
  listMessages(query: MessageQuery): Promise<StoredMessage[]>;
}

/** A voice message to keep: its recording is the body of `message` (audio/wav), delivered like any message. */
export interface NewVoicemail {
  message: NewMessage;
  /** the caller's user id (or the From user of an unauthenticated caller) */
  caller: string;
  callId: string;
  /** the user_call row of the call (outcome voicemail), when there is one */
  callRecordId: number | null;
  durationMs: number;
  /** the G.711 codec the caller sent (PCMU, PCMA); the WAV is 16-bit PCM at 8 kHz either way */
  codec: string;
}

/** A kept voice message: its id is the id of its row in messages (one id space, arrival order with text). */
export interface VoicemailRecord {
  id: number;
  toUser: string;
  caller: string;
  fromUri: string;
  callId: string;
  callRecordId: number | null;
  recordedAt: EpochMs;
  durationMs: number;
  codec: string;
  /** size of the WAV (of the Matroska file, for a video message) */
  bytes: number;
  state: MessageState;
  deliveredAt: EpochMs | null;
  /** audio/wav (a voice message), video/x-matroska (a video message: H.264 and the PCM audio) */
  contentType: string;
}

export interface VoicemailQuery {
  toUser?: string;
  limit?: number;
}

/** voice messages (the media server's recordings) */
export interface VoicemailStore {
  /**
   * Keep a voice message: its messages row and its voicemails row in one transaction, the user's quota (count and
   * bytes, the WAV included) checked in it as for storeMessage: QuotaExceededError then.
   */
  storeVoicemail(vm: NewVoicemail, quota?: MessageQuota): Promise<VoicemailRecord>;
  /** oldest first */
  listVoicemails(query: VoicemailQuery): Promise<VoicemailRecord[]>;
  getVoicemail(id: number): Promise<VoicemailRecord | null>;
  /** the WAV of a voice message, or null when there is no such voice message */
  voicemailAudio(id: number): Promise<Uint8Array | null>;
  /** removes the voice message and its messages row (a pending one is then never delivered) */
  deleteVoicemail(id: number): Promise<boolean>;
}

/** users' own voicemail greetings (schema 8): a WAV each, 16-bit PCM mono at 8 kHz */
export interface GreetingStore {
  /** keeps or replaces the user's greeting; false when there is no such user */
  setGreeting(userId: string, wav: Uint8Array, now: EpochMs): Promise<boolean>;
  /** the user's greeting, or null when it has none (the built-in prompt is played) */
  greeting(userId: string): Promise<Uint8Array | null>;
  /** false when the user had none */
  removeGreeting(userId: string): Promise<boolean>;
}

/**
 * What a voicemail call has recorded so far (schema 10), written every few seconds while it records: a server killed
 * mid-recording leaves it, and recoverVoicemails turns it into the voice message (or drops it: the call stays missed).
 */
export interface VoicemailCheckpoint {
  callId: string;
  toUser: string;
  caller: string;
  callRecordId: number | null;
  fromUri: string;
  fromHeader: string;
  toUri: string;
  /** when the call was answered (the voice message's time) */
  recordedAt: EpochMs;
  codec: string;
  durationMs: number;
  /** the WAV of what was recorded up to checkpointedAt */
  audio: Uint8Array;
  checkpointedAt: EpochMs;
}

/** A checkpoint that recoverVoicemails handled: kept as the voice message messageId, or dropped (null). */
export interface RecoveredVoicemail {
  callId: string;
  toUser: string;
  callRecordId: number | null;
  durationMs: number;
  messageId: number | null;
}

export interface VoicemailCheckpointStore {
  /** writes (replaces) the checkpoint of a call; storeVoicemail of the same Call-ID removes it in its transaction */
  saveVoicemailCheckpoint(c: VoicemailCheckpoint): Promise<void>;
  /** the call ended with nothing to keep */
  deleteVoicemailCheckpoint(callId: string): Promise<void>;
  /**
   * Checkpoints not written since `staleBefore` (their recording is no longer in progress anywhere): each one of at
   * least `minDurationMs` becomes a voice message (within the quota; its call record outcome voicemail), and is
   * removed; a shorter one, or one over the quota, is only removed (its call stays the missed call it was written as).
   * `exclude`: Call-IDs still recording on this node (left alone whatever their age).
   */
  recoverVoicemails(staleBefore: EpochMs, o: { minDurationMs: number; expiryMs: number; contentType: string; quota?: MessageQuota; exclude?: readonly string[] }): Promise<RecoveredVoicemail[]>;
}

/** subscriptions (RFC 6665) of every event package, kept so NOTIFYs survive a restart */
export interface SubscriptionStore {
  saveSubscription(sub: Subscription): Promise<void>;
  removeSubscription(id: string): Promise<void>;
  subscriptionsFor(presentity: string, now: EpochMs): Promise<Subscription[]>;
  expireSubscriptions(now: EpochMs): Promise<Subscription[]>;
}

export interface Store extends CredentialStore, LocationStore, CallLog, MessageStore, VoicemailStore, GreetingStore, VoicemailCheckpointStore,
  SubscriptionStore, PushStore, BanStore {
  readonly dialect: Dialect;
  /** the highest migration applied */
  schemaVersion(): Promise<number>;
  close(): Promise<void>;
}
