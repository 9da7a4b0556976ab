// Every statement the SQL backends send, in one place, written once with numbered placeholders (?1, ?2 …)
// that each backend rewrites to its own ($1 for PostgreSQL, @p1 for SQL Server). A dialect overrides only
// what it spells differently (LIMIT, RETURNING, row locks). Column aliases are lower case so every driver
// hands back the same keys (PostgreSQL folds unquoted names to lower case).

const BINDING_COLS =
  'user_id, contact, expires_at, q, call_id, cseq, path, instance, reg_id, transport, source_ip, source_port, connection_id, user_agent, updated_at, node_id';
const PRESENCE_COLS = 'User_id AS user_id, User_ip AS user_ip, User_netstate AS user_netstate, Netstate_since AS netstate_since';
const CALL_COLS =
  'id, User_id AS user_id, otheruser_id AS otheruser_id, Call_date AS call_date, Call_id AS call_id, Outcome AS outcome, ' +
  'Status AS status, Answered_at AS answered_at, Ended_at AS ended_at, Duration_ms AS duration_ms, Notified_at AS notified_at, ' +
  'Trunk AS trunk, Dialled_number AS dialled_number, Sent_number AS sent_number';
const MESSAGE_COLS =
  'id, to_user, from_uri, from_header, to_uri, content_type, body, received_at, expires_at, state, attempts, next_attempt_at, delivered_at';
const VOICEMAIL_COLS =
  'v.message_id AS id, v.to_user AS to_user, v.caller AS caller, m.from_uri AS from_uri, v.call_id AS call_id, ' +
  'v.call_record_id AS call_record_id, v.recorded_at AS recorded_at, v.duration_ms AS duration_ms, v.codec AS codec, ' +
  'm.body_bytes AS body_bytes, m.state AS state, m.delivered_at AS delivered_at, m.content_type AS content_type';
const SUBSCRIPTION_COLS =
  'id, watcher, presentity, call_id, local_tag, remote_tag, remote_target, route_set, cseq, expires_at, transport, source_ip, source_port, connection_id, event, node_id';

const CHECKPOINT_COLS =
  'call_id, to_user, caller, call_record_id, from_uri, from_header, to_uri, recorded_at, codec, duration_ms, audio, checkpointed_at';

const PUSH_COLS = 'user_id, device, provider, prid, param, contact, expires_at, updated_at';

/** missed = the callee did not take the call */
const MISSED = "('offline', 'no-answer', 'busy', 'cancelled')";
/** "no limit" as a number every dialect accepts */
export const NO_LIMIT = 2147483647;

export const QUERIES = {
  selectVersion: 'SELECT MAX(version) AS v FROM schema_version',
  insertVersion: 'INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)',

  insertUser: 'INSERT INTO users (user_id, realm, created_at) VALUES (?1, ?2, ?3)',
  updateUserRealm: 'UPDATE users SET realm = ?2 WHERE user_id = ?1',
  insertCredentials: 'INSERT INTO credentials (user_id, realm, ha1_md5, ha1_sha256) VALUES (?1, ?2, ?3, ?4)',
  updateCredentials: 'UPDATE credentials SET realm = ?2, ha1_md5 = ?3, ha1_sha256 = ?4 WHERE user_id = ?1',
  selectCredentials: 'SELECT user_id, realm, ha1_md5, ha1_sha256 FROM credentials WHERE user_id = ?1',
  deleteCredentials: 'DELETE FROM credentials WHERE user_id = ?1',
  deleteUser: 'DELETE FROM users WHERE user_id = ?1',
  selectUsers: 'SELECT user_id, realm, created_at FROM users ORDER BY user_id',
  selectUser: 'SELECT user_id FROM users WHERE user_id = ?1',
  /** how many users have HA1s made with each realm */
  // the users of realms other than ?1, by the index on realm (schema 12): two ranges, not every user's row
  selectUsersByRealm: 'SELECT realm, COUNT(*) AS n FROM credentials WHERE realm < ?1 OR realm > ?1 GROUP BY realm ORDER BY realm',

  selectSecret: 'SELECT secret FROM server_secrets WHERE name = ?1',
  insertSecret: 'INSERT INTO server_secrets (name, secret, created_at) VALUES (?1, ?2, ?3)',

  selectPresence: `SELECT ${PRESENCE_COLS} FROM user_property WHERE User_id = ?1`,
  /** the presence row read at the start of a binding change, locked until commit where the dialect can */
  lockPresence: `SELECT ${PRESENCE_COLS} FROM user_property WHERE User_id = ?1`,
  insertPresence: 'INSERT INTO user_property (User_id, User_ip, User_netstate, Netstate_since) VALUES (?1, ?2, ?3, ?4)',
  updatePresence: 'UPDATE user_property SET User_ip = ?2, User_netstate = ?3, Netstate_since = ?4 WHERE User_id = ?1',
  deletePresence: 'DELETE FROM user_property WHERE User_id = ?1',
  selectAllPresence: `SELECT ${PRESENCE_COLS} FROM user_property ORDER BY User_id`,

  selectBindings: `SELECT ${BINDING_COLS} FROM bindings WHERE user_id = ?1 AND expires_at > ?2 ORDER BY updated_at, contact`,
  /** a user's bindings, the expired ones too (a binding change reads them once and deletes the expired only if any) */
  selectUserBindings: `SELECT ${BINDING_COLS} FROM bindings WHERE user_id = ?1 ORDER BY updated_at, contact`,
  selectAllBindings: `SELECT ${BINDING_COLS} FROM bindings WHERE expires_at > ?1 ORDER BY user_id, updated_at, contact`,
  updateBinding:
    'UPDATE bindings SET expires_at = ?3, q = ?4, call_id = ?5, cseq = ?6, path = ?7, instance = ?8, reg_id = ?9, transport = ?10, ' +
    'source_ip = ?11, source_port = ?12, connection_id = ?13, user_agent = ?14, updated_at = ?15, node_id = ?16 WHERE user_id = ?1 AND contact = ?2',
  insertBinding:
    `INSERT INTO bindings (${BINDING_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)`,
  deleteBinding: 'DELETE FROM bindings WHERE user_id = ?1 AND contact = ?2',
  deleteUserBindings: 'DELETE FROM bindings WHERE user_id = ?1',
  deleteExpiredUserBindings: 'DELETE FROM bindings WHERE user_id = ?1 AND expires_at <= ?2',
  selectUsersWithExpiredBindings: 'SELECT DISTINCT user_id FROM bindings WHERE expires_at <= ?1',
  // a connection id means something on its node only (node_id NULL: written before schema 9, by a single node)
  selectUsersOnConnection: 'SELECT DISTINCT user_id FROM bindings WHERE connection_id = ?1 AND (node_id = ?2 OR node_id IS NULL)',
  deleteConnectionBindings: 'DELETE FROM bindings WHERE user_id = ?1 AND connection_id = ?2 AND (node_id = ?3 OR node_id IS NULL)',
  // a node's connection-bound bindings go in batches (a restart under 100,000 TVs), in the order of the index
  // (node_id, connection_id): the first ?2, then set-based statements over their connection_id range ?2..?3.
  // `connection_id >= ''` where IS NOT NULL is meant (ids are never ''): SQLite searches an index range for it, and
  // scans every row of the node_id for IS NOT NULL.
  adoptUnownedConnectionBindings: "UPDATE bindings SET node_id = ?1 WHERE node_id IS NULL AND connection_id >= ''",
  selectNodeConnectionsBatch:
    "SELECT user_id, connection_id FROM bindings WHERE node_id = ?1 AND connection_id >= '' ORDER BY connection_id LIMIT ?2",
  selectWatchedOnNodeConnections:
    'SELECT DISTINCT b.user_id FROM bindings b JOIN subscriptions s ON s.presentity = b.user_id ' +
    'WHERE b.node_id = ?1 AND b.connection_id >= ?2 AND b.connection_id <= ?3 AND s.expires_at > ?4',
  markNodeConnectionUsersOffline:
    'UPDATE user_property SET User_netstate = 0, Netstate_since = ?4 WHERE User_netstate = 1 ' +
    'AND User_id IN (SELECT user_id FROM bindings WHERE node_id = ?1 AND connection_id >= ?2 AND connection_id <= ?3) ' +
    'AND NOT EXISTS (SELECT 1 FROM bindings o WHERE o.user_id = user_property.User_id AND o.expires_at > ?4 ' +
    'AND NOT (o.connection_id IS NOT NULL AND o.node_id = ?1 AND o.connection_id >= ?2 AND o.connection_id <= ?3))',
  deleteNodeConnectionsIn: 'DELETE FROM bindings WHERE node_id = ?1 AND connection_id >= ?2 AND connection_id <= ?3',
  deleteAllConnectionBindings: 'DELETE FROM bindings WHERE user_id = ?1 AND connection_id IS NOT NULL AND (node_id = ?2 OR node_id IS NULL)',
  // the nodes on this database and their heartbeats (issue 18)
  updateNode: 'UPDATE nodes SET sip_uri = ?2, heartbeat_at = ?3 WHERE node_id = ?1',
  startNode: 'UPDATE nodes SET sip_uri = ?2, started_at = ?3, heartbeat_at = ?3 WHERE node_id = ?1',
  insertNode: 'INSERT INTO nodes (node_id, sip_uri, started_at, heartbeat_at) VALUES (?1, ?2, ?3, ?3)',
  selectNodes: 'SELECT node_id, sip_uri, started_at, heartbeat_at FROM nodes ORDER BY node_id',
  // a lease is taken when free, expired, or already ours (one statement: two nodes cannot both change the row)
  updateLease: 'UPDATE leases SET node_id = ?2, expires_at = ?3 WHERE name = ?1 AND (expires_at <= ?4 OR node_id = ?2)',
  selectLease: 'SELECT node_id FROM leases WHERE name = ?1',
  insertLease: 'INSERT INTO leases (name, node_id, expires_at) VALUES (?1, ?2, ?3)',
  deleteLease: 'DELETE FROM leases WHERE name = ?1 AND node_id = ?2',
  // bans shared by the nodes (issue 16): a ban's end only moves later
  updateBan: 'UPDATE bans SET until_at = ?3, node_id = ?4, changed_at = ?5 WHERE kind = ?1 AND ban_key = ?2 AND until_at < ?3',
  selectBan: 'SELECT until_at FROM bans WHERE kind = ?1 AND ban_key = ?2',
  insertBan: 'INSERT INTO bans (kind, ban_key, until_at, node_id, changed_at) VALUES (?1, ?2, ?3, ?4, ?5)',
  selectBansChanged: 'SELECT kind, ban_key, until_at, node_id FROM bans WHERE changed_at >= ?1 AND until_at > ?2 ORDER BY changed_at',
  purgeBans: 'DELETE FROM bans WHERE until_at <= ?1',
  countBindingsByNode:
    'SELECT node_id, COUNT(*) AS bindings, SUM(CASE WHEN connection_id IS NULL THEN 0 ELSE 1 END) AS connections ' +
    'FROM bindings WHERE expires_at > ?1 GROUP BY node_id',

  insertCall:
    'INSERT INTO user_call (User_id, otheruser_id, Call_date, Call_id, Outcome, Status, Dialled_number, Sent_number) ' +
    'VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id',
  selectCall: `SELECT ${CALL_COLS} FROM user_call WHERE id = ?1`,
  updateCall: 'UPDATE user_call SET Outcome = ?2, Status = ?3, Answered_at = ?4, Ended_at = ?5, Duration_ms = ?6, Trunk = ?7 WHERE id = ?1',
  /**
   * ?1 user (caller or callee) or NULL, ?2 missed-by user or NULL, ?3 1 = only unnotified, ?4 limit: the newest ?4 calls
   * (the primary key read backwards), handed back oldest first; ?5 trunk or NULL
   */
  selectCalls:
    `SELECT * FROM (SELECT ${CALL_COLS} FROM user_call WHERE (?1 IS NULL OR User_id = ?1 OR otheruser_id = ?1) ` +
    `AND (?2 IS NULL OR (otheruser_id = ?2 AND Outcome IN ${MISSED})) AND (?3 = 0 OR Notified_at IS NULL) AND (?5 IS NULL OR Trunk = ?5) ` +
    'ORDER BY id DESC LIMIT ?4) AS newest ORDER BY id',
  /**
   * selectCalls with only a missed-by user (every REGISTER asks it): ?1 callee, ?2 1 = only unnotified, ?3 limit; uses
   * user_call_callee; the newest ?3, oldest first
   */
  selectMissedCalls:
    `SELECT * FROM (SELECT ${CALL_COLS} FROM user_call WHERE otheruser_id = ?1 AND Outcome IN ${MISSED} AND (?2 = 0 OR Notified_at IS NULL) ` +
    'ORDER BY id DESC LIMIT ?3) AS newest ORDER BY id',
  markCallNotified: 'UPDATE user_call SET Notified_at = ?2 WHERE id = ?1',

  insertMessage:
    'INSERT INTO messages (to_user, from_uri, from_header, to_uri, content_type, body, body_bytes, received_at, expires_at, state, attempts) ' +
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', 0) RETURNING id",
  selectPendingMessages: `SELECT ${MESSAGE_COLS} FROM messages WHERE to_user = ?1 AND state = 'pending' ORDER BY id LIMIT ?2`,
  /** two indexed probes in one statement: is anything kept for the user? */
  selectKept:
    `SELECT CASE WHEN EXISTS (SELECT 1 FROM messages WHERE to_user = ?1 AND state = 'pending') THEN 1 ELSE 0 END AS messages, ` +
    `CASE WHEN EXISTS (SELECT 1 FROM user_call WHERE otheruser_id = ?1 AND Outcome IN ${MISSED} AND Notified_at IS NULL) THEN 1 ELSE 0 END AS missed_calls`,
  selectPendingUsage:
    "SELECT COUNT(*) AS n, COALESCE(SUM(body_bytes), 0) AS bytes FROM messages WHERE to_user = ?1 AND state = 'pending'",
  markDelivered: "UPDATE messages SET state = 'delivered', delivered_at = ?2, next_attempt_at = NULL WHERE id = ?1 AND state = 'pending'",
  recordAttempt: 'UPDATE messages SET attempts = attempts + 1, next_attempt_at = ?2 WHERE id = ?1',
  selectExpiredMessages: `SELECT ${MESSAGE_COLS} FROM messages WHERE state = 'pending' AND expires_at <= ?1 ORDER BY id`,
  markExpired: "UPDATE messages SET state = 'expired', next_attempt_at = NULL WHERE id = ?1 AND state = 'pending'",
  /** the voicemails rows of the messages purgeMessages (same ?1) is about to delete: first, for the foreign key */
  purgeVoicemails:
    "DELETE FROM voicemails WHERE message_id IN (SELECT id FROM messages WHERE state <> 'pending' AND COALESCE(delivered_at, expires_at) < ?1)",
  purgeMessages: "DELETE FROM messages WHERE state <> 'pending' AND COALESCE(delivered_at, expires_at) < ?1",
  /** ?1 user or NULL, ?2 state or NULL, ?3 limit: the newest ?3, oldest first (as selectCalls) */
  selectMessages:
    `SELECT * FROM (SELECT ${MESSAGE_COLS} FROM messages WHERE (?1 IS NULL OR to_user = ?1) AND (?2 IS NULL OR state = ?2) ` +
    'ORDER BY id DESC LIMIT ?3) AS newest ORDER BY id',

  insertVoicemail:
    'INSERT INTO voicemails (message_id, to_user, caller, call_id, call_record_id, recorded_at, duration_ms, codec) ' +
    'VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)',
  /** ?1 user or NULL, ?2 limit */
  selectVoicemails:
    `SELECT ${VOICEMAIL_COLS} FROM voicemails v JOIN messages m ON m.id = v.message_id WHERE (?1 IS NULL OR v.to_user = ?1) ` +
    'ORDER BY v.message_id LIMIT ?2',
  selectVoicemail: `SELECT ${VOICEMAIL_COLS} FROM voicemails v JOIN messages m ON m.id = v.message_id WHERE v.message_id = ?1`,
  selectVoicemailAudio: 'SELECT m.body AS body FROM voicemails v JOIN messages m ON m.id = v.message_id WHERE v.message_id = ?1',
  deleteVoicemail: 'DELETE FROM voicemails WHERE message_id = ?1',
  deleteMessage: 'DELETE FROM messages WHERE id = ?1',

  /** recordings in progress (schema 10): one row per call, replaced at each checkpoint */
  deleteVoicemailCheckpoint: 'DELETE FROM voicemail_checkpoints WHERE call_id = ?1',
  /** the pending voice messages of a call (one recovered from its checkpoint while the call was still recording) */
  selectPendingVoicemailsOfCall:
    "SELECT v.message_id AS id FROM voicemails v JOIN messages m ON m.id = v.message_id WHERE v.call_id = ?1 AND m.state = 'pending'",
  insertVoicemailCheckpoint:
    `INSERT INTO voicemail_checkpoints (${CHECKPOINT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)`,
  /** ?1: checkpoints not renewed since then (their call is no longer recorded by any node) */
  selectStaleVoicemailCheckpoints: `SELECT ${CHECKPOINT_COLS} FROM voicemail_checkpoints WHERE checkpointed_at < ?1 ORDER BY checkpointed_at`,

  updateSubscription:
    'UPDATE subscriptions SET watcher = ?2, presentity = ?3, call_id = ?4, local_tag = ?5, remote_tag = ?6, remote_target = ?7, ' +
    'route_set = ?8, cseq = ?9, expires_at = ?10, transport = ?11, source_ip = ?12, source_port = ?13, connection_id = ?14, event = ?15, node_id = ?16 WHERE id = ?1',
  insertSubscription:
    `INSERT INTO subscriptions (${SUBSCRIPTION_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)`,
  deleteSubscription: 'DELETE FROM subscriptions WHERE id = ?1',
  selectSubscriptionsFor: `SELECT ${SUBSCRIPTION_COLS} FROM subscriptions WHERE presentity = ?1 AND expires_at > ?2 ORDER BY id`,
  selectExpiredSubscriptions: `SELECT ${SUBSCRIPTION_COLS} FROM subscriptions WHERE expires_at <= ?1 ORDER BY id`,

  updatePushRegistration:
    'UPDATE push_registrations SET provider = ?3, prid = ?4, param = ?5, contact = ?6, expires_at = ?7, updated_at = ?8 WHERE user_id = ?1 AND device = ?2',
  insertPushRegistration: `INSERT INTO push_registrations (${PUSH_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)`,
  deletePushRegistration: 'DELETE FROM push_registrations WHERE user_id = ?1 AND device = ?2',
  selectPushRegistrations: `SELECT ${PUSH_COLS} FROM push_registrations WHERE user_id = ?1 AND expires_at > ?2 ORDER BY updated_at DESC, device`,
  deleteExpiredPushRegistrations: 'DELETE FROM push_registrations WHERE expires_at <= ?1',
  deleteUserPushRegistrations: 'DELETE FROM push_registrations WHERE user_id = ?1',

  selectGreeting: 'SELECT audio FROM greetings WHERE user_id = ?1',
  updateGreeting: 'UPDATE greetings SET audio = ?2, updated_at = ?3 WHERE user_id = ?1',
  insertGreeting: 'INSERT INTO greetings (user_id, audio, updated_at) VALUES (?1, ?2, ?3)',
  deleteGreeting: 'DELETE FROM greetings WHERE user_id = ?1',
} as const;

export type QueryName = keyof typeof QUERIES;
export type QueryTable = Record<QueryName, string>;

/** Column lists, for dialects that rewrite a query. */
export const COLUMNS = { BINDING_COLS, PRESENCE_COLS, CALL_COLS, MESSAGE_COLS, VOICEMAIL_COLS, SUBSCRIPTION_COLS, PUSH_COLS, CHECKPOINT_COLS, MISSED } as const;

/** Rewrite ?N placeholders: `(n) => '$' + n` for PostgreSQL, `(n) => '@p' + n` for SQL Server. */
export function renumber(table: QueryTable, placeholder: (n: number) => string): QueryTable {
  const out = {} as Record<QueryName, string>;
  for (const name of Object.keys(table) as QueryName[]) out[name] = table[name].replace(/\?(\d+)/g, (_, n: string) => placeholder(Number(n)));
  return out;
}
