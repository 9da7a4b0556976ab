// PostgreSQL group commit (postgres-store.ts): the writes of one lane share one transaction and one COMMIT, each
// resolves only after that COMMIT, one user's writes keep their order, a failing write fails alone, and an outage
// fails the whole batch with nothing of it kept. A row lock held by another session stops a batch mid-way, so what
// the batch has done is looked at from outside while it is still open.
import assert from 'node:assert/strict';
import pg from 'pg';
import { QuotaExceededError, StoreUnavailableError } from '../../../src/errors.ts';
import type { PostgresStore } from '../../../src/store/postgres/postgres-store.ts';
import { openStore } from '../../../src/store/open.ts';
import type { Binding, NewMessage, Store } from '../../../src/store/store.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/pg-database.ts';
import { until } from '../../helpers/until.ts';

const adminUrl = process.env.TVPHONE_TEST_PG_URL;
const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);

function message(toUser: string, n: number): NewMessage {
  return {
    toUser, fromUri: 'sip:a@example.test', fromHeader: '<sip:a@example.test>;tag=1', toUri: `sip:${toUser}@example.test`,
    contentType: 'text/plain', body: Uint8Array.of(n), receivedAt: T0, expiresAt: T0 + 86_400_000,
  };
}

function binding(userId: string): Binding {
  return {
    userId, contact: `sip:${userId}@192.0.2.1:5062`, expiresAt: T0 + 3_600_000, q: null, callId: `c-${userId}`, cseq: 1, path: [],
    instance: null, regId: null, flow: { transport: 'udp', address: '192.0.2.1', port: 5062, connectionId: null }, userAgent: null,
    updatedAt: T0,
  };
}

(adminUrl ? describe : describe.skip)(
  adminUrl ? 'PostgreSQL group commit' : 'PostgreSQL group commit: skipped, TVPHONE_TEST_PG_URL not set',
  function () {
    let db: TestDatabase;
    let admin: pg.Client;
    const open: Store[] = [];
    const openOne = async (writeLanes: number): Promise<Store & Pick<PostgresStore, 'stats'>> => {
      const s = await openStore(db.url, { writeLanes, groupCommitMs: 0 });
      open.push(s);
      return s as Store & Pick<PostgresStore, 'stats'>;
    };
    /** what another session sees (committed rows only) */
    const seen = async (toUser: string): Promise<number[]> =>
      (await admin.query('SELECT body FROM messages WHERE to_user = $1 ORDER BY id', [toUser])).rows.map((r) => (r.body as Buffer)[0]!);
    /** another session holds `userId`'s user_property row (FOR UPDATE) until the returned release */
    const holdPresence = async (userId: string): Promise<() => Promise<void>> => {
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      await c.query('BEGIN');
      await c.query('SELECT 1 FROM user_property WHERE user_id = $1 FOR UPDATE', [userId]);
      return async () => {
        await c.query('ROLLBACK').catch(() => {});
        await c.end();
      };
    };
    /** the backend of the store that waits for a row lock */
    const waitingBackend = async (): Promise<number> => {
      let pid: number | null = null;
      await until(async () => {
        const { rows } = await admin.query("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
        pid = rows.length ? Number(rows[0].pid) : null;
        return pid !== null;
      }, 5000, 'the batch to wait for the row lock');
      return pid!;
    };

    beforeEach(async function () {
      db = await createTestDatabase(adminUrl!);
      admin = new pg.Client({ connectionString: db.url });
      await admin.connect();
    });
    afterEach(async function () {
      for (const s of open.splice(0)) await s.close();
      await admin?.end();
      await db?.drop();
    });

    it('runs the writes of one tick in one transaction with one COMMIT', async function () {
      const s = await openOne(1);
      await s.addUser({ userId: 'tv', realm: 'r', ha1Md5: '', ha1Sha256: '' }, T0);
      const before = s.stats;
      await Promise.all([
        ...Array.from({ length: 20 }, (_, i) => s.storeMessage(message('tv', i), { count: 100, bytes: 1 << 20 })),
        ...Array.from({ length: 10 }, (_, i) => s.saveBindings(`u${i}`, [binding(`u${i}`)], [], false, T0)),
      ]);
      assert.deepEqual({ commits: s.stats.commits - before.commits, writes: s.stats.writes - before.writes }, { commits: 1, writes: 30 });
      assert.equal((await seen('tv')).length, 20);
    });

    it('resolves no write of a batch before the batch has committed', async function () {
      const s = await openOne(1);
      await s.addUser({ userId: 'held', realm: 'r', ha1Md5: '', ha1Sha256: '' }, T0);
      const release = await holdPresence('held');
      let settled = 0;
      // one batch: a message for `free` first, then one for `held` (its quota check waits for the row lock)
      const first = s.storeMessage(message('free', 1)).finally(() => { settled++; });
      const second = s.storeMessage(message('held', 2), { count: 10, bytes: 1 << 20 }).finally(() => { settled++; });
      await waitingBackend();
      // `free`'s insert has run in the open transaction: not committed, so not answered and not seen
      assert.equal(settled, 0);
      assert.deepEqual(await seen('free'), []);
      await release();
      const [a, b] = await Promise.all([first, second]);
      assert.ok(a.id < b.id);
      assert.deepEqual(await seen('free'), [1]);
      assert.deepEqual(await seen('held'), [2]);
    });

    it('fails a refused write alone: the others of its batch commit', async function () {
      const s = await openOne(1);
      for (const u of ['full', 'other']) await s.addUser({ userId: u, realm: 'r', ha1Md5: '', ha1Sha256: '' }, T0);
      const quota = { count: 3, bytes: 1 << 20 };
      const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) =>
        i % 2 === 0 ? s.storeMessage(message('full', i), quota) : s.storeMessage(message('other', i), quota)));
      // `full` takes 3 (the first 3 asked for), the rest are refused one by one; `other` gets its 3, then refusals too
      const status = results.map((r) => r.status);
      assert.deepEqual(status, ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled',
        'rejected', 'rejected', 'rejected', 'rejected', 'rejected', 'rejected']);
      for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof QuotaExceededError);
      assert.deepEqual(await seen('full'), [0, 2, 4]);
      assert.deepEqual(await seen('other'), [1, 3, 5]);
      // a statement PostgreSQL refuses (a NUL in text: 22021) aborts the transaction: it fails alone all the same
      const [before, bad, after, fresh] = await Promise.allSettled([
        s.storeMessage(message('x', 1)),
        s.storeMessage({ ...message('y', 2), fromUri: 'sip:a\u0000@example.test' }),
        s.storeMessage(message('x', 3)),
        s.saveBindings('fresh', [binding('fresh')], [], false, T0),
      ]);
      assert.deepEqual([before.status, after.status, fresh.status], ['fulfilled', 'fulfilled', 'fulfilled']);
      assert.equal(bad.status, 'rejected');
      assert.ok(!(bad.reason instanceof StoreUnavailableError));
      assert.deepEqual(await seen('x'), [1, 3]);
      assert.deepEqual(await seen('y'), []);
      assert.equal((await s.getBindings('fresh', T0)).length, 1);
    });

    it('keeps one user\'s messages in the order they were asked for, over several lanes', async function () {
      const s = await openOne(4);
      const users = ['a', 'b', 'c', 'd', 'e'];
      for (const u of users) await s.addUser({ userId: u, realm: 'r', ha1Md5: '', ha1Sha256: '' }, T0);
      const stored = await Promise.all(Array.from({ length: 200 }, (_, i) =>
        s.storeMessage(message(users[i % users.length]!, i), { count: 1000, bytes: 1 << 20 })));
      for (const u of users) {
        const asked = Array.from({ length: 200 }, (_, i) => i).filter((i) => users[i % users.length] === u);
        const mine = stored.filter((m) => m.toUser === u);
        assert.deepEqual(mine.map((m) => m.body[0]), asked);
        assert.deepEqual(mine.map((m) => m.id), [...mine.map((m) => m.id)].sort((x, y) => x - y), `${u}: ids in the order asked`);
        assert.deepEqual((await s.pendingMessages(u, 1000)).map((m) => m.body[0]), asked);
      }
    });

    it('fails the whole batch as unavailable when its connection is cut, and keeps nothing of it', async function () {
      const s = await openOne(1);
      await s.addUser({ userId: 'held', realm: 'r', ha1Md5: '', ha1Sha256: '' }, T0);
      const release = await holdPresence('held');
      const batch = [
        s.storeMessage(message('free', 1)),
        s.saveBindings('fresh', [binding('fresh')], [], false, T0),
        s.storeMessage(message('held', 2), { count: 10, bytes: 1 << 20 }),
      ].map((p) => p.then(() => 'committed', (e: unknown) => e));
      await admin.query('SELECT pg_terminate_backend($1)', [await waitingBackend()]);
      for (const r of await Promise.all(batch)) assert.ok(r instanceof StoreUnavailableError, String(r));
      await release();
      assert.deepEqual(await seen('free'), []);
      assert.deepEqual(await seen('held'), []);
      assert.equal((await admin.query("SELECT count(*)::int AS n FROM bindings WHERE user_id = 'fresh'")).rows[0].n, 0);
      // the pool connects again: the next writes are kept
      await s.storeMessage(message('free', 3));
      assert.deepEqual(await seen('free'), [3]);
    });

    it('answers point lookups side by side on one connection, and sends a statement again when its connection was cut', async function () {
      const s = await openOne(2);
      await Promise.all(['a', 'b', 'c'].map((u) => s.saveBindings(u, [binding(u)], [], false, T0)));
      const found = await Promise.all(Array.from({ length: 60 }, (_, i) => s.getBindings(['a', 'b', 'c', 'none'][i % 4]!, T0)));
      assert.deepEqual(found.map((b) => b.length), Array.from({ length: 60 }, (_, i) => (i % 4 === 3 ? 0 : 1)));
      // every connection of the store cut while idle (a restart, a failover): the reader and the pooled connections
      // are found cut only when used, and each request runs again on a fresh connection instead of failing 503
      const cutAll = (): Promise<unknown> =>
        admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
      await cutAll();
      assert.deepEqual((await Promise.all(['a', 'b', 'none'].map((u) => s.getBindings(u, T0)))).map((b) => b.length), [1, 1, 0]);
      await cutAll();
      await s.saveBindings('d', [binding('d')], [], false, T0);
      assert.equal((await s.getBindings('d', T0)).length, 1);
      await cutAll();
      assert.deepEqual((await s.listBindings(T0)).map((b) => b.userId).sort(), ['a', 'b', 'c', 'd']);
    });
  },
);
