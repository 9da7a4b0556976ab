// Every statement the SQL Server backend sends, as exported constants, so that a test can parse each one
// with a T-SQL parser. T-SQL spells a few things its own way: TOP(n) for LIMIT, SCOPE_IDENTITY() for
// RETURNING, an UPDATE of the row for FOR UPDATE. Only T-SQL that Babelfish runs too (README, "SQL Server").

import { COLUMNS, QUERIES, renumber } from '../queries.ts';

export const MSSQL_QUERIES = renumber(
  {
    ...QUERIES,
    // the row lock that serialises a user's writers: a no-op UPDATE takes it (exclusive, held to commit) on SQL Server
    // and on Babelfish alike; table hints (UPDLOCK, HOLDLOCK) would not, Babelfish accepts and ignores them
    lockPresence:
      'UPDATE user_property SET User_netstate = User_netstate WHERE User_id = ?1; ' +
      `SELECT ${COLUMNS.PRESENCE_COLS} FROM user_property WHERE User_id = ?1`,
    // OUTPUT INSERTED.id would do, but node-sql-parser 5 parses OUTPUT only after a one-column list; the
    // SELECT runs in the same sp_executesql scope, so SCOPE_IDENTITY() is this INSERT's id
    insertCall:
      'INSERT INTO user_call (User_id, otheruser_id, Call_date, Call_id, Outcome, Status, Dialled_number, Sent_number) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8); ' +
      'SELECT CAST(SCOPE_IDENTITY() AS BIGINT) AS id',
    // the newest TOP(n) in a derived table (T-SQL allows its ORDER BY with TOP), handed back oldest first
    selectCalls:
      `SELECT * FROM (SELECT TOP(?4) ${COLUMNS.CALL_COLS} FROM user_call WHERE (?1 IS NULL OR User_id = ?1 OR otheruser_id = ?1) ` +
      `AND (?2 IS NULL OR (otheruser_id = ?2 AND Outcome IN ${COLUMNS.MISSED})) AND (?3 = 0 OR Notified_at IS NULL) AND (?5 IS NULL OR Trunk = ?5) ` +
      'ORDER BY id DESC) AS newest ORDER BY id',
    selectMissedCalls:
      `SELECT * FROM (SELECT TOP(?3) ${COLUMNS.CALL_COLS} FROM user_call WHERE otheruser_id = ?1 AND Outcome IN ${COLUMNS.MISSED} ` +
      'AND (?2 = 0 OR Notified_at IS NULL) ORDER BY id DESC) AS newest ORDER BY id',
    insertMessage:
      'INSERT INTO messages (to_user, from_uri, from_header, to_uri, content_type, body, body_bytes, received_at, expires_at, state, attempts) ' +
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', 0); SELECT CAST(SCOPE_IDENTITY() AS BIGINT) AS id",
    selectNodeConnectionsBatch:
      "SELECT TOP(?2) user_id, connection_id FROM bindings WHERE node_id = ?1 AND connection_id >= '' ORDER BY connection_id",
    selectPendingMessages: `SELECT TOP(?2) ${COLUMNS.MESSAGE_COLS} FROM messages WHERE to_user = ?1 AND state = 'pending' ORDER BY id`,
    // TOP over a derived table: node-sql-parser 5 reads no qualified column right after TOP(n)
    selectVoicemails:
      `SELECT TOP(?2) * FROM (SELECT ${COLUMNS.VOICEMAIL_COLS} FROM voicemails v JOIN messages m ON m.id = v.message_id ` +
      'WHERE (?1 IS NULL OR v.to_user = ?1)) AS vm ORDER BY id',
    selectMessages:
      `SELECT * FROM (SELECT TOP(?3) ${COLUMNS.MESSAGE_COLS} FROM messages WHERE (?1 IS NULL OR to_user = ?1) AND (?2 IS NULL OR state = ?2) ` +
      'ORDER BY id DESC) AS newest ORDER BY id',
  },
  (n) => `@p${n}`,
);

/** Statements of the migration runner. */
export const MSSQL_MIGRATION_QUERIES = {
  /** one migrator at a time; released at commit */
  lock: "EXEC sp_getapplock @Resource = 'tvphone_migrate', @LockMode = 'Exclusive', @LockOwner = 'Transaction'",
  versionTablePresent: "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_name = 'schema_version'",
} as const;
