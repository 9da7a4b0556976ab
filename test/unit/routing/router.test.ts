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
import type { Binding } from '../../../src/store/store.ts';
import { silentLogger } from '../../../src/log/logger.ts';

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
  routedByUs: boolean;
}

function setup(voicemail: RouterDeps['voicemail'] = null): { router: Router; f: Fakes; send(req: SipRequest): Promise<SipResponse | undefined> } {
  const f: Fakes = { calls: [], responses: [], lookup: {}, saveFails: null, added: null, relayed: [], routedByUs: false };
  const deps: RouterDeps = {
    auth: { authenticate: async (req) => ({ userId: 'alice' }), consumeCredentials: () => {} },
    registrar: {
      save: async (req) => {
        f.calls.push('registrar.save');
        if (f.saveFails) throw f.saveFails;
        return { response: createResponse(req, 200), added: f.added };
      },
      lookup: async (user) => f.lookup[user] ?? { kind: 'no-such-user' },
    },
    proxy: {
      validate: () => null,
      preprocessRoute: () => ({ routedByUs: f.routedByUs, strictRouterFixed: false }),
      cancel: () => false,
      relay: (_req, _st, targets) => void f.relayed.push([...targets]),
      relayInDialog: () => void f.calls.push('proxy.relayInDialog'),
      forwardStrayResponse: () => {},
    },
    silo: {
      store: async (req) => {
        f.calls.push('silo.store');
        return createResponse(req, 202);
      },
      dump: async () => {
        f.calls.push('silo.dump');
        const none = { delivered: 0, expired: 0, skipped: 0, failures: 0, stop: 'done' as const };
        return { messages: none, notices: none };
      },
    },
    presence: { subscribe: async (req) => createResponse(req, 200) },
    calls: {
      offline: async (c) => void f.calls.push(`calls.offline ${c.caller}->${c.callee}`),
      voicemail: async (c) => (f.calls.push(`calls.voicemail ${c.caller}->${c.callee}`), 77),
      voicemailEnded: async (id, _c, r) => void f.calls.push(`calls.voicemailEnded ${id} message=${r.messageId} status=${r.status ?? '-'}`),
    },
    domains: { isLocalUri: (uri) => uri.includes(`@${DOMAIN}`) || uri === `sip:${DOMAIN}` },
    domain: DOMAIN,
    log: silentLogger(),
    replies: { retryAfterSeconds: 9 },
    voicemail,
  };
  const router = new Router(deps);
  const send = async (req: SipRequest): Promise<SipResponse | undefined> => {
    const st = {
      source: { transport: 'udp', address: '192.0.2.1', port: 5060, connectionId: null },
      respond: (res: SipResponse) => (f.responses.push(res), true),
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
    assert.deepEqual(f.calls, ['registrar.save', 'silo.dump']);
  });

  it('delivers nothing after a REGISTER that added no binding (a query or a removal)', async () => {
    const { f, send } = setup();
    assert.equal((await send(request('REGISTER', `sip:${DOMAIN}`)))?.status, 200);
    assert.deepEqual(f.calls, ['registrar.save']);
  });

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
      const { f, send } = setup(ms);
      f.lookup.bob = { kind: 'offline' };
      assert.equal((await send(request('INVITE', `sip:bob@${DOMAIN}`)))?.status, 200);
      assert.deepEqual(seen, ['answer alice->bob record 77']);
      assert.deepEqual(f.calls, ['calls.voicemail alice->bob', 'calls.voicemailEnded 77 message=5 status=-']);
    });

    it('answers 503 when the media server is full, and the call stays a missed one (never a lost call)', async () => {
      const { ms } = mediaServer({ fail: new SipError('overloaded', { detail: 'voicemail calls' }) });
      const { f, send } = setup(ms);
      f.lookup.bob = { kind: 'offline' };
      const res = await send(request('INVITE', `sip:bob@${DOMAIN}`));
      assert.equal(res?.status, 503);
      assert.equal(res?.header('retry-after'), '9');
      assert.deepEqual(f.calls, ['calls.voicemail alice->bob', 'calls.voicemailEnded 77 message=null status=503']);
    });

    it('hands the BYE and the ACK of its dialogs to the media server, and nothing else', async () => {
      const { ms, seen } = mediaServer();
      const { router, f, send } = setup(ms);
      assert.equal((await send(request('BYE', `sip:tvphone@${DOMAIN}`, { toTag: true })))?.status, 200);
      router.onAck(request('ACK', `sip:tvphone@${DOMAIN}`, { toTag: true }));
      assert.deepEqual(seen, ['inDialog BYE', 'ack r1@192.0.2.1']);
      assert.deepEqual(f.calls, [], 'not relayed by the proxy');
    });

    it('still answers an INVITE to an online user by proxying it', async () => {
      const { ms, seen } = mediaServer();
      const { f, send } = setup(ms);
      f.lookup.bob = { kind: 'found', bindings: [binding] };
      await send(request('INVITE', `sip:bob@${DOMAIN}`));
      assert.equal(f.relayed.length, 1);
      assert.deepEqual(seen, []);
    });
  });

  it('stores a MESSAGE to an offline user (silo.store) and sends its answer', async () => {
    const { f, send } = setup();
    f.lookup.bob = { kind: 'offline' };
    assert.equal((await send(request('MESSAGE', `sip:bob@${DOMAIN}`)))?.status, 202);
    assert.deepEqual(f.calls, ['silo.store']);
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
