import assert from 'node:assert/strict';
import { Authenticator } from '../../../src/registrar/authenticate.ts';
import { createLogger } from '../../../src/log/logger.ts';
import { NonceCounts } from '../../../src/registrar/nonce.ts';
import { ha1, buildAuthorization } from '../../../src/sip/digest.ts';
import { parseAuthParams } from '../../../src/sip/headers.ts';
import { SipResponse, type SipRequest } from '../../../src/sip/message.ts';
import { answerOf } from '../../helpers/replies.ts';
import { FakeClock, FakeStore } from '../../helpers/fake-location-store.ts';
import { request } from './helpers.ts';

const REALM = 'tvphone';

function challenges(res: SipResponse, name = 'www-authenticate') {
  return res.fields(name).map((f) => parseAuthParams(f.value).params);
}

/** The client side: answer the challenge of `alg` in `res` for `req`. */
function answer(req: SipRequest, res: SipResponse, o: { alg: 'MD5' | 'SHA-256'; user?: string; password?: string; nc?: number; proxy?: boolean }): SipRequest {
  const challenge = challenges(res, o.proxy ? 'proxy-authenticate' : 'www-authenticate').find((c) => c.get('algorithm') === o.alg)!;
  const value = buildAuthorization({
    challenge, user: o.user ?? 'alice', password: o.password ?? 'secret', method: req.method, uri: req.uri, nc: o.nc ?? 1, cnonce: 'c0ffee',
  });
  req.setHeader(o.proxy ? 'Proxy-Authorization' : 'Authorization', value);
  return req;
}

describe('registrar/authenticate (RFC 3261 §22, RFC 7616, RFC 8760)', () => {
  let store: FakeStore;
  let clock: FakeClock;
  let auth: Authenticator;

  beforeEach(async () => {
    store = new FakeStore();
    clock = new FakeClock();
    await store.addUser({ userId: 'alice', realm: REALM, ha1Md5: ha1('MD5', 'alice', REALM, 'secret'), ha1Sha256: ha1('SHA-256', 'alice', REALM, 'secret') }, 0);
    auth = new Authenticator({ store: store.asStore(), realm: REALM, clock, nonceTtlMs: 60_000 });
  });

  async function challengeFor(req: SipRequest, proxy = false): Promise<SipResponse> {
    const res = await auth.authenticate(req, { proxy });
    assert.ok(res instanceof SipResponse);
    return res;
  }

  it('challenges a REGISTER without credentials with 401 and a SHA-256 then an MD5 WWW-Authenticate', async () => {
    const res = await challengeFor(request());
    assert.equal(res.status, 401);
    const c = challenges(res);
    assert.deepEqual(c.map((p) => p.get('algorithm')), ['SHA-256', 'MD5']);
    for (const p of c) {
      assert.equal(p.get('realm'), REALM);
      assert.equal(p.get('qop'), 'auth');
      assert.ok(p.get('nonce'));
    }
  });

  it('offers the configured algorithms in the configured order, and challenges credentials of an algorithm not offered', async () => {
    const md5Only = new Authenticator({ store: store.asStore(), realm: REALM, clock, algorithms: ['MD5'] });
    const req = request();
    const first = await md5Only.authenticate(req, { proxy: false });
    assert.ok(first instanceof SipResponse);
    assert.deepEqual(challenges(first).map((p) => p.get('algorithm')), ['MD5']);
    assert.deepEqual(await md5Only.authenticate(answer(req, first, { alg: 'MD5' }), { proxy: false }), { userId: 'alice' });
    // a SHA-256 answer (to a challenge of the default authenticator) is not accepted where only MD5 is offered
    const req2 = request();
    const sha = answer(req2, await challengeFor(req2), { alg: 'SHA-256' });
    const res = await md5Only.authenticate(sha, { proxy: false });
    assert.ok(res instanceof SipResponse && res.status === 401);
    const legacyFirst = new Authenticator({ store: store.asStore(), realm: REALM, clock, algorithms: ['MD5', 'SHA-256'] });
    const c = await legacyFirst.authenticate(request(), { proxy: false });
    assert.ok(c instanceof SipResponse);
    assert.deepEqual(challenges(c).map((p) => p.get('algorithm')), ['MD5', 'SHA-256']);
  });

  it('challenges other requests with 407 and Proxy-Authenticate', async () => {
    const res = await challengeFor(request({ method: 'INVITE' }), true);
    assert.equal(res.status, 407);
    assert.equal(res.fields('proxy-authenticate').length, 2);
    assert.equal(res.fields('www-authenticate').length, 0);
  });

  it('accepts a right MD5 response (SIP.js, JsSIP)', async () => {
    const req = request();
    const ok = await auth.authenticate(answer(req, await challengeFor(req), { alg: 'MD5' }), { proxy: false });
    assert.deepEqual(ok, { userId: 'alice' });
  });

  it('accepts a right SHA-256 response', async () => {
    const req = request();
    const ok = await auth.authenticate(answer(req, await challengeFor(req), { alg: 'SHA-256' }), { proxy: false });
    assert.deepEqual(ok, { userId: 'alice' });
  });

  it('accepts a right Proxy-Authorization for an INVITE from the From user', async () => {
    const req = request({ method: 'INVITE' });
    const ok = await auth.authenticate(answer(req, await challengeFor(req, true), { alg: 'MD5', proxy: true }), { proxy: true });
    assert.deepEqual(ok, { userId: 'alice' });
  });

  it('answers a right digest on an expired nonce with a new challenge carrying stale=true', async () => {
    const req = request();
    const first = await challengeFor(req);
    clock.advance(60_001);
    const res = await challengeFor(answer(req, first, { alg: 'SHA-256' }));
    assert.equal(res.status, 401);
    for (const p of challenges(res)) {
      assert.equal(p.get('stale'), 'true');
      assert.notEqual(p.get('nonce'), challenges(first)[0].get('nonce'));
    }
  });

  it('answers a wrong digest on an expired nonce without stale=true', async () => {
    const req = request();
    const first = await challengeFor(req);
    clock.advance(60_001);
    const res = await challengeFor(answer(req, first, { alg: 'MD5', password: 'nope' }));
    for (const p of challenges(res)) assert.equal(p.get('stale'), undefined);
  });

  it('rejects a nonce-count not greater than the last one seen for that nonce (replay)', async () => {
    const req = request();
    const first = await challengeFor(req);
    assert.deepEqual(await auth.authenticate(answer(req, first, { alg: 'MD5', nc: 1 }), { proxy: false }), { userId: 'alice' });
    const replay = await auth.authenticate(answer(request(), first, { alg: 'MD5', nc: 1 }), { proxy: false });
    assert.ok(replay instanceof SipResponse);
    assert.equal(replay.status, 401);
    assert.deepEqual(await auth.authenticate(answer(request(), first, { alg: 'MD5', nc: 2 }), { proxy: false }), { userId: 'alice' });
    const older = await auth.authenticate(answer(request(), first, { alg: 'SHA-256', nc: 2 }), { proxy: false });
    assert.ok(older instanceof SipResponse);
  });

  it('answers an unknown user and a wrong password alike (no user enumeration)', async () => {
    const shape = (r: SipResponse | { userId: string }) => {
      assert.ok(r instanceof SipResponse);
      return {
        status: r.status, reason: r.reason, names: r.headers.map((h) => h.key),
        challenges: challenges(r).map((p) => [...p.keys()].join(',') + '|' + p.get('algorithm') + '|' + p.get('realm') + '|' + p.get('stale')),
      };
    };
    const a = request();
    const wrong = await auth.authenticate(answer(a, await challengeFor(a), { alg: 'MD5', password: 'guess' }), { proxy: false });
    const b = request({ user: 'mallory' });
    const unknown = await auth.authenticate(answer(b, await challengeFor(b), { alg: 'MD5', user: 'mallory', password: 'guess' }), { proxy: false });
    assert.deepEqual(shape(unknown), shape(wrong));
  });

  it('answers 403 when the credentials are not those of the To user of a REGISTER', async () => {
    const req = request({ user: 'bob' });
    const res = await answerOf(req, auth.authenticate(answer(req, await challengeFor(req), { alg: 'MD5', user: 'alice' }), { proxy: false }) as Promise<SipResponse>);
    assert.ok(res instanceof SipResponse);
    assert.equal(res.status, 403);
  });

  it('refuses a nonce it did not issue', async () => {
    const req = request();
    const other = new Authenticator({ store: store.asStore(), realm: REALM, clock });
    const res = await auth.authenticate(answer(req, await other.authenticate(request(), { proxy: false }) as SipResponse, { alg: 'MD5' }), { proxy: false });
    assert.ok(res instanceof SipResponse);
    assert.equal(res.status, 401);
    for (const p of challenges(res)) assert.equal(p.get('stale'), undefined);
  });

  it('accepts qop=auth credentials whose uri is not the Request-URI (sipp names the domain), and still refuses their replay', async () => {
    const req = request();
    const first = await challengeFor(req);
    answer(req, first, { alg: 'MD5' });
    req.uri = 'sip:other.example.com';
    assert.deepEqual(await auth.authenticate(req, { proxy: false }), { userId: 'alice' });
    const replay = await auth.authenticate(req, { proxy: false });
    assert.ok(replay instanceof SipResponse);
    assert.equal(replay.status, 401, 'the same nonce-count again is a replay');
  });

  it('refuses credentials without qop (RFC 2069 form): the nonce-count is what detects a replay', async () => {
    const req = request();
    const first = await challengeFor(req);
    const c = challenges(first).find((p) => p.get('algorithm') === 'MD5')!;
    c.delete('qop');
    req.setHeader('Authorization', buildAuthorization({ challenge: c, user: 'alice', password: 'secret', method: req.method, uri: req.uri, nc: 1, cnonce: 'x' }));
    const res = await auth.authenticate(req, { proxy: false });
    assert.ok(res instanceof SipResponse);
    assert.equal(res.status, 401);
  });

  it('offers the challenges of the first algorithmsByUserAgent entry the User-Agent contains, else the default list', async () => {
    const byUa = new Authenticator({
      store: store.asStore(), realm: REALM, clock, algorithms: ['MD5'],
      algorithmsByUserAgent: [{ match: 'Linphone', algorithms: ['SHA-256', 'MD5'] }, { match: 'tvphone', algorithms: ['SHA-256'] }],
    });
    const algorithmsFor = async (ua: string | null): Promise<Array<string | undefined>> => {
      const req = request();
      if (ua !== null) req.setHeader('User-Agent', ua);
      const res = await byUa.authenticate(req, { proxy: false });
      assert.ok(res instanceof SipResponse);
      return challenges(res).map((p) => p.get('algorithm'));
    };
    assert.deepEqual(await algorithmsFor('baresip v1.0.0 (x86_64/linux)'), ['MD5']);
    assert.deepEqual(await algorithmsFor(null), ['MD5']);
    assert.deepEqual(await algorithmsFor('linphonec/5.1.2 (belle-sip/5.1.2)'), ['SHA-256', 'MD5']);
    assert.deepEqual(await algorithmsFor('tvphone-tv'), ['SHA-256']);
    // a SHA-256 answer is accepted from a UA offered SHA-256, not from one offered MD5 only
    const ok = request();
    ok.setHeader('User-Agent', 'Linphone');
    const c1 = await byUa.authenticate(ok, { proxy: false });
    assert.deepEqual(await byUa.authenticate(answer(ok, c1 as SipResponse, { alg: 'SHA-256' }), { proxy: false }), { userId: 'alice' });
    const md5Ua = request();
    const sha = answer(md5Ua, await challengeFor(md5Ua), { alg: 'SHA-256' });
    const refused = await byUa.authenticate(sha, { proxy: false });
    assert.ok(refused instanceof SipResponse && refused.status === 401);
  });

  it('answers 503 with Retry-After when the store is unavailable', async () => {
    const req = request();
    const first = await challengeFor(req);
    store.down = true;
    const res = await answerOf(req, auth.authenticate(answer(req, first, { alg: 'MD5' }), { proxy: false }) as Promise<SipResponse>, { retryAfterSeconds: 5 });
    assert.ok(res instanceof SipResponse);
    assert.equal(res.status, 503);
    assert.equal(res.header('retry-after'), '5');
  });

  it('answers malformed credentials with 400', async () => {
    const req = request({ extra: [['Authorization', 'Digest realm="unterminated']] });
    const res = await answerOf(req, auth.authenticate(req, { proxy: false }) as Promise<SipResponse>);
    assert.ok(res instanceof SipResponse);
    assert.equal(res.status, 400);
  });

  describe("mode 'none' (--auth none)", () => {
    it('admits any user part without touching the store (the registrar creates users)', async () => {
      const open = new Authenticator({ store: store.asStore(), realm: REALM, clock, mode: 'none' });
      assert.deepEqual(await open.authenticate(request({ user: 'tv42' }), { proxy: false }), { userId: 'tv42' });
      assert.equal(store.users.has('tv42'), false);
    });

    it('leaves a user made by its first REGISTER (empty HA1s) unable to authenticate by digest', async () => {
      await store.addUser({ userId: 'tv44', realm: REALM, ha1Md5: '', ha1Sha256: '' }, 0);
      const req = request({ user: 'tv44' });
      const res = await auth.authenticate(answer(req, await challengeFor(req), { alg: 'MD5', user: 'tv44', password: '' }), { proxy: false });
      assert.ok(res instanceof SipResponse);
      assert.equal(res.status, 401);
    });
  });

  describe('a nonce spent by a wrong guess (issue 16: svcrack pipelines its guesses on one nonce)', () => {
    it('challenges every later use of a nonce a wrong password was tried with, the right password too, without checking it', async () => {
      let lookups = 0;
      const counting = store.asStore();
      const get = counting.getCredentials.bind(counting);
      counting.getCredentials = (u: string) => (lookups++, get(u));
      const a = new Authenticator({ store: counting, realm: REALM, clock, nonceTtlMs: 60_000 });
      const refusals: string[] = [];
      const onRefused = (_u: string, r: string) => void refusals.push(r);
      const first = await a.authenticate(request(), { proxy: false }) as SipResponse;
      const wrong = await a.authenticate(answer(request(), first, { alg: 'MD5', password: 'guess', nc: 1 }), { proxy: false, onRefused });
      assert.ok(wrong instanceof SipResponse);
      assert.equal(lookups, 1);
      const again = await a.authenticate(answer(request(), first, { alg: 'MD5', nc: 2 }), { proxy: false, onRefused });
      assert.ok(again instanceof SipResponse);
      assert.equal(again.status, 401);
      assert.equal(lookups, 1, 'the spent nonce was not checked');
      assert.notEqual(challenges(again)[0]!.get('nonce'), challenges(first)[0]!.get('nonce'), 'a new nonce');
      assert.deepEqual(refusals, ['wrong password', 'spent nonce']);
      // the fresh nonce works
      assert.deepEqual(await a.authenticate(answer(request(), again, { alg: 'MD5', nc: 1 }), { proxy: false }), { userId: 'alice' });
    });

    it('checks pipelined guesses on one nonce one after another: only the first is checked against the store', async () => {
      let lookups = 0;
      const slow = store.asStore();
      const get = slow.getCredentials.bind(slow);
      slow.getCredentials = async (u: string) => {
        lookups++;
        await new Promise((r) => setImmediate(r));
        return get(u);
      };
      const a = new Authenticator({ store: slow, realm: REALM, clock, nonceTtlMs: 60_000 });
      const first = await a.authenticate(request(), { proxy: false }) as SipResponse;
      const guesses = Array.from({ length: 20 }, (_, i) => a.authenticate(answer(request(), first, { alg: 'MD5', password: `g${i}`, nc: i + 1 }), { proxy: false }));
      // the right password, pipelined behind them on the same nonce, is challenged too
      guesses.push(a.authenticate(answer(request(), first, { alg: 'MD5', nc: 21 }), { proxy: false }));
      const results = await Promise.all(guesses);
      assert.ok(results.every((r) => r instanceof SipResponse && r.status === 401));
      assert.equal(lookups, 1);
    });

    it('keeps spent nonces in the bounded nonce-count table: an evicted one is forgotten, never checked again', () => {
      const counts = new NonceCounts(2);
      counts.spend('n1', 1000, 9999, 1000);
      assert.equal(counts.spent('n1'), true);
      assert.equal(counts.accept('n1', 5, 1000, 9999, 1000), 'replay');
      counts.accept('n2', 1, 1001, 9999, 1001);
      counts.spend('n3', 1002, 9999, 1002);
      assert.equal(counts.size, 2);
      assert.equal(counts.spent('n1'), false);
      assert.equal(counts.forgotten('n1', 1000), true);
      assert.equal(counts.spent('n3'), true);
    });
  });

  describe('nonce-count table', () => {
    it('keeps at most maxEntries nonces and refuses an evicted nonce as forgotten', () => {
      const counts = new NonceCounts(2);
      assert.equal(counts.accept('n1', 1, 1000, 9999, 1000), 'ok');
      assert.equal(counts.accept('n2', 1, 1001, 9999, 1001), 'ok');
      assert.equal(counts.accept('n3', 1, 1002, 9999, 1002), 'ok');
      assert.equal(counts.size, 2);
      assert.equal(counts.accept('n1', 2, 1000, 9999, 1003), 'forgotten');
      assert.equal(counts.accept('n3', 1, 1002, 9999, 1003), 'replay');
    });

    it('drops nonces once they expire', () => {
      const counts = new NonceCounts(10);
      counts.accept('n1', 1, 0, 100, 0);
      counts.accept('n2', 1, 200, 300, 200);
      assert.equal(counts.size, 1);
    });

    it('drops expired nonces from the oldest on, up to the first one still valid; those behind it go later', () => {
      const counts = new NonceCounts(10);
      counts.accept('n1', 1, 0, 500, 0);
      counts.accept('n2', 1, 10, 100, 10); // expires before n1, which is older
      counts.accept('n3', 1, 200, 900, 200);
      assert.equal(counts.size, 3, 'n1 is still valid at 200: n2 waits behind it');
      counts.accept('n4', 1, 600, 1000, 600);
      assert.equal(counts.size, 2, 'n1 and n2 gone at 600');
      assert.equal(counts.accept('n3', 2, 200, 900, 600), 'ok');
    });
  });

  it('consumes the Proxy-Authorization of its own realm and keeps other realms\' (RFC 3261 §22.3)', () => {
    const req = request({ method: 'INVITE' });
    req.addHeader('Proxy-Authorization', 'Digest username="alice", realm="tvphone", nonce="n", uri="sip:bob@example.com", response="00"');
    req.addHeader('Proxy-Authorization', 'Digest username="alice", realm="carrier.example", nonce="m", uri="sip:bob@example.com", response="11"');
    auth.consumeCredentials(req);
    assert.deepEqual(req.headerValues('proxy-authorization').map((v) => /realm="([^"]+)"/.exec(v)?.[1]), ['carrier.example']);
  });

  it('logs each refused credential at warn with user, realm, source address and reason, in one stable line', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = createLogger('warn', { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    const logged = new Authenticator({ store: store.asStore(), realm: REALM, clock, nonceTtlMs: 60_000, log });
    const source = { address: '192.0.2.7', port: 5077 };
    const attempt = async (o: { password?: string; user?: string }) => {
      const req = request(o.user ? { user: o.user } : {});
      const first = await logged.authenticate(req, { proxy: false, source });
      return logged.authenticate(answer(req, first as SipResponse, { alg: 'MD5', ...o }), { proxy: false, source });
    };
    await attempt({ password: 'wrong' });
    await attempt({ user: 'mallory', password: 'x' });
    assert.deepEqual(await attempt({}), { userId: 'alice' });
    assert.deepEqual(lines.map((l) => [l.msg, l.user, l.realm, l.ip, l.port, l.reason]), [
      ['authentication failed', 'alice', REALM, '192.0.2.7', 5077, 'wrong password'],
      ['authentication failed', 'mallory', REALM, '192.0.2.7', 5077, 'unknown user'],
    ]);
    assert.equal(lines[0]!.level, 40);
    // the stable line fail2ban reads (contrib/fail2ban/filter.d/tvphone.conf)
    const filter = /"ip":"(?<host>[^"]+)".*"reason":"(?:wrong password|unknown user|realm mismatch|user mismatch)".*"msg":"authentication failed"/;
    assert.equal(filter.exec(JSON.stringify(lines[0]))?.groups?.host, '192.0.2.7');
  });
});
