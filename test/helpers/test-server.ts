// Starts tvphone in-process on 127.0.0.1 (UDP and TCP, port 0) with a fresh store, for integration tests.
// The store is SQLite in a temp file, or PostgreSQL when TVPHONE_TEST_SERVER_DB=postgres and TVPHONE_TEST_PG_URL is set
// (the suite then runs on both: see test/integration/server/*.test.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateProfile } from '../../src/config/profile.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { startServer, type TvphoneServer } from '../../src/server.ts';
import { ha1 } from '../../src/sip/digest.ts';
import type { ListenerInfo } from '../../src/transport/transport.ts';

export interface TestServer {
  server: TvphoneServer;
  udp: ListenerInfo;
  tcp: ListenerInfo;
  dbUrl: string;
  addUser(user: string, password: string): Promise<void>;
  close(): Promise<void>;
}

export interface TestServerOptions {
  auth?: 'digest' | 'none';
  dbUrl?: string;
  profile?: Record<string, unknown>;
  /** keep the database (restart tests) */
  keepDb?: boolean;
}

export const REALM = 'tvphone';

export async function startTestServer(o: TestServerOptions = {}): Promise<TestServer> {
  const dir = o.dbUrl ? null : mkdtempSync(join(tmpdir(), 'tvphone-it-'));
  const dbUrl = o.dbUrl ?? `sqlite:${join(dir!, 'tvphone.db')}`;
  const profile = validateProfile({
    listeners: [{ transport: 'udp', host: '127.0.0.1', port: 0 }, { transport: 'tcp', host: '127.0.0.1', port: 0 }],
    auth: { mode: o.auth ?? 'none', realm: REALM },
    store: { url: dbUrl },
    ...o.profile,
  }, 'test-profile');
  const server = await startServer({ profile, log: silentLogger(), timerValues: { t1: 100, t2: 400, t4: 500 } });
  const udp = server.listeners.find((l) => l.transport === 'udp')!;
  const tcp = server.listeners.find((l) => l.transport === 'tcp')!;
  return {
    server, udp, tcp, dbUrl,
    async addUser(user, password) {
      await server.store.addUser({ userId: user, realm: REALM, ha1Md5: ha1('MD5', user, REALM, password), ha1Sha256: ha1('SHA-256', user, REALM, password) }, Date.now());
    },
    async close() {
      await server.close();
      if (dir && !o.keepDb) rmSync(dir, { recursive: true, force: true });
    },
  };
}
