// A fresh SQL Server database per test run (CREATE DATABASE tvphone_test_<random>), dropped afterwards.
// Test-only helper: it logs in with the credentials of MSSQL_URL (which need CREATE DATABASE; the database named there
// is not touched) through `mssql` directly, in `master`. On Babelfish the cluster must be in multi-db mode
// (.ci/babelfish.sh).

import { randomBytes } from 'node:crypto';
import sql from 'mssql';
import type { TestDatabase } from './pg-database.ts';

function config(url: URL, database: string): sql.config {
  return {
    server: url.hostname, port: url.port ? Number(url.port) : 1433, database,
    user: decodeURIComponent(url.username), password: decodeURIComponent(url.password),
    connectionTimeout: 10_000, requestTimeout: 20_000, pool: { max: 1, min: 0 },
    options: { encrypt: url.searchParams.get('encrypt') === 'true', trustServerCertificate: true, appName: 'tvphone-tests' },
  };
}

async function inMaster(url: URL, statement: string): Promise<void> {
  const pool = new sql.ConnectionPool(config(url, 'master'));
  pool.on('error', () => {}); // a connection lost while idle: the statement below fails and says so
  try {
    await pool.connect();
    await pool.request().batch(statement);
  } finally {
    await pool.close();
  }
}

export async function createMssqlTestDatabase(serverUrl: string): Promise<TestDatabase> {
  const name = `tvphone_test_${randomBytes(6).toString('hex')}`;
  const admin = new URL(serverUrl);
  await inMaster(admin, `CREATE DATABASE ${name}`);
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      // a pool just closed may still hold its sessions for a moment ("currently in use", 3702): try again
      for (let attempt = 1; ; attempt++) {
        try {
          return await inMaster(admin, `DROP DATABASE IF EXISTS ${name}`);
        } catch (err) {
          if (attempt >= 20 || !/in use/i.test((err as Error).message)) throw err;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    },
  };
}
