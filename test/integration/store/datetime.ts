// Schema 2 (issue 14): the time columns are date-time types. Shared by the three backends' store tests: a database
// created at schema 1 with rows in epoch ms, migrated by openStore, reads back the same values through the Store API,
// and a DBA's `WHERE Call_date >= '2026-12-01'` works on the migrated rows.

import assert from 'node:assert/strict';
import { loadMigrations, splitStatements } from '../../../src/store/migrations.ts';
import type { Dialect, Store } from '../../../src/store/store.ts';

export interface Schema1Database {
  /** run statements in the database (no rows back) */
  exec(statements: string[]): Promise<void>;
  /** one query, its rows */
  query(sql: string): Promise<Array<Record<string, unknown>>>;
  open(): Promise<Store>;
  /** a binary literal in the dialect's spelling */
  bytes(hex: string): string;
  drop(): Promise<void>;
}

/** times that catch a lost millisecond, a time zone shift or a 32-bit overflow */
const CALL_DATE = Date.UTC(2026, 11, 1, 0, 0, 0, 1); // 2026-12-01T00:00:00.001Z
const BEFORE = Date.UTC(2026, 10, 30, 23, 59, 59, 999);
const FAR = Date.UTC(2286, 10, 20, 17, 46, 40, 7); // beyond 2038 in seconds
const EARLY = 999; // 1970-01-01T00:00:00.999Z

export function describeDatetimeMigration(dialect: Dialect, fresh: () => Promise<Schema1Database>): void {
  describe(`schema 2 (date-time columns) on ${dialect}`, function () {
    this.timeout(120_000);

    let dbs: Schema1Database[] = [];
    async function freshOne(): Promise<Schema1Database> {
      const db = await fresh();
      dbs.push(db);
      return db;
    }
    afterEach(async function () {
      await Promise.all(dbs.map((d) => d.drop()));
      dbs = [];
    });

    it('migrates a schema 1 database with rows: the Store API reads back the same epoch ms, NULLs and ids', async function () {
      const db = await freshOne();
      const [schema1] = loadMigrations(dialect);
      await db.exec([...splitStatements(schema1.sql), 'INSERT INTO schema_version (version, applied_at) VALUES (1, 0)']);
      await db.exec([
        `INSERT INTO users (user_id, realm, created_at) VALUES ('u1', 'tv.example', ${EARLY})`,
        `INSERT INTO credentials (user_id, realm, ha1_md5, ha1_sha256) VALUES ('u1', 'tv.example', 'a', 'b')`,
        `INSERT INTO user_property (User_id, User_ip, User_netstate, Netstate_since) VALUES ('u1', '192.0.2.7', 1, ${BEFORE})`,
        'INSERT INTO bindings (user_id, contact, expires_at, q, call_id, cseq, path, instance, reg_id, transport, source_ip, source_port, ' +
          `connection_id, user_agent, updated_at) VALUES ('u1', 'sip:u1@192.0.2.7', ${FAR}, NULL, 'c', 1, '[]', NULL, NULL, 'udp', '192.0.2.7', ` +
          `5060, NULL, NULL, ${CALL_DATE})`,
        'INSERT INTO user_call (User_id, otheruser_id, Call_date, Call_id, Outcome, Status, Answered_at, Ended_at, Duration_ms, Notified_at) ' +
          `VALUES ('u2', 'u1', ${BEFORE}, 'k1', 'offline', 480, NULL, NULL, NULL, ${CALL_DATE})`,
        'INSERT INTO user_call (User_id, otheruser_id, Call_date, Call_id, Outcome, Status, Answered_at, Ended_at, Duration_ms, Notified_at) ' +
          `VALUES ('u1', 'u2', ${CALL_DATE}, 'k2', 'answered', 200, ${CALL_DATE + 5}, ${CALL_DATE + 60_005}, 60000, NULL)`,
        'INSERT INTO user_call (User_id, otheruser_id, Call_date, Call_id, Outcome, Status) ' +
          `VALUES ('u1', 'u2', ${CALL_DATE + 1}, 'k3', 'pending', NULL)`,
        'INSERT INTO messages (to_user, from_uri, from_header, to_uri, content_type, body, body_bytes, received_at, expires_at, state, attempts, ' +
          `next_attempt_at, delivered_at) VALUES ('u1', 'sip:a@x', '<sip:a@x>', 'sip:u1@x', 'text/plain', ${db.bytes('00ff')}, 2, ${BEFORE}, ` +
          `${FAR}, 'pending', 2, ${CALL_DATE}, NULL)`,
        'INSERT INTO messages (to_user, from_uri, from_header, to_uri, content_type, body, body_bytes, received_at, expires_at, state, attempts, ' +
          `next_attempt_at, delivered_at) VALUES ('u1', 'sip:a@x', '<sip:a@x>', 'sip:u1@x', 'text/plain', ${db.bytes('01')}, 1, ${CALL_DATE}, ` +
          `${FAR}, 'delivered', 1, NULL, ${CALL_DATE + 2})`,
        // the newest message is gone (delivered and purged): its id must not come back
        'INSERT INTO messages (to_user, from_uri, from_header, to_uri, content_type, body, body_bytes, received_at, expires_at, state, attempts) ' +
          `VALUES ('u1', 'sip:a@x', '<sip:a@x>', 'sip:u1@x', 'text/plain', ${db.bytes('02')}, 1, ${CALL_DATE}, ${FAR}, 'delivered', 1)`,
        'DELETE FROM messages WHERE id = 3',
        'INSERT INTO user_call (User_id, otheruser_id, Call_date, Call_id, Outcome) ' + `VALUES ('u1', 'u2', ${CALL_DATE}, 'k4', 'pending')`,
        'DELETE FROM user_call WHERE id = 4',
        'INSERT INTO subscriptions (id, watcher, presentity, call_id, local_tag, remote_tag, remote_target, route_set, cseq, expires_at, ' +
          `transport, source_ip, source_port, connection_id) VALUES ('s1', 'sip:w@x', 'sip:u1@x', 'sc', 'l', 'r', 'sip:w@192.0.2.8', '[]', 3, ` +
          `${FAR}, 'udp', '192.0.2.8', 5070, NULL)`,
      ]);

      const s = await db.open();
      try {
        assert.equal(await s.schemaVersion(), loadMigrations(dialect).length);
        assert.deepEqual(await s.listUsers(), [{ userId: 'u1', realm: 'tv.example', createdAt: EARLY }]);
        assert.deepEqual(await s.getCredentials('u1'), { userId: 'u1', realm: 'tv.example', ha1Md5: 'a', ha1Sha256: 'b' });
        assert.deepEqual(await s.getPresence('u1'), { userId: 'u1', ip: '192.0.2.7', netstate: 1, since: BEFORE });
        const [b] = await s.getBindings('u1', CALL_DATE);
        assert.deepEqual([b.expiresAt, b.updatedAt], [FAR, CALL_DATE]);
        assert.deepEqual(await s.listCalls({}), [
          { id: 1, userId: 'u2', otherUserId: 'u1', callDate: BEFORE, callId: 'k1', outcome: 'offline', status: 480, answeredAt: null, endedAt: null, durationMs: null, notifiedAt: CALL_DATE, trunk: null, dialledNumber: null, sentNumber: null },
          { id: 2, userId: 'u1', otherUserId: 'u2', callDate: CALL_DATE, callId: 'k2', outcome: 'answered', status: 200, answeredAt: CALL_DATE + 5, endedAt: CALL_DATE + 60_005, durationMs: 60_000, notifiedAt: null, trunk: null, dialledNumber: null, sentNumber: null },
          { id: 3, userId: 'u1', otherUserId: 'u2', callDate: CALL_DATE + 1, callId: 'k3', outcome: 'pending', status: null, answeredAt: null, endedAt: null, durationMs: null, notifiedAt: null, trunk: null, dialledNumber: null, sentNumber: null },
        ]);
        const messages = (await s.listMessages({})).map(({ body, ...m }) => ({ ...m, body: Buffer.from(body).toString('hex') }));
        assert.deepEqual(messages, [
          { id: 1, toUser: 'u1', fromUri: 'sip:a@x', fromHeader: '<sip:a@x>', toUri: 'sip:u1@x', contentType: 'text/plain', body: '00ff', receivedAt: BEFORE, expiresAt: FAR, state: 'pending', attempts: 2, nextAttemptAt: CALL_DATE, deliveredAt: null },
          { id: 2, toUser: 'u1', fromUri: 'sip:a@x', fromHeader: '<sip:a@x>', toUri: 'sip:u1@x', contentType: 'text/plain', body: '01', receivedAt: CALL_DATE, expiresAt: FAR, state: 'delivered', attempts: 1, nextAttemptAt: null, deliveredAt: CALL_DATE + 2 },
        ]);
        assert.deepEqual((await s.subscriptionsFor('sip:u1@x', CALL_DATE)).map((x) => [x.id, x.expiresAt]), [['s1', FAR]]);
        // ids go on from where they were: message 3 and call 4 were handed out before the migration
        const m = await s.storeMessage({ toUser: 'u1', fromUri: 'sip:a@x', fromHeader: '<sip:a@x>', toUri: 'sip:u1@x', contentType: 'text/plain', body: Uint8Array.of(3), receivedAt: FAR, expiresAt: FAR });
        assert.equal(m.id, 4);
        assert.equal(await s.recordCall({ userId: 'u1', otherUserId: 'u2', callDate: FAR, callId: 'k5', outcome: 'pending' }), 5);
        // and the foreign key of credentials still holds
        assert.equal(await s.removeUser('u1'), true);
      } finally {
        await s.close();
      }
    });

    it("stores times as date-time values a DBA can compare with a date: WHERE Call_date >= '2026-12-01'", async function () {
      const db = await freshOne();
      const s = await db.open();
      try {
        await s.recordCall({ userId: 'a', otherUserId: 'b', callDate: BEFORE, callId: 'x1', outcome: 'offline' });
        const id = await s.recordCall({ userId: 'a', otherUserId: 'b', callDate: CALL_DATE, callId: 'x2', outcome: 'answered' });
        await s.updateCall(id, { answeredAt: CALL_DATE + 1, endedAt: null });
        await s.addUser({ userId: 'dba', realm: 'r', ha1Md5: 'a', ha1Sha256: 'b' }, BEFORE);
        // a time the columns cannot hold exactly is refused, never rounded
        for (const callDate of [CALL_DATE + 0.5, Date.UTC(10000, 0, 1), Number.NaN]) {
          await assert.rejects(s.recordCall({ userId: 'a', otherUserId: 'b', callDate, callId: 'bad', outcome: 'offline' }), RangeError);
        }
      } finally {
        await s.close();
      }
      const newer = await db.query("SELECT Call_id AS call_id FROM user_call WHERE Call_date >= '2026-12-01' ORDER BY Call_date");
      assert.deepEqual(newer.map((r) => r.call_id), ['x2']);
      const answered = await db.query("SELECT COUNT(*) AS n FROM user_call WHERE Answered_at >= '2026-12-01' AND Ended_at IS NULL");
      assert.equal(Number(answered[0].n), 1);
      const online = await db.query("SELECT User_id AS user_id FROM user_property WHERE Netstate_since < '2026-12-01'");
      assert.deepEqual(online.map((r) => r.user_id), ['dba']);
    });
  });
}
