// Starts tvphone in-process on 127.0.0.1 (UDP and TCP, port 0) with a fresh store, for integration tests.
// The store is SQLite in a temp file; with TVPHONE_TEST_STORE=postgres (and TVPHONE_TEST_PG_URL) it is a fresh
// PostgreSQL database per server, with TVPHONE_TEST_STORE=mssql (and MSSQL_URL) a fresh SQL Server database, dropped
// at close: `npm test` runs the integration suites once more each way.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateProfile } from '../../src/config/profile.ts';
import { silentLogger, type Logger } from '../../src/log/logger.ts';
import { startServer, type TvphoneServer } from '../../src/server.ts';
import { ha1 } from '../../src/sip/digest.ts';
import type { ListenerInfo } from '../../src/transport/transport.ts';
import { createMssqlTestDatabase } from './mssql-database.ts';
import { createTestDatabase, type TestDatabase } from './pg-database.ts';
import { RawClient } from './raw-client.ts';

/** The store backend the integration suites run on in this process: 'sqlite' (default), 'postgres' or 'mssql'. */
export const TEST_STORE: 'sqlite' | 'postgres' | 'mssql' =
  process.env.TVPHONE_TEST_STORE === 'postgres' || process.env.TVPHONE_TEST_STORE === 'mssql' ? process.env.TVPHONE_TEST_STORE : 'sqlite';
if (TEST_STORE === 'postgres' && !process.env.TVPHONE_TEST_PG_URL) throw new Error('TVPHONE_TEST_STORE=postgres needs TVPHONE_TEST_PG_URL');
if (TEST_STORE === 'mssql' && !process.env.MSSQL_URL) throw new Error('TVPHONE_TEST_STORE=mssql needs MSSQL_URL');

/** A fresh database of this pass's backend, or null for SQLite (a temp file of the caller's). */
function freshDatabase(): Promise<TestDatabase | null> {
  if (TEST_STORE === 'postgres') return createTestDatabase(process.env.TVPHONE_TEST_PG_URL!);
  if (TEST_STORE === 'mssql') return createMssqlTestDatabase(process.env.MSSQL_URL!);
  return Promise.resolve(null);
}

/** The backend a suite that manages its own databases (child-process servers) runs on in this pass. */
export function storeBackend(): { name: string; db: () => Promise<TestDatabase | null> } {
  return { name: { sqlite: 'SQLite', postgres: 'PostgreSQL', mssql: 'SQL Server' }[TEST_STORE], db: freshDatabase };
}

export interface TestServer {
  server: TvphoneServer;
  udp: ListenerInfo;
  tcp: ListenerInfo;
  dbUrl: string;
  addUser(user: string, password: string): Promise<void>;
  /** a RawClient on the server's UDP or TCP listener, closed with the server; `host` another loopback address (another source) */
  client(transport?: 'udp' | 'tcp', host?: string): Promise<RawClient>;
  /** closes the clients it opened, then the server */
  close(): Promise<void>;
}

export interface TestServerOptions {
  auth?: 'digest' | 'none';
  dbUrl?: string;
  profile?: Record<string, unknown>;
  /** keep the database (restart tests) */
  keepDb?: boolean;
  /** the server's logger; default silent */
  log?: Logger;
  /** trunk host names to addresses (default node:dns) */
  resolve?: (host: string) => Promise<string | null>;
}

export const REALM = 'tvphone';

export async function startTestServer(o: TestServerOptions = {}): Promise<TestServer> {
  const pg: TestDatabase | null = o.dbUrl ? null : await freshDatabase();
  const dir = o.dbUrl || pg ? null : mkdtempSync(join(tmpdir(), 'tvphone-it-'));
  const dbUrl = o.dbUrl ?? pg?.url ?? `sqlite:${join(dir!, 'tvphone.db')}`;
  const profile = validateProfile({
    listeners: [{ transport: 'udp', host: '127.0.0.1', port: 0 }, { transport: 'tcp', host: '127.0.0.1', port: 0 }],
    auth: { mode: o.auth ?? 'none', realm: REALM },
    // SQLite on the event loop: a worker's start (0.1-0.3 s) per test server added minutes to the suite; the worker is
    // covered by the store contract, the outage and frozen-disk tests and every child-process server (README, Tests)
    store: { url: dbUrl, worker: false },
    // every test client is on 127.0.0.1: tests of other features are not throttled or banned as one source; the
    // security tests (and the interop tests, with the shipped default's section) give their own
    security: { trusted: ['127.0.0.0/8'] },
    ...o.profile,
  }, 'test-profile');
  const server = await startServer({ profile, log: o.log ?? silentLogger(), timerValues: { t1: 100, t2: 400, t4: 500 }, resolve: o.resolve });
  const udp = server.listeners.find((l) => l.transport === 'udp')!;
  const tcp = server.listeners.find((l) => l.transport === 'tcp')!;
  const clients: RawClient[] = [];
  return {
    server, udp, tcp, dbUrl,
    async client(transport = 'udp', host?: string) {
      const c = await RawClient.open(transport, transport === 'udp' ? udp.port : tcp.port, host);
      clients.push(c);
      return c;
    },
    async addUser(user, password) {
      await server.store.addUser({ userId: user, realm: REALM, ha1Md5: ha1('MD5', user, REALM, password), ha1Sha256: ha1('SHA-256', user, REALM, password) }, Date.now());
    },
    async close() {
      for (const c of clients.splice(0)) await c.close(); // RawClient.close is idempotent
      await server.close();
      if (dir && !o.keepDb) rmSync(dir, { recursive: true, force: true });
      if (pg && !o.keepDb) await pg.drop();
    },
  };
}
