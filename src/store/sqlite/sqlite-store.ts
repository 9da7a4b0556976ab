// SQLite backend on node:sqlite (DatabaseSync): one file, WAL, synchronous=FULL, busy_timeout.
//
// Group commit: writes issued in the same tick (or within `groupCommitMs`) run in ONE transaction with
// ONE commit (one fsync); each promise resolves after that commit. A batch runs without savepoints first; if a
// write fails, it is run again with a SAVEPOINT per write, so that write is rejected alone while the rest commits.
// node:sqlite is synchronous: the commit blocks the thread it runs on for the length of the fsync, by design. The
// server runs this store in a worker thread (worker-store.ts), so a hung disk blocks that thread, not SIP.
// A lock held by another process (a CLI command, a backup) is never waited for synchronously beyond a few ms:
// the batch goes back to the queue and is tried again on a timer until `lockWaitMs`, then fails as unavailable
// (the server answers 503) — so the server keeps answering everything else meanwhile.

import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { StoreUnavailableError, TvphoneError } from '../../errors.ts';
import { StoreHealth, type StateChangeListener } from '../health.ts';
import { checkSchemaVersion, loadMigrations } from '../migrations.ts';
import type { Op, Query, QueryResult } from '../ops.ts';
import { isoText, schemaVersion } from '../ops.ts';
import { QUERIES, type QueryName } from '../queries.ts';
import { runSync, SqlStore } from '../sql-store.ts';

export interface SqliteStoreOptions {
  /** apply pending migrations at open (default true) */
  migrate?: boolean;
  /** create the file and its folder when missing (default true); false refuses a missing file (ERR_STORE_MISSING) */
  create?: boolean;
  /** how long writes gather before one commit; 0 (default) = the writes of the current tick */
  groupCommitMs?: number;
  /** most writes in one transaction (default 5000); the rest go in the next */
  maxBatch?: number;
  /** how long one attempt may block waiting for another process's lock (default 10 ms) */
  busyTimeoutMs?: number;
  /** the WAL file is truncated back to this size after a checkpoint (default 64 MiB): it does not stay as large as its largest burst (a disk-full episode) */
  walSizeLimitBytes?: number;
  /** how long a write waits in all for a lock, retried off the event loop, before it fails as unavailable (default 3000 ms) */
  lockWaitMs?: number;
  onStateChange?: StateChangeListener;
}

interface PendingWrite {
  /** when it was queued (for lockWaitMs) */
  at: number;
  op: () => Op<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

interface Prepared {
  stmt: StatementSync;
  returnsRows: boolean;
}

/** SQLite result codes (primary, errcode & 0xff) that mean the database itself is unusable, not the query. */
const UNAVAILABLE_CODES = new Set([5 /* BUSY */, 6 /* LOCKED */, 7 /* NOMEM */, 8 /* READONLY */, 10 /* IOERR */,
  11 /* CORRUPT */, 13 /* FULL */, 14 /* CANTOPEN */, 15 /* PROTOCOL */, 26 /* NOTADB */]);

/** SQLITE_BUSY / SQLITE_LOCKED: another connection holds the lock; worth trying again shortly. */
function isBusy(err: unknown): boolean {
  const code = (err as { errcode?: unknown }).errcode;
  return typeof code === 'number' && ((code & 0xff) === 5 || (code & 0xff) === 6);
}

const LOCK_RETRY_MS = 20;

function isUnavailable(err: unknown): boolean {
  const code = (err as { errcode?: unknown }).errcode;
  return typeof code === 'number' && UNAVAILABLE_CODES.has(code & 0xff);
}

export class SqliteStore extends SqlStore {
  readonly dialect = 'sqlite' as const;
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, Prepared>();
  readonly #health: StoreHealth;
  readonly #groupCommitMs: number;
  readonly #maxBatch: number;
  readonly #lockWaitMs: number;
  #queue: PendingWrite[] = [];
  #scheduled: NodeJS.Immediate | NodeJS.Timeout | null = null;
  #closed = false;
  #commits = 0;
  #writes = 0;

  private constructor(path: string, db: DatabaseSync, opts: SqliteStoreOptions) {
    super();
    this.path = path;
    this.#db = db;
    this.#health = new StoreHealth(opts.onStateChange);
    this.#groupCommitMs = opts.groupCommitMs ?? 0;
    this.#maxBatch = opts.maxBatch ?? 5000;
    this.#lockWaitMs = opts.lockWaitMs ?? 3000;
  }

  /** Open (creating the file and its directory when missing, unless `create: false`) and migrate. */
  static open(path: string, opts: SqliteStoreOptions = {}): SqliteStore {
    const memory = path === ':memory:';
    if (!memory && opts.create === false && !existsSync(path)) {
      throw new TvphoneError('ERR_STORE_MISSING', `no SQLite database at ${path} (check --db; tvphone db migrate or users add creates one)`);
    }
    let db: DatabaseSync;
    try {
      if (!memory && opts.create !== false) mkdirSync(dirname(path), { recursive: true });
      db = new DatabaseSync(path, { timeout: opts.busyTimeoutMs ?? 10, enableForeignKeyConstraints: true });
      db.exec('PRAGMA journal_mode = WAL');
      db.exec('PRAGMA synchronous = FULL');
      db.exec(`PRAGMA journal_size_limit = ${Math.max(0, Math.floor(opts.walSizeLimitBytes ?? 64 * 1024 * 1024))}`);
    } catch (err) {
      throw new TvphoneError('ERR_STORE_OPEN', `cannot open SQLite database ${path}: ${(err as Error).message}`, { cause: err });
    }
    const store = new SqliteStore(path, db, opts);
    try {
      store.#migrate(opts.migrate ?? true);
    } catch (err) {
      db.close();
      throw err;
    }
    return store;
  }

  #migrate(apply: boolean): void {
    const db = this.#db;
    db.exec('BEGIN IMMEDIATE');
    try {
      const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").get() !== undefined;
      const current = hasTable ? runSync(schemaVersion(), (q) => this.#exec(q)) : 0;
      checkSchemaVersion('sqlite', current, apply);
      for (const m of loadMigrations('sqlite')) {
        if (m.version <= current) continue;
        db.exec(m.sql);
        this.#exec({ name: 'insertVersion', params: [m.version, Date.now()] });
      }
      db.exec('COMMIT');
    } catch (err) {
      db.exec('ROLLBACK');
      throw err;
    }
  }

  #prepare(sql: string): Prepared {
    let p = this.#statements.get(sql);
    if (!p) {
      const stmt = this.#db.prepare(sql);
      p = { stmt, returnsRows: stmt.columns().length > 0 };
      this.#statements.set(sql, p);
    }
    return p;
  }

  #exec(q: Query): QueryResult {
    const { stmt, returnsRows } = this.#prepare(QUERIES[q.name as QueryName]);
    // a time is ISO-8601 UTC text with milliseconds (schema 2): fixed width, so text order is time order
    const params = q.params.map((p) => (p instanceof Date ? isoText(p) : p));
    if (returnsRows) return { rows: stmt.all(...params) as QueryResult['rows'], changes: 0 };
    return { rows: [], changes: Number(stmt.run(...params).changes) };
  }

  #run(sql: string): void {
    this.#prepare(sql).stmt.run();
  }

  protected read<T>(op: () => Op<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new StoreUnavailableError('the store is closed'));
    try {
      return Promise.resolve(runSync(op(), (q) => this.#exec(q)));
    } catch (err) {
      return Promise.reject(this.#classify(err));
    }
  }

  protected write<T>(op: () => Op<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new StoreUnavailableError('the store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ at: Date.now(), op, resolve: resolve as (v: unknown) => void, reject });
      this.#schedule();
    });
  }

  #schedule(delayMs = this.#groupCommitMs): void {
    if (this.#scheduled !== null) return;
    const flush = () => {
      this.#scheduled = null;
      const retry = this.#flush();
      if (this.#queue.length > 0) this.#schedule(retry ? LOCK_RETRY_MS : this.#groupCommitMs);
    };
    this.#scheduled = delayMs > 0 ? setTimeout(flush, delayMs) : setImmediate(flush);
  }

  /** Run the queued writes in one transaction and commit once; true when the lock was busy and the batch waits. */
  #flush(): boolean {
    const batch = this.#queue.length <= this.#maxBatch ? this.#queue : this.#queue.slice(0, this.#maxBatch);
    this.#queue = batch === this.#queue ? [] : this.#queue.slice(this.#maxBatch);
    if (batch.length === 0) return false;
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    const single = batch.length === 1;
    try {
      this.#run('BEGIN IMMEDIATE');
    } catch (err) {
      if (isBusy(err) && !this.#closed) {
        // Another process holds the write lock: keep the writes that may still wait, fail the ones that waited enough.
        const now = Date.now();
        const waiting = batch.filter((w) => now - w.at < this.#lockWaitMs);
        if (waiting.length < batch.length) {
          const e = this.#classify(err);
          for (const w of batch) if (now - w.at >= this.#lockWaitMs) w.reject(e);
        }
        this.#queue = [...waiting, ...this.#queue];
        return waiting.length > 0;
      }
      const e = this.#classify(err);
      for (const w of batch) w.reject(e);
      return false;
    }
    try {
      // Optimistic first: the whole batch without savepoints (two statements fewer per write). Should one write
      // fail, the batch is rolled back and run again with a SAVEPOINT per write, so that write fails alone.
      const values = single ? null : this.#runOptimistic(batch);
      if (values !== null) {
        for (const value of values) outcomes.push({ ok: true, value });
      } else {
        if (!single) {
          this.#run('ROLLBACK');
          this.#run('BEGIN IMMEDIATE');
        }
        for (const w of batch) {
          if (!single) this.#run('SAVEPOINT w');
          try {
            const value = runSync(w.op(), (q) => this.#exec(q));
            if (!single) this.#run('RELEASE w');
            outcomes.push({ ok: true, value });
          } catch (err) {
            if (isUnavailable(err)) throw err;
            if (single) {
              this.#run('ROLLBACK');
              w.reject(err);
              return false;
            }
            this.#run('ROLLBACK TO w');
            this.#run('RELEASE w');
            outcomes.push({ ok: false, error: err });
          }
        }
      }
      this.#run('COMMIT');
      this.#commits++;
      this.#writes += batch.length;
    } catch (err) {
      try {
        if (this.#db.isTransaction) this.#run('ROLLBACK');
      } catch {
        // the transaction is already gone
      }
      const e = this.#classify(err);
      for (const w of batch) w.reject(e);
      return false;
    }
    this.#health.ok();
    batch.forEach((w, i) => {
      const o = outcomes[i];
      if (o.ok) w.resolve(o.value);
      else w.reject(this.#classify(o.error));
    });
    return false;
  }

  /** Runs every write of the batch in the open transaction: their values, or null as soon as one fails. */
  #runOptimistic(batch: PendingWrite[]): unknown[] | null {
    const values: unknown[] = [];
    for (const w of batch) {
      try {
        values.push(runSync(w.op(), (q) => this.#exec(q)));
      } catch (err) {
        if (isUnavailable(err)) throw err;
        return null;
      }
    }
    return values;
  }

  /** commits made and writes they carried, to see group commit at work */
  get stats(): { commits: number; writes: number } {
    return { commits: this.#commits, writes: this.#writes };
  }

  #classify(err: unknown): unknown {
    if (!isUnavailable(err)) return err;
    this.#health.down(err);
    return new StoreUnavailableError(`SQLite database ${this.path} is unavailable: ${(err as Error).message}`, { cause: err });
  }

  /** Commit what is queued, then close; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#scheduled !== null) {
      clearImmediate(this.#scheduled as NodeJS.Immediate);
      clearTimeout(this.#scheduled as NodeJS.Timeout);
      this.#scheduled = null;
    }
    this.#closed = true; // from here a busy lock fails the writes instead of requeueing them
    while (this.#queue.length > 0) this.#flush();
    this.#statements.clear();
    this.#db.close();
  }
}
