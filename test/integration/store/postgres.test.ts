import assert from 'node:assert/strict';
import pg from 'pg';
import { StoreUnavailableError, TvphoneError } from '../../../src/errors.ts';
import { codeSchemaVersion } from '../../../src/store/migrations.ts';
import { openStore } from '../../../src/store/open.ts';
import { describeStoreContract } from './contract.ts';
import { describeDatetimeMigration } from './datetime.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/pg-database.ts';

const adminUrl = process.env.TVPHONE_TEST_PG_URL;

(adminUrl ? describe : describe.skip)(
  adminUrl ? 'PostgreSQL store' : 'PostgreSQL store: skipped, TVPHONE_TEST_PG_URL not set (.ci/postgres.sh sets it)',
  function () {
    let db: TestDatabase;
    before(async function () {
      db = await createTestDatabase(adminUrl!);
    });
    after(async function () {
      await db?.drop();
    });

    describeStoreContract('PostgreSQL', () => openStore(db.url));

    describeDatetimeMigration('postgres', async () => {
      const other = await createTestDatabase(adminUrl!);
      // a DBA's session in UTC: a date literal is read in the session's TimeZone
      const onClient = async <T>(f: (c: pg.Client) => Promise<T>): Promise<T> => {
        const c = new pg.Client({ connectionString: other.url, options: '-c TimeZone=UTC' });
        await c.connect();
        try {
          return await f(c);
        } finally {
          await c.end();
        }
      };
      return {
        exec: (statements) => onClient(async (c) => { for (const st of statements) await c.query(st); }),
        query: (sql) => onClient(async (c) => (await c.query(sql)).rows),
        open: () => openStore(other.url),
        bytes: (hex) => `decode('${hex}', 'hex')`,
        drop: () => other.drop(),
      };
    });

    it('keeps the seed tables and columns (names folded to lower case)', async function () {
      await (await openStore(db.url)).close();
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        const cols = async (t: string) =>
          (await c.query('SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position', [t])).rows.map((r) => r.column_name);
        assert.deepEqual((await cols('user_property')).slice(0, 3), ['user_id', 'user_ip', 'user_netstate']);
        assert.deepEqual((await cols('user_call')).slice(1, 4), ['user_id', 'otheruser_id', 'call_date']);
        const type = async (t: string, col: string) =>
          (await c.query('SELECT data_type FROM information_schema.columns WHERE table_name = $1 AND column_name = $2', [t, col])).rows[0]?.data_type;
        for (const [t, col] of [['user_call', 'call_date'], ['user_call', 'notified_at'], ['user_property', 'netstate_since'], ['messages', 'received_at']]) {
          assert.equal(await type(t, col), 'timestamp with time zone', `${t}.${col}`);
        }
        // the seed's spelling works unquoted
        await c.query('SELECT User_id, User_ip, User_netstate FROM user_property');
      } finally {
        await c.end();
      }
    });

    it('refuses a database whose schema is newer than the code', async function () {
      const other = await createTestDatabase(adminUrl!);
      try {
        await (await openStore(other.url)).close();
        const c = new pg.Client({ connectionString: other.url });
        await c.connect();
        await c.query('INSERT INTO schema_version (version, applied_at) VALUES (99, 0)');
        await c.end();
        await assert.rejects(openStore(other.url), (e: unknown) =>
          e instanceof TvphoneError && e.message === `schema version 99 is newer than this tvphone (${codeSchemaVersion('postgres')})`);
      } finally {
        await other.drop();
      }
    });

    it('an unreachable server fails at open with StoreUnavailableError, password redacted', async function () {
      const u = new URL(adminUrl!);
      u.port = '1';
      u.username = 'tv';
      u.password = 's3cret-pw';
      await assert.rejects(openStore(u.toString(), { connectTimeoutMs: 2000 }), (e: unknown) => {
        assert.ok(e instanceof StoreUnavailableError || e instanceof TvphoneError);
        assert.doesNotMatch((e as Error).message, /s3cret-pw/);
        assert.match((e as Error).message, /tv:\*\*\*@127\.0\.0\.1:1/);
        return true;
      });
    });
  },
);
