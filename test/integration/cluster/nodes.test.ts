// Several nodes on one database (issue 18): two servers in this process share one database (a SQLite file, and the
// PostgreSQL cluster CI starts when TVPHONE_TEST_PG_URL is set), then three on PostgreSQL. A TV connected over TCP to
// node A is reached from node B through A (the signed flow token of RFC 5626 §5.3), and each node's connections are its own.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { validateProfile } from '../../../src/config/profile.ts';
import { createLogger } from '../../../src/log/logger.ts';
import { startServer, type TvphoneServer } from '../../../src/server.ts';
import type { SipRequest } from '../../../src/sip/message.ts';
import { createResponse } from '../../../src/sip/response.ts';
import { newTag } from '../../../src/sip/ids.ts';
import { RawClient } from '../../helpers/raw-client.ts';
import { sharedDatabases, type SharedDatabase } from '../../helpers/shared-databases.ts';
import { freePort } from '../../../bench/lib/proc.ts';
import { until } from '../../helpers/until.ts';

const BIN = new URL('../../../bin/tvphone', import.meta.url).pathname;

interface Node {
  server: TvphoneServer;
  udp: number;
  tcp: number;
}

async function startNode(id: string, url: string): Promise<Node> {
  const tcp = await freePort();
  const profile = validateProfile({
    listeners: [{ transport: 'udp', host: '127.0.0.1', port: 0 }, { transport: 'tcp', host: '127.0.0.1', port: tcp }],
    auth: { mode: 'none', realm: 'tvphone' },
    store: { url },
    security: { trusted: ['127.0.0.0/8'] },
    node: { id, sipUri: `sip:127.0.0.1:${tcp};transport=tcp`, heartbeatSeconds: 1 },
    admin: { listen: '127.0.0.1:0' },
  }, `cluster-${id}`);
  const server = await startServer({ profile, log: createLogger(process.env.CLUSTER_LOG ?? 'silent', { write: (s: string) => void process.stderr.write(`[${id}] ${s}`) }), timerValues: { t1: 100, t2: 400, t4: 500 } });
  return { server, udp: server.listeners.find((l) => l.transport === 'udp')!.port, tcp };
}

/**
 * A call from `caller` to `user`, the TV on `tv`'s connection (it answers 200, copying the Record-Route as RFC 3261
 * §12.1.1 says), then the caller's ACK and BYE along the route set (§12.1.2: the 2xx's Record-Route, reversed), which
 * the TV must receive. Returns the INVITE as the TV got it.
 */
async function callThrough(caller: RawClient, tv: RawClient, user: string): Promise<SipRequest> {
  tv.autoAnswer = null;
  const from = '<sip:alice@127.0.0.1>';
  const fromTag = newTag();
  const { callId } = caller.request({ method: 'INVITE', uri: `sip:${user}@127.0.0.1`, from, fromTag, to: `<sip:${user}@127.0.0.1>`, headers: [['Contact', caller.contact]] });
  const invite = await tv.nextRequest('INVITE');
  const rr = invite.headerValues('record-route');
  const ok = createResponse(invite, 200, 'OK', newTag());
  ok.addHeader('Contact', tv.contact);
  for (const r of rr) ok.addHeader('Record-Route', r);
  tv.sendMessage(ok);
  const answer = await caller.final(callId, 'INVITE');
  assert.equal(answer.status, 200);
  const routes = answer.headerValues('record-route').reverse();
  const toHeader = answer.header('to')!;
  const target = tv.contact.slice(1, -1);
  for (const [method, cseq] of [['ACK', 1], ['BYE', 2]] as const) {
    caller.request({ method, uri: target, from, fromTag, to: toHeader.replace(/^To:\s*/i, ''), callId, cseq, headers: routes.map((r) => ['Route', r] as [string, string]) });
  }
  await tv.nextRequest('ACK');
  const bye = await tv.nextRequest('BYE');
  tv.sendMessage(createResponse(bye, 200, 'OK'));
  assert.equal((await caller.final(callId, 'BYE')).status, 200);
  return invite;
}

/** A MESSAGE from `from` to `to` sent by `sender`; resolves with its final status. */
async function message(sender: RawClient, from: string, to: string, body: string): Promise<number> {
  const { callId } = sender.request({ method: 'MESSAGE', uri: `sip:${to}@127.0.0.1`, from: `<sip:${from}@127.0.0.1>`, to: `<sip:${to}@127.0.0.1>`, body, contentType: 'text/plain' });
  return (await sender.final(callId, 'MESSAGE')).status;
}

/** The kept messages' bodies the clients received, sorted. */
const deliveredBodies = (...clients: RawClient[]): string[] => clients
  .flatMap((c) => c.received.filter((m) => m.isRequest() && m.method === 'MESSAGE'))
  .map((m) => Buffer.from(m.body).toString('utf8')).sort();

/**
 * Messages kept for tv1 through node `via`, then two REGISTERs of tv1 at once, over TCP on `one` and over UDP on
 * `other`: each kept message reaches one of the two bindings once (a user's delivery runs under a lease).
 */
async function registerAtOnceKeepsOnce(open: (t: 'udp' | 'tcp', port: number) => Promise<RawClient>, via: Node, one: Node, other: Node): Promise<void> {
  const first = await open('udp', via.udp);
  assert.equal((await first.register('tv1', 0)).status, 200); // known, offline
  const caller = await open('udp', via.udp);
  const bodies = ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7'];
  for (const body of bodies) assert.equal(await message(caller, 'alice', 'tv1', body), 202);
  const onOne = await open('tcp', one.tcp);
  const onOther = await open('udp', other.udp);
  const [r1, r2] = await Promise.all([onOne.register('tv1'), onOther.register('tv1')]);
  assert.equal(r1.status, 200);
  assert.equal(r2.status, 200);
  await until(() => deliveredBodies(onOne, onOther).length >= bodies.length, 10_000, 'the kept messages').catch((err: unknown) => {
    throw new Error(`${(err as Error).message}: ${deliveredBodies(onOne, onOther).join(',')}`);
  });
  await new Promise((r) => setTimeout(r, 1500)); // a second delivery would come meanwhile
  assert.deepEqual(deliveredBodies(onOne, onOther), bodies, 'each message once, whichever node delivered it');
}

const backends = sharedDatabases();

for (const backend of backends) describe(`cluster: two nodes on ${backend.name}`, function () {
  this.timeout(30_000);
  let db: SharedDatabase;
  let a: Node;
  let b: Node;
  const clients: RawClient[] = [];
  const open = async (t: 'udp' | 'tcp', port: number) => {
    const c = await RawClient.open(t, port);
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    db = await backend.open();
    a = await startNode('node-a', db.url);
    b = await startNode('node-b', db.url); // B reads A's heartbeat row at its start
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    await b?.server.close();
    await a?.server.close();
    await db.drop();
  });

  it('`tvphone nodes --json` lists both nodes alive, with their SIP addresses and the bindings each holds', async () => {
    const tv = await open('tcp', a.tcp);
    assert.equal((await tv.register('tv1')).status, 200);
    const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'nodes', '--db', db.url, '--json'], { timeout: 20_000 });
    const nodes = JSON.parse(stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(nodes.map((n) => [n.node, n.sipUri, n.state, n.bindings, n.connections]), [
      ['node-a', `sip:127.0.0.1:${a.tcp};transport=tcp`, 'alive', 1, 1],
      ['node-b', `sip:127.0.0.1:${b.tcp};transport=tcp`, 'alive', 0, 0],
    ]);
  });

  it('/metrics of each node carries its node label', async () => {
    for (const [n, id] of [[a, 'node-a'], [b, 'node-b']] as const) {
      const { host, port } = n.server.admin!.address;
      const text = await (await fetch(`http://${host}:${port}/metrics`)).text();
      assert.match(text, new RegExp(`^tvphone_transport_received_total\\{node="${id}"\\} \\d+$`, 'm'));
    }
  });

  it('a MESSAGE taken on node B reaches the TV connected over TCP to node A', async () => {
    const tv = await open('tcp', a.tcp);
    assert.equal((await tv.register('tv1')).status, 200);
    const caller = await open('udp', b.udp);
    const { callId } = caller.request({
      method: 'MESSAGE', uri: 'sip:tv1@127.0.0.1', from: '<sip:alice@127.0.0.1>', to: '<sip:tv1@127.0.0.1>', body: 'through A', contentType: 'text/plain',
    });
    const got = await tv.nextRequest('MESSAGE');
    assert.equal(Buffer.from(got.body).toString('utf8'), 'through A');
    assert.equal(got.header('route'), undefined, 'the flow token goes no further than node A');
    assert.equal((await caller.final(callId, 'MESSAGE')).status, 200, 'the TV\'s 200 comes back through both nodes');
  });

  it('a MESSAGE and a call taken on node B reach a TV behind a NAT registered over UDP on node A, sent from A (the only address its NAT lets in)', async () => {
    const tv = await open('udp', a.udp);
    tv.natOpenTo = a.udp;
    // a private Contact other than the source: the registrar takes it for a NAT (registrar/lookup.ts reachedOverFlow)
    const contact = '<sip:tv1@10.20.30.40:5060>';
    const { callId: regId } = tv.request({
      method: 'REGISTER', uri: 'sip:127.0.0.1', from: '<sip:tv1@127.0.0.1>', to: '<sip:tv1@127.0.0.1>', headers: [['Contact', contact], ['Expires', '3600']],
    });
    assert.equal((await tv.final(regId, 'REGISTER')).status, 200);
    const caller = await open('udp', b.udp);
    const { callId } = caller.request({
      method: 'MESSAGE', uri: 'sip:tv1@127.0.0.1', from: '<sip:alice@127.0.0.1>', to: '<sip:tv1@127.0.0.1>', body: 'through A over UDP', contentType: 'text/plain',
    });
    const got = await tv.nextRequest('MESSAGE');
    assert.equal(Buffer.from(got.body).toString('utf8'), 'through A over UDP');
    assert.equal(got.uri, 'sip:tv1@10.20.30.40:5060', 'to the Contact, over the NAT\'s address');
    assert.equal((await caller.final(callId, 'MESSAGE')).status, 200);
    const invite = await callThrough(caller, tv, 'tv1');
    assert.ok(invite.headerValues('record-route')[0].includes(`:${a.udp};`), 'A record-routes on its UDP side');
    assert.equal(tv.droppedByNat, 0, 'nothing was sent to the TV from node B');
  });

  it('an INVITE on node B rings the TV on node A; the ACK and the BYE follow the route set through both', async () => {
    const tv = await open('tcp', a.tcp);
    assert.equal((await tv.register('tv1')).status, 200);
    const caller = await open('udp', b.udp);
    const invite = await callThrough(caller, tv, 'tv1');
    // both nodes record-route (A holds the TV's connection); B twice, as it goes from UDP to TCP (RFC 5658)
    const rr = invite.headerValues('record-route');
    assert.ok(rr[0].includes(`:${a.tcp};`), `A's Record-Route first: ${rr.join(' | ')}`);
    assert.ok(rr.slice(1).some((r) => r.includes(`:${b.tcp};`)) && rr.slice(1).some((r) => r.includes(`:${b.udp};`)), `then B's, UDP and TCP: ${rr.join(' | ')}`);
  });

  it('presence across nodes: a watcher connected over TCP to node B hears of the TV registering on node A', async () => {
    const watcher = await open('tcp', b.tcp);
    const { callId } = watcher.request({
      method: 'SUBSCRIBE', uri: 'sip:tv1@127.0.0.1', from: '<sip:alice@127.0.0.1>', to: '<sip:tv1@127.0.0.1>',
      headers: [['Contact', watcher.contact], ['Event', 'presence'], ['Accept', 'application/pidf+xml'], ['Expires', '600']],
    });
    assert.equal((await watcher.final(callId, 'SUBSCRIBE')).status, 200);
    const first = await watcher.nextRequest('NOTIFY');
    assert.match(Buffer.from(first.body).toString('utf8'), /<basic>closed<\/basic>/);
    const tv = await open('tcp', a.tcp);
    assert.equal((await tv.register('tv1')).status, 200);
    const next = await watcher.nextRequest('NOTIFY');
    assert.equal(next.callId, callId, 'in the subscription\'s dialog');
    assert.match(Buffer.from(next.body).toString('utf8'), /<basic>open<\/basic>/, 'node A notified, through node B');
  });

  it('two REGISTERs of one user at once on both nodes deliver each kept message once', async () => {
    await registerAtOnceKeepsOnce(open, b, a, b);
  });

  it('a connection closing on node B leaves the TV on node A registered, though both are connection 1 of their node', async () => {
    const tv = await open('tcp', a.tcp);
    assert.equal((await tv.register('tv1')).status, 200);
    const other = await open('tcp', b.tcp);
    assert.equal((await other.register('tv2')).status, 200);
    const [onA] = await a.server.store.getBindings('tv1', Date.now());
    const [onB] = await b.server.store.getBindings('tv2', Date.now());
    assert.equal(onA.flow.connectionId, onB.flow.connectionId, 'the same number on each node');
    await other.close();
    await until(async () => (await b.server.store.getBindings('tv2', Date.now())).length === 0, 5000, 'tv2\'s binding goes with its connection');
    assert.equal((await a.server.store.getBindings('tv1', Date.now())).length, 1, 'tv1 on node A stays registered');
  });

  it('a forged flow token is no way in: the request is routed as any other (no relay)', async () => {
    const tv = await open('tcp', a.tcp);
    assert.equal((await tv.register('tv1')).status, 200);
    const intruder = await open('udp', a.udp);
    const forged = `<sip:127.0.0.1:${a.tcp};transport=tcp;lr;tvf=${Buffer.from('tcp 127.0.0.1 1 1').toString('base64url')}.AAAAAAAAAAAAAAAAAAAAAA>`;
    const { callId } = intruder.request({
      method: 'MESSAGE', uri: tv.contact.slice(1, -1), from: '<sip:mallory@127.0.0.1>', to: '<sip:tv1@127.0.0.1>', body: 'x', contentType: 'text/plain',
      headers: [['Route', forged]],
    });
    assert.equal((await intruder.final(callId, 'MESSAGE')).status, 403);
    assert.equal(tv.received.filter((m) => m.isRequest() && m.method === 'MESSAGE').length, 0);
  });
});

// Three nodes on PostgreSQL (issue 18): each pair of nodes in both roles, and a MESSAGE crossing three nodes.
const postgres = backends.find((b) => b.name === 'PostgreSQL');

describe('cluster: three nodes on PostgreSQL', function () {
  this.timeout(30_000);
  let db: SharedDatabase;
  let nodes: Node[] = [];
  const clients: RawClient[] = [];
  const open = async (t: 'udp' | 'tcp', port: number) => {
    const c = await RawClient.open(t, port);
    clients.push(c);
    return c;
  };

  before(function () {
    if (postgres === undefined) this.skip(); // needs TVPHONE_TEST_PG_URL (README, Tests)
  });
  beforeEach(async () => {
    db = await postgres!.open();
    for (const id of ['node-a', 'node-b', 'node-c']) nodes.push(await startNode(id, db.url)); // each reads the earlier ones' heartbeats
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    for (const n of nodes.reverse()) await n.server.close();
    nodes = [];
    await db?.drop();
  });

  it('a TV registers on each node, and `tvphone nodes` counts one binding a node', async () => {
    for (const [i, n] of nodes.entries()) assert.equal((await (await open('tcp', n.tcp)).register(`tv${i}`)).status, 200);
    const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'nodes', '--db', db.url, '--json'], { timeout: 20_000 });
    const listed = JSON.parse(stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(listed.map((n) => [n.node, n.state, n.bindings, n.connections]), [
      ['node-a', 'alive', 1, 1], ['node-b', 'alive', 1, 1], ['node-c', 'alive', 1, 1],
    ]);
  });

  for (const [from, to] of [[0, 1], [1, 2], [2, 0]] as const) {
    const name = (i: number) => 'ABC'[i];
    it(`a call from a phone on node ${name(from)} rings the TV connected over TCP to node ${name(to)}; ACK and BYE follow`, async () => {
      const tv = await open('tcp', nodes[to].tcp);
      assert.equal((await tv.register('tv1')).status, 200);
      const caller = await open('udp', nodes[from].udp);
      const invite = await callThrough(caller, tv, 'tv1');
      const rr = invite.headerValues('record-route');
      assert.ok(rr[0].includes(`:${nodes[to].tcp};`), `the callee's node record-routes first: ${rr.join(' | ')}`);
      assert.ok(rr.slice(1).some((r) => r.includes(`:${nodes[from].udp};`)), `then the caller's node: ${rr.join(' | ')}`);
      const third = nodes[3 - from - to];
      assert.ok(!rr.some((r) => r.includes(`:${third.tcp};`) || r.includes(`:${third.udp};`)), 'the third node is not on the path');
    });
  }

  it('a MESSAGE from a TV on node A, taken by node B, reaches the TV on node C; the reply goes from C through A', async () => {
    const [a, b, c] = nodes;
    const sender = await open('tcp', a.tcp);
    assert.equal((await sender.register('tv-a')).status, 200);
    const callee = await open('tcp', c.tcp);
    assert.equal((await callee.register('tv-c')).status, 200);
    const entry = await open('udp', b.udp); // the sender's request enters node B (another server of its list)
    const sent = message(entry, 'tv-a', 'tv-c', 'from A by B to C');
    const got = await callee.nextRequest('MESSAGE');
    assert.equal(Buffer.from(got.body).toString('utf8'), 'from A by B to C');
    assert.equal(await sent, 200, 'the TV\'s 200 back through C and B');
    // the reply, over the callee's own connection to node C, to the sender's connection on node A
    assert.equal(await message(callee, 'tv-c', 'tv-a', 'back'), 200);
    assert.equal(Buffer.from((await sender.nextRequest('MESSAGE')).body).toString('utf8'), 'back');
  });

  it('presence: a watcher connected to node C hears of the TV registering on node A', async () => {
    const [a, , c] = nodes;
    const watcher = await open('tcp', c.tcp);
    const { callId } = watcher.request({
      method: 'SUBSCRIBE', uri: 'sip:tv1@127.0.0.1', from: '<sip:alice@127.0.0.1>', to: '<sip:tv1@127.0.0.1>',
      headers: [['Contact', watcher.contact], ['Event', 'presence'], ['Accept', 'application/pidf+xml'], ['Expires', '600']],
    });
    assert.equal((await watcher.final(callId, 'SUBSCRIBE')).status, 200);
    assert.match(Buffer.from((await watcher.nextRequest('NOTIFY')).body).toString('utf8'), /<basic>closed<\/basic>/);
    assert.equal((await (await open('tcp', a.tcp)).register('tv1')).status, 200);
    const next = await watcher.nextRequest('NOTIFY');
    assert.equal(next.callId, callId, 'in the subscription\'s dialog');
    assert.match(Buffer.from(next.body).toString('utf8'), /<basic>open<\/basic>/, 'node A notified, through node C');
  });

  it('messages kept through node C, then two REGISTERs of the user at once on nodes A and B: each delivered once', async () => {
    await registerAtOnceKeepsOnce(open, nodes[2], nodes[0], nodes[1]);
  });
});
