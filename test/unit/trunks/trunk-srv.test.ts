// A carrier named by a domain without a port is located through its SRV records (RFC 3263 §4.2), as the TV agent's
// server is (transaction/locate-server.ts); with a port, or with a test's `resolve`, only its address is looked up.
import assert from 'node:assert/strict';
import { FakeClock } from '../../../src/clock.ts';
import { validateProfile, type TrunkConfig } from '../../../src/config/profile.ts';
import { silentLogger } from '../../../src/log/logger.ts';
import { createResponse } from '../../../src/sip/response.ts';
import { ServerLocator, type DnsLookups } from '../../../src/transaction/locate-server.ts';
import type { Target } from '../../../src/transport/transport.ts';
import { Trunks } from '../../../src/trunks/trunks.ts';

function trunk(t: Record<string, unknown>): TrunkConfig {
  return validateProfile({
    listeners: [{ transport: 'udp' }, { transport: 'tcp' }],
    trunks: [{ name: 'carrier', host: 'carrier.test', username: 'acct', password: 'pw', register: true, ...t }],
  }, 'p.json').trunks[0];
}

/** _sip._udp.carrier.test → edge.carrier.test:5090 (192.0.2.50); carrier.test itself is 192.0.2.10 */
function dns(asked: string[]): DnsLookups {
  const nodata = () => Object.assign(new Error('ENODATA'), { code: 'ENODATA' });
  const a: Record<string, string> = { 'carrier.test': '192.0.2.10', 'edge.carrier.test': '192.0.2.50' };
  return {
    resolveSrv: async (name) => {
      asked.push(`SRV ${name}`);
      if (name !== '_sip._udp.carrier.test') throw nodata();
      return [{ name: 'edge.carrier.test', port: 5090, priority: 10, weight: 0 }];
    },
    resolve4: async (name) => {
      asked.push(`A ${name}`);
      if (a[name] === undefined) throw nodata();
      return [{ address: a[name], ttl: 60 }];
    },
    resolve6: async () => {
      throw nodata();
    },
  };
}

async function firstTarget(cfg: TrunkConfig, o: { asked: string[]; resolve?: (host: string) => Promise<string | null> }): Promise<{ target: Target; trunks: Trunks }> {
  const clock = new FakeClock(1_000_000);
  const targets: Target[] = [];
  const trunks = new Trunks({
    trunks: [cfg], clock, log: silentLogger(), locator: new ServerLocator({ dns: dns(o.asked) }), resolve: o.resolve,
    sentBy: (t) => ({ transport: t.transport, host: '127.0.0.1', port: 5060 }),
    send: async (req, target) => {
      targets.push(target);
      return createResponse(req, 403, 'Forbidden', 'reg');
    },
  });
  trunks.start();
  await clock.tick(0);
  assert.ok(targets.length > 0, 'a REGISTER was sent');
  return { target: targets[0], trunks };
}

describe('trunks: a carrier located through DNS (RFC 3263 §4.2)', () => {
  it('the profile marks a carrier named without a port for SRV, not one with a port or an address', () => {
    assert.equal(trunk({}).srv, true);
    assert.equal(trunk({ port: 5060 }).srv, undefined);
    assert.equal(trunk({ host: '192.0.2.10' }).srv, undefined);
    assert.equal(trunk({ outboundProxy: 'sbc.carrier.test' }).srv, true, 'the outbound proxy is the next hop');
    assert.equal(trunk({ outboundProxy: 'sbc.carrier.test:5062' }).srv, undefined);
  });

  it('no port: REGISTER goes to the SRV target\'s address and port, and requests from there are the carrier\'s', async () => {
    const asked: string[] = [];
    const { target, trunks } = await firstTarget(trunk({}), { asked });
    assert.deepEqual(target, { transport: 'udp', address: '192.0.2.50', port: 5090 });
    assert.ok(asked.includes('SRV _sip._udp.carrier.test'));
    assert.equal(trunks.carrierOf('192.0.2.50', 5090)?.trunk.name, 'carrier');
    assert.equal(trunks.carrierOf('192.0.2.50', 5060), null, 'another port of that host is not the carrier');
    await trunks.close(0);
  });

  it('a port given: the name\'s own address on that port, no SRV question', async () => {
    const asked: string[] = [];
    const { target, trunks } = await firstTarget(trunk({ port: 5070 }), { asked });
    assert.deepEqual(target, { transport: 'udp', address: '192.0.2.10', port: 5070 });
    assert.ok(!asked.some((q) => q.startsWith('SRV')), asked.join(', '));
    await trunks.close(0);
  });

  it('a test\'s resolve replaces the lookups (no SRV), as before', async () => {
    const asked: string[] = [];
    const { target, trunks } = await firstTarget(trunk({}), { asked, resolve: async () => '127.0.0.9' });
    assert.deepEqual(target, { transport: 'udp', address: '127.0.0.9', port: 5060 });
    assert.deepEqual(asked, []);
    await trunks.close(0);
  });
});
