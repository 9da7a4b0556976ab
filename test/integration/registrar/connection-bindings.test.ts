// Bindings bound to a TCP/TLS/WS connection die with the process: at shutdown and at start they are removed and
// their users go offline, so user_property (`tvphone presence`) tells the truth; UDP bindings stay.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, TEST_STORE } from '../../helpers/test-server.ts';
import { openStore } from '../../../src/store/open.ts';

describe('registrar: connection-bound bindings at shutdown and at start', function () {
  this.timeout(15000);
  let dir: string;
  before(function () {
    if (TEST_STORE !== 'sqlite') this.skip(); // reopens the same SQLite file
  });
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'tvphone-flows-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('sets TCP-registered users offline when the server stops, and keeps UDP ones', async () => {
    const dbUrl = `sqlite:${join(dir, 'db.sqlite')}`;
    const ts = await startTestServer({ dbUrl, keepDb: true });
    const tcp = await ts.client('tcp');
    const udp = await ts.client('udp');
    assert.equal((await tcp.register('tv-tcp')).status, 200);
    assert.equal((await udp.register('phone-udp')).status, 200);
    await ts.close();
    const store = await openStore(dbUrl);
    try {
      assert.equal((await store.getPresence('tv-tcp'))?.netstate, 0);
      assert.deepEqual(await store.getBindings('tv-tcp', Date.now()), []);
      assert.equal((await store.getPresence('phone-udp'))?.netstate, 1);
    } finally {
      await store.close();
    }
  });

  it('sets users offline at start whose bindings name a connection of an earlier run (after a crash)', async () => {
    const dbUrl = `sqlite:${join(dir, 'db.sqlite')}`;
    const store = await openStore(dbUrl);
    const now = Date.now();
    await store.saveBindings('tv-crash', [{
      userId: 'tv-crash', contact: 'sip:tv-crash@127.0.0.1:5099;transport=tcp', expiresAt: now + 600_000, q: null, callId: 'c', cseq: 1,
      path: [], instance: null, regId: null, flow: { transport: 'tcp', address: '127.0.0.1', port: 5099, connectionId: 7 }, userAgent: null, updatedAt: now,
    }], [], false, now);
    assert.equal((await store.getPresence('tv-crash'))?.netstate, 1);
    await store.close();
    const ts = await startTestServer({ dbUrl, keepDb: true });
    try {
      assert.equal((await ts.server.store.getPresence('tv-crash'))?.netstate, 0);
      assert.deepEqual(await ts.server.store.getBindings('tv-crash', Date.now()), []);
    } finally {
      await ts.close();
    }
  });
});
