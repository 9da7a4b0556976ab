import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { StoreUnavailableError, TvphoneError } from '../../../src/errors.ts';
import { openStore } from '../../../src/store/open.ts';
import type { SqliteStore } from '../../../src/store/sqlite/sqlite-store.ts';
import { codeSchemaVersion } from '../../../src/store/migrations.ts';
import { describeStoreContract } from './contract.ts';
import { describeDatetimeMigration } from './datetime.ts';

describe('SQLite store', function () {
  const dir = mkdtempSync(join(tmpdir(), 'tvphone-store-'));
  const file = join(dir, 'contract.db');
  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  describeStoreContract('SQLite (file, WAL)', () => openStore(`sqlite:${file}`));
  describeStoreContract('SQLite (file, WAL, 2 ms group-commit window)', () => openStore(`sqlite:${file}`, { groupCommitMs: 2 }));
  describeStoreContract('SQLite in a worker thread (as the server runs it)', () => openStore(`sqlite:${file}`, { worker: true, groupCommitMs: 1 }));

  let n = 0;
  describeDatetimeMigration('sqlite', async () => {
    const path = join(dir, `schema1-${++n}.db`);
    const onDb = <T>(f: (db: DatabaseSync) => T): T => {
      const db = new DatabaseSync(path, { enableForeignKeyConstraints: true });
      try {
        return f(db);
      } finally {
        db.close();
      }
    };
    return {
      exec: async (statements) => onDb((db) => { for (const st of statements) db.exec(st); }),
      query: async (sql) => onDb((db) => db.prepare(sql).all().map((r) => ({ ...r }))),
      open: () => openStore(`sqlite:${path}`),
      bytes: (hex) => `X'${hex}'`,
      drop: async () => rmSync(path, { force: true }),
    };
  });

  it('opens in WAL mode with synchronous=FULL', async function () {
    const store = await openStore(`sqlite:${join(dir, 'pragmas.db')}`);
    await store.close();
    const db = new DatabaseSync(join(dir, 'pragmas.db'));
    try {
      assert.deepEqual({ ...db.prepare('PRAGMA journal_mode').get() }, { journal_mode: 'wal' });
      assert.equal(db.prepare('SELECT MAX(version) AS v FROM schema_version').get()?.v, codeSchemaVersion('sqlite'));
    } finally {
      db.close();
    }
  });

  it('keeps the seed tables and columns', async function () {
    const path = join(dir, 'seed.db');
    await (await openStore(`sqlite:${path}`)).close();
    const db = new DatabaseSync(path);
    try {
      const cols = (t: string) => db.prepare(`PRAGMA table_info(${t})`).all().map((r) => r.name);
      assert.deepEqual(cols('user_property').slice(0, 3), ['User_id', 'User_ip', 'User_netstate']);
      assert.deepEqual(cols('user_call').slice(1, 4), ['User_id', 'otheruser_id', 'Call_date']);
      // schema 2: time columns are ISO-8601 text; credentials' foreign key follows the rebuilt users table
      const types = (t: string) => Object.fromEntries(db.prepare(`PRAGMA table_info(${t})`).all().map((r) => [r.name, r.type]));
      assert.deepEqual(
        [types('user_call').Call_date, types('user_call').Answered_at, types('user_property').Netstate_since, types('messages').received_at],
        ['TEXT', 'TEXT', 'TEXT', 'TEXT']);
      assert.deepEqual(db.prepare('PRAGMA foreign_key_list(credentials)').all().map((r) => r.table), ['users']);
    } finally {
      db.close();
    }
  });

  it('does not keep a WAL as large as its largest burst: it is truncated to walSizeLimitBytes after a checkpoint', async function () {
    this.timeout(30000);
    const { SqliteStore: Sqlite } = await import('../../../src/store/sqlite/sqlite-store.ts');
    const path = join(dir, 'wal.db');
    const s = Sqlite.open(path, { walSizeLimitBytes: 256 * 1024 });
    try {
      const body = new Uint8Array(64 * 1024).fill(120);
      // ~8 MB written in a burst: the WAL grows well beyond the limit
      await Promise.all(Array.from({ length: 128 }, (_, i) => s.storeMessage({
        toUser: `w${i % 4}`, fromUri: 'sip:a@x', fromHeader: '<sip:a@x>;tag=1', toUri: 'sip:w@x', contentType: 'text/plain', body, receivedAt: 1, expiresAt: 2,
      })));
      const { statSync } = await import('node:fs');
      const before = statSync(`${path}-wal`).size;
      // the next checkpoint (SQLite's automatic one runs at 1000 pages; one write after it resets the WAL)
      const db = new DatabaseSync(path);
      db.exec('PRAGMA wal_checkpoint(PASSIVE)');
      db.close();
      await s.addUser({ userId: 'after', realm: 'r', ha1Md5: 'a', ha1Sha256: 'b' }, 3);
      const after = statSync(`${path}-wal`).size;
      assert.ok(before > 4 * 1024 * 1024, `the burst grew the WAL: ${before}`);
      assert.ok(after <= 512 * 1024, `truncated after the checkpoint: ${before} → ${after} bytes`);
    } finally {
      await s.close();
    }
  });

  it('refuses a database whose schema is newer than the code', async function () {
    const path = join(dir, 'newer.db');
    await (await openStore(`sqlite:${path}`)).close();
    const db = new DatabaseSync(path);
    db.prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)').run(99, 0);
    db.close();
    await assert.rejects(openStore(`sqlite:${path}`), (e: unknown) =>
      e instanceof TvphoneError && e.message === `schema version 99 is newer than this tvphone (${codeSchemaVersion('sqlite')})`);
  });

  it('without migration refuses a database that is behind, and migrates it when asked', async function () {
    const path = join(dir, 'fresh.db');
    await assert.rejects(openStore(`sqlite:${path}`, { migrate: false }), /schema version 0 is older than this tvphone/);
    const s = await openStore(`sqlite:${path}`);
    assert.equal(await s.schemaVersion(), codeSchemaVersion('sqlite'));
    await s.close();
  });

  it('group commit: the writes of one tick share one transaction and one commit', async function () {
    const s = (await openStore(`sqlite:${join(dir, 'group.db')}`)) as SqliteStore;
    const before = s.stats.commits;
    const body = Uint8Array.of(1, 2, 3);
    const writes = Array.from({ length: 200 }, (_, i) =>
      s.storeMessage({ toUser: 'g', fromUri: 'sip:a@x', fromHeader: '<sip:a@x>', toUri: 'sip:g@x', contentType: 'a/b', body, receivedAt: i, expiresAt: 1e13 }));
    const stored = await Promise.all(writes);
    assert.equal(s.stats.commits - before, 1);
    assert.deepEqual(stored.map((m) => m.id), [...stored.map((m) => m.id)].sort((a, b) => a - b));
    assert.equal((await s.pendingMessages('g', 1000)).length, 200);
    await s.close();
  });

  it("waits for another process's lock without blocking the event loop, and fails as unavailable after lockWaitMs", async function () {
    const path = join(dir, 'locked.db');
    const s = await openStore(`sqlite:${path}`, { lockWaitMs: 400 });
    const other = new DatabaseSync(path);
    try {
      other.exec('BEGIN EXCLUSIVE');
      const creds = (u: string) => ({ userId: u, realm: 'r', ha1Md5: 'a', ha1Sha256: 'b' });
      // released in time: the write waits, then commits
      const waiting = s.addUser(creds('u1'), 1);
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 10);
      await new Promise((r) => setTimeout(r, 150));
      other.exec('COMMIT');
      await waiting;
      clearInterval(ticker);
      assert.ok(ticks >= 8, `the event loop kept running while the write waited (${ticks} ticks in 150 ms)`);
      assert.equal(await s.userExists('u1'), true);
      // never released: StoreUnavailableError after about lockWaitMs
      other.exec('BEGIN EXCLUSIVE');
      const t0 = Date.now();
      await assert.rejects(s.addUser(creds('u2'), 1), (e: unknown) => e instanceof StoreUnavailableError);
      const waited = Date.now() - t0;
      assert.ok(waited >= 350 && waited < 2000, `failed after ${waited} ms`);
      other.exec('ROLLBACK');
      assert.equal(await s.userExists('u2'), false);
    } finally {
      other.close();
      await s.close();
    }
  });

  it('an in-memory database works for tests', async function () {
    const s = await openStore('sqlite::memory:');
    await s.addUser({ userId: 'm', realm: 'r', ha1Md5: 'x', ha1Sha256: 'y' }, 1);
    assert.equal(await s.userExists('m'), true);
    await s.close();
  });

  it('a file that cannot be opened fails with a TvphoneError naming it', async function () {
    writeFileSync(join(dir, 'plain-file'), 'not a directory');
    const bad = join(dir, 'plain-file', 'x.db');
    await assert.rejects(openStore(`sqlite:${bad}`), (e: unknown) => e instanceof TvphoneError && e.message.includes(bad));
  });
});
