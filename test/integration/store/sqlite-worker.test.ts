// SQLite in a worker thread (issue 16 item 6): what the thread boundary adds to the store contract (which
// sqlite.test.ts runs on this store too). The worker is made to hang by another connection's EXCLUSIVE lock and a
// long busy timeout: SQLite's busy handler then blocks the worker thread synchronously, as a hung disk would.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { QuotaExceededError, StoreUnavailableError, TvphoneError } from '../../../src/errors.ts';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.ts';
import { STORE_CALLS } from '../../../src/store/sqlite/wire.ts';
import { WorkerSqliteStore, type WorkerStoreOptions } from '../../../src/store/sqlite/worker-store.ts';
import type { Credentials, NewMessage, Store } from '../../../src/store/store.ts';
import { until } from '../../helpers/until.ts';

const creds = (userId: string): Credentials => ({ userId, realm: 'r', ha1Md5: 'a'.repeat(32), ha1Sha256: 'b'.repeat(64) });
const message = (toUser: string, text: string): NewMessage => ({
  toUser, fromUri: 'sip:a@x', fromHeader: '<sip:a@x>;tag=1', toUri: `sip:${toUser}@x`, contentType: 'text/plain',
  body: new TextEncoder().encode(text), receivedAt: 1, expiresAt: 1e13,
});

describe('SQLite store in a worker thread', function () {
  this.timeout(20_000);
  let dir: string;
  let n = 0;
  let stores: Store[] = [];
  let lock: DatabaseSync | null = null;
  let events: boolean[] = [];

  before(() => { dir = mkdtempSync(join(tmpdir(), 'tvphone-worker-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(() => { events = []; });
  afterEach(async () => {
    if (lock?.isOpen) {
      if (lock.isTransaction) lock.exec('ROLLBACK');
      lock.close();
    }
    lock = null;
    await Promise.all(stores.map((s) => s.close()));
    stores = [];
  });

  async function open(opts: WorkerStoreOptions = {}, path = join(dir, `w${++n}.db`)): Promise<WorkerSqliteStore> {
    const s = await WorkerSqliteStore.open(path, { onStateChange: (up) => events.push(up), ...opts });
    stores.push(s);
    return s;
  }

  /** another connection takes the write lock: the worker's next commit waits in SQLite's busy handler */
  function holdLock(s: WorkerSqliteStore): void {
    lock = new DatabaseSync(s.path, { timeout: 0 });
    lock.exec('BEGIN EXCLUSIVE');
  }
  function releaseLock(): void {
    lock!.exec('ROLLBACK');
    lock!.close();
    lock = null;
  }

  it('forwards every Store method of SqlStore, taken from its prototype (no copy per method)', async function () {
    const s = await open({}, ':memory:');
    for (const m of ['schemaVersion', 'addUser', 'serverSecret', 'saveBindings', 'storeMessage', 'storeVoicemail', 'expirePushRegistrations']) {
      assert.ok(STORE_CALLS.includes(m as never), m);
    }
    assert.ok(!STORE_CALLS.includes('close' as never));
    const inThread = SqliteStore.open(':memory:');
    try {
      for (const m of STORE_CALLS) {
        assert.equal(typeof (s as unknown as Record<string, unknown>)[m], 'function', m);
        assert.equal(typeof (inThread as unknown as Record<string, unknown>)[m], 'function', m);
      }
    } finally {
      await inThread.close();
    }
    assert.equal(await s.schemaVersion(), await (async () => { const t = SqliteStore.open(':memory:'); const v = await t.schemaVersion(); await t.close(); return v; })());
  });

  it('rebuilds the errors of the worker as their classes, with their fields', async function () {
    const s = await open({}, ':memory:');
    await s.addUser(creds('u'), 1);
    await assert.rejects(s.addUser(creds('u'), 1), (e: unknown) =>
      e instanceof TvphoneError && e.code === 'ERR_USER_EXISTS' && e.message === 'user u already exists' && e.name === 'TvphoneError');
    const quota = { count: 1, bytes: 1000 };
    await s.storeMessage(message('q', 'first'), quota);
    await assert.rejects(s.storeMessage(message('q', 'second'), quota), (e: unknown) =>
      e instanceof QuotaExceededError && e instanceof TvphoneError && e.code === 'ERR_QUOTA' && e.count === 1 && e.bytes === 5
      && e.message === 'message quota of q full (1 messages, 5 bytes pending)');
    await assert.rejects(s.pendingMessages('q', -1), (e: unknown) => e instanceof RangeError && e.message === 'bad limit -1');
    await assert.rejects(s.updateCall(999, { outcome: 'answered' }), (e: unknown) => e instanceof TvphoneError && e.code === 'ERR_NO_SUCH_CALL');
  });

  it('a lock held past lockWaitMs fails as StoreUnavailableError from the worker; health goes down once and up once', async function () {
    const s = await open({ lockWaitMs: 200, commitDeadlineMs: 5000 });
    await s.addUser(creds('a'), 1);
    holdLock(s);
    for (const u of ['b', 'c']) {
      await assert.rejects(s.addUser(creds(u), 1), (e: unknown) =>
        e instanceof StoreUnavailableError && e.code === 'ERR_STORE_UNAVAILABLE' && /is unavailable/.test(e.message) && e.cause instanceof Error);
    }
    assert.deepEqual(events, [false]);
    releaseLock();
    await s.addUser(creds('d'), 1);
    assert.deepEqual(events, [false, true]);
  });

  it('answers a call the worker does not answer within commitDeadlineMs with StoreUnavailableError, without blocking the event loop', async function () {
    const s = await open({ busyTimeoutMs: 3000, lockWaitMs: 20_000, commitDeadlineMs: 300 });
    await s.addUser(creds('before'), 1);
    holdLock(s);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    try {
      const t0 = Date.now();
      await assert.rejects(s.addUser(creds('stuck'), 1), (e: unknown) => e instanceof StoreUnavailableError && /within 300 ms/.test(e.message));
      const waited = Date.now() - t0;
      assert.ok(waited >= 280 && waited < 1000, `answered after ${waited} ms`);
      // the thread is still stuck: the next call too, and the outage is reported once
      await assert.rejects(s.addUser(creds('late'), 1), StoreUnavailableError);
      await assert.rejects(s.userExists('before'), StoreUnavailableError);
      assert.ok(ticks >= 40, `the event loop kept running (${ticks} ticks of 10 ms in ${Date.now() - t0} ms)`);
      assert.deepEqual(events, [false]);
    } finally {
      clearInterval(ticker);
    }
    releaseLock();
    await until(async () => (await s.userExists('before').catch(() => false)) === true, 5000, 'the worker answering again');
    assert.deepEqual(events, [false, true], 'up again once');
    // the write in the commit that hung may land after its 503; one the worker reached after its deadline is not run
    assert.equal(await s.userExists('stuck'), true);
    assert.equal(await s.userExists('late'), false);
  });

  it('a write waiting for a lock gives up before its deadline: answered 503, it is not committed when the lock goes', async function () {
    const s = await open({ commitDeadlineMs: 500 }); // lockWaitMs 3000 by default: kept below the deadline
    await s.addUser(creds('a'), 1);
    holdLock(s);
    const t0 = Date.now();
    await assert.rejects(s.addUser(creds('held'), 1), (e: unknown) => e instanceof StoreUnavailableError && /is unavailable/.test(e.message));
    assert.ok(Date.now() - t0 < 500, `the worker's own answer, before the deadline (${Date.now() - t0} ms)`);
    releaseLock();
    await sleep(100);
    assert.equal(await s.userExists('held'), false);
  });

  it('refuses calls beyond maxInFlight at once', async function () {
    const s = await open({ busyTimeoutMs: 3000, lockWaitMs: 20_000, commitDeadlineMs: 1000, maxInFlight: 3 });
    await s.addUser(creds('x'), 1);
    holdLock(s);
    const waiting = ['a', 'b', 'c'].map((u) => s.addUser(creds(u), 1).catch((e: unknown) => e));
    const t0 = Date.now();
    await assert.rejects(s.userExists('x'), (e: unknown) => e instanceof StoreUnavailableError && /3 calls already wait/.test(e.message));
    assert.ok(Date.now() - t0 < 100, 'at once');
    for (const e of await Promise.all(waiting)) assert.ok(e instanceof StoreUnavailableError);
  });

  it('a worker that dies rejects its pending calls as unavailable and is started again; the next call works', async function () {
    const s = await open({ busyTimeoutMs: 200, lockWaitMs: 20_000, commitDeadlineMs: 10_000, restartMs: { min: 50, max: 200 } });
    await s.addUser(creds('kept'), 1);
    holdLock(s);
    const pending = [s.addUser(creds('p1'), 1), s.storeMessage(message('kept', 'p2'))].map((p) => p.catch((e: unknown) => e));
    await sleep(50);
    await s.thread!.terminate();
    for (const e of await Promise.all(pending)) assert.ok(e instanceof StoreUnavailableError && /exited/.test(e.message), String(e));
    assert.deepEqual(events, [false]);
    releaseLock();
    await until(async () => (await s.userExists('kept').catch(() => false)) === true, 5000, 'a new worker');
    assert.equal(s.restarts, 1);
    await s.addUser(creds('after'), 1);
    assert.deepEqual(events, [false, true]);
  });

  it('close() commits what is queued and ends the worker; open errors come back as their classes', async function () {
    const path = join(dir, 'close.db');
    const s = await WorkerSqliteStore.open(path);
    const writes = Array.from({ length: 100 }, (_, i) => s.storeMessage(message('c', `m${i}`)));
    const thread = s.thread!;
    const exited = new Promise((r) => thread.once('exit', r));
    await s.close();
    await s.close(); // idempotent
    assert.equal((await Promise.all(writes)).length, 100);
    await exited;
    await assert.rejects(s.userExists('c'), StoreUnavailableError);
    const again = SqliteStore.open(path);
    assert.equal((await again.pendingMessages('c', 1000)).length, 100);
    await again.close();

    await assert.rejects(WorkerSqliteStore.open(join(dir, 'missing.db'), { create: false }), (e: unknown) =>
      e instanceof TvphoneError && e.code === 'ERR_STORE_MISSING');
  });

  it('open() that does not open and migrate within openDeadlineMs fails the start with ERR_STORE_OPEN (a hung disk), and ends the thread', async function () {
    const path = join(dir, 'hung-open.db');
    // an empty database under another connection's EXCLUSIVE lock: the worker's first write (WAL mode, the
    // migrations) waits in the busy handler, as on a hung disk
    lock = new DatabaseSync(path, { timeout: 0 });
    lock.exec('BEGIN EXCLUSIVE');
    const t0 = Date.now();
    await assert.rejects(WorkerSqliteStore.open(path, { busyTimeoutMs: 20_000, lockWaitMs: 20_000, openDeadlineMs: 300 }), (e: unknown) =>
      e instanceof TvphoneError && e.code === 'ERR_STORE_OPEN' && /within 0\.3 s \(a hung disk\?\)/.test(e.message));
    const waited = Date.now() - t0;
    assert.ok(waited >= 280 && waited < 2000, `failed after ${waited} ms`);
    releaseLock();
    // the thread, free again, ends (it was told to): the next open of the same file works
    const s = await open({}, path);
    await s.addUser(creds('after'), 1);
    assert.equal(await s.userExists('after'), true);
  });
});
