import assert from 'node:assert/strict';
import type { UserAgentCore } from '../../../src/dialog/user-agent-core.ts';
import type { SipRequest } from '../../../src/sip/message.ts';
import { createResponse } from '../../../src/sip/response.ts';
import type { AgentContext } from '../../../src/terminal/agent/context.ts';
import { Registerer } from '../../../src/terminal/agent/registerer.ts';
import { Servers } from '../../../src/terminal/agent/servers.ts';
import type { TvAgentEvents } from '../../../src/terminal/events.ts';
import { ServerLocator, type DnsLookups, type SrvRecord } from '../../../src/transaction/locate-server.ts';
import { FakeClock } from '../../helpers/fake-message-store.ts';

describe('terminal/agent/registerer (RFC 3261 §10.2)', () => {
  function setup(answer: (req: SipRequest, to: string) => number, via?: { received: string; rport: number }, transport: 'tcp' | 'udp' = 'tcp', ports: number[] = [5060],
    clock = new FakeClock(), servers = new Servers(ports.map((port) => ({ transport: 'tcp' as const, address: '127.0.0.1', port })))) {
    const sent: SipRequest[] = [];
    const events: string[] = [];
    const core = {
      request: async (req: SipRequest) => {
        sent.push(req);
        const res = createResponse(req, answer(req, `${servers.target.address}:${servers.target.port}`), undefined, 'srv');
        if (res.status === 200) res.addHeader('Expires', '100');
        // the registrar stamps the source it saw (RFC 3581 §4)
        if (via !== undefined) res.setHeader('Via', `${req.header('via') ?? 'SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bKx;rport'};received=${via.received};rport=${via.rport}`.replace(/;rport;/, ';'));
        return res;
      },
    } as unknown as UserAgentCore;
    let r!: Registerer;
    const ctx: AgentContext = {
      options: { user: '1001', password: 'pw', server: 'sip:127.0.0.1', transport, localIp: '127.0.0.1', downloadDir: '.', contacts: [],
        autoAnswer: false, toneHz: 440, expires: 300, presenceExpires: 600, keepAliveMs: 0, retryMinMs: 1_000, retryMaxMs: 4_000, rtcpIntervalMs: 5_000,
        ringTimeoutMs: 60_000, mediaTimeoutMs: 30_000, sessionExpires: 1800, minSe: 90, fallbackServers: [] },
      domain: '127.0.0.1', aor: 'sip:1001@127.0.0.1', clock, core, stopped: false,
      // as the facade builds it: the public address once the registerer found one
      get contact() {
        const p = r?.publicAddress;
        return `sip:1001@${p?.host ?? '10.0.0.5'}:${p?.port ?? 5070};transport=${transport}`;
      },
      emit: <K extends keyof TvAgentEvents>(event: K, ..._args: TvAgentEvents[K]) => void events.push(event),
      error: () => {},
    };
    let firsts = 0;
    let lost = 0;
    r = new Registerer(ctx, servers, { registered: () => firsts++, flowLost: () => lost++ });
    return { clock, sent, events, r, firsts: () => firsts, lost: () => lost, servers };
  }

  it('refreshes on the clock at 80 % of the granted expiry, same Call-ID, CSeq + 1 (§10.2.4)', async () => {
    const { clock, sent, r, firsts } = setup(() => 200);
    assert.equal(await r.register(), true);
    assert.equal(clock.nextDelay(), 80_000);
    await clock.tick(80_000);
    assert.equal(sent.length, 2);
    assert.equal(sent[1].callId, sent[0].callId);
    assert.deepEqual(sent.map((s) => s.header('cseq')), ['1 REGISTER', '2 REGISTER']);
    assert.equal(firsts(), 1, 'the registered hook runs only on the first 200');
    r.stop();
    assert.equal(clock.pending, 0);
  });

  it('retries a failed REGISTER with doubling back-off up to retryMaxMs', async () => {
    const { clock, events, r } = setup(() => 503);
    await r.register();
    const waits = [clock.nextDelay()];
    for (let i = 0; i < 3; i++) {
      await clock.tick(clock.nextDelay()!);
      waits.push(clock.nextDelay());
    }
    assert.deepEqual(waits, [1_000, 2_000, 4_000, 4_000]);
    assert.ok(events.every((e) => e === 'registration-failed'));
    r.stop();
  });

  it('behind a NAT registers once more with the received/rport address of the 200 (RFC 3581 §4), dropping the private binding', async () => {
    const { sent, events, r, clock } = setup(() => 200, { received: '198.51.100.7', rport: 40000 }, 'udp');
    assert.equal(await r.register(), true);
    assert.equal(sent.length, 2, 'one REGISTER more, no loop');
    assert.deepEqual(sent[0].fields('contact').map((f) => f.value), ['<sip:1001@10.0.0.5:5070;transport=udp>']);
    assert.deepEqual(sent[1].fields('contact').map((f) => f.value), ['<sip:1001@198.51.100.7:40000;transport=udp>', '<sip:1001@10.0.0.5:5070;transport=udp>;expires=0']);
    assert.deepEqual(r.publicAddress, { host: '198.51.100.7', port: 40000 });
    assert.deepEqual(events, ['public-address', 'registered']);
    // the refresh keeps the public Contact and does not follow again
    await clock.tick(80_000);
    assert.equal(sent.length, 3);
    assert.deepEqual(sent[2].fields('contact').map((f) => f.value), ['<sip:1001@198.51.100.7:40000;transport=udp>']);
    r.stop();
  });

  it('over TCP takes the received address but keeps the listener port (the server reaches us on the flow)', async () => {
    const { sent, r } = setup(() => 200, { received: '198.51.100.7', rport: 40000 }, 'tcp');
    await r.register();
    assert.equal(sent.length, 2);
    assert.deepEqual(r.publicAddress, { host: '198.51.100.7', port: 5070 });
    r.stop();
  });

  it('does not re-register when received/rport name our own Contact', async () => {
    const { sent, r } = setup(() => 200, { received: '10.0.0.5', rport: 5070 }, 'udp');
    await r.register();
    assert.equal(sent.length, 1);
    assert.equal(r.publicAddress, null);
    r.stop();
  });

  it('fails over to the next server on no answer or 503 (RFC 3263 §4.3), once round the list, then backs off', async () => {
    const tried: string[] = [];
    const { clock, events, r, servers } = setup((_req, to) => {
      tried.push(to);
      return to.endsWith(':5062') ? 200 : 408;
    }, undefined, 'tcp', [5060, 5061, 5062]);
    await r.register();
    await clock.tick(0);
    await clock.tick(0);
    assert.deepEqual(tried, ['127.0.0.1:5060', '127.0.0.1:5061', '127.0.0.1:5062']);
    assert.equal(r.isRegistered, true);
    assert.equal(servers.target.port, 5062, 'the target every part sends to moved');
    assert.equal(events.filter((e) => e === 'server-changed').length, 2);
    r.stop();
  });

  it('with every server down goes round the list once, then waits its back-off', async () => {
    const tried: string[] = [];
    const { clock, r } = setup((_req, to) => {
      tried.push(to);
      return 503;
    }, undefined, 'tcp', [5060, 5061]);
    await r.register();
    await clock.tick(0);
    assert.deepEqual(tried, ['127.0.0.1:5060', '127.0.0.1:5061']);
    assert.equal(clock.nextDelay(), 1_000, 'then the back-off, not a busy loop');
    r.stop();
  });

  it('with every server of a domain down, looks its SRV records up again before the next round (RFC 3263 §4)', async () => {
    let srv: SrvRecord[] = [{ name: 'a.tv.example', port: 5060, priority: 10, weight: 0 }, { name: 'b.tv.example', port: 5061, priority: 20, weight: 0 }];
    let srvLookups = 0;
    const dns: DnsLookups = {
      resolveSrv: async () => (srvLookups++, srv),
      resolve4: async () => [{ address: '127.0.0.1', ttl: 3600 }],
      resolve6: async () => [],
    };
    const clock = new FakeClock();
    const servers = new Servers([{ host: 'tv.example', port: null, transport: 'tcp' }], { locator: new ServerLocator({ dns }), clock });
    await servers.refresh();
    const tried: string[] = [];
    const { r, events } = setup((_req, to) => {
      tried.push(to);
      return to.endsWith(':5062') ? 200 : 503;
    }, undefined, 'tcp', [], clock, servers);
    await r.register();
    await clock.tick(0);
    assert.deepEqual(tried, ['127.0.0.1:5060', '127.0.0.1:5061']);
    assert.equal(srvLookups, 1, 'the TTL has not passed');
    // the service moved to a third node meanwhile
    srv = [{ name: 'c.tv.example', port: 5062, priority: 10, weight: 0 }];
    await clock.tick(1_000);
    assert.equal(srvLookups, 2, 'looked up again: every server had failed');
    assert.deepEqual(tried, ['127.0.0.1:5060', '127.0.0.1:5061', '127.0.0.1:5062']);
    assert.equal(r.isRegistered, true);
    assert.equal(events.filter((e) => e === 'server-changed').length, 2);
    r.stop();
  });
});
