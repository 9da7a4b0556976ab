// SQL Server backend on `mssql` (tedious, pooled). Each write is one transaction on the pool, retried on a
// duplicate-key race or a deadlock; connection failures become StoreUnavailableError and the pool opens
// fresh connections when the server returns. Connect and request timeouts bound every call.

import sql from 'mssql';
import { StoreUnavailableError, TvphoneError } from '../../errors.ts';
import { StoreHealth } from '../health.ts';
import { checkSchemaVersion, loadMigrations, splitStatements } from '../migrations.ts';
import type { Op, Param, Query, QueryResult, Row } from '../ops.ts';
import { schemaVersion } from '../ops.ts';
import { redactUrl, type OpenStoreOptions } from '../options.ts';
import { runAsync, SqlStore } from '../sql-store.ts';
import { MSSQL_MIGRATION_QUERIES, MSSQL_QUERIES } from './queries.ts';

const RETRIES = 5;
/** duplicate key (2627, 2601) and deadlock victim (1205): run the transaction again */
const RETRYABLE = new Set([2627, 2601, 1205]);
/**
 * tedious/mssql codes of a server that cannot be reached. ECLOSE: the connection closed under a request;
 * EINVALIDSTATE: a pooled connection whose socket already closed (seen on COMMIT when the server stops).
 */
const CONNECTION_CODES = new Set([
  'ETIMEOUT', 'ESOCKET', 'ECONNCLOSED', 'ECONNRESET', 'ECONNREFUSED', 'ENOTOPEN', 'ELOGIN', 'EINSTLOOKUP', 'ENOCONN',
  'ECLOSE', 'EINVALIDSTATE',
]);

export function isConnectionError(err: unknown): boolean {
  const e = err as { name?: unknown; code?: unknown };
  return e.name === 'ConnectionError' || (typeof e.code === 'string' && CONNECTION_CODES.has(e.code));
}

/**
 * mssql://user:pass@host:port/db?encrypt=true&trustServerCertificate=true&poolSize=N. poolSize (default 10) is for
 * servers where a new connection is dear: each new Babelfish session spends about half a second of CPU parsing the
 * statements it sees for the first time, so a burst that opens ten at once stalls for seconds (README, SQL Server).
 */
export function mssqlConfig(url: string, opts: OpenStoreOptions): sql.config {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TvphoneError('ERR_STORE_URL', `bad SQL Server URL ${redactUrl(url)}: not a URL`);
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!u.hostname || !database) {
    throw new TvphoneError('ERR_STORE_URL', `bad SQL Server URL ${redactUrl(url)}: use mssql://user:pass@host:port/database`);
  }
  const flag = (name: string, dflt: boolean) => (u.searchParams.has(name) ? u.searchParams.get(name) === 'true' : dflt);
  const poolParam = u.searchParams.get('poolSize');
  const poolSize = poolParam === null ? undefined : Number(poolParam);
  if (poolSize !== undefined && !(Number.isInteger(poolSize) && poolSize >= 1 && poolSize <= 1000)) {
    throw new TvphoneError('ERR_STORE_URL', `bad SQL Server URL ${redactUrl(url)}: poolSize must be an integer from 1 to 1000, got ${poolParam}`);
  }
  return {
    server: u.hostname,
    port: u.port ? Number(u.port) : 1433,
    database,
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    connectionTimeout: opts.connectTimeoutMs ?? 5000,
    requestTimeout: opts.statementTimeoutMs ?? 10_000,
    pool: { max: opts.poolSize ?? poolSize ?? 10, min: 0, idleTimeoutMillis: 30_000 },
    // useUTC: a DATETIME2 is written and read as UTC (tedious's default, spelled out: the columns hold UTC)
    options: { encrypt: flag('encrypt', false), trustServerCertificate: flag('trustServerCertificate', true), appName: 'tvphone', useUTC: true },
  };
}

function bind(req: sql.Request, params: Param[]): void {
  params.forEach((p, i) => {
    const name = `p${i + 1}`;
    if (p === null) req.input(name, sql.NVarChar(4000), null);
    else if (typeof p === 'string') req.input(name, p.length > 4000 ? sql.NVarChar(sql.MAX) : sql.NVarChar(4000), p);
    else if (typeof p === 'number') req.input(name, Number.isInteger(p) ? sql.BigInt : sql.Float, p);
    else if (p instanceof Date) req.input(name, sql.DateTime2(3), p);
    else req.input(name, sql.VarBinary(sql.MAX), Buffer.from(p.buffer, p.byteOffset, p.byteLength));
  });
}

export class MssqlStore extends SqlStore {
  readonly dialect = 'mssql' as const;
  readonly #pool: sql.ConnectionPool;
  readonly #health: StoreHealth;
  readonly #where: string;
  #closed = false;

  private constructor(pool: sql.ConnectionPool, where: string, health: StoreHealth) {
    super();
    this.#pool = pool;
    this.#where = where;
    this.#health = health;
  }

  static async open(url: string, opts: OpenStoreOptions = {}): Promise<MssqlStore> {
    const where = redactUrl(url);
    const health = new StoreHealth(opts.onStateChange);
    const pool = new sql.ConnectionPool(mssqlConfig(url, opts));
    pool.on('error', (err) => health.down(err));
    try {
      await pool.connect();
    } catch (err) {
      await pool.close().catch(() => {});
      throw new StoreUnavailableError(`cannot reach SQL Server at ${where}: ${(err as Error).message}`, { cause: err });
    }
    const store = new MssqlStore(pool, where, health);
    try {
      await store.#migrate(opts.migrate ?? true);
    } catch (err) {
      await pool.close().catch(() => {});
      if (err instanceof TvphoneError) throw err;
      throw new TvphoneError('ERR_STORE_OPEN', `cannot open SQL Server database ${where}: ${(err as Error).message}`, { cause: err });
    }
    return store;
  }

  async #migrate(apply: boolean): Promise<void> {
    await this.#transaction(async (tx) => {
      await new sql.Request(tx).query(MSSQL_MIGRATION_QUERIES.lock);
      const present = (await new sql.Request(tx).query(MSSQL_MIGRATION_QUERIES.versionTablePresent)).recordset[0].n > 0;
      const current = present ? await runAsync(schemaVersion(), (q) => this.#query(tx, q)) : 0;
      checkSchemaVersion('mssql', current, apply);
      for (const m of loadMigrations('mssql')) {
        if (m.version <= current) continue;
        // one statement at a time: SQL Server compiles a batch whole, so a column added in it is unknown to the rest
        for (const statement of splitStatements(m.sql)) await new sql.Request(tx).batch(statement);
        await this.#query(tx, { name: 'insertVersion', params: [m.version, Date.now()] });
      }
    });
  }

  async #query(tx: sql.Transaction | sql.ConnectionPool, q: Query): Promise<QueryResult> {
    try {
      const req = new sql.Request(tx as sql.Transaction);
      bind(req, q.params);
      const r = await req.query(MSSQL_QUERIES[q.name]);
      return { rows: (r.recordset ?? []) as Row[], changes: r.rowsAffected.reduce((a, b) => a + b, 0) };
    } catch (err) {
      throw this.#classify(err);
    }
  }

  #classify(err: unknown): unknown {
    if (err instanceof StoreUnavailableError || !isConnectionError(err)) return err;
    this.#health.down(err);
    return new StoreUnavailableError(`SQL Server ${this.#where} is unavailable: ${(err as Error).message}`, { cause: err });
  }

  async #transaction<T>(body: (tx: sql.Transaction) => Promise<T>): Promise<T> {
    if (this.#closed) throw new StoreUnavailableError('the store is closed');
    for (let attempt = 1; ; attempt++) {
      const tx = new sql.Transaction(this.#pool);
      let begun = false;
      try {
        await tx.begin();
        begun = true;
        const value = await body(tx);
        await tx.commit();
        this.#health.ok();
        return value;
      } catch (err) {
        const e = this.#classify(err);
        // Always roll back a begun transaction, even after a timeout or a broken connection: only commit and
        // rollback hand its connection back to the pool. A timed-out statement leaves the transaction open on a
        // live connection, holding its row locks; unreleased, it blocked every later writer of that user and
        // made close() wait for ever (seen on Babelfish in the server's suites). On a dead connection the
        // rollback fails at once, and the pool discards the connection.
        if (begun) await tx.rollback().catch(() => {});
        const n = (err as { number?: unknown }).number;
        if (e instanceof StoreUnavailableError || typeof n !== 'number' || !RETRYABLE.has(n) || attempt >= RETRIES) throw e;
      }
    }
  }

  protected write<T>(op: () => Op<T>): Promise<T> {
    return this.#transaction((tx) => runAsync(op(), (q) => this.#query(tx, q)));
  }

  protected async read<T>(op: () => Op<T>): Promise<T> {
    if (this.#closed) throw new StoreUnavailableError('the store is closed');
    const value = await runAsync(op(), (q) => this.#query(this.#pool, q));
    this.#health.ok();
    return value;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.close();
  }
}
