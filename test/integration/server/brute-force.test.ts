// Issue 16 item 3 on real sockets: an svcrack-like guesser is banned while a TV at another address registers; guesses
// pipelined on one nonce are all challenged; an OPTIONS flood from one source leaves another source served.
import assert from 'node:assert/strict';
import { buildAuthorization } from '../../../src/sip/digest.ts';
import { parseAuthParams } from '../../../src/sip/headers.ts';
import { createLogger } from '../../../src/log/logger.ts';
import type { SipResponse } from '../../../src/sip/message.ts';
import { validateProfile } from '../../../src/config/profile.ts';
import { REALM, startTestServer, type TestServer } from '../../helpers/test-server.ts';
import type { RawClient } from '../../helpers/raw-client.ts';

const ELSEWHERE = '127.0.0.2'; // another source address on loopback

function registerSpec(c: RawClient, user: string) {
  return {
    method: 'REGISTER', uri: 'sip:127.0.0.1', from: `<sip:${user}@127.0.0.1>`, to: `<sip:${user}@127.0.0.1>`,
    headers: [['Contact', c.contact]] as Array<[string, string]>,
  };
}

function challengeOf(res: SipResponse, name = 'www-authenticate'): Map<string, string> {
  return parseAuthParams(res.header(name)!).params;
}

/** REGISTER → 401 → REGISTER with `password`: the final status of the second (0: no answer within `timeoutMs`). */
function register(c: RawClient, user: string, password: string, timeoutMs = 2000): Promise<number> {
  return c.registerWithPassword(user, password, timeoutMs);
}

describe('integration: brute-force and flood defence (issue 16 item 3)', function () {
  this.timeout(30000);
  let ts: TestServer | null = null;
  afterEach(async () => {
    await ts?.close();
    ts = null;
  });

  it('bans an svcrack-like guesser after authFailures wrong passwords (403, logged once), while a TV at another address registers', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = createLogger('warn', { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    ts = await startTestServer({ auth: 'digest', log, profile: { security: { authFailures: 5, userAuthFailures: 50, banSeconds: 60 }, admin: { listen: '127.0.0.1:0' } } });
    await ts.addUser('1001', 'right-password');
    const attacker = await ts.client();
    const statuses: number[] = [];
    for (let guess = 0; guess < 20; guess++) statuses.push(await register(attacker, '1001', String(1000 + guess)));
    assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401], 'five guesses checked');
    assert.ok(statuses.slice(5).every((s) => s === 403), `then refused: ${statuses.join(' ')}`);
    assert.equal(await register(attacker, '1001', 'right-password'), 403, 'even the right password: the source is banned');
    const tv = await ts.client('udp', ELSEWHERE);
    assert.equal(await register(tv, '1001', 'right-password'), 200);
    const bans = lines.filter((l) => l.msg === 'source banned');
    assert.deepEqual(bans.map((l) => [l.level, l.ip, l.user, l.failures]), [[40, '127.0.0.1', '1001', 5]]);
    assert.equal(lines.filter((l) => l.msg === 'authentication failed').length, 5, 'one warn line per refused credential, none for the banned');
    const a = ts.server.admin!.address;
    const metrics = await (await fetch(`http://${a.host}:${a.port}/metrics`, { headers: { connection: 'close' } })).text();
    const sample = (series: string) => Number(metrics.split('\n').find((l) => l.startsWith(`${series} `))?.split(' ')[1]);
    assert.equal(sample('tvphone_security_auth_failures_total'), 5);
    assert.equal(sample('tvphone_security_bans_total{of="source"}'), 1);
    assert.equal(sample('tvphone_security_refused_requests_total{why="banned"}'), 16, '15 guesses and the right password, each refused');
  });

  it('with banAction drop a banned source gets no answer at all', async () => {
    ts = await startTestServer({ auth: 'digest', profile: { security: { authFailures: 2, userAuthFailures: 50, banAction: 'drop' } } });
    await ts.addUser('1001', 'right-password');
    const attacker = await ts.client();
    assert.equal(await register(attacker, '1001', 'x1'), 401);
    assert.equal(await register(attacker, '1001', 'x2'), 401);
    const before = attacker.received.length;
    assert.equal(await register(attacker, '1001', 'right-password', 500), 0);
    assert.equal(attacker.received.length, before);
  });

  it('challenges every guess pipelined on one nonce, the right password among them, and lets a fresh nonce in', async () => {
    ts = await startTestServer({ auth: 'digest', profile: { security: { authFailures: 1000, userAuthFailures: 1000 } } });
    await ts.addUser('1001', 'right-password');
    const c = await ts.client();
    const spec = registerSpec(c, '1001');
    const first = c.request(spec);
    const challenge = challengeOf(await c.final(first.callId));
    const sent: string[] = [];
    for (let i = 1; i <= 40; i++) {
      const password = i === 20 || i === 40 ? 'right-password' : String(1000 + i);
      const authz = buildAuthorization({ challenge, user: '1001', password, method: 'REGISTER', uri: spec.uri, nc: i, cnonce: `p${i}` });
      sent.push(c.request({ ...spec, cseq: i + 1, headers: [...spec.headers, ['Authorization', authz]] }).callId);
    }
    const finals = await Promise.all(sent.map((id) => c.final(id, 'REGISTER')));
    assert.deepEqual([...new Set(finals.map((r) => r.status))], [401], 'none was taken');
    for (const r of finals) assert.notEqual(challengeOf(r).get('nonce'), challenge.get('nonce'), 'each gets a new nonce');
    assert.equal(await register(c, '1001', 'right-password'), 200);
  });

  it('keeps a client at another address served (≥ 99 %) during an OPTIONS flood from one socket, which gets 503 with Retry-After', async () => {
    ts = await startTestServer({ auth: 'digest', profile: { security: { maxRequestsPerSecond: 50, requestBurst: 100 } } });
    await ts.addUser('1001', 'right-password');
    await ts.addUser('1002', 'other-password');
    const flooder = await ts.client();
    const tv = await ts.client('udp', ELSEWHERE);
    tv.autoAnswer = null;
    let flooding = true;
    let sent = 0;
    const started = Date.now();
    const flood = (async () => {
      // bounded: at most 30 000 requests and 15 s
      while (flooding && sent < 30_000 && Date.now() - started < 15_000) {
        for (let i = 0; i < 40; i++, sent++) flooder.request({ method: 'OPTIONS', uri: 'sip:127.0.0.1', from: '<sip:x@127.0.0.1>', to: '<sip:127.0.0.1>' });
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await new Promise((r) => setTimeout(r, 300)); // the flood is on
    assert.equal(await register(tv, '1001', 'right-password', 5000), 200);
    // MESSAGEs to an offline user, on one nonce (nc 1, 2, …) as a phone does after its first 407
    const to = '<sip:1002@127.0.0.1>';
    const msg = { method: 'MESSAGE', uri: 'sip:1002@127.0.0.1', from: '<sip:1001@127.0.0.1>', to, contentType: 'text/plain' };
    const first = tv.request({ ...msg, body: 'hello 0' });
    const challenge = challengeOf(await tv.final(first.callId, 'MESSAGE', 5000), 'proxy-authenticate');
    const N = 200;
    let ok = 0;
    const refused: number[] = [];
    for (let i = 1; i <= N; i++) {
      // the TV keeps within its own rate (40/s against maxRequestsPerSecond 50): only the flooder is over
      const due = Date.now() + 25;
      const authz = buildAuthorization({ challenge, user: '1001', password: 'right-password', method: 'MESSAGE', uri: msg.uri, nc: i, cnonce: 'flood' });
      const r = tv.request({ ...msg, body: `hello ${i}`, headers: [['Proxy-Authorization', authz]] });
      try {
        const status = (await tv.final(r.callId, 'MESSAGE', 3000)).status;
        if (status < 300) ok++;
        else refused.push(status);
      } catch {
        refused.push(0); // no answer counts as a failure
      }
      await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
    }
    flooding = false;
    await flood;
    const seconds = (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 200));
    const answers = flooder.received.filter((m) => !m.isRequest()) as SipResponse[];
    const served = answers.filter((r) => r.status === 200).length;
    const limited = answers.filter((r) => r.status === 503);
    assert.ok(ok / N >= 0.99, `the TV at another address: ${ok} of ${N} MESSAGEs taken; refused: ${refused.join(' ')}`);
    assert.ok(sent > 1000, `a flood (${sent} sent)`);
    assert.ok(served <= 100 + 50 * (seconds + 1), `the flooder is held to its burst and rate: ${served} served in ${seconds.toFixed(1)} s`);
    assert.ok(limited.length > sent / 2, `${limited.length} of ${sent} answered 503`);
    assert.equal(limited[0]!.header('retry-after'), '5');
  });

  it('applies a changed security section on reload (SIGHUP) without a restart', async () => {
    const section = { maxRequestsPerSecond: 0 };
    ts = await startTestServer({ auth: 'digest', profile: { security: section } });
    const c = await ts.client();
    const options = async () => (await c.final(c.request({ method: 'OPTIONS', uri: 'sip:127.0.0.1', from: '<sip:x@127.0.0.1>', to: '<sip:127.0.0.1>' }).callId)).status;
    for (let i = 0; i < 5; i++) assert.equal(await options(), 200);
    const next = validateProfile({
      listeners: [{ transport: 'udp', host: '127.0.0.1', port: 0 }, { transport: 'tcp', host: '127.0.0.1', port: 0 }],
      auth: { mode: 'digest', realm: REALM }, store: { url: ts.dbUrl }, security: { maxRequestsPerSecond: 1, requestBurst: 2 },
    }, 'reloaded.json');
    const r = ts.server.reload(next);
    assert.ok(r.applied.includes('security.maxRequestsPerSecond'), JSON.stringify(r));
    assert.ok(!r.needsRestart.some((f) => f.startsWith('security')), JSON.stringify(r));
    assert.deepEqual([await options(), await options(), await options()], [200, 200, 503]);
  });
});
