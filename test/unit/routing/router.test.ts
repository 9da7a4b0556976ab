// The routing script with fake capabilities: which capability each request reaches, and the replies it gets.
import assert from 'node:assert/strict';
import { parseMessage } from '../../../src/sip/parser.ts';
import type { SipRequest, SipResponse } from '../../../src/sip/message.ts';
import { createResponse } from '../../../src/sip/response.ts';
import { SipError, StoreUnavailableError } from '../../../src/errors.ts';
import { Router, type RouterDeps } from '../../../src/routing/router.ts';
import type { ServerTransaction } from '../../../src/transaction/server-transaction.ts';
import type { LookupResult } from '../../../src/registrar/lookup.ts';
import type { ProxyTarget } from '../../../src/proxy/target-set.ts';
import { TAKEN, type RelayOptions } from '../../../src/proxy/proxy.ts';
import { Trunks } from '../../../src/trunks/trunks.ts';
import { validateProfile } from '../../../src/config/profile.ts';
import { FakeClock } from '../../../src/clock.ts';
import type { Binding } from '../../../src/store/store.ts';
import { createLogger, silentLogger } from '../../../src/log/logger.ts';
import { Guard } from '../../../src/routing/guard.ts';
import { DEFAULT_PROFILE, type SecurityConfig } from '../../../src/config/profile.ts';

const DOMAIN = 'example.com';

function request(method: string, uri: string, o: { toTag?: boolean; extra?: string[] } = {}): SipRequest {
  const lines = [
    `${method} ${uri} SIP/2.0`,
    'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-r1',
    'Max-Forwards: 70',
    `From: <sip:alice@${DOMAIN}>;tag=a1`,
    `To: <${method === 'REGISTER' ? `sip:alice@${DOMAIN}` : uri}>${o.toTag ? ';tag=b1' : ''}`,
    'Call-ID: r1@192.0.2.1',
    `CSeq: 1 ${method}`,
    'Contact: <sip:alice@192.0.2.1:5060>',
    ...(o.extra ?? []),
    'Content-Length: 0', '', '',
  ];
  return parseMessage(new TextEncoder().encode(lines.join('\r\n'))) as SipRequest;
}

const binding: Binding = {
  userId: 'bob', contact: 'sip:bob@192.0.2.9:5060', expiresAt: Date.now() + 60_000, q: null, callId: 'reg', cseq: 1, path: [],
  instance: null, regId: null, flow: { transport: 'udp', address: '192.0.2.9', port: 5060, connectionId: null }, userAgent: null, updatedAt: 1,
};

interface Fakes {
  calls: string[];
  responses: SipResponse[];
  lookup: Record<string, LookupResult>;
  saveFails: unknown;
  added: Binding | null;
  relayed: ProxyTarget[][];
  relayOptions: RelayOptions[];
  routedByUs: boolean;
}

function setup(overrides: Partial<RouterDeps> = {}, source = { address: '192.0.2.1', port: 5060 }): {
  router: Router; f: Fakes; send(req: SipRequest): Promise<SipResponse | undefined>;
} {
  const f: Fakes = { calls: [], responses: [], lookup: {}, saveFails: null, added: null, relayed: [], relayOptions: [], routedByUs: false };
  const deps: RouterDeps = {
    auth: { authenticate: async (req) => ({ userId: 'alice' }), consumeCredentials: () => {} },
    registrar: {
      save: async (req) => {
        f.calls.push('registrar.save');
        if (f.saveFails) throw f.saveFails;
        return { response: createResponse(req, 200), added: f.added, kept: { messages: true, missedCalls: false } };
      },
      lookup: async (user) => f.lookup[user] ?? { kind: 'no-such-user' },
    },
    proxy: {
      validate: () => null,
      preprocessRoute: () => ({ routedByUs: f.routedByUs, strictRouterFixed: false }),
      cancel: () => false,
      relay: (_req, _st, targets, opts) => {
        f.relayed.push([...targets]);
        f.relayOptions.push(opts ?? {});
      },
      relayInDialog: () => void f.calls.push('proxy.relayInDialog'),
      forwardStrayResponse: () => {},
    },
    silo: {
      store: async (req) => {
        f.calls.push('silo.store');
        return createResponse(req, 202);
      },
      dump: async (_user, _b, kept) => {
        f.calls.push(`silo.dump${kept ? ` kept=${kept.messages},${kept.missedCalls}` : ''}`);
        const none = { delivered: 0, expired: 0, skipped: 0, failures: 0, stop: 'done' as const };
        return { messages: none, notices: none };
      },
    },
    presence: { subscribe: async (req) => createResponse(req, 200), changed: async () => {} },
    calls: {
      offline: async (c) => void f.calls.push(`calls.offline ${c.caller}->${c.callee}`),
      voicemail: async (c, after) => (f.calls.push(`calls.voicemail ${c.caller}->${c.callee}${after ? ` after ${after.missed} row ${after.recordId}` : ''}`), 77),
      voicemailEnded: async (id, _c, r) => void f.calls.push(`calls.voicemailEnded ${id} message=${r.messageId} status=${r.status ?? '-'}`),
    },
    domains: { isLocalUri: (uri) => uri.startsWith('tel:') || uri.includes(`@${DOMAIN}`) || uri === `sip:${DOMAIN}` },
    domain: DOMAIN,
    log: silentLogger(),
    replies: { retryAfterSeconds: 9 },
    voicemail: null,
    trunks: { legs: async () => ({ legs: [], skipped: [] }), carrierOf: () => null },
    routes: [],
    ...overrides,
  };
  const router = new Router(deps);
  const send = async (req: SipRequest): Promise<SipResponse | undefined> => {
    const st = {
      source: { transport: 'udp', address: source.address, port: source.port, connectionId: null },
      respond: (res: SipResponse) => (f.responses.push(res), true),
      drop: () => void f.calls.push('st.drop'),
    } as unknown as ServerTransaction;
    router.onRequest(req, st);
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    return f.responses.at(-1);
  };
  return { router, f, send };
}

describe('routing/router (the routing script)', () => {
  it('saves a REGISTER with the registrar, then delivers what is kept when a binding was added (m_dump)', async () => {
    const { f, send } = setup();
    f.added = binding;
    assert.equal((await send(request('REGISTER', `sip:${DOMAIN}`)))?.status, 200);
    assert.deepEqual(f.calls, ['registrar.save', 'silo.dump kept=true,false'], 'with what the commit read as kept');
  });

  it('delivers nothing after a REGISTER that added no binding (a query or a removal)', async () => {
    const { f, send } = setup();
    assert.equal((await send(request('REGISTER', `sip:${DOMAIN}`)))?.status, 200);
    assert.deepEqual(f.calls, ['registrar.save']);
  });

  for (const how of ['its first read throws', 'it stops on the outage'] as const) {
    it(`delivers again when the store is back, after a store outage stopped the REGISTER's delivery (${how}); logs no error of its own`, async () => {
      const errors: string[] = [];
      const log = createLogger('info', { write: (s: string) => void ((JSON.parse(s) as { level: number; msg: string }).level >= 50 && errors.push(s)) });
      const dumps: string[] = [];
      let down = true;
      const none = { delivered: 0, expired: 0, skipped: 0, failures: 0, stop: 'done' as const };
      const { router, f, send } = setup({
        log,
        silo: {
          store: async (req) => createResponse(req, 202),
          dump: async (user, b) => {
            dumps.push(`${user} ${b.contact}`);
            if (!down) return { messages: none, notices: none };
            if (how === 'its first read throws') throw new StoreUnavailableError('the store is down');
            return { messages: { ...none, stop: 'store-unavailable' }, notices: none };
          },
        },
      });
      f.added = binding;
      assert.equal((await send(request('REGISTER', `sip:${DOMAIN}`)))?.status, 200);
      assert.deepEqual(dumps, [`alice ${binding.contact}`]);
      const now: Binding = { ...binding, contact: 'sip:alice@192.0.2.9:5070', updatedAt: 2 };
      f.lookup.alice = { kind: 'found', bindings: [now] } as LookupResult;
      down = false;
      router.storeReachable();
      for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
      assert.deepEqual(dumps, [`alice ${binding.contact}`, `alice ${now.contact}`], 'to the binding it has now');
      router.storeReachable();
      for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
      assert.equal(dumps.length, 2, 'once: a delivery that went through is not owed any more');
      assert.deepEqual(errors, []);
    });
  }

  it('answers an INVITE to an unknown user with 404', async () => {
    const { send } = setup();
    assert.equal((await send(request('INVITE', `sip:nobody@${DOMAIN}`)))?.status, 404);
  });

  it('records an INVITE to an offline user (calls.offline) and answers 480 with the profile Retry-After', async () => {
    const { f, send } = setup();
    f.lookup.bob = { kind: 'offline' };
    const res = await send(request('INVITE', `sip:bob@${DOMAIN}`));
    assert.equal(res?.status, 480);
    assert.equal(res?.header('retry-after'), '9');
    assert.deepEqual(f.calls, ['calls.offline alice->bob']);
  });

  describe('voice messages (voicemail.enabled: the media server is given)', () => {
    function mediaServer(o: { fail?: SipError; messageId?: number | null } = {}) {
      const seen: string[] = [];
      const ms: NonNullable<RouterDeps['voicemail']> = {
        answer: async (req, st, parties) => {
          seen.push(`answer ${parties.caller}->${parties.callee} record ${parties.callRecordId}`);
          if (o.fail) throw o.fail;
          st.respond(createResponse(req, 200, undefined, 'vm'));
          return { outcome: Promise.resolve({ reason: 'bye' as const, messageId: o.messageId === undefined ? 5 : o.messageId, durationMs: 4000 }) };
        },
        handles: (req) => req.toTag === 'b1' && req.callId === 'r1@192.0.2.1',
        inDialog: (req, st) => { seen.push(`inDialog ${req.method}`); st.respond(createResponse(req, 200)); },
        ack: (ack) => (seen.push(`ack ${ack.callId}`), true),
      };
      return { ms, seen };
    }

    it('has the media server answer an INVITE to an offline user, recorded in user_call as voicemail', async () => {
      const { ms, seen } = mediaServer();
      const { f, send } = setup({ voicemail: ms });
      f.lookup.bob = { kind: 'offline' };
      assert.equal((await send(request('INVITE', `sip:bob@${DOMAIN}`)))?.status, 200);
      assert.deepEqual(seen, ['answer alice->bob record 77']);
      assert.deepEqual(f.calls, ['calls.voicemail alice->bob', 'calls.voicemailEnded 77 message=5 status=-']);
    });

    it('answers 503 when the media server is full, and the call stays a missed one (never a lost call)', async () => {
      const { ms } = mediaServer({ fail: new SipError('overloaded', { detail: 'voicemail calls' }) });
      const { f, send } = setup({ voicemail: ms });
      f.lookup.bob = { kind: 'offline' };
      const res = await send(request('INVITE', `sip:bob@${DOMAIN}`));
      assert.equal(res?.status, 503);
      assert.equal(res?.header('retry-after'), '9');
      assert.deepEqual(f.calls, ['calls.voicemail alice->bob', 'calls.voicemailEnded 77 message=null status=503']);
    });

    it('hands the BYE and the ACK of its dialogs to the media server, and nothing else', async () => {
      const { ms, seen } = mediaServer();
      const { router, f, send } = setup({ voicemail: ms });
      assert.equal((await send(request('BYE', `sip:tvphone@${DOMAIN}`, { toTag: true })))?.status, 200);
      router.onAck(request('ACK', `sip:tvphone@${DOMAIN}`, { toTag: true }));
      assert.deepEqual(seen, ['inDialog BYE', 'ack r1@192.0.2.1']);
      assert.deepEqual(f.calls, [], 'not relayed by the proxy');
    });

    it('still answers an INVITE to an online user by proxying it', async () => {
      const { ms, seen } = mediaServer();
      const { f, send } = setup({ voicemail: ms });
      f.lookup.bob = { kind: 'found', bindings: [binding] };
      await send(request('INVITE', `sip:bob@${DOMAIN}`));
      assert.equal(f.relayed.length, 1);
      assert.deepEqual(seen, []);
    });

    it('relays an online user\'s INVITE with the ring time, and no answer hands the call to the media server (TAKEN)', async () => {
      const { ms, seen } = mediaServer();
      const { f, send } = setup({ voicemail: ms, ringing: { ringSeconds: 25, onBusy: false } });
      f.lookup.bob = { kind: 'found', bindings: [binding] };
      const req = request('INVITE', `sip:bob@${DOMAIN}`);
      await send(req);
      const opts = f.relayOptions[0];
      assert.equal(opts.timeoutMs, 25_000);
      assert.deepEqual(opts.failsOver, [408, 480, 503], 'busy stays busy');
      assert.equal(await opts.onAllFailed!([createResponse(req, 408)], req, Promise.resolve(41)), TAKEN);
      for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
      assert.deepEqual(seen, ['answer alice->bob record 77']);
      assert.equal(f.calls[0], 'calls.voicemail alice->bob after no-answer row 41', 'the proxy\'s user_call row is taken over');
      assert.equal(f.responses.at(-1)?.status, 200, 'the media server answered on the INVITE\'s transaction');
    });

    it('counts 486 as no answer with onBusy, and sets no ring time with ringSeconds 0', async () => {
      const { ms } = mediaServer();
      const { f, send } = setup({ voicemail: ms, ringing: { ringSeconds: 0, onBusy: true } });
      f.lookup.bob = { kind: 'found', bindings: [binding] };
      await send(request('INVITE', `sip:bob@${DOMAIN}`));
      assert.equal(f.relayOptions[0].timeoutMs, undefined);
      assert.deepEqual(f.relayOptions[0].failsOver, [408, 480, 503, 486]);
    });
  });

  it('stores a MESSAGE to an offline user (silo.store) and sends its answer', async () => {
    const { f, send } = setup();
    f.lookup.bob = { kind: 'offline' };
    assert.equal((await send(request('MESSAGE', `sip:bob@${DOMAIN}`)))?.status, 202);
    assert.deepEqual(f.calls, ['silo.store']);
  });

  it('stores a MESSAGE no binding took; delivers it at once when the user registered again meanwhile (its REGISTER\'s dump came first)', async () => {
    const { f, send } = setup();
    f.lookup.bob = { kind: 'found', bindings: [binding] };
    const req = request('MESSAGE', `sip:bob@${DOMAIN}`);
    await send(req);
    const onAllFailed = f.relayOptions[0].onAllFailed!;
    // no REGISTER since the lookup: kept for the next one
    assert.equal(((await onAllFailed([createResponse(req, 408)], req, null)) as SipResponse).status, 202);
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    assert.deepEqual(f.calls, ['silo.store']);
    // the TV registered again (a new flow, another node) while the branch was failing
    f.lookup.bob = { kind: 'found', bindings: [{ ...binding, updatedAt: binding.updatedAt + 1000 }] };
    await onAllFailed([createResponse(req, 408)], req, null);
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    assert.deepEqual(f.calls, ['silo.store', 'silo.store', 'silo.dump']);
  });

  it('relays an INVITE to an online user to the next hop of each binding', async () => {
    const { f, send } = setup();
    f.lookup.bob = { kind: 'found', bindings: [binding] };
    await send(request('INVITE', `sip:bob@${DOMAIN}`));
    assert.deepEqual(f.relayed.map((t) => t.map((x) => x.uri)), [['sip:bob@192.0.2.9:5060']]);
  });

  it('answers an in-dialog request not routed through us with 404, and relays one that was', async () => {
    const { f, send } = setup();
    assert.equal((await send(request('BYE', `sip:bob@192.0.2.9:5060`, { toTag: true })))?.status, 404);
    f.routedByUs = true;
    await send(request('BYE', `sip:bob@192.0.2.9:5060`, { toTag: true }));
    assert.deepEqual(f.calls, ['proxy.relayInDialog']);
  });

  it('refuses a request for a foreign domain with 403 (no open relay)', async () => {
    const { send } = setup();
    assert.equal((await send(request('INVITE', 'sip:bob@elsewhere.example')))?.status, 403);
  });

  it('answers 503 with the profile Retry-After when the store is down', async () => {
    const { f, send } = setup();
    f.saveFails = new StoreUnavailableError('down');
    const res = await send(request('REGISTER', `sip:${DOMAIN}`));
    assert.equal(res?.status, 503);
    assert.equal(res?.header('retry-after'), '9');
  });

  it('answers a bug with 500, not with its message', async () => {
    const { f, send } = setup();
    f.saveFails = new TypeError('oops');
    const res = await send(request('REGISTER', `sip:${DOMAIN}`));
    assert.equal(res?.status, 500);
    assert.doesNotMatch(res?.reason ?? '', /oops/);
  });
});

describe('routing/router: calls through trunks (dial plan, DIDs)', () => {
  const profile = validateProfile({
    listeners: [{ transport: 'udp', host: '127.0.0.1', port: 5060 }],
    trunks: [
      { name: 'main', host: '198.51.100.1', username: 'acct', password: 'pw', priority: 1, dids: [{ number: '+493012345', user: 'bob' }, { pattern: '\\+4930999(\\d+)', user: 'tv$1' }] },
      { name: 'backup', host: '198.51.100.2', priority: 2, allow: ['203.0.113.0/24'], maxCalls: 1, codecs: ['PCMA'] },
    ],
    routes: [
      { prefix: '110', trunks: ['backup'] },
      { prefix: '0', trunks: ['backup', 'main'], e164: { countryCode: '49' } },
    ],
  }, 'test.json');
  let trunks: Trunks;
  beforeEach(() => {
    trunks = new Trunks({
      trunks: profile.trunks, clock: new FakeClock(0), log: silentLogger(), send: async () => null,
      sentBy: () => ({ transport: 'udp', host: '127.0.0.1', port: 5060 }),
    });
  });
  afterEach(() => trunks.close(0));

  const deps = (): Partial<RouterDeps> => ({ trunks, routes: profile.routes });

  it('sends a national number that is no local user out through the route\'s trunks, priority first, rewritten to E.164', async () => {
    const { f, send } = setup(deps());
    await send(request('INVITE', `sip:030-1234567@${DOMAIN}`));
    assert.equal(f.relayed.length, 1);
    assert.deepEqual(f.relayed[0]!.map((t) => [t.label, t.uri]), [['main', 'sip:+49301234567@198.51.100.1'], ['backup', 'sip:+49301234567@198.51.100.2']]);
    const opts = f.relayOptions[0]!;
    assert.deepEqual(opts.call, { userId: 'alice', otherUserId: '0301234567', dialled: '0301234567', sentNumber: '+49301234567' });
    assert.ok(opts.serial !== undefined);
    assert.equal(opts.serial({ status: 503 } as SipResponse), true);
    assert.equal(opts.serial({ status: 408 } as SipResponse), true);
    assert.equal(opts.serial({ status: 486 } as SipResponse), false);
    assert.equal(opts.serial({ status: 404 } as SipResponse), false);
    assert.equal(opts.serial({ status: 603 } as SipResponse), false);
  });

  it('a tel: URI is a number too (RFC 3966)', async () => {
    const { f, send } = setup(deps());
    await send(request('INVITE', 'tel:110'));
    assert.deepEqual(f.relayed[0]!.map((t) => t.uri), ['sip:110@198.51.100.2']);
  });

  it('answers 404 No Route to a number no route takes, and a local user is still called locally', async () => {
    const { f, send } = setup(deps());
    const res = await send(request('INVITE', `sip:+12125550100@${DOMAIN}`));
    assert.equal(res?.status, 404);
    assert.match(res?.reason ?? '', /No Route/);
    f.lookup['0301234567'] = { kind: 'found', bindings: [binding] };
    await send(request('INVITE', `sip:0301234567@${DOMAIN}`));
    assert.deepEqual(f.relayed.at(-1)!.map((t) => t.label), [undefined], 'a local user with that name wins over the dial plan');
  });

  it('answers 503 with Retry-After when every trunk of the route is full, and 488 when none takes the offer\'s codecs', async () => {
    const { send } = setup(deps());
    const full = setup(deps());
    // take backup's one slot
    const { legs } = await trunks.legs(['backup'], '110', { user: 'alice' }, { body: new Uint8Array() });
    assert.equal(legs[0]!.acquire(), true);
    const res = await full.send(request('INVITE', 'tel:110'));
    assert.equal(res?.status, 503);
    assert.equal(res?.header('retry-after'), '9');
    legs[0]!.release();
    const sdp = 'v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';
    const inv = request('INVITE', 'tel:110', { extra: ['Content-Type: application/sdp'] });
    inv.body = new TextEncoder().encode(sdp);
    assert.equal((await send(inv))?.status, 488);
  });

  it('a call from the carrier\'s address reaches the user its DID names, unauthenticated; an unknown DID gets 404', async () => {
    let authenticated = 0;
    const auth = { authenticate: async () => ((authenticated++), { userId: 'x' }), consumeCredentials: () => {} };
    const { f, send } = setup({ ...deps(), auth }, { address: '198.51.100.1', port: 5060 });
    f.lookup.bob = { kind: 'found', bindings: [binding] };
    await send(request('INVITE', `sip:+493012345@${DOMAIN}`));
    assert.deepEqual(f.relayed.at(-1)!.map((t) => t.uri), ['sip:bob@192.0.2.9:5060']);
    assert.equal(authenticated, 0, 'no digest challenge for a carrier');
    const res = await send(request('INVITE', `sip:+49309876@${DOMAIN}`));
    assert.equal(res?.status, 404);
  });

  it('maps a DID pattern with $1, and the number in To when the carrier calls the Contact we registered (trunk-NAME)', async () => {
    const { f, send } = setup(deps(), { address: '198.51.100.1', port: 5060 });
    f.lookup.tv42 = { kind: 'offline' };
    const inv = request('INVITE', 'sip:trunk-main@127.0.0.1:5060');
    inv.setHeader('To', '<sip:+493099942@198.51.100.1>');
    inv.setHeader('From', '<sip:+4930111@198.51.100.1>;tag=c1');
    const res = await send(inv);
    assert.equal(res?.status, 480);
    assert.deepEqual(f.calls, ['calls.offline +4930111->tv42'], 'kept as a missed call, with the caller\'s number');
  });

  it('never sends a carrier\'s call out again (no toll fraud): from an allowed address, a number that is no local user gets 404', async () => {
    const { f, send } = setup(deps(), { address: '203.0.113.7', port: 40123 });
    const res = await send(request('INVITE', 'sip:0301234567@127.0.0.1'));
    assert.equal(res?.status, 404);
    assert.equal(f.relayed.length, 0);
  });

  it('treats a request from the carrier\'s address but another port as anyone\'s (a phone on the carrier\'s host): challenged', async () => {
    let challenged = 0;
    const auth = { authenticate: async (req: SipRequest) => ((challenged++), createResponse(req, 407)), consumeCredentials: () => {} };
    const { f, send } = setup({ ...deps(), auth }, { address: '198.51.100.1', port: 40000 });
    assert.equal((await send(request('INVITE', `sip:+493012345@${DOMAIN}`)))?.status, 407);
    assert.equal(challenged, 1);
    assert.equal(f.relayed.length, 0);
  });
});

describe('routing: the brute-force and flood defence (issue 16 item 3, Kamailio pike + htable bans)', () => {
  const ATTACKER = { address: '203.0.113.66', port: 5060 };
  function guarded(security: Partial<SecurityConfig>, o: { refuse?: boolean; carrier?: boolean } = {}) {
    const clock = new FakeClock(1_000_000);
    const guard = new Guard({ config: { ...DEFAULT_PROFILE.security, ...security }, clock, log: silentLogger() });
    let authCalls = 0;
    const t = setup({
      guard,
      auth: {
        authenticate: async (req, opts) => {
          authCalls++;
          if (!o.refuse) return { userId: 'alice' };
          opts.onRefused?.('alice', 'wrong password');
          return createResponse(req, 401);
        },
        consumeCredentials: () => {},
      },
      ...(o.carrier ? { trunks: { legs: async () => ({ legs: [], skipped: [] }), carrierOf: () => ({}) as never } } : {}),
    }, ATTACKER);
    return { ...t, guard, clock, authCalls: () => authCalls };
  }

  it('bans a source after authFailures refused credentials: 403 without authenticating (no store work)', async () => {
    const { send, authCalls } = guarded({ authFailures: 3 }, { refuse: true });
    for (let i = 0; i < 3; i++) assert.equal((await send(request('REGISTER', `sip:${DOMAIN}`)))?.status, 401);
    assert.equal(authCalls(), 3);
    const res = await send(request('REGISTER', `sip:${DOMAIN}`));
    assert.equal(res?.status, 403);
    assert.match(res!.reason, /too many failed authentications/);
    assert.equal(authCalls(), 3, 'the banned source reached no capability');
  });

  it('backs off: after half of authFailures the next challenge waits on the clock (250 ms, then doubling)', async () => {
    const { send, f, clock } = guarded({ authFailures: 10 }, { refuse: true });
    for (let i = 0; i < 5; i++) await send(request('REGISTER', `sip:${DOMAIN}`));
    assert.equal(f.responses.length, 5, 'no delay for the first five');
    await send(request('REGISTER', `sip:${DOMAIN}`));
    assert.equal(f.responses.length, 5, 'the sixth challenge waits');
    await clock.tick(249);
    assert.equal(f.responses.length, 5);
    await clock.tick(1);
    assert.equal(f.responses.length, 6);
    assert.equal(f.responses[5]!.status, 401);
  });

  it('with banAction drop sends a banned source nothing at all', async () => {
    const { send, f } = guarded({ authFailures: 1, banAction: 'drop' }, { refuse: true });
    await send(request('MESSAGE', `sip:bob@${DOMAIN}`));
    const before = f.responses.length;
    await send(request('MESSAGE', `sip:bob@${DOMAIN}`));
    assert.equal(f.responses.length, before);
    assert.deepEqual(f.calls, ['st.drop']);
  });

  it('answers a source over maxRequestsPerSecond 503 with Retry-After (or drops it with rateAction drop)', async () => {
    const { send, f } = guarded({ maxRequestsPerSecond: 2, requestBurst: 3 });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await send(request('OPTIONS', `sip:${DOMAIN}`)))?.status);
    assert.deepEqual(statuses, [200, 200, 200, 503, 503]);
    assert.equal(f.responses.at(-1)!.header('retry-after'), '9');
    const dropping = guarded({ maxRequestsPerSecond: 1, requestBurst: 1, rateAction: 'drop' });
    await dropping.send(request('OPTIONS', `sip:${DOMAIN}`));
    await dropping.send(request('OPTIONS', `sip:${DOMAIN}`));
    assert.deepEqual([dropping.f.responses.length, dropping.f.calls], [1, ['st.drop']]);
  });

  it('never limits in-dialog requests, nor a trusted source or a carrier', async () => {
    const flooded = guarded({ maxRequestsPerSecond: 1, requestBurst: 1 });
    flooded.f.routedByUs = true;
    await flooded.send(request('OPTIONS', `sip:${DOMAIN}`));
    assert.equal((await flooded.send(request('OPTIONS', `sip:${DOMAIN}`)))?.status, 503);
    for (let i = 0; i < 5; i++) await flooded.send(request('BYE', `sip:bob@${DOMAIN}`, { toTag: true }));
    assert.deepEqual(flooded.f.calls, Array(5).fill('proxy.relayInDialog'));
    const trusted = guarded({ maxRequestsPerSecond: 1, requestBurst: 1, trusted: ['203.0.113.0/24'] });
    for (let i = 0; i < 5; i++) assert.equal((await trusted.send(request('OPTIONS', `sip:${DOMAIN}`)))?.status, 200);
    const carrier = guarded({ maxRequestsPerSecond: 1, requestBurst: 1 }, { carrier: true });
    for (let i = 0; i < 5; i++) assert.equal((await carrier.send(request('OPTIONS', `sip:${DOMAIN}`)))?.status, 200);
  });

  it('refuses a user whose authentication is banned (userAuthFailures from anywhere) with 403 before authenticating', async () => {
    const { send, guard, authCalls } = guarded({ authFailures: 100, userAuthFailures: 3 });
    for (let i = 0; i < 3; i++) guard.authFailed('alice', `198.51.100.${i}`);
    const res = await send(request('MESSAGE', `sip:bob@${DOMAIN}`));
    assert.equal(res?.status, 403);
    assert.match(res!.reason, /for this user/);
    assert.equal(authCalls(), 0);
  });

  it('lets an address that authenticated as the user in before its user was banned go on authenticating', async () => {
    const { send, guard, authCalls } = guarded({ authFailures: 100, userAuthFailures: 3 });
    assert.equal((await send(request('REGISTER', `sip:${DOMAIN}`)))?.status, 200);
    for (let i = 0; i < 3; i++) guard.authFailed('alice', `198.51.100.${i}`);
    assert.equal((await send(request('REGISTER', `sip:${DOMAIN}`)))?.status, 200);
    assert.equal(authCalls(), 2);
  });
});

describe('routing/router: the voicemail access number (VoiceMailMain)', () => {
  function mailbox() {
    const seen: string[] = [];
    const server: NonNullable<RouterDeps['mailbox']>['server'] = {
      answer: async (req, st, userId) => {
        seen.push(`answer ${userId}`);
        st.respond(createResponse(req, 200, undefined, 'mb'));
        return { done: Promise.resolve({ reason: 'dtmf' as const, heard: 0, deleted: 0 }) };
      },
      handles: (req) => req.toTag === 'b1' && req.callId === 'r1@192.0.2.1',
      inDialog: (req, st) => { seen.push(`inDialog ${req.method}`); st.respond(createResponse(req, 200)); },
      ack: (ack) => (seen.push(`ack ${ack.callId}`), true),
    };
    return { mailbox: { server, accessNumber: '*97' }, seen };
  }

  it("answers an authenticated user's INVITE to the access number itself: no lookup, no proxy, no user_call row", async () => {
    const { mailbox: mb, seen } = mailbox();
    const { f, send } = setup({ mailbox: mb });
    f.lookup['*97'] = { kind: 'found', bindings: [binding] }; // even a user of that name is not looked up
    assert.equal((await send(request('INVITE', `sip:*97@${DOMAIN}`)))?.status, 200);
    assert.deepEqual(seen, ['answer alice']);
    assert.deepEqual(f.relayed, []);
    assert.deepEqual(f.calls, []);
  });

  it('challenges an unauthenticated INVITE to the access number before anything answers it', async () => {
    const { mailbox: mb, seen } = mailbox();
    const { send } = setup({
      mailbox: mb,
      auth: { authenticate: async (req: SipRequest) => createResponse(req, 407), consumeCredentials: () => {} },
    });
    assert.equal((await send(request('INVITE', `sip:*97@${DOMAIN}`)))?.status, 407);
    assert.deepEqual(seen, []);
  });

  it('hands the BYE, INFO and ACK of its dialogs to the mailbox; other methods to *97 and other numbers are routed as before', async () => {
    const { mailbox: mb, seen } = mailbox();
    const { router, f, send } = setup({ mailbox: mb });
    assert.equal((await send(request('INFO', `sip:tvphone@${DOMAIN}`, { toTag: true })))?.status, 200);
    assert.equal((await send(request('BYE', `sip:tvphone@${DOMAIN}`, { toTag: true })))?.status, 200);
    router.onAck(request('ACK', `sip:tvphone@${DOMAIN}`, { toTag: true }));
    assert.deepEqual(seen, ['inDialog INFO', 'inDialog BYE', 'ack r1@192.0.2.1']);
    assert.equal((await send(request('MESSAGE', `sip:*97@${DOMAIN}`)))?.status, 404, 'a MESSAGE to *97 is no mailbox call');
    assert.equal((await send(request('INVITE', `sip:*98@${DOMAIN}`)))?.status, 404);
    assert.deepEqual(f.calls, []);
  });

  it('without a mailbox (voicemail off, or accessNumber null) *97 is a user like any other: 404', async () => {
    const { send } = setup({ mailbox: null });
    assert.equal((await send(request('INVITE', `sip:*97@${DOMAIN}`)))?.status, 404);
  });
});
