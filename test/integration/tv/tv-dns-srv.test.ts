// The TV agent finds its servers through DNS (issue 18, RFC 3263 §4.2): given the service's domain, it asks the SRV
// records of its transport, registers on the target of the lowest priority, and when that node goes away registers
// on the next. The DNS is a tiny one of the test's (test/helpers/fake-dns.ts) that node:dns's Resolver is pointed at;
// the nodes are two in-process servers of the domain tv.test on 127.0.0.1.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TvAgent } from '../../../src/terminal/tv-agent.ts';
import { FakeDns } from '../../helpers/fake-dns.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { waitFor } from '../../helpers/tv-events.ts';

describe('TV agent: servers located through DNS SRV (RFC 3263 §4.2) and failover between them', function () {
  this.timeout(30_000);
  let dns: FakeDns;
  let nodes: TestServer[] = [];
  let agent: TvAgent | undefined;
  let dir: string;

  beforeEach(async () => {
    dns = await FakeDns.start();
    dir = mkdtempSync(join(tmpdir(), 'tvphone-dns-srv-'));
  });

  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    for (const n of nodes.splice(0)) await n.close();
    await dns.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function node(): Promise<TestServer> {
    const n = await startTestServer({ auth: 'digest', profile: { domains: ['tv.test'] } });
    await n.addUser('1001', 'pw1');
    nodes.push(n);
    return n;
  }

  function tv(server: string, transport: 'tcp' | 'udp' = 'tcp'): TvAgent {
    agent = new TvAgent({
      user: '1001', password: 'pw1', server, transport, dnsServers: [dns.server], localIp: '127.0.0.1', downloadDir: dir,
      retryMinMs: 200, timerValues: { t1: 100, t2: 400, t4: 500 },
    });
    return agent;
  }

  it('registers on the SRV target of priority 10, and on the one of priority 20 once the first node is closed', async () => {
    const [first, second] = [await node(), await node()];
    dns.zone.set('_sip._tcp.tv.test', { SRV: [
      { priority: 20, weight: 0, port: second.tcp.port, target: 'node-b.tv.test' },
      { priority: 10, weight: 0, port: first.tcp.port, target: 'node-a.tv.test' },
    ] });
    dns.zone.set('node-a.tv.test', { A: ['127.0.0.1'] });
    dns.zone.set('node-b.tv.test', { A: ['127.0.0.1'] });
    const a = tv('sip:tv.test');
    const registered = waitFor(a, 'registered');
    await a.start();
    assert.equal(a.aor, 'sip:1001@tv.test', 'the domain is the AoR\'s, whichever node serves it');
    assert.ok(a.isRegistered);
    assert.ok(dns.questions.includes('SRV _sip._tcp.tv.test'), dns.questions.join(', '));
    assert.equal((await registered).transport, 'tcp');
    assert.equal(await bindingsOf(first), 1, 'bound on the first node');

    const moved = waitFor(a, 'server-changed', () => true, 15_000);
    const again = waitFor(a, 'registered', () => true, 15_000);
    await first.close();
    nodes = nodes.filter((n) => n !== first);
    assert.deepEqual(await moved, { transport: 'tcp', address: '127.0.0.1', port: second.tcp.port });
    await again;
    assert.ok(a.isRegistered);
    assert.equal(await bindingsOf(second), 1, 'bound on the second node');
  });

  it('asks _sip._udp for UDP, and goes to the name\'s own A record and port when given a port (no SRV)', async () => {
    const n = await node();
    dns.zone.set('_sip._udp.tv.test', { SRV: [{ priority: 10, weight: 0, port: n.udp.port, target: 'node-a.tv.test' }] });
    dns.zone.set('node-a.tv.test', { A: ['127.0.0.1'] });
    const u = tv('sip:tv.test', 'udp');
    await u.start();
    assert.ok(u.isRegistered);
    assert.ok(dns.questions.includes('SRV _sip._udp.tv.test'), dns.questions.join(', '));
    await u.stop();

    dns.questions.length = 0;
    dns.zone.set('tv.test', { A: ['127.0.0.1'] });
    const t = tv(`sip:tv.test:${n.tcp.port}`);
    await t.start();
    assert.ok(t.isRegistered);
    assert.ok(!dns.questions.some((q) => q.startsWith('SRV')), `no SRV with an explicit port: ${dns.questions.join(', ')}`);
    assert.ok(dns.questions.includes('A tv.test'));
  });

  it('refuses to start when the domain has no server and no --local-ip says where we are', async () => {
    const x = new TvAgent({ user: '1001', password: 'pw1', server: 'sip:nowhere.test', dnsServers: [dns.server], downloadDir: dir });
    agent = x;
    await assert.rejects(x.start(), (err: Error & { code?: string }) => err.code === 'ERR_BAD_SERVER' && /no server found in DNS/.test(err.message));
  });
});

/** the bindings the node's store holds for 1001 */
async function bindingsOf(n: TestServer): Promise<number> {
  return (await n.server.registrar.bindings('1001')).length;
}
