import assert from 'node:assert/strict';
import { FakeClock } from '../../../src/clock.ts';
import { Servers } from '../../../src/terminal/agent/servers.ts';
import { ServerLocator, type DnsLookups, type SrvRecord } from '../../../src/transaction/locate-server.ts';

/** a DNS whose SRV answer for _sip._tcp.tv.example the test changes; every target is its own name's A record, TTL 30 s */
function setup() {
  let srv: SrvRecord[] = [];
  const a = new Map<string, string>();
  let lookups = 0;
  const nodata = () => Object.assign(new Error('ENODATA'), { code: 'ENODATA' });
  const dns: DnsLookups = {
    resolveSrv: async (name) => {
      if (name !== '_sip._tcp.tv.example') throw nodata();
      lookups++;
      return srv;
    },
    resolve4: async (name) => {
      const address = a.get(name);
      if (address === undefined) throw nodata();
      return [{ address, ttl: 30 }];
    },
    resolve6: async () => {
      throw nodata();
    },
  };
  const clock = new FakeClock(1_000_000);
  const setSrv = (records: [string, string, number][]) => {
    srv = records.map(([name, address, priority]) => {
      a.set(name, address);
      return { name, port: 5060, priority, weight: 0 };
    });
  };
  const servers = new Servers([{ host: 'tv.example', port: null, transport: 'tcp' }], { locator: new ServerLocator({ dns }), clock });
  return { servers, clock, setSrv, lookups: () => lookups };
}

const addresses = (s: Servers) => s.list.map((t) => t.address);

describe('terminal/agent/servers: the server list of a TV agent, located through DNS (RFC 3263)', () => {
  it('a list of addresses is used as given, with no lookup, and next() goes round it', async () => {
    const s = new Servers([{ transport: 'tcp', address: '192.0.2.1', port: 5060 }, { transport: 'tcp', address: '192.0.2.2', port: 5070 }]);
    assert.equal(await s.refresh(), false);
    assert.deepEqual([s.target.address, s.next().address, s.next().address], ['192.0.2.1', '192.0.2.2', '192.0.2.1']);
  });

  it('locates a domain into its SRV targets, lowest priority first; the target is the first', async () => {
    const { servers, setSrv } = setup();
    setSrv([['b', '192.0.2.2', 20], ['a', '192.0.2.1', 10]]);
    assert.equal(await servers.refresh(), true);
    assert.deepEqual(addresses(servers), ['192.0.2.1', '192.0.2.2']);
    assert.equal(servers.target.address, '192.0.2.1');
    assert.equal(servers.next().address, '192.0.2.2', 'a failover goes to the next SRV target');
  });

  it('looks up again only once the TTL has passed, and keeps the current server when it is still listed', async () => {
    const { servers, setSrv, clock, lookups } = setup();
    setSrv([['a', '192.0.2.1', 10], ['b', '192.0.2.2', 20]]);
    await servers.refresh();
    servers.next(); // on b now
    setSrv([['c', '192.0.2.3', 5], ['a', '192.0.2.1', 10], ['b', '192.0.2.2', 20]]);
    clock.time += 29_000;
    assert.equal(await servers.refresh(), false);
    assert.equal(lookups(), 1, 'within the TTL: no lookup');
    clock.time += 1_000;
    assert.equal(await servers.refresh(), false, 'b is still listed: it stays the server');
    assert.equal(lookups(), 2);
    assert.deepEqual(addresses(servers), ['192.0.2.3', '192.0.2.1', '192.0.2.2']);
    assert.equal(servers.target.address, '192.0.2.2');
    assert.equal(servers.next().address, '192.0.2.3', 'and the failover order is the new list\'s');
  });

  it('moves to the first of the new list when the current server is no longer listed', async () => {
    const { servers, setSrv, clock } = setup();
    setSrv([['a', '192.0.2.1', 10]]);
    await servers.refresh();
    setSrv([['d', '192.0.2.4', 10], ['e', '192.0.2.5', 20]]);
    clock.time += 30_000;
    assert.equal(await servers.refresh(), true);
    assert.equal(servers.target.address, '192.0.2.4');
  });

  it('looks up again before the TTL when every server failed, and starts from the first again', async () => {
    const { servers, setSrv, lookups } = setup();
    setSrv([['a', '192.0.2.1', 10], ['b', '192.0.2.2', 20]]);
    await servers.refresh();
    servers.next();
    servers.exhausted();
    setSrv([['a', '192.0.2.1', 10], ['b', '192.0.2.2', 20], ['f', '192.0.2.6', 30]]);
    assert.equal(await servers.refresh(), true, 'from b back to the first');
    assert.equal(lookups(), 2);
    assert.deepEqual(addresses(servers), ['192.0.2.1', '192.0.2.2', '192.0.2.6']);
    assert.equal(servers.target.address, '192.0.2.1');
  });

  it('keeps the list it had when a lookup finds nothing, and tries again 5 s later', async () => {
    const { servers, setSrv, clock, lookups } = setup();
    setSrv([['a', '192.0.2.1', 10]]);
    await servers.refresh();
    setSrv([]);
    clock.time += 30_000;
    assert.equal(await servers.refresh(), false);
    assert.deepEqual(addresses(servers), ['192.0.2.1']);
    clock.time += 4_000;
    await servers.refresh();
    assert.equal(lookups(), 2);
    clock.time += 1_000;
    await servers.refresh();
    assert.equal(lookups(), 3);
  });

  it('leaves out the addresses of a name in the family our listeners are not bound in; addresses given stay', async () => {
    const clock = new FakeClock();
    const v6first = new Servers([{ transport: 'tcp', address: '2001:db8::1', port: 5060 }, { transport: 'tcp', address: '192.0.2.1', port: 5060 }, { host: 'tv.example', port: null, transport: 'tcp' }], {
      locator: new ServerLocator({ dns: {
        resolveSrv: async () => [{ name: 'n.tv.example', port: 5070, priority: 1, weight: 0 }],
        resolve4: async () => [{ address: '192.0.2.7', ttl: 1 }],
        resolve6: async () => [{ address: '2001:db8::7', ttl: 1 }],
      } }),
      clock,
    });
    await v6first.refresh();
    assert.deepEqual(addresses(v6first), ['2001:db8::1', '192.0.2.1', '192.0.2.7', '2001:db8::7']);
    v6first.next();
    v6first.next(); // on 192.0.2.7
    v6first.onlyFamily(4);
    assert.deepEqual(addresses(v6first), ['2001:db8::1', '192.0.2.1', '192.0.2.7'], 'the addresses given stay; the name\'s IPv6 one goes');
    assert.equal(v6first.target.address, '192.0.2.7', 'the current server stays');
    clock.time += 1_000;
    await v6first.refresh();
    assert.deepEqual(addresses(v6first), ['2001:db8::1', '192.0.2.1', '192.0.2.7'], 'and so after the next lookup');
    v6first.onlyFamily(6);
    assert.deepEqual(addresses(v6first), ['2001:db8::1', '192.0.2.1', '2001:db8::7']);
    assert.equal(v6first.target.address, '2001:db8::1', 'the current server went: the first of the list');
  });

  it('an empty list until the domain is found; address entries come in their place of the list', async () => {
    const { setSrv, clock } = setup();
    const locator = new ServerLocator({ dns: { resolveSrv: async () => [], resolve4: async () => [], resolve6: async () => [] } });
    const none = new Servers([{ host: 'tv.example', port: null, transport: 'tcp' }], { locator, clock });
    await none.refresh();
    assert.equal(none.count, 0);
    setSrv([]);
    const mixed = new Servers([{ transport: 'udp', address: '192.0.2.9', port: 5060 }, { host: 'tv.example', port: null, transport: 'udp' }], { locator, clock });
    assert.equal(mixed.target.address, '192.0.2.9', 'the address is usable before any lookup');
    await mixed.refresh();
    assert.deepEqual(addresses(mixed), ['192.0.2.9']);
  });
});
