import assert from 'node:assert/strict';
import { FakeClock } from '../../../src/clock.ts';
import { validateProfile, type TrunkConfig } from '../../../src/config/profile.ts';
import { silentLogger } from '../../../src/log/logger.ts';
import { createChallenge, ha1, verifyDigest } from '../../../src/sip/digest.ts';
import { parseAuthParams } from '../../../src/sip/headers.ts';
import type { SipRequest, SipResponse } from '../../../src/sip/message.ts';
import { createResponse } from '../../../src/sip/response.ts';
import type { Target } from '../../../src/transport/transport.ts';
import { Trunks } from '../../../src/trunks/trunks.ts';

const CARRIER: Target = { transport: 'udp', address: '127.0.0.9', port: 5080 };

function trunk(t: Record<string, unknown> = {}, listeners: unknown[] = [{ transport: 'udp' }, { transport: 'tcp' }]): TrunkConfig {
  return validateProfile({
    listeners,
    trunks: [{ name: 'carrier', host: '127.0.0.9', port: 5080, username: 'acct', password: 'pw', realm: 'carrier.test', register: true, expires: 120, retrySeconds: 10, forbiddenRetrySeconds: 600, ...t }],
  }, 'p.json').trunks[0];
}

/** A carrier registrar in memory: challenges, then answers what `answer` says (null = no answer). */
interface Sent { req: { method: string; uri: string; callId: string; seq: number; header(name: string): string | undefined }; at: number; authorized: boolean; target: Target }

function setup(cfg: TrunkConfig, answer: (req: SipRequest, n: number) => SipResponse | null | 'challenge' | 'hang') {
  const clock = new FakeClock(1_000_000);
  const sent: Sent[] = [];
  const trunks = new Trunks({
    trunks: [cfg], clock, log: silentLogger(),
    sentBy: (t) => ({ transport: t.transport, host: '127.0.0.1', port: 5060 }),
    send: async (req, target) => {
      // a copy as sent: the registration mutates the same request for the authenticated resend
      const authz = req.header('authorization');
      let authorized = false;
      if (authz !== undefined) authorized = verifyDigest({ params: parseAuthParams(authz).params, method: 'REGISTER', ha1: ha1((parseAuthParams(authz).params.get('algorithm') ?? 'MD5') as 'MD5', 'acct', 'carrier.test', 'pw') });
      const values = new Map(['authorization', 'contact', 'expires', 'to'].map((n) => [n, req.header(n)]));
      const snapshot = { method: req.method, uri: req.uri, callId: req.callId, seq: req.cseq().seq, header: (n: string) => values.get(n) };
      sent.push({ req: snapshot, at: clock.now(), authorized, target });
      const a = answer(req, sent.length);
      if (a === 'hang') return new Promise<never>(() => {});
      if (a === 'challenge') {
        if (authorized) return okFor(req, 120);
        const res = createResponse(req, 401, 'Unauthorized', 'reg');
        res.addHeader('WWW-Authenticate', createChallenge({ realm: 'carrier.test', nonce: `n${sent.length}`, algorithm: 'MD5' }));
        return res;
      }
      return a;
    },
  });
  return { clock, sent, trunks, reg: trunks.registration('carrier')! };
}

function okFor(req: SipRequest, expires: number, contactExpires = expires): SipResponse {
  const res = createResponse(req, 200, 'OK', 'reg');
  res.addHeader('Contact', `${req.header('contact')};expires=${contactExpires}`);
  res.addHeader('Expires', String(expires));
  return res;
}

describe('trunks/registration (RFC 3261 §10.2, outbound)', () => {
  it('answers the 401 with digest credentials, is REGED with the Contact expires of the 200, and refreshes at 80 % of it', async () => {
    const { clock, sent, trunks, reg } = setup(trunk(), (req) => (req.header('authorization') ? okFor(req, 3600, 100) : 'challenge'));
    trunks.start();
    await clock.tick(0);
    assert.equal(sent.length, 2);
    assert.equal(sent[0].req.header('authorization'), undefined);
    assert.ok(sent[1].authorized, 'the second REGISTER carries valid MD5 credentials');
    assert.deepEqual(sent.map((s) => s.req.seq), [1, 2]);
    assert.equal(sent[0].req.uri, 'sip:carrier.test');
    assert.equal(sent[0].req.header('to'), '<sip:acct@carrier.test>');
    assert.equal(sent[0].req.header('contact'), '<sip:trunk-carrier@127.0.0.1:5060>');
    assert.equal(sent[0].req.header('expires'), '120');
    assert.deepEqual(sent[0].target, CARRIER);
    const s = reg.status;
    assert.deepEqual([s.state, s.lastStatus, s.registrations, s.failures], ['REGED', 200, 1, 0]);
    assert.equal(s.expiresAt, clock.now() + 100_000, 'the Contact expires (100), not the Expires header (3600)');
    assert.equal(s.nextAttemptAt, clock.now() + 80_000);

    await clock.tick(79_999);
    assert.equal(sent.length, 2, 'no refresh before 80 s');
    await clock.tick(1);
    assert.equal(sent.length, 4, 'refresh at 80 s (challenged again, answered)');
    assert.equal(sent[2].req.callId, sent[0].req.callId, 'RFC 3261 §10.2.4: the same Call-ID');
    assert.ok(sent[2].req.seq > 2, 'and a higher CSeq');
    assert.equal(reg.status.registrations, 2);
    await trunks.close();
  });

  it('prefers a SHA-256 challenge over MD5 (RFC 8760 §2.4), and answers with only an HA1 of the configured realm', async () => {
    const key = ha1('MD5', 'acct', 'carrier.test', 'pw');
    const cfg = trunk({ password: undefined, ha1: { md5: key } });
    const seen: string[] = [];
    const { clock, trunks, reg } = setup(cfg, (req) => {
      const authz = req.header('authorization');
      if (authz === undefined) {
        const res = createResponse(req, 401, 'Unauthorized', 'reg');
        res.addHeader('WWW-Authenticate', createChallenge({ realm: 'carrier.test', nonce: 'n1', algorithm: 'SHA-256' }));
        res.addHeader('WWW-Authenticate', createChallenge({ realm: 'carrier.test', nonce: 'n2', algorithm: 'MD5' }));
        return res;
      }
      const p = parseAuthParams(authz).params;
      seen.push(p.get('algorithm') ?? 'MD5');
      return verifyDigest({ params: p, method: 'REGISTER', ha1: key }) ? okFor(req, 120) : createResponse(req, 403, 'Forbidden');
    });
    trunks.start();
    await clock.tick(0);
    assert.deepEqual(seen, ['MD5'], 'an MD5 HA1 cannot answer SHA-256: the MD5 challenge is taken');
    assert.equal(reg.status.state, 'REGED');
    await trunks.close();

    const sha = setup(trunk(), (req) => {
      const authz = req.header('authorization');
      if (authz === undefined) {
        const res = createResponse(req, 401, 'Unauthorized', 'reg');
        res.addHeader('WWW-Authenticate', createChallenge({ realm: 'carrier.test', nonce: 'n2', algorithm: 'MD5' }));
        res.addHeader('WWW-Authenticate', createChallenge({ realm: 'carrier.test', nonce: 'n1', algorithm: 'SHA-256' }));
        return res;
      }
      const p = parseAuthParams(authz).params;
      return p.get('algorithm') === 'SHA-256' && verifyDigest({ params: p, method: 'REGISTER', ha1: ha1('SHA-256', 'acct', 'carrier.test', 'pw') }) ? okFor(req, 120) : createResponse(req, 403, 'Forbidden');
    });
    sha.trunks.start();
    await sha.clock.tick(0);
    assert.equal(sha.reg.status.state, 'REGED', 'a password answers SHA-256');
    await sha.trunks.close();
  });

  it('after a 403 is FAILED and waits forbiddenRetrySeconds before trying again', async () => {
    const { clock, sent, trunks, reg } = setup(trunk(), (req) => createResponse(req, 403, 'Forbidden'));
    trunks.start();
    await clock.tick(0);
    const s = reg.status;
    assert.deepEqual([s.state, s.lastStatus, s.lastReason, s.failures], ['FAILED', 403, 'Forbidden', 1]);
    assert.equal(s.nextAttemptAt, clock.now() + 600_000);
    await clock.tick(599_999);
    assert.equal(sent.length, 1);
    await clock.tick(1);
    assert.equal(sent.length, 2);
    await trunks.close();
  });

  it('backs off on no answer: retrySeconds, doubling, capped at 8 × retrySeconds; then registers when the carrier is back', async () => {
    let down = true;
    const { clock, sent, trunks, reg } = setup(trunk(), (req) => (down ? null : okFor(req, 120)));
    trunks.start();
    await clock.tick(0);
    assert.deepEqual([reg.status.state, reg.status.lastStatus], ['FAILED', 408]);
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      const before = sent.length;
      const next = reg.status.nextAttemptAt! - clock.now();
      waits.push(next / 1000);
      await clock.tick(next);
      assert.equal(sent.length, before + 1);
    }
    assert.deepEqual(waits, [10, 20, 40, 80, 80, 80]);
    down = false;
    await clock.tick(reg.status.nextAttemptAt! - clock.now());
    assert.equal(reg.status.state, 'REGED');
    assert.equal(reg.status.failures, 7);
    await trunks.close();
  });

  it('a 503 with Retry-After comes back when it says (bounded by retrySeconds and forbiddenRetrySeconds)', async () => {
    const { clock, trunks, reg } = setup(trunk(), (req) => {
      const res = createResponse(req, 503, 'Service Unavailable');
      res.addHeader('Retry-After', '45');
      return res;
    });
    trunks.start();
    await clock.tick(0);
    assert.equal(reg.status.nextAttemptAt! - clock.now(), 45_000);
    await trunks.close();
  });

  it('registers again at once when the TCP connection it registered over closes', async () => {
    const { clock, sent, trunks, reg } = setup(trunk({ transport: 'tcp' }), (req) => okFor(req, 120));
    trunks.start();
    await clock.tick(0);
    assert.equal(reg.status.state, 'REGED');
    assert.equal(sent[0].req.header('contact'), '<sip:trunk-carrier@127.0.0.1:5060;transport=tcp>');
    trunks.connectionClosed({ transport: 'tcp', address: '127.0.0.8', port: 5080 });
    assert.equal(reg.status.state, 'REGED', 'another flow closing changes nothing');
    trunks.connectionClosed({ transport: 'tcp', address: '127.0.0.9', port: 5080 });
    assert.equal(reg.status.state, 'TRYING');
    await clock.tick(0);
    assert.equal(sent.length, 2);
    assert.equal(reg.status.state, 'REGED');
    await trunks.close();
  });

  it('de-registers (Expires: 0) at close and leaves no timer; a trunk with register false sends nothing and is UNREGED', async () => {
    const { clock, sent, trunks, reg } = setup(trunk(), (req) => okFor(req, Number(req.header('expires'))));
    trunks.start();
    await clock.tick(0);
    await trunks.close();
    assert.equal(sent.at(-1)!.req.header('expires'), '0');
    assert.equal(reg.status.state, 'UNREGED');
    assert.equal(clock.pending, 0);

    const off = setup(trunk({ register: false }), () => assert.fail('nothing is sent'));
    off.trunks.start();
    await off.clock.tick(60_000);
    assert.equal(off.trunks.status()[0].state, 'UNREGED');
    assert.equal(off.trunks.status()[0].up, true);
    await off.trunks.close();
  });

  it('de-registration at close gives up after its bounded wait when the carrier does not answer', async () => {
    let answer = true;
    // a send that never settles: only the deadline ends close()
    const { clock, trunks, reg } = setup(trunk(), (req) => (answer ? okFor(req, 120) : 'hang'));
    trunks.start();
    await clock.tick(0);
    answer = false;
    let closed = false;
    const p = trunks.close(4_000).then(() => { closed = true; });
    await clock.tick(3_999);
    assert.equal(closed, false);
    await clock.tick(1);
    await p;
    assert.deepEqual([closed, reg.status.state, clock.pending], [true, 'UNREGED', 0]);
  });

  it('pings with OPTIONS every `ping` seconds: an answer 2xx–4xx is up, no answer is down', async () => {
    let answer = true;
    const { clock, sent, trunks } = setup(trunk({ register: false, ping: 30 }), (req) => (answer ? createResponse(req, 404, 'Not Found') : null));
    trunks.start();
    await clock.tick(0);
    assert.equal(sent[0].req.method, 'OPTIONS');
    assert.deepEqual([trunks.status()[0].ping, trunks.status()[0].up], ['up', true]);
    answer = false;
    await clock.tick(30_000);
    assert.equal(sent.length, 2);
    assert.deepEqual([trunks.status()[0].ping, trunks.status()[0].up], ['down', false]);
    await trunks.close();
    assert.equal(clock.pending, 0);
  });
});
