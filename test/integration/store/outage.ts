// The store's outage contract on a database server the test can stop and start: the store fails fast with
// StoreUnavailableError, tells the server once, and recovers by itself with earlier writes intact; an immediate stop
// (connections cut mid-query) under load loses nothing that resolved. postgres-outage.test.ts and
// mssql-outage.test.ts run it (their ctl templates: .ci/postgres.sh, .ci/babelfish.sh).

import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import { StoreUnavailableError } from '../../../src/errors.ts';
import { openStore } from '../../../src/store/open.ts';
import type { Store } from '../../../src/store/store.ts';
import type { TestDatabase } from '../../helpers/pg-database.ts';

const body = Uint8Array.of(0, 1, 2, 0xff);
function message(i: number) {
  return {
    toUser: 'outage', fromUri: 'sip:a@tv.example', fromHeader: '<sip:a@tv.example>;tag=1', toUri: 'sip:outage@tv.example',
    contentType: 'application/octet-stream', body: Uint8Array.of(i, ...body), receivedAt: 1, expiresAt: 2e12,
  };
}

export interface OutageTarget {
  /** 'PostgreSQL', 'SQL Server' */
  name: string;
  /** the admin URL and the ctl template of the test server (unset: the suite is skipped, saying which) */
  adminUrl: string | undefined;
  ctl: string | undefined;
  /** what to set to run it */
  env: string;
  createDatabase(adminUrl: string): Promise<TestDatabase>;
  /** the ctl action that kills the server with its connections mid-query, when the server has one (pg_ctl -m immediate) */
  immediateStop?: string;
}

/** The store's outage contract on a server the test can stop and start (postgres-outage, mssql-outage). */
export function describeStoreOutage(t: OutageTarget): void {
  const { adminUrl, ctl } = t;
  const serverCtl = (action: string): void => {
    execSync(ctl!.replace('%s', action), { stdio: 'ignore', timeout: 60_000 });
  };
  (adminUrl && ctl ? describe : describe.skip)(
  adminUrl && ctl ? `${t.name} store: outage` : `${t.name} store: outage skipped, ${t.env} not set`,
  function () {
    this.timeout(120_000);
    let db: TestDatabase;
    let store: Store | undefined;
    let stopped = false;
    before(async function () {
      db = await t.createDatabase(adminUrl!);
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

    if (t.immediateStop !== undefined) it('survives an immediate stop (connections cut mid-query) under load: every write resolves or fails as unavailable, and what resolved is kept', async function () {
      store = await openStore(db.url, { connectTimeoutMs: 2000, statementTimeoutMs: 3000 });
      const s = store;
      const resolved: number[] = [];
      let other: unknown = null;
      let running = true;
      // 8 writers, bounded in count and time, keep queries in flight while the server is killed
      const writers = Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; running && i < 2000; i++) {
          try {
            resolved.push((await s.storeMessage(message(w * 2000 + i))).id);
          } catch (err) {
            if (!(err instanceof StoreUnavailableError)) other ??= err;
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      });
      await new Promise((r) => setTimeout(r, 300));
      serverCtl(t.immediateStop!);
      stopped = true;
      await new Promise((r) => setTimeout(r, 500));
      serverCtl('start');
      stopped = false;
      await new Promise((r) => setTimeout(r, 1000));
      running = false;
      await Promise.all(writers);
      assert.equal(other, null, `only StoreUnavailableError: ${String(other)}`);
      assert.ok(resolved.length > 0);
      let kept: number[] | null = null;
      for (let i = 0; i < 50 && kept === null; i++) {
        try {
          kept = (await s.listMessages({ toUser: 'outage', limit: 100_000 })).map((m) => m.id);
        } catch {
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      const keptSet = new Set(kept ?? []);
      assert.deepEqual(resolved.filter((id) => !keptSet.has(id)), [], 'every write that resolved survived the crash');
    });
  },
);
}
