// Fault test (issue 6): the database goes away under a running server. New REGISTERs and MESSAGEs get 503
// with Retry-After within a bounded time (the server does not hang), the outage is logged once, and when the
// database returns the service resumes with nothing lost that was answered 200/202 before.
// PostgreSQL: stopped and started with TVPHONE_TEST_PG_CTL (see .ci/postgres.sh); SQL Server (Babelfish in CI) with
// TVPHONE_TEST_MSSQL_CTL (.ci/babelfish.sh). Each runs in the first pass of `npm test` and in its own backend's pass.
// SQLite: a second connection holds BEGIN EXCLUSIVE on the file.
import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { validateProfile } from '../../../src/config/profile.ts';
import { createLogger } from '../../../src/log/logger.ts';
import { startServer, type TvphoneServer } from '../../../src/server.ts';
import type { SipResponse } from '../../../src/sip/message.ts';
import { RawClient } from '../../helpers/raw-client.ts';
import { createMssqlTestDatabase } from '../../helpers/mssql-database.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/pg-database.ts';
import { TEST_STORE } from '../../helpers/test-server.ts';

/** The servers this suite can stop: the URL its databases are made from, and the printf template that stops/starts it. */
const servers = [
  {
    name: 'PostgreSQL', store: 'postgres', url: process.env.TVPHONE_TEST_PG_URL, ctl: process.env.TVPHONE_TEST_PG_CTL,
    vars: 'TVPHONE_TEST_PG_URL / TVPHONE_TEST_PG_CTL', db: createTestDatabase,
  },
  {
    name: 'SQL Server', store: 'mssql', url: process.env.MSSQL_URL, ctl: process.env.TVPHONE_TEST_MSSQL_CTL,
    vars: 'MSSQL_URL / TVPHONE_TEST_MSSQL_CTL', db: createMssqlTestDatabase,
  },
].filter((s) => TEST_STORE === 'sqlite' || TEST_STORE === s.store);
const OUTAGE_LOG = 'database unavailable: answering 503';
const RECOVERY_LOG = 'database reachable again';

interface LoggedServer {
  server: TvphoneServer;
  udpPort: number;
  lines: Array<Record<string, unknown>>;
}

/** The server in-process, its pino lines captured as parsed JSON. */
async function startLoggedServer(dbUrl: string): Promise<LoggedServer> {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger('info', { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  const profile = validateProfile({
    listeners: [{ transport: 'udp', host: '127.0.0.1', port: 0 }, { transport: 'tcp', host: '127.0.0.1', port: 0 }],
    auth: { mode: 'none', realm: 'tvphone' },
    store: { url: dbUrl },
    security: { trusted: ['127.0.0.0/8'] }, // the load comes from one loopback source: not a flood to limit
  }, 'db-outage-profile');
  const server = await startServer({ profile, log, timerValues: { t1: 100, t2: 400, t4: 500 } });
  return { server, udpPort: server.listeners.find((l) => l.transport === 'udp')!.port, lines };
}

function register(c: RawClient, user: string, timeoutMs = 5000, expires = 3600): Promise<SipResponse> {
  const { callId } = c.request({
    method: 'REGISTER', uri: 'sip:127.0.0.1', from: `<sip:${user}@127.0.0.1>`, to: `<sip:${user}@127.0.0.1>`,
    headers: [['Contact', c.contact], ['Expires', String(expires)]],
  });
  return c.final(callId, 'REGISTER', timeoutMs);
}

function message(c: RawClient, to: string, text: string, timeoutMs = 5000): Promise<SipResponse> {
  const { callId } = c.request({ method: 'MESSAGE', uri: `sip:${to}@127.0.0.1`, from: '<sip:6001@127.0.0.1>', to: `<sip:${to}@127.0.0.1>`, body: text, contentType: 'text/plain' });
  return c.final(callId, 'MESSAGE', timeoutMs);
}

/** The outage line is the only error logged (the others are shown if not). */
function assertOnlyError(lines: Array<Record<string, unknown>>): void {
  const errors = lines.filter((l) => (l.level as number) >= 50 && l.msg !== OUTAGE_LOG);
  assert.deepEqual(errors.map((l) => `${String(l.msg)}: ${JSON.stringify(l.err ?? '')}`), [], 'nothing but the outage is logged as an error');
}

function assert503(res: SipResponse, what: string): void {
  assert.equal(res.status, 503, `${what}: ${res.status} ${res.reason}`);
  assert.ok(Number(res.header('retry-after')) > 0, `${what}: 503 carries Retry-After`);
}

/** Retries `attempt` until it returns the wanted status (the pool may meet dead sockets first); bounded. */
async function eventually(attempt: () => Promise<SipResponse>, status: number, what: string): Promise<SipResponse> {
  let last: SipResponse | null = null;
  for (let i = 0; i < 40; i++) {
    last = await attempt();
    if (last.status === status) return last;
    await sleep(250);
  }
  assert.fail(`${what}: still ${last?.status} ${last?.reason}`);
}

/** Receives `n` MESSAGEs on a freshly registered client and returns their bodies in arrival order. */
async function receiveAll(c: RawClient, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(Buffer.from((await c.nextRequest('MESSAGE', 5000)).body).toString('utf8'));
  return out;
}

for (const { name, url: adminUrl, ctl, vars, db: createDatabase } of servers) (adminUrl && ctl ? describe : describe.skip)(
  adminUrl && ctl
    ? `faults: ${name} stops under a running server`
    : `faults: ${name} outage SKIPPED (${vars} not set)`,
  function () {
    this.timeout(60_000);
    let db: TestDatabase | undefined;
    let ls: LoggedServer | undefined;
    let stopped = false;
    const clients: RawClient[] = [];

    function serverCtl(action: 'start' | 'stop'): void {
      execSync(ctl!.replace('%s', action), { stdio: 'ignore', timeout: 60_000 });
    }

    afterEach(async () => {
      // ALWAYS bring the database server back, whatever happened in the test.
      if (stopped) serverCtl('start');
      stopped = false;
      for (const c of clients.splice(0)) await c.close();
      await ls?.server.close();
      ls = undefined;
      await db?.drop();
      db = undefined;
    });

    it(`answers 503 with Retry-After while ${name} is down, logs it once, and resumes with nothing lost`, async () => {
      db = await createDatabase(adminUrl!);
      ls = await startLoggedServer(db.url);
      const c = await RawClient.open('udp', ls.udpPort);
      clients.push(c);
      assert.equal((await register(c, '6001')).status, 200);
      assert.equal((await register(c, '6002', 5000, 0)).status, 200); // known and offline
      const before = ['before 0', 'before 1', 'before 2'];
      for (const t of before) assert.equal((await message(c, '6002', t)).status, 202);

      serverCtl('stop');
      stopped = true;
      const t0 = Date.now();
      for (let i = 0; i < 3; i++) {
        assert503(await register(c, `61${i}`, 15_000), `REGISTER ${i} during the outage`);
        assert503(await message(c, '6002', `during ${i}`, 15_000), `MESSAGE ${i} during the outage`);
      }
      assert.ok(Date.now() - t0 < 30_000, 'the answers come within a bounded time');
      assert.equal(ls.lines.filter((l) => l.msg === OUTAGE_LOG).length, 1, 'the outage is logged once');
      assertOnlyError(ls.lines);
      assert.equal(ls.lines.find((l) => l.msg === OUTAGE_LOG)?.level, 50, 'at level error');

      serverCtl('start');
      stopped = false;
      await eventually(() => register(c, '6003'), 200, 'REGISTER after the outage');
      assert.equal((await message(c, '6002', 'after')).status, 202);
      assert.equal(ls.lines.filter((l) => l.msg === RECOVERY_LOG).length, 1, 'the recovery is logged once');

      const tv = await RawClient.open('udp', ls.udpPort);
      clients.push(tv);
      assert.equal((await register(tv, '6002')).status, 200);
      assert.deepEqual(await receiveAll(tv, 4), [...before, 'after'], 'everything accepted before the outage is delivered');
    });
  },
);

describe('faults: the SQLite database is locked by another process', function () {
  this.timeout(40_000);
  let dir: string;
  let ls: LoggedServer | undefined;
  let lock: DatabaseSync | undefined;
  const clients: RawClient[] = [];

  afterEach(async () => {
    if (lock?.isOpen) {
      if (lock.isTransaction) lock.exec('ROLLBACK');
      lock.close();
    }
    lock = undefined;
    for (const c of clients.splice(0)) await c.close();
    await ls?.server.close();
    ls = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 with Retry-After while another connection holds BEGIN EXCLUSIVE, and resumes once it is released', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tvphone-lock-'));
    const file = join(dir, 'tvphone.db');
    ls = await startLoggedServer(`sqlite:${file}`);
    const c = await RawClient.open('udp', ls.udpPort);
    clients.push(c);
    assert.equal((await register(c, '6001')).status, 200);
    assert.equal((await register(c, '6002', 5000, 0)).status, 200);
    assert.equal((await message(c, '6002', 'before')).status, 202);

    lock = new DatabaseSync(file, { timeout: 0 });
    lock.exec('BEGIN EXCLUSIVE');
    const t0 = Date.now();
    // both at once: the store's busy timeout (5 s) blocks, so each write fails after it, not at once
    const [reg, msg] = await Promise.all([register(c, '6004', 20_000), message(c, '6002', 'locked out', 20_000)]);
    assert503(reg, 'REGISTER while locked');
    assert503(msg, 'MESSAGE while locked');
    assert.ok(Date.now() - t0 < 20_000, 'the answers come within a bounded time');
    assert.equal(ls.lines.filter((l) => l.msg === OUTAGE_LOG).length, 1, 'the outage is logged once');
    assertOnlyError(ls.lines);

    lock.exec('ROLLBACK');
    lock.close();
    assert.equal((await register(c, '6004')).status, 200);
    assert.equal((await message(c, '6002', 'after')).status, 202);
    assert.equal(ls.lines.filter((l) => l.msg === RECOVERY_LOG).length, 1, 'the recovery is logged once');

    const tv = await RawClient.open('udp', ls.udpPort);
    clients.push(tv);
    assert.equal((await register(tv, '6002')).status, 200);
    assert.deepEqual(await receiveAll(tv, 2), ['before', 'after']);
  });
});
