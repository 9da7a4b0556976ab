// SQL Server goes away and comes back: the store fails fast with StoreUnavailableError, tells the server
// once, and recovers by itself with earlier writes intact (as postgres-outage.test.ts). Stops and starts the test
// server with TVPHONE_TEST_MSSQL_CTL (a printf template, see .ci/babelfish.sh: Babelfish in CI).

import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import { StoreUnavailableError } from '../../../src/errors.ts';
import { openStore } from '../../../src/store/open.ts';
import type { Store } from '../../../src/store/store.ts';
import { createMssqlTestDatabase } from '../../helpers/mssql-database.ts';
import type { TestDatabase } from '../../helpers/pg-database.ts';

const adminUrl = process.env.MSSQL_URL;
const ctl = process.env.TVPHONE_TEST_MSSQL_CTL;

function serverCtl(action: 'start' | 'stop'): void {
  execSync(ctl!.replace('%s', action), { stdio: 'ignore', timeout: 60_000 });
}

const body = Uint8Array.of(0, 1, 2, 0xff);
function message(i: number) {
  return {
    toUser: 'outage', fromUri: 'sip:a@tv.example', fromHeader: '<sip:a@tv.example>;tag=1', toUri: 'sip:outage@tv.example',
    contentType: 'application/octet-stream', body: Uint8Array.of(i, ...body), receivedAt: 1, expiresAt: 2e12,
  };
}

(adminUrl && ctl ? describe : describe.skip)(
  adminUrl && ctl ? 'SQL Server store: outage' : 'SQL Server store: outage skipped, MSSQL_URL / TVPHONE_TEST_MSSQL_CTL not set',
  function () {
    this.timeout(120_000);
    let db: TestDatabase;
    let store: Store | undefined;
    let stopped = false;
    before(async function () {
      db = await createMssqlTestDatabase(adminUrl!);
    });
    afterEach(async function () {
      if (stopped) serverCtl('start');
      stopped = false;
      await store?.close();
      store = undefined;
    });
    after(async function () {
      await db?.drop();
    });

    it('rejects with StoreUnavailableError while the server is down, then recovers with earlier writes intact', async function () {
      const events: boolean[] = [];
      store = await openStore(db.url, { connectTimeoutMs: 2000, statementTimeoutMs: 3000, onStateChange: (up) => events.push(up) });
      const before = [await store.storeMessage(message(1)), await store.storeMessage(message(2))];

      serverCtl('stop');
      stopped = true;
      const t0 = Date.now();
      await assert.rejects(store.storeMessage(message(3)), StoreUnavailableError);
      await assert.rejects(store.pendingMessages('outage', 10), StoreUnavailableError);
      await assert.rejects(store.getPresence('x'), StoreUnavailableError);
      assert.ok(Date.now() - t0 < 15_000, 'each call fails within its timeouts');
      assert.deepEqual(events, [false], 'the outage is reported once');

      serverCtl('start');
      stopped = false;
      // the pool reconnects by itself; the first calls after the restart may still meet a dead socket
      let after = null;
      for (let i = 0; i < 50 && after === null; i++) {
        try {
          after = await store.storeMessage(message(4));
        } catch (err) {
          assert.ok(err instanceof StoreUnavailableError, String(err));
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      assert.ok(after, 'writes succeed again after the server returns');
      assert.deepEqual(events, [false, true], 'the recovery is reported once');
      const pending = await store.pendingMessages('outage', 10);
      assert.deepEqual(pending.map((m) => [m.id, Array.from(m.body)]), [...before, after].map((m) => [m.id, Array.from(m.body)]));
    });
  },
);
