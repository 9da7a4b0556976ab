// A fresh PostgreSQL database for one bench server (CREATE DATABASE tvphone_bench_<random>), dropped afterwards,
// so that every sweep starts from empty tables and benches never touch the database they were given.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface BenchDatabase {
  url: string;
  drop(): Promise<void>;
  /** PIDs of the server backends connected to this database (local server: their CPU is in /proc) */
  backendPids(): Promise<number[]>;
  /** pg_stat_database counters of this database: committed transactions, rows inserted + updated + deleted */
  counters(): Promise<{ commits: number; rowsWritten: number }>;
}

async function admin(adminUrl: string, sql: string, params: unknown[] = []): Promise<Array<Record<string, unknown>>> {
  const c = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as Array<Record<string, unknown>>;
  } finally {
    await c.end();
  }
}

export async function createBenchDatabase(adminUrl: string): Promise<BenchDatabase> {
  const name = `tvphone_bench_${randomBytes(6).toString('hex')}`;
  await admin(adminUrl, `CREATE DATABASE ${name}`);
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => { await admin(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); },
    counters: async () => {
      const [r] = await admin(adminUrl, 'SELECT xact_commit, tup_inserted + tup_updated + tup_deleted AS w FROM pg_stat_database WHERE datname = $1', [name]);
      return { commits: Number(r?.['xact_commit'] ?? 0), rowsWritten: Number(r?.['w'] ?? 0) };
    },
    backendPids: async () => (await admin(adminUrl, 'SELECT pid FROM pg_stat_activity WHERE datname = $1', [name])).map((r) => Number(r['pid'])),
  };
}
