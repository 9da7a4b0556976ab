// The store contract on SQL Server: in CI on Babelfish (TDS + T-SQL on PostgreSQL, .ci/babelfish.sh), by hand on any
// SQL Server. MSSQL_URL's login must be allowed to CREATE DATABASE: the suite runs in a fresh database of its own.
import assert from 'node:assert/strict';
import sql from 'mssql';
import { StoreUnavailableError, TvphoneError } from '../../../src/errors.ts';
import { codeSchemaVersion } from '../../../src/store/migrations.ts';
import { mssqlConfig } from '../../../src/store/mssql/mssql-store.ts';
import { openStore } from '../../../src/store/open.ts';
import { createMssqlTestDatabase } from '../../helpers/mssql-database.ts';
import type { TestDatabase } from '../../helpers/pg-database.ts';
import { describeStoreContract } from './contract.ts';
import { describeDatetimeMigration } from './datetime.ts';

const url = process.env.MSSQL_URL;

async function exec(dbUrl: string, statement: string): Promise<sql.IResult<Record<string, unknown>>> {
  const pool = await new sql.ConnectionPool(mssqlConfig(dbUrl, {})).connect();
  try {
    return await pool.request().query(statement);
  } finally {
    await pool.close();
  }
}

(url ? describe : describe.skip)(
  url ? 'SQL Server store' : 'SQL Server store: skipped, MSSQL_URL not set (.ci/babelfish.sh sets it)',
  function () {
    let db: TestDatabase;
    before(async function () {
      this.timeout(60_000);
      db = await createMssqlTestDatabase(url!);
    });
    after(async function () {
      this.timeout(60_000);
      await db?.drop();
    });

    describeStoreContract('SQL Server', () => openStore(db.url));

    describeDatetimeMigration('mssql', async () => {
      const other = await createMssqlTestDatabase(url!);
      return {
        exec: async (statements) => {
          const pool = await new sql.ConnectionPool(mssqlConfig(other.url, {})).connect(); // one session: a new one costs ~0.5 s
          try {
            for (const st of statements) await pool.request().batch(st);
          } finally {
            await pool.close();
          }
        },
        query: async (statement) => (await exec(other.url, statement)).recordset,
        open: () => openStore(other.url),
        bytes: (hex) => `0x${hex}`,
        drop: () => other.drop(),
      };
    });

    it('keeps the seed tables and columns with their spelling', async function () {
      await (await openStore(db.url)).close();
      const cols = async (t: string) =>
        (await exec(db.url, `SELECT column_name AS c FROM information_schema.columns WHERE table_name = '${t}' ORDER BY ordinal_position`))
          .recordset.map((r) => String(r.c));
      assert.deepEqual((await cols('user_property')).slice(0, 3).map((c) => c.toLowerCase()), ['user_id', 'user_ip', 'user_netstate']);
      // schema 2 added the time columns anew (Babelfish cannot ALTER COLUMN … NOT NULL): Call_date now comes later
      assert.deepEqual((await cols('user_call')).slice(1, 3).map((c) => c.toLowerCase()), ['user_id', 'otheruser_id']);
      const types = (await exec(db.url, 'SELECT table_name AS t, column_name AS c, data_type AS d, datetime_precision AS p FROM information_schema.columns ' +
        "WHERE table_name IN ('user_call', 'user_property') AND data_type LIKE 'datetime%' ORDER BY table_name, column_name")).recordset
        .map((r) => `${String(r.t)}.${String(r.c).toLowerCase()} ${String(r.d)}(${String(r.p)})`);
      assert.deepEqual(types, ['user_call.answered_at datetime2(3)', 'user_call.call_date datetime2(3)', 'user_call.ended_at datetime2(3)',
        'user_call.notified_at datetime2(3)', 'user_property.netstate_since datetime2(3)']);
      // NOT NULL is kept by a CHECK constraint
      await assert.rejects(exec(db.url, "INSERT INTO user_call (User_id, otheruser_id, Call_id, Outcome) VALUES ('a', 'b', 'c', 'offline')"), /CHECK|constraint/i);
      await exec(db.url, 'SELECT User_id, User_ip, User_netstate FROM user_property');
    });

    it('refuses a database whose schema is newer than the code', async function () {
      this.timeout(60_000);
      const other = await createMssqlTestDatabase(url!);
      try {
        await (await openStore(other.url)).close();
        await exec(other.url, 'INSERT INTO schema_version (version, applied_at) VALUES (99, 0)');
        await assert.rejects(openStore(other.url), (e: unknown) =>
          e instanceof TvphoneError && e.message === `schema version 99 is newer than this tvphone (${codeSchemaVersion('mssql')})`);
      } finally {
        await other.drop();
      }
    });

    it('a write that times out on a lock rolls back and gives its connection back: the pool goes on, close() ends', async function () {
      this.timeout(60_000);
      const user = `locked-${Date.now()}`;
      // the schema first, with the default timeouts (a fresh database's migrations take seconds on a loaded Babelfish)
      await (await openStore(db.url)).close();
      const store = await openStore(db.url, { poolSize: 1, statementTimeoutMs: 1000 });
      const holder = await new sql.ConnectionPool(mssqlConfig(db.url, {})).connect();
      try {
        await store.addUser({ userId: user, realm: 'tv.example', ha1Md5: 'a'.repeat(32), ha1Sha256: 'b'.repeat(64) }, 1);
        // another session holds the user's row lock (as a writer stuck in a long transaction would)
        const tx = new sql.Transaction(holder);
        await tx.begin();
        await new sql.Request(tx).query(`UPDATE user_property SET User_netstate = User_netstate WHERE User_id = N'${user}'`);
        const msg = {
          toUser: user, fromUri: 'sip:a@tv.example', fromHeader: '<sip:a@tv.example>;tag=1', toUri: `sip:${user}@tv.example`,
          contentType: 'text/plain', body: Uint8Array.of(1), receivedAt: 1, expiresAt: 2e12,
        };
        await assert.rejects(store.storeMessage(msg, { count: 10, bytes: 1000 }), StoreUnavailableError);
        await tx.rollback();
        // the pool's one connection is back, its transaction rolled back: the next write goes through at once
        assert.equal((await store.storeMessage(msg, { count: 10, bytes: 1000 })).toUser, user);
        assert.equal((await store.pendingUsage(user)).count, 1, 'the timed-out write left nothing behind');
      } finally {
        await holder.close();
        const closed = await Promise.race([store.close().then(() => true), new Promise((r) => setTimeout(r, 10_000, false))]);
        assert.ok(closed, 'close() ends');
      }
    });

    it('an unreachable server fails at open with StoreUnavailableError, password redacted', async function () {
      const u = new URL(url!);
      u.port = '1';
      u.username = 'tv';
      u.password = 's3cret-pw';
      await assert.rejects(openStore(u.toString(), { connectTimeoutMs: 2000 }), (e: unknown) => {
        assert.ok(e instanceof StoreUnavailableError, String(e));
        assert.doesNotMatch((e as Error).message, /s3cret-pw/);
        assert.match((e as Error).message, /tv:\*\*\*@127\.0\.0\.1:1/);
        return true;
      });
    });
  },
);
