// PostgreSQL backend on `pg` (Pool). A write about no one user (a sweep, an admin change) is one transaction on a
// pooled client, retried on a unique-key race or serialization failure; a client whose connection broke is discarded, and the pool
// reconnects by itself when the server returns. Connect and statement timeouts bound every call.
//
// Group commit, as on SQLite: the writes about one user (a REGISTER's bindings, a MESSAGE kept) go to one of
// `writeLanes` lanes (default 1) by their user; a lane runs one transaction at a time, carrying every write queued in
// it (at most MAX_BATCH, gathered for `groupCommitMs` once the lane is idle) with one COMMIT, and each promise
// resolves after that COMMIT. One user's writes are in one lane, so they commit in the order they were asked for. The
// batch runs without savepoints first; should a write fail, it is rolled back and run again with a SAVEPOINT per
// write, so that write is rejected alone (a unique-key race is retried inside its savepoint) while the rest
// commits. An outage fails the whole batch as unavailable (503): nothing of it is answered as committed.
// Within a batch the writes of different users run at once on the pipelined connection (pg `pipeline`): their
// statements go out together, several per socket write, and are answered in order, instead of one round trip
// each after the other; one user's writes still run one after the other. The point lookups about one user (its
// bindings, whether anything is kept for it …) share one pipelined connection of their own the same way; other reads
// (lists, sweeps) take a pooled connection each, so a long one holds up no lookup. Statements are prepared once per
// connection (named), so PostgreSQL parses and plans each only once.

import pg from 'pg';
import { StoreUnavailableError, TvphoneError } from '../../errors.ts';
import { StoreHealth } from '../health.ts';
import { checkSchemaVersion, loadMigrations } from '../migrations.ts';
import { redactUrl, type OpenStoreOptions } from '../options.ts';
import type { Op, Param, Query, QueryResult, Row } from '../ops.ts';
import { isoText, schemaVersion } from '../ops.ts';
import { COLUMNS, QUERIES, renumber } from '../queries.ts';
import { runAsync, SqlStore } from '../sql-store.ts';
import type { Ban, EpochMs } from '../store.ts';

/** The statements sent to PostgreSQL: the shared ones with $N placeholders and a row lock where needed. */
export const POSTGRES_QUERIES = renumber(
  {
    ...QUERIES,
    lockPresence: `SELECT ${COLUMNS.PRESENCE_COLS} FROM user_property WHERE User_id = ?1 FOR UPDATE`,
    // an optional filter `(?N IS NULL OR …)` needs the parameter's type spelled out
    selectCalls: QUERIES.selectCalls.replace(/\((\?\d) IS NULL/g, '($1::text IS NULL'),
    selectMessages: QUERIES.selectMessages.replace(/\((\?\d) IS NULL/g, '($1::text IS NULL'),
    selectVoicemails: QUERIES.selectVoicemails.replace(/\((\?\d) IS NULL/g, '($1::text IS NULL'),
  },
  (n) => `$${n}`,
);

const MIGRATION_LOCK = 7_262_001; // pg_advisory_xact_lock key: one migrator at a time
const RETRIES = 5;
const POOL_SIZE = 10;
/** most writes in one group transaction; the rest go in the lane's next one */
const MAX_BATCH = 100;
/**
 * lanes of keyed writes, each one transaction at a time (default of `writeLanes`). One: a batch runs its users side by
 * side anyway (below), and one lane makes the batches largest — each round trip of it carries the most statements (on
 * two cores, one run each in the same hour: 1 lane sustained 800 REGISTERs/s, 4 lanes 700).
 */
const WRITE_LANES = 1;

/** A keyed write waiting for its lane's next transaction. */
interface PendingWrite {
  key: string;
  op: () => Op<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}
type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** The writes of the users hashed to it, one transaction at a time. */
interface Lane {
  queue: PendingWrite[];
  /** a batch is gathering (timer) or running */
  busy: boolean;
  /** called when the lane has run everything queued (close waits for it) */
  drained: (() => void) | null;
}

/** FNV-1a of the key: which lane a user's writes go to. */
function laneOf(key: string, lanes: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % lanes;
}

/** SQLSTATEs worth retrying the whole transaction for: unique_violation, serialization_failure, deadlock_detected. */
const RETRYABLE = new Set(['23505', '40001', '40P01']);

/** True when the error means the server or the connection is gone (or too slow), not that the query was wrong. */
function isConnectionError(err: unknown): boolean {
  const e = err as { code?: unknown; severity?: unknown };
  if (typeof e.code === 'string' && typeof e.severity === 'string') {
    // a server error: connection exceptions, shutdowns, too many connections, statement timeout
    return e.code.startsWith('08') || e.code.startsWith('57P') || e.code.startsWith('53') || e.code === '57014';
  }
  return err instanceof Error; // no SQLSTATE: socket errors, "Connection terminated", timeouts
}

/**
 * True when the connection was cut (a restart, a failover, an idle-connection killer), not slow or refused: a
 * statement that failed so on a connection taken from the pool is sent again on a fresh one (below). A timeout is
 * not a cut: sending it again would only double the wait.
 */
function isCut(err: unknown): boolean {
  const e = (err instanceof StoreUnavailableError ? err.cause : err) as { code?: unknown; severity?: unknown; message?: unknown } | undefined;
  if (e === undefined || e === null) return false;
  if (typeof e.code === 'string' && typeof e.severity === 'string') return e.code.startsWith('08') || e.code.startsWith('57P');
  if (e.code === 'ECONNRESET' || e.code === 'EPIPE') return true;
  // pg gives no code for the socket closing under it
  return typeof e.message === 'string' && e.message.startsWith('Connection terminated');
}

function toParam(p: Param): unknown {
  // a time as UTC text: pg would write a Date in the client's local zone (the same instant, but spelled per machine)
  if (p instanceof Date) return isoText(p);
  return p instanceof Uint8Array && !Buffer.isBuffer(p) ? Buffer.from(p.buffer, p.byteOffset, p.byteLength) : p;
}

export class PostgresStore extends SqlStore {
  readonly dialect = 'postgres' as const;
  readonly #pool: pg.Pool;
  readonly #url: string;
  readonly #health: StoreHealth;
  readonly #where: string;
  readonly #lanes: Lane[];
  readonly #groupCommitMs: number;
  /**
   * how often a statement goes out again after a cut before its request is answered 503: every connection the pool
   * may hold idle can have been cut at once, and each is found out only by using it. A connect that fails ends it.
   */
  readonly #cutAttempts: number;
  #closed = false;
  /** the connection the point lookups share (taken from the pool on first use, dropped when it breaks) */
  #reader: Promise<pg.PoolClient> | null = null;
  /** lookups running (close waits for them before it gives the reader back) */
  #lookups = 0;
  #lookupsDone: (() => void) | null = null;
  #commits = 0;
  #writes = 0;

  private constructor(pool: pg.Pool, where: string, health: StoreHealth, url: string, opts: OpenStoreOptions) {
    super();
    this.#pool = pool;
    this.#where = where;
    this.#health = health;
    this.#url = url;
    this.#groupCommitMs = opts.groupCommitMs ?? 0;
    this.#cutAttempts = (opts.poolSize ?? POOL_SIZE) + 1;
    this.#lanes = Array.from({ length: Math.max(1, opts.writeLanes ?? WRITE_LANES) }, () => ({ queue: [], busy: false, drained: null }));
  }

  static async open(url: string, opts: OpenStoreOptions = {}): Promise<PostgresStore> {
    const where = redactUrl(url);
    const health = new StoreHealth(opts.onStateChange);
    let pool: pg.Pool;
    try {
      pool = new pg.Pool({
        connectionString: url,
        max: opts.poolSize ?? POOL_SIZE,
        connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
        query_timeout: opts.statementTimeoutMs ?? 10_000,
        statement_timeout: opts.statementTimeoutMs ?? 10_000,
        idleTimeoutMillis: 30_000,
        keepAlive: true,
        application_name: 'tvphone',
        // a query is sent without waiting for the one before it to be answered (the batches' writes, below)
        pipeline: true,
      });
    } catch (err) {
      throw new TvphoneError('ERR_STORE_URL', `bad PostgreSQL URL ${where}: ${(err as Error).message}`, { cause: err });
    }
    // an idle client that loses its connection is dropped by the pool; note the outage
    pool.on('error', (err) => health.down(err));
    // a checked-out client whose connection is cut mid-query emits 'error' on itself, not on the pool: without a
    // listener that is an unhandled 'error' event and the process dies (a failover, `pg_ctl -m immediate stop`).
    // Its query rejects as well, so the request is answered 503; here the outage is only noted.
    pool.on('connect', (client) => client.on('error', (err) => health.down(err)));
    const store = new PostgresStore(pool, where, health, url, opts);
    try {
      await store.#migrate(opts.migrate ?? true);
    } catch (err) {
      await pool.end().catch(() => {});
      if (err instanceof TvphoneError) throw err;
      throw new TvphoneError('ERR_STORE_OPEN', `cannot open PostgreSQL database ${where}: ${(err as Error).message}`, { cause: err });
    }
    return store;
  }

  async #migrate(apply: boolean): Promise<void> {
    await this.#transaction(async (client) => {
      await this.#command(client, `SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
      const { rows } = await client.query("SELECT to_regclass('schema_version') IS NOT NULL AS present");
      const current = rows[0].present ? await runAsync(schemaVersion(), (q) => this.#query(client, q, false)) : 0;
      checkSchemaVersion('postgres', current, apply);
      for (const m of loadMigrations('postgres')) {
        if (m.version <= current) continue;
        await client.query(m.sql);
        await this.#query(client, { name: 'insertVersion', params: [m.version, Date.now()] }, false);
      }
    });
  }

  /** `prepared`: a named statement, parsed once per connection (not while migrating: the tables are changing) */
  async #query(client: pg.PoolClient, q: Query, prepared = true): Promise<QueryResult> {
    try {
      const text = POSTGRES_QUERIES[q.name];
      const r = await client.query(prepared ? { name: q.name, text, values: q.params.map(toParam) } : { text, values: q.params.map(toParam) });
      return { rows: r.rows as Row[], changes: r.rowCount ?? 0 };
    } catch (err) {
      throw this.#classify(err);
    }
  }

  async #command(client: pg.PoolClient, sql: string): Promise<void> {
    try {
      await client.query(sql);
    } catch (err) {
      throw this.#classify(err);
    }
  }

  #classify(err: unknown): unknown {
    if (err instanceof StoreUnavailableError || !isConnectionError(err)) return err;
    this.#health.down(err);
    return new StoreUnavailableError(`PostgreSQL ${this.#where} is unavailable: ${(err as Error).message}`, { cause: err });
  }

  async #connect(): Promise<pg.PoolClient> {
    try {
      return await this.#pool.connect();
    } catch (err) {
      throw this.#classify(err);
    }
  }

  /**
   * Run `body` in BEGIN … COMMIT on one client; a broken client is discarded, never returned to the pool. A BEGIN
   * that fails on a cut connection runs again on another (nothing of the transaction was sent).
   */
  async #transaction<T>(body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1, cuts = 0; ; attempt++) {
      const client = await this.#connect();
      let broken: Error | undefined;
      let begun = false;
      try {
        await this.#command(client, 'BEGIN');
        begun = true;
        const value = await body(client);
        await this.#command(client, 'COMMIT');
        this.#commits++;
        this.#health.ok();
        return value;
      } catch (err) {
        const e = err;
        if (e instanceof StoreUnavailableError) {
          broken = e;
          if (!begun && isCut(e) && ++cuts < this.#cutAttempts) continue;
          throw e;
        }
        try {
          await client.query('ROLLBACK');
        } catch (rollbackErr) {
          broken = rollbackErr as Error;
        }
        const code = (err as { code?: unknown }).code;
        if (typeof code !== 'string' || !RETRYABLE.has(code) || attempt >= RETRIES) throw e;
      } finally {
        client.release(broken);
      }
    }
  }

  protected write<T>(op: () => Op<T>, key?: string): Promise<T> {
    if (this.#closed) return Promise.reject(new StoreUnavailableError('the store is closed'));
    if (key === undefined) {
      this.#writes++;
      return this.#transaction((client) => runAsync(op(), (q) => this.#query(client, q)));
    }
    const lane = this.#lanes[laneOf(key, this.#lanes.length)]!;
    return new Promise<T>((resolve, reject) => {
      lane.queue.push({ key, op, resolve: resolve as (v: unknown) => void, reject });
      if (!lane.busy) this.#gather(lane, this.#groupCommitMs);
    });
  }

  /** After `delayMs` (0: the writes of this tick), the lane runs what is queued; then again while more came. */
  #gather(lane: Lane, delayMs: number): void {
    lane.busy = true;
    const run = (): void => {
      void this.#flush(lane).then(() => {
        if (lane.queue.length > 0) return this.#gather(lane, 0);
        lane.busy = false;
        lane.drained?.();
      });
    };
    if (delayMs > 0) setTimeout(run, delayMs);
    else setImmediate(run);
  }

  /** One transaction for the lane's first MAX_BATCH writes; each settles after the COMMIT (or with the outage). */
  async #flush(lane: Lane): Promise<void> {
    const batch = lane.queue.splice(0, MAX_BATCH);
    let outcomes: Outcome[];
    try {
      outcomes = await this.#transaction((client) => this.#runBatch(client, batch));
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    this.#writes += batch.length;
    batch.forEach((w, i) => {
      const o = outcomes[i]!;
      if (o.ok) w.resolve(o.value);
      else w.reject(o.error);
    });
  }

  /**
   * The batch's writes in the open transaction. A write alone runs as it is (its failure is the transaction's,
   * retried by #transaction on a conflict). Several run without savepoints first, each user's in order and the
   * users side by side; at the first failure the transaction starts again with a SAVEPOINT per write, one after
   * the other, so that a failing write is rolled back alone. Only an outage (StoreUnavailableError) fails them all.
   */
  async #runBatch(client: pg.PoolClient, batch: PendingWrite[]): Promise<Outcome[]> {
    const exec = this.#corkedExec(client);
    if (batch.length === 1) return [{ ok: true, value: await runAsync(batch[0]!.op(), exec) }];
    const byKey = new Map<string, number[]>();
    batch.forEach((w, i) => {
      const list = byKey.get(w.key);
      if (list) list.push(i);
      else byKey.set(w.key, [i]);
    });
    const values: unknown[] = new Array(batch.length);
    let failed = false;
    // every chain settles before the transaction goes on: no statement of this batch is left in flight
    const chains = await Promise.allSettled([...byKey.values()].map(async (indexes) => {
      for (const i of indexes) {
        if (failed) return;
        try {
          values[i] = await runAsync(batch[i]!.op(), exec);
        } catch (err) {
          failed = true;
          throw err;
        }
      }
    }));
    for (const c of chains) if (c.status === 'rejected' && c.reason instanceof StoreUnavailableError) throw c.reason;
    if (!failed) return values.map((value) => ({ ok: true, value }));
    await this.#command(client, 'ROLLBACK');
    await this.#command(client, 'BEGIN');
    const outcomes: Outcome[] = [];
    for (const w of batch) {
      for (let attempt = 1; ; attempt++) {
        await this.#command(client, 'SAVEPOINT w');
        try {
          const value = await runAsync(w.op(), exec);
          await this.#command(client, 'RELEASE w');
          outcomes.push({ ok: true, value });
          break;
        } catch (err) {
          if (err instanceof StoreUnavailableError) throw err;
          await this.#command(client, 'ROLLBACK TO w');
          await this.#command(client, 'RELEASE w');
          const code = (err as { code?: unknown }).code;
          if (typeof code === 'string' && RETRYABLE.has(code) && attempt < RETRIES) continue;
          outcomes.push({ ok: false, error: err });
          break;
        }
      }
    }
    return outcomes;
  }

  /**
   * Runs queries on `client`, those sent in one tick in one socket write: the socket is corked at the first and
   * uncorked on the next tick (pg corks each query's messages itself; corks nest).
   */
  #corkedExec(client: pg.PoolClient): (q: Query) => Promise<QueryResult> {
    const stream = (client as unknown as { connection?: { stream?: { cork?: () => void; uncork?: () => void } } }).connection?.stream;
    let corked = false;
    return (q) => {
      if (!corked && typeof stream?.cork === 'function' && typeof stream.uncork === 'function') {
        corked = true;
        stream.cork();
        process.nextTick(() => {
          corked = false;
          stream.uncork!();
        });
      }
      return this.#query(client, q);
    };
  }

  /** transactions committed and writes they carried, to see group commit at work */
  get stats(): { commits: number; writes: number } {
    return { commits: this.#commits, writes: this.#writes };
  }

  /** A read that fails on a cut connection runs again on another (a read changes nothing). */
  protected async read<T>(op: () => Op<T>, key?: string): Promise<T> {
    if (this.#closed) throw new StoreUnavailableError('the store is closed');
    if (key !== undefined) return this.#lookup(op);
    for (let cuts = 1; ; cuts++) {
      const client = await this.#connect();
      let broken: Error | undefined;
      try {
        const value = await runAsync(op(), (q) => this.#query(client, q));
        this.#health.ok();
        return value;
      } catch (err) {
        if (err instanceof StoreUnavailableError) {
          broken = err;
          if (isCut(err) && cuts < this.#cutAttempts) continue;
        }
        throw err;
      } finally {
        client.release(broken);
      }
    }
  }

  /** A point lookup on the shared reader connection, pipelined with the others of its tick. */
  async #lookup<T>(op: () => Op<T>): Promise<T> {
    this.#lookups++;
    try {
      for (let cuts = 1; ; cuts++) {
        const reader = this.#reader ?? this.#openReader();
        let connected = false;
        try {
          const client = await reader;
          connected = true;
          const value = await runAsync(op(), this.#corkedExec(client));
          this.#health.ok();
          return value;
        } catch (err) {
          if (!(err instanceof StoreUnavailableError)) throw err;
          this.#dropReader(reader, err);
          if (!connected || !isCut(err) || cuts >= this.#cutAttempts) throw err;
        }
      }
    } finally {
      if (--this.#lookups === 0) this.#lookupsDone?.();
    }
  }

  #openReader(): Promise<pg.PoolClient> {
    const reader = this.#connect();
    this.#reader = reader;
    reader.then(
      (client) => client.once('error', (err: Error) => this.#dropReader(reader, err)),
      () => { if (this.#reader === reader) this.#reader = null; },
    );
    return reader;
  }

  /** A broken reader goes back to the pool to be discarded; the next lookup connects again. */
  #dropReader(reader: Promise<pg.PoolClient>, err: Error): void {
    if (this.#reader !== reader) return;
    this.#reader = null;
    void reader.then((client) => client.release(err), () => {});
  }

  /** Records the ban, then NOTIFY tvphone_bans: the other nodes' LISTEN reads it at once (routing/ban-sync.ts). */
  override async saveBan(ban: Ban, now: EpochMs): Promise<void> {
    await super.saveBan(ban, now);
    await this.#pool.query("SELECT pg_notify('tvphone_bans', $1)", [ban.node]).catch(() => { /* polling reads it */ });
  }

  /**
   * LISTEN tvphone_bans on a connection of its own (a LISTEN holds its session): `onChange` at each NOTIFY. A lost
   * connection only stops the push; the polling goes on. Returns the UNLISTEN.
   */
  async watchBans(onChange: () => void): Promise<() => Promise<void>> {
    const client = new pg.Client({ connectionString: this.#url, connectionTimeoutMillis: 5000, keepAlive: true, application_name: 'tvphone-listen' });
    client.on('error', () => { /* the connection is gone: polling only from now on */ });
    client.on('notification', (n) => { if (n.channel === 'tvphone_bans') onChange(); });
    await client.connect();
    try {
      await client.query('LISTEN tvphone_bans');
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    return async () => { await client.end().catch(() => {}); };
  }

  /** Commit what the lanes hold, then close the pool; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#lanes.map((lane) => (lane.busy ? new Promise<void>((r) => { lane.drained = r; }) : undefined)));
    if (this.#lookups > 0) await new Promise<void>((r) => { this.#lookupsDone = r; });
    const reader = this.#reader;
    this.#reader = null;
    if (reader) await reader.then((client) => client.release(), () => {});
    await this.#pool.end();
  }
}
