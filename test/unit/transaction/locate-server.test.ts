import assert from 'node:assert/strict';
import { orderSrv, ServerLocator, srvName, type DnsLookups, type SrvRecord } from '../../../src/transaction/locate-server.ts';

/** DNS answers from a table: name → SRV, A, AAAA records (TTL in s); a name with none of the type asked fails as c-ares does */
function fakeDns(table: Record<string, { srv?: SrvRecord[]; a?: string[]; aaaa?: string[]; ttl?: number }>, hosts?: Record<string, string[]>) {
  const asked: string[] = [];
  const nodata = (name: string) => Object.assign(new Error(`queryX ENODATA ${name}`), { code: 'ENODATA' });
  const dns: DnsLookups = {
    resolveSrv: async (name) => {
      asked.push(`SRV ${name}`);
      const r = table[name]?.srv;
      if (r === undefined) throw nodata(name);
      return r;
    },
    resolve4: async (name) => {
      asked.push(`A ${name}`);
      const e = table[name];
      if (e?.a === undefined) throw nodata(name);
      return e.a.map((address) => ({ address, ttl: e.ttl ?? 60 }));
    },
    resolve6: async (name) => {
      asked.push(`AAAA ${name}`);
      const e = table[name];
      if (e?.aaaa === undefined) throw nodata(name);
      return e.aaaa.map((address) => ({ address, ttl: e.ttl ?? 60 }));
    },
  };
  if (hosts !== undefined) dns.lookup = async (name) => hosts[name] ?? [];
  return { dns, asked };
}

/** a [0, 1) sequence the weighted choice draws from, in turn */
function draws(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length];
}

const srv = (name: string, priority: number, weight: number, port = 5060): SrvRecord => ({ name, port, priority, weight });

describe('transaction/locate-server: RFC 2782 order of SRV records', () => {
  it('puts the lowest priority first, whatever the weights', () => {
    const order = orderSrv([srv('c', 30, 100), srv('a', 10, 0), srv('b', 20, 50)], draws(0.99));
    assert.deepEqual(order.map((r) => r.name), ['a', 'b', 'c']);
  });

  it('within one priority picks by running sum of weights against a number drawn in [0, sum]', () => {
    // weights 10, 30, 60: sum 100, n = floor(r × 101); running sums 10, 40, 100
    const pick = (r: number) => orderSrv([srv('w10', 1, 10), srv('w30', 1, 30), srv('w60', 1, 60)], draws(r, 0))[0].name;
    assert.equal(pick(0), 'w10', 'n = 0: the first');
    assert.equal(pick(10 / 101), 'w10', 'n = 10: running sum 10 ≥ 10');
    assert.equal(pick(11 / 101), 'w30', 'n = 11');
    assert.equal(pick(40 / 101), 'w30', 'n = 40');
    assert.equal(pick(41 / 101), 'w60', 'n = 41');
    assert.equal(pick(0.999), 'w60', 'n = 100');
  });

  it('orders the rest again after each pick (the chosen record leaves the sum)', () => {
    // first draw n = 100 → w60; then w10, w30 (sum 40): n = floor(0.5 × 41) = 20 → w30; then w10
    const order = orderSrv([srv('w10', 1, 10), srv('w30', 1, 30), srv('w60', 1, 60)], draws(0.999, 0.5, 0));
    assert.deepEqual(order.map((r) => r.name), ['w60', 'w30', 'w10']);
  });

  it('places weight-0 records first in the sum: chosen only when the number drawn is 0', () => {
    assert.equal(orderSrv([srv('w5', 1, 5), srv('zero', 1, 0)], draws(0))[0].name, 'zero');
    assert.deepEqual(orderSrv([srv('w5', 1, 5), srv('zero', 1, 0)], draws(0.5)).map((r) => r.name), ['w5', 'zero']);
  });

  it('follows the weights over many draws, as RFC 2782 words it (n = 0 goes to the first record)', () => {
    // weights 1 and 3: n uniform in {0 … 4}; light for n ≤ 1, heavy for n ≥ 2 — heavy first 3 times in 5
    let seed = 7;
    const lcg = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let heavy = 0;
    for (let i = 0; i < 4000; i++) if (orderSrv([srv('light', 1, 1), srv('heavy', 1, 3)], lcg)[0].name === 'heavy') heavy++;
    assert.ok(heavy > 2250 && heavy < 2550, `heavy first ${heavy} of 4000 (expected about 2400)`);
  });
});

describe('transaction/locate-server: locating a server by name (RFC 3263 §4.2)', () => {
  it('names the SRV service by transport, _sips._tcp for TLS', () => {
    assert.equal(srvName('example.com', 'udp'), '_sip._udp.example.com');
    assert.equal(srvName('example.com', 'tcp'), '_sip._tcp.example.com');
    assert.equal(srvName('example.com', 'tls'), '_sips._tcp.example.com');
  });

  it('a numeric host is the target: no lookup, the default port, never looked up again', async () => {
    const { dns, asked } = fakeDns({});
    const l = new ServerLocator({ dns });
    assert.deepEqual(await l.locate({ host: '192.0.2.1', port: null, transport: 'tcp' }), { targets: [{ transport: 'tcp', address: '192.0.2.1', port: 5060 }], ttlMs: Infinity });
    assert.deepEqual((await l.locate({ host: '[2001:db8::1]', port: 5070, transport: 'udp' })).targets, [{ transport: 'udp', address: '2001:db8::1', port: 5070 }]);
    assert.deepEqual(asked, []);
  });

  it('a name with a port: its A and AAAA records on that port, no SRV', async () => {
    const { dns, asked } = fakeDns({ 'sip.example.com': { a: ['192.0.2.7'], aaaa: ['2001:db8::7'], ttl: 30 } });
    const loc = await new ServerLocator({ dns }).locate({ host: 'sip.example.com', port: 5080, transport: 'tcp' });
    assert.deepEqual(loc.targets, [{ transport: 'tcp', address: '192.0.2.7', port: 5080 }, { transport: 'tcp', address: '2001:db8::7', port: 5080 }]);
    assert.equal(loc.ttlMs, 30_000);
    assert.ok(!asked.some((q) => q.startsWith('SRV')), asked.join(', '));
  });

  it('a name without a port: the SRV records of the transport in priority order, each target its addresses and the SRV port', async () => {
    const { dns, asked } = fakeDns({
      '_sip._tcp.example.com': { srv: [srv('b.example.com', 20, 0, 5070), srv('a.example.com', 10, 0, 5062)] },
      'a.example.com': { a: ['192.0.2.1', '192.0.2.2'], ttl: 120 },
      'b.example.com': { a: ['192.0.2.3'], ttl: 40 },
    });
    const loc = await new ServerLocator({ dns }).locate({ host: 'example.com', port: null, transport: 'tcp' });
    assert.deepEqual(loc.targets, [
      { transport: 'tcp', address: '192.0.2.1', port: 5062 },
      { transport: 'tcp', address: '192.0.2.2', port: 5062 },
      { transport: 'tcp', address: '192.0.2.3', port: 5070 },
    ]);
    assert.equal(loc.ttlMs, 40_000, 'the shortest TTL of the answers');
    assert.equal(asked[0], 'SRV _sip._tcp.example.com');
  });

  it('no SRV records: the name\'s own A/AAAA records on the transport\'s default port', async () => {
    const { dns } = fakeDns({ 'example.com': { a: ['192.0.2.9'] } });
    assert.deepEqual((await new ServerLocator({ dns }).locate({ host: 'example.com', port: null, transport: 'tls' })).targets,
      [{ transport: 'tls', address: '192.0.2.9', port: 5061, serverName: 'example.com' }]);
  });

  it('TLS targets found through SRV carry the domain as serverName (RFC 5922 §4), not the SRV target', async () => {
    const { dns } = fakeDns({ '_sips._tcp.example.com': { srv: [srv('edge1.provider.net', 1, 0, 5061)] }, 'edge1.provider.net': { a: ['192.0.2.4'] } });
    assert.deepEqual((await new ServerLocator({ dns }).locate({ host: 'example.com', port: null, transport: 'tls' })).targets,
      [{ transport: 'tls', address: '192.0.2.4', port: 5061, serverName: 'example.com' }]);
  });

  it('an SRV target "." says the service is not offered: no targets, and no A fallback (RFC 2782)', async () => {
    const { dns } = fakeDns({ '_sip._udp.example.com': { srv: [srv('', 0, 0, 0)] }, 'example.com': { a: ['192.0.2.9'] } });
    assert.deepEqual((await new ServerLocator({ dns }).locate({ host: 'example.com', port: null, transport: 'udp' })).targets, []);
  });

  it('an SRV target without addresses is skipped; the others stay', async () => {
    const { dns } = fakeDns({ '_sip._tcp.example.com': { srv: [srv('gone.example.com', 1, 0), srv('b.example.com', 2, 0)] }, 'b.example.com': { a: ['192.0.2.3'] } });
    assert.deepEqual((await new ServerLocator({ dns }).locate({ host: 'example.com', port: null, transport: 'tcp' })).targets, [{ transport: 'tcp', address: '192.0.2.3', port: 5060 }]);
  });

  it('keeps an answer between 1 s and maxTtlMs (node:dns gives no TTL for SRV records)', async () => {
    const { dns } = fakeDns({ long: { a: ['192.0.2.1'], ttl: 86_400 }, zero: { a: ['192.0.2.2'], ttl: 0 } });
    const l = new ServerLocator({ dns, maxTtlMs: 60_000 });
    assert.equal((await l.locate({ host: 'long', port: 5060, transport: 'udp' })).ttlMs, 60_000);
    assert.equal((await l.locate({ host: 'zero', port: 5060, transport: 'udp' })).ttlMs, 1_000);
  });

  it('with the system resolver (getaddrinfo: the hosts file, then DNS) addresses come from it, kept maxTtlMs; no address, no target', async () => {
    const { dns } = fakeDns({ 'tv-server.lan': { a: ['192.0.2.99'] } }, { 'tv-server.lan': ['10.0.0.2'] });
    const l = new ServerLocator({ dns, maxTtlMs: 90_000 });
    assert.deepEqual(await l.locate({ host: 'tv-server.lan', port: 5060, transport: 'tcp' }), { targets: [{ transport: 'tcp', address: '10.0.0.2', port: 5060 }], ttlMs: 90_000 });
    assert.deepEqual((await l.locate({ host: 'nowhere.lan', port: null, transport: 'tcp' })).targets, []);
  });
});
