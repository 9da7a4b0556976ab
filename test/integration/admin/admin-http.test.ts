import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// The operator HTTP endpoint over real sockets: a server started with admin.listen on 127.0.0.1:0 serves
// Prometheus text on /metrics read from the layers' counters, presence JSON from the store, /health, and
// answers 404 for other paths and 405 (with Allow) for other methods. Without admin.listen nothing listens.
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { RawClient } from '../../helpers/raw-client.ts';
import type { SipResponse } from '../../../src/sip/message.ts';

interface Reply { status: number; headers: Headers; text: string }

describe('admin HTTP endpoint (/metrics, /presence, /health)', function () {
  this.timeout(20_000);
  let ts: TestServer | null = null;
  const clients: RawClient[] = [];

  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    await ts?.close();
    ts = null;
  });

  async function start(): Promise<TestServer> {
    ts = await startTestServer({ auth: 'none', profile: { admin: { listen: '127.0.0.1:0' } } });
    return ts;
  }

  async function get(path: string, method = 'GET'): Promise<Reply> {
    const a = ts!.server.admin!.address;
    const res = await fetch(`http://${a.host}:${a.port}${path}`, { method, headers: { connection: 'close' } });
    return { status: res.status, headers: res.headers, text: await res.text() };
  }

  async function register(user: string, transport: 'udp' | 'tcp' = 'udp'): Promise<SipResponse> {
    const c = await RawClient.open(transport, transport === 'udp' ? ts!.udp.port : ts!.tcp.port);
    clients.push(c);
    const { callId } = c.request({
      method: 'REGISTER', uri: 'sip:127.0.0.1', from: `<sip:${user}@127.0.0.1>`, to: `<sip:${user}@127.0.0.1>`,
      headers: [['Contact', c.contact], ['Expires', '600']],
    });
    return c.final(callId);
  }

  /** the value of one sample line `name{labels} value` of the Prometheus text */
  function sample(text: string, series: string): number {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    assert.ok(line, `no sample ${series} in /metrics`);
    return Number(line.slice(series.length + 1));
  }

  it('does not listen unless the profile sets admin.listen', async () => {
    ts = await startTestServer({ auth: 'none' });
    assert.equal(ts.server.admin, null);
  });

  it('binds port 0 and exposes the bound address', async () => {
    await start();
    const a = ts!.server.admin!.address;
    assert.equal(a.host, '127.0.0.1');
    assert.ok(a.port > 0);
  });

  it('serves the layers\' counters in Prometheus text format after a REGISTER', async () => {
    await start();
    assert.equal((await register('1001', 'tcp')).status, 200);
    const r = await get('/metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.match(r.text, /# TYPE tvphone_transport_received_total counter/);
    assert.ok(sample(r.text, 'tvphone_transport_received_total') >= 1);
    assert.ok(sample(r.text, 'tvphone_transport_sent_total') >= 1);
    assert.equal(sample(r.text, 'tvphone_transport_parse_errors_total'), 0);
    assert.equal(sample(r.text, 'tvphone_transport_connections_opened_total'), 1);
    assert.equal(sample(r.text, 'tvphone_transport_open_connections'), 1);
    assert.ok(sample(r.text, 'tvphone_transactions_created_total{type="server"}') >= 1);
    assert.ok(sample(r.text, 'tvphone_transactions_live{type="client"}') >= 0);
    assert.equal(sample(r.text, 'tvphone_proxy_relayed_total'), 0);
    assert.equal(sample(r.text, 'tvphone_proxy_active_relays'), 0);
    assert.equal(sample(r.text, 'tvphone_proxy_tracked_dialogs'), 0);
    assert.equal(sample(r.text, 'tvphone_silo_running_dumps'), 0);
    assert.equal(sample(r.text, 'tvphone_store_up'), 1);
    assert.match(r.text, /^process_cpu_user_seconds_total /m);
    assert.match(r.text, /^nodejs_heap_size_used_bytes /m);
  });

  it('reads the counters at scrape time: a second REGISTER raises received_total', async () => {
    await start();
    await register('1001');
    const before = sample((await get('/metrics')).text, 'tvphone_transport_received_total');
    await register('1002');
    const after = sample((await get('/metrics')).text, 'tvphone_transport_received_total');
    assert.ok(after > before, `${after} > ${before}`);
  });

  it('keeps each server\'s metrics in its own registry', async () => {
    await start();
    const other = await startTestServer({ auth: 'none', profile: { admin: { listen: '127.0.0.1:0' } } });
    try {
      await register('1001');
      const a = other.server.admin!.address;
      const text = await (await fetch(`http://${a.host}:${a.port}/metrics`, { headers: { connection: 'close' } })).text();
      assert.equal(sample(text, 'tvphone_transport_received_total'), 0);
      assert.ok(sample((await get('/metrics')).text, 'tvphone_transport_received_total') >= 1);
    } finally {
      await other.close();
    }
  });

  it('shows a registered user online on /presence/USER and in /presence, like `tvphone presence --json`', async () => {
    await start();
    assert.equal((await register('1001')).status, 200);
    const one = await get('/presence/1001');
    assert.equal(one.status, 200);
    assert.match(one.headers.get('content-type') ?? '', /^application\/json/);
    const p = JSON.parse(one.text) as { user: string; state: string; ip: string; since: string };
    assert.equal(p.user, '1001');
    assert.equal(p.state, 'online');
    assert.equal(p.ip, '127.0.0.1');
    assert.ok(!Number.isNaN(Date.parse(p.since)));
    const all = JSON.parse((await get('/presence')).text) as Array<{ user: string; state: string }>;
    assert.deepEqual(all.map((x) => [x.user, x.state]), [['1001', 'online']]);
  });

  it('answers 404 for an unknown user, offline for a provisioned user who never registered', async () => {
    await start();
    assert.equal((await get('/presence/9999')).status, 404);
    await ts!.addUser('2002', 'secret');
    const r = await get('/presence/2002');
    assert.equal(r.status, 200);
    const p = JSON.parse(r.text) as { user: string; state: string; ip: string | null };
    assert.deepEqual([p.user, p.state, p.ip], ['2002', 'offline', null]);
  });

  it('answers /health 200 {"status":"ok"} while the store answers', async () => {
    await start();
    const r = await get('/health');
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.text), { status: 'ok' });
  });

  it('answers /health 503 once the store is closed', async () => {
    await start();
    await ts!.server.store.close();
    const r = await get('/health');
    assert.equal(r.status, 503);
    assert.deepEqual(JSON.parse(r.text), { status: 'store down' });
  });

  it('answers 404 for an unknown path, 405 with Allow for POST, and HEAD without a body', async () => {
    await start();
    assert.equal((await get('/nope')).status, 404);
    assert.equal((await get('/metrics/extra')).status, 404);
    const post = await get('/metrics', 'POST');
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    const head = await get('/health', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
  });

  it('refuses to start when the admin address is taken, closing what it opened', async () => {
    await start();
    const taken = ts!.server.admin!.address;
    await assert.rejects(
      startTestServer({ auth: 'none', profile: { admin: { listen: `127.0.0.1:${taken.port}` } } }),
      (err: Error & { code?: string }) => err.code === 'ERR_LISTEN' && /cannot listen for admin HTTP on 127\.0\.0\.1:\d+/.test(err.message),
    );
  });

  it('stops listening on close()', async () => {
    await start();
    const a = ts!.server.admin!.address;
    await ts!.close();
    ts = null;
    await assert.rejects(fetch(`http://${a.host}:${a.port}/health`));
  });

  it('with admin.tokenFile, answers 401 without the bearer token (and to a wrong one) and serves with it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tvphone-admin-'));
    try {
      const tokenFile = join(dir, 'token');
      writeFileSync(tokenFile, 'correct-horse-battery-staple\n');
      ts = await startTestServer({ auth: 'none', profile: { admin: { listen: '127.0.0.1:0', tokenFile } } });
      const a = ts.server.admin!.address;
      const ask = (authorization?: string) => fetch(`http://${a.host}:${a.port}/health`, { headers: { connection: 'close', ...(authorization ? { authorization } : {}) } });
      const none = await ask();
      assert.equal(none.status, 401);
      assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
      assert.equal((await ask('Bearer wrong-token-of-some-length')).status, 401);
      assert.equal((await ask('Bearer correct-horse-battery-staple')).status, 200);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
