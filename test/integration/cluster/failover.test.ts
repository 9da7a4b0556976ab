// A node dies (SIGKILL) under its TVs (issue 18): the TV agent, given the service's nodes, registers on another node
// and receives what was stored for it meanwhile. The nodes are `tvphone serve` processes on one database: two on a
// SQLite file, and two and three on PostgreSQL when TVPHONE_TEST_PG_URL is set.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TvAgent } from '../../../src/terminal/tv-agent.ts';
import { startChildServer, type ChildServer } from '../../helpers/child-server.ts';
import { RawClient } from '../../helpers/raw-client.ts';
import { sharedDatabases, type SharedDatabase } from '../../helpers/shared-databases.ts';
import { freePort } from '../../../bench/lib/proc.ts';
import { waitFor } from '../../helpers/tv-events.ts';

async function startNode(id: string, dbUrl: string): Promise<ChildServer> {
  const tcpPort = await freePort();
  return startChildServer({
    dbUrl, tcpPort,
    profile: {
      domains: ['127.0.0.1'], // the service's domain: a REGISTER for it is ours on every node, whatever the port
      node: { id, sipUri: `sip:127.0.0.1:${tcpPort};transport=tcp`, heartbeatSeconds: 1, leaseSeconds: 3 },
    },
  });
}

const backends = sharedDatabases();

const suites = backends.flatMap((backend) => (backend.name === 'PostgreSQL' ? [2, 3] : [2]).map((count) => ({ backend, count })));

for (const { backend, count } of suites) describe(`cluster: a node killed under its TV, ${count} nodes (${backend.name})`, function () {
  this.timeout(60_000);
  let db: SharedDatabase;
  const nodes: ChildServer[] = [];
  let agent: TvAgent | undefined;
  let sender: RawClient | undefined;
  let dir: string;

  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    await sender?.close();
    sender = undefined;
    for (const n of nodes.splice(0)) await n.stop();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the TV agent registers on the next node of its list and receives what was stored, through the last node, while it moved', async () => {
    db = await backend.open();
    dir = mkdtempSync(join(tmpdir(), 'tvphone-failover-tv-'));
    for (let i = 0; i < count; i++) nodes.push(await startNode(`node-${'abc'[i]}`, db.url));
    const [a, b] = nodes;
    const last = nodes[count - 1];
    agent = new TvAgent({
      user: 'tv1', password: '', server: `sip:127.0.0.1:${a.tcpPort}`, transport: 'tcp',
      fallbackServers: nodes.slice(1).map((n) => `sip:127.0.0.1:${n.tcpPort}`), // `tvphone tv --server a,b,c`
      localIp: '127.0.0.1', downloadDir: dir, retryMinMs: 200, timerValues: { t1: 100, t2: 400, t4: 500 },
    });
    await agent.start();
    assert.ok(agent.isRegistered, 'registered on node A');

    const moved = waitFor(agent, 'server-changed', () => true, 15_000);
    const again = waitFor(agent, 'registered', () => true, 15_000);
    await a.kill();
    const to = await moved;
    assert.equal(to.port, b.tcpPort, 'the next node of the list');
    // a message sent through the last node while the TV moves: kept (the TV's binding is on dead node A) or delivered
    sender = await RawClient.open('udp', last.udpPort);
    const { callId } = sender.request({ method: 'MESSAGE', uri: 'sip:tv1@127.0.0.1', from: '<sip:alice@127.0.0.1>', to: '<sip:tv1@127.0.0.1>', body: 'while you moved', contentType: 'text/plain' });
    const received = waitFor(agent, 'message', (m) => m.text === 'while you moved', 30_000);
    const status = (await sender.final(callId, 'MESSAGE', 15_000)).status;
    assert.ok(status === 202 || status === 200, `accepted: ${status}`);
    await again;
    await received.catch((err: unknown) => {
      // what the nodes did with it, to tell why
      throw new Error(`${(err as Error).message}; ${nodes.slice(1).map((n) => n.logs.slice(-20).map((l) => JSON.stringify(l)).join('\n')).join('\n--\n')}`);
    });
  });
});
