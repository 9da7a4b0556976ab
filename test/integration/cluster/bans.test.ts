// Bans shared through the database (issue 16 on several nodes; issue 18: changes travel through the database). A
// guesser banned by node A is refused by node B — at once on PostgreSQL (LISTEN/NOTIFY, with B's polling set far
// longer than the test waits), within a poll on a SQLite file — and by a node started after both have stopped.
import assert from 'node:assert/strict';
import { validateProfile } from '../../../src/config/profile.ts';
import { createLogger } from '../../../src/log/logger.ts';
import { startServer, type TvphoneServer } from '../../../src/server.ts';
import { ha1 } from '../../../src/sip/digest.ts';
import { RawClient } from '../../helpers/raw-client.ts';
import { sharedDatabases, type SharedDatabase } from '../../helpers/shared-databases.ts';
import { until } from '../../helpers/until.ts';

const ATTACKER = '127.0.0.3';
const TV = '127.0.0.4';

async function startNode(id: string, url: string, pollSeconds: number): Promise<{ server: TvphoneServer; udp: number }> {
  const profile = validateProfile({
    listeners: [{ transport: 'udp', host: '127.0.0.1', port: 0 }],
    auth: { mode: 'digest', realm: 'tvphone' },
    store: { url },
    security: { authFailures: 3, userAuthFailures: 100, banSeconds: 600 },
    node: { id, heartbeatSeconds: pollSeconds },
  }, `bans-${id}`);
  const server = await startServer({ profile, log: createLogger('silent'), timerValues: { t1: 100, t2: 400, t4: 500 } });
  return { server, udp: server.listeners[0].port };
}

for (const backend of sharedDatabases()) describe(`cluster: bans shared on ${backend.name}`, function () {
  this.timeout(30_000);
  const push = backend.name === 'PostgreSQL';
  let db: SharedDatabase;
  const servers: TvphoneServer[] = [];
  const clients: RawClient[] = [];
  const client = async (port: number, host: string) => { const c = await RawClient.open('udp', port, host); clients.push(c); return c; };
  const node = async (id: string, pollSeconds: number) => { const n = await startNode(id, db.url, pollSeconds); servers.push(n.server); return n; };

  beforeEach(async () => { db = await backend.open(); });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    for (const s of servers.splice(0).reverse()) await s.close();
    await db.drop();
  });

  it(`a source banned by node A is refused by node B ${push ? 'at once (NOTIFY; B polls every 60 s)' : 'within its poll (1 s)'}, another source is served, and a node started later refuses it too`, async () => {
    const a = await node('node-a', push ? 60 : 1);
    const b = await node('node-b', push ? 60 : 1);
    await a.server.store.addUser({ userId: '1001', realm: 'tvphone', ha1Md5: ha1('MD5', '1001', 'tvphone', 'right'), ha1Sha256: ha1('SHA-256', '1001', 'tvphone', 'right') }, Date.now());
    const toA = await client(a.udp, ATTACKER);
    const toB = await client(b.udp, ATTACKER);
    assert.equal(await toB.registerWithPassword('1001', 'guess-0'), 401, 'a wrong password at B: challenged again (one failure there, no ban)');
    const guesses: number[] = [];
    for (let i = 1; i <= 4; i++) guesses.push(await toA.registerWithPassword('1001', `guess-${i}`));
    assert.deepEqual(guesses, [401, 401, 401, 403], 'A challenges three guesses, the third bans the source');
    const bannedAt = Date.now();
    // B counted one failure only: what A did, only the database can tell it; until then the right password registers
    await until(async () => (await toB.registerWithPassword('1001', 'right', 1000)) === 403, push ? 3000 : 6000, 'B refuses the source A banned');
    const took = Date.now() - bannedAt;
    if (push) assert.ok(took < 3000, `B heard of the ban in ${took} ms, not at its next 60 s poll`);
    const tv = await client(b.udp, TV);
    assert.equal(await tv.registerWithPassword('1001', 'right'), 200, 'another source registers at B');
    for (const s of servers.splice(0).reverse()) await s.close();
    const c = await node('node-c', 60);
    const toC = await client(c.udp, ATTACKER);
    assert.equal(await toC.registerWithPassword('1001', 'right'), 403, 'a node started after the ban refuses the source, even with the right password');
    const tv2 = await client(c.udp, TV);
    assert.equal(await tv2.registerWithPassword('1001', 'right'), 200);
  });
});
