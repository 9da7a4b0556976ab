// Store benchmark, by hand: durable saveBindings/s and storeMessage/s with many concurrent callers, so
// that SQLite's group commit shows. SQLite in a temp file (WAL, synchronous=FULL); PostgreSQL too when
// TVPHONE_TEST_PG_URL is set (in a fresh database, dropped afterwards). SQLite runs twice: in-thread (the CLI)
// and in a worker thread (the server); with --callers 1 the difference is the per-call cost of the hop.
//   node bench/store.ts [--ops 20000] [--callers 500] [--only sqlite|postgres]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openStore } from '../src/store/open.ts';
import type { Binding, Store } from '../src/store/store.ts';
import { createTestDatabase } from '../test/helpers/pg-database.ts';

const { values } = parseArgs({ options: { ops: { type: 'string', default: '20000' }, callers: { type: 'string', default: '500' }, only: { type: 'string' } } });
const OPS = Number(values.ops);
const CALLERS = Number(values.callers);

function binding(user: string, i: number): Binding {
  return {
    userId: user, contact: `sip:${user}@127.0.0.1:5062;transport=tcp`, expiresAt: Date.now() + 3600_000, q: null,
    callId: `reg-${user}`, cseq: i, path: [], instance: null, regId: null,
    flow: { transport: 'tcp', address: '127.0.0.1', port: 5062, connectionId: i % 5000 }, userAgent: 'bench', updatedAt: Date.now(),
  };
}

async function measure(label: string, store: Store, op: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CALLERS }, async () => {
    while (next < OPS) await op(next++);
  }));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const stats = (store as { stats?: { commits: number; writes: number } }).stats;
  const batching = stats ? `, ${(stats.writes / Math.max(1, stats.commits)).toFixed(1)} writes/commit so far` : '';
  console.log(`${label.padEnd(52)} ${Math.round(OPS / s).toString().padStart(7)} /s  (${OPS} ops, ${CALLERS} callers, ${s.toFixed(2)} s${batching})`);
}

async function run(name: string, store: Store): Promise<void> {
  const body = new Uint8Array(200).fill(0x41);
  // a REGISTER: first one for each of 5000 users, then refreshes
  await measure(`${name} saveBindings`, store, (i) => {
    const user = `u${i % 5000}`;
    return store.saveBindings(user, [binding(user, i)], [], false, Date.now());
  });
  // a read, no commit: with --callers 1 the time of one call, so the worker's hop shows alone
  await measure(`${name} getBindings`, store, (i) => store.getBindings(`u${i % 5000}`, Date.now()));
  await measure(`${name} storeMessage (200 B)`, store, (i) =>
    store.storeMessage({
      toUser: `u${i % 5000}`, fromUri: 'sip:a@bench', fromHeader: '<sip:a@bench>;tag=1', toUri: 'sip:b@bench',
      contentType: 'text/plain', body, receivedAt: Date.now(), expiresAt: Date.now() + 86_400_000,
    }));
}

const dir = mkdtempSync(join(tmpdir(), 'tvphone-bench-'));
if (values.only !== 'postgres') try {
  const sqlite = await openStore(`sqlite:${join(dir, 'bench.db')}`);
  await run('SQLite (file, WAL, synchronous=FULL)', sqlite);
  await sqlite.close();
  // as the server runs it: the same store in a worker thread, each call and answer a message (the hop's cost)
  const worker = await openStore(`sqlite:${join(dir, 'bench-worker.db')}`, { worker: true });
  await run('SQLite in a worker thread', worker);
  await worker.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const pgUrl = process.env.TVPHONE_TEST_PG_URL;
if (values.only === 'sqlite') {
  // SQLite alone asked for
} else if (pgUrl) {
  const db = await createTestDatabase(pgUrl);
  try {
    const pg = await openStore(db.url, { poolSize: 20 });
    await run('PostgreSQL (pool 20)', pg);
    await pg.close();
  } finally {
    await db.drop();
  }
} else {
  console.log('PostgreSQL: skipped, TVPHONE_TEST_PG_URL not set');
}
