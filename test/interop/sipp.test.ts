// Interop with sipp (SIPp 3.6) as an independent peer: every scenario of test/interop/sipp/ against tvphone
// in-process on 127.0.0.1 (UDP), with sipp's exit code, its successful/failed call counts, and the store
// (user_call, bindings, stored messages) checked afterwards.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REALM, startTestServer, type TestServer } from '../helpers/test-server.ts';
import { freePort, installed, killAll, LOOPBACK, sleep } from './lib/proc.ts';
import { sipp, startSipp, type SippResult } from './lib/sipp.ts';

function ok(r: SippResult, calls = 1): void {
  assert.equal(r.code, 0, r.log);
  assert.equal(r.successful, calls, r.log);
  assert.equal(r.failed, 0, r.log);
}

async function until<T>(f: () => Promise<T>, test: (v: T) => boolean, ms: number): Promise<T> {
  const end = Date.now() + ms;
  let v = await f();
  while (!test(v) && Date.now() < end) {
    await sleep(50);
    v = await f();
  }
  return v;
}

describe('interop: sipp scenarios against tvphone (UDP)', function () {
  this.timeout(30000);
  let ts: TestServer | null = null;
  let work: string;
  const target = (): string => `${LOOPBACK}:${ts!.udp.port}`;

  before(function () {
    if (!installed('sipp')) this.skip();
  });

  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'tvphone-sipp-'));
  });

  afterEach(async () => {
    await killAll();
    await ts?.close();
    ts = null;
    rmSync(work, { recursive: true, force: true });
  });

  // sipp 3.6 computes MD5 only and answers the first WWW-Authenticate (exit 255 "authentication must use MD5
  // or AKAv1-MD5" otherwise), so these run with the profile's auth.algorithms = ALGS.
  const ALGS: Array<'MD5' | 'SHA-256'> = ['MD5', 'SHA-256'];
  const digestServer = (algorithms = ALGS): Promise<TestServer> =>
    startTestServer({ profile: { auth: { mode: 'digest', realm: REALM, algorithms } } });

  it('register-digest.xml: 401 with a Digest challenge, then 200 listing the binding, for a user added first', async () => {
    ts = await digestServer();
    await ts.addUser('alice', 's3cret');
    ok(await sipp({ workDir: work, scenario: 'register-digest.xml', target: target(), args: ['-s', 'alice', '-au', 'alice', '-ap', 's3cret'] }));
    const b = await ts.server.store.getBindings('alice', Date.now());
    assert.equal(b.length, 1);
    assert.equal((await ts.server.store.getPresence('alice'))?.netstate, 1);
  });

  it('register-digest.xml with a wrong password fails (the challenge is really checked) and adds no binding', async () => {
    ts = await digestServer();
    await ts.addUser('alice', 's3cret');
    const r = await sipp({ workDir: work, scenario: 'register-digest.xml', target: target(), timeoutS: 3, args: ['-s', 'alice', '-au', 'alice', '-ap', 'wrong'] });
    assert.notEqual(r.code, 0, r.log);
    assert.ok(r.successful <= 0, r.log);
    assert.deepEqual(await ts.server.store.getBindings('alice', Date.now()), []);
  });

  it('with the default profile (SHA-256 challenge first, RFC 8760 §2.4) sipp cannot answer the challenge', async () => {
    ts = await startTestServer({ auth: 'digest' });
    await ts.addUser('alice', 's3cret');
    const r = await sipp({ workDir: work, scenario: 'register-digest.xml', target: target(), timeoutS: 3, args: ['-s', 'alice', '-au', 'alice', '-ap', 's3cret'] });
    assert.notEqual(r.code, 0, r.log);
    assert.match(r.log, /must use MD5/);
  });

  it('register.xml: 200 listing the binding with expires (no auth)', async () => {
    ts = await startTestServer({ auth: 'none' });
    ok(await sipp({ workDir: work, scenario: 'register.xml', target: target(), args: ['-s', 'bob', '-key', 'contact_hostport', `${LOOPBACK}:5999`] }));
    const b = await ts.server.store.getBindings('bob', Date.now());
    assert.equal(b.length, 1);
    assert.match(b[0]!.contact, /sip:bob@127\.0\.0\.1:5999/);
  });

  it('unregister.xml: Expires: 0 removes the binding and the 200 no longer lists it; the user goes offline', async () => {
    ts = await startTestServer({ auth: 'none' });
    ok(await sipp({ workDir: work, scenario: 'unregister.xml', target: target(), args: ['-s', 'carol'] }));
    assert.deepEqual(await ts.server.store.getBindings('carol', Date.now()), []);
    assert.equal((await ts.server.store.getPresence('carol'))?.netstate, 0);
  });

  it('query.xml: a REGISTER without Contact lists the current binding and changes nothing', async () => {
    ts = await startTestServer({ auth: 'none' });
    ok(await sipp({ workDir: work, scenario: 'query.xml', target: target(), args: ['-s', 'dave'] }));
    const b = await ts.server.store.getBindings('dave', Date.now());
    assert.equal(b.length, 1);
    assert.match(b[0]!.contact, /query-probe@/);
  });

  // RFC 3261 §10.2: "a third-party registration" — the REGISTER may come from an address other than the
  // Contact's. This is how the shared scenarios run (and pass against Kamailio): register.xml from one sipp,
  // the callee UAS on another port. The proxy must send the INVITE to the Contact (it is not NATed, not a flow).
  it('call via a third-party registration: the INVITE goes to the registered Contact, not to the REGISTER\'s source', async () => {
    ts = await startTestServer({ auth: 'none' });
    const uas = await startSipp({ workDir: work, scenario: 'call-uas.xml', target: null, timeoutS: 12 });
    ok(await sipp({ workDir: work, scenario: 'register.xml', target: target(), args: ['-s', 'callee', '-key', 'contact_hostport', `${LOOPBACK}:${uas.port}`] }));
    ok(await sipp({ workDir: work, scenario: 'call-uac.xml', target: target(), timeoutS: 12, args: ['-s', 'callee', '-d', '200'] }));
    ok(await uas.result);
  });

  /** register.xml sent from port P with Contact 127.0.0.1:P, then the UAS scenario started on P: a first-party registration */
  async function registeredUas(user: string, scenario: string, args: string[] = []): Promise<Awaited<ReturnType<typeof startSipp>>> {
    const port = await freePort();
    ok(await sipp({ workDir: work, scenario: 'register.xml', target: target(), port, args: ['-s', user, '-key', 'contact_hostport', `${LOOPBACK}:${port}`] }));
    return startSipp({ workDir: work, scenario, target: null, timeoutS: 12, port, args });
  }

  it('call-uac.xml → call-uas.xml: INVITE relayed with Record-Route, ACK and BYE by loose routing; user_call answered', async () => {
    ts = await startTestServer({ auth: 'none' });
    const uas = await registeredUas('callee', 'call-uas.xml');
    ok(await sipp({ workDir: work, scenario: 'call-uac.xml', target: target(), args: ['-s', 'callee', '-d', '200'] }));
    ok(await uas.result);
    const calls = await until(() => ts!.server.store.listCalls({ userId: 'callee' }), (c) => c.length === 1 && c[0]!.endedAt !== null, 2000);
    assert.equal(calls.length, 1);
    const c = calls[0]!;
    assert.equal(c.userId, 'caller');
    assert.equal(c.otherUserId, 'callee');
    assert.equal(c.outcome, 'answered');
    assert.equal(c.status, 200);
    assert.ok(c.answeredAt !== null, 'answeredAt set');
    assert.ok(c.endedAt !== null, 'endedAt set after BYE');
  });

  it('cancel-uac.xml → cancel-uas.xml: CANCEL relayed to the ringing branch, 200 then 487; user_call cancelled', async () => {
    ts = await startTestServer({ auth: 'none' });
    const uas = await registeredUas('ringer', 'cancel-uas.xml');
    ok(await sipp({ workDir: work, scenario: 'cancel-uac.xml', target: target(), args: ['-s', 'ringer'] }));
    ok(await uas.result);
    const calls = await until(() => ts!.server.store.listCalls({ userId: 'ringer' }), (c) => c.length === 1 && c[0]!.outcome !== 'pending', 2000);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.outcome, 'cancelled');
    assert.equal(calls[0]!.status, 487);
  });

  it('max-forwards-483.xml: MESSAGE with Max-Forwards: 0 gets 483 and is not stored', async () => {
    ts = await startTestServer({ auth: 'none' });
    ok(await sipp({ workDir: work, scenario: 'max-forwards-483.xml', target: target(), args: ['-s', 'erin'] }));
    assert.deepEqual(await ts.server.store.listMessages({ toUser: 'erin' }), []);
  });

  it('unknown-method.xml: FROBNICATE gets 405 or 501 with Allow', async () => {
    ts = await startTestServer({ auth: 'none' });
    ok(await sipp({ workDir: work, scenario: 'unknown-method.xml', target: target() }));
  });

  it('options.xml: OPTIONS to the server gets 200 with Allow listing INVITE', async () => {
    ts = await startTestServer({ auth: 'none' });
    ok(await sipp({ workDir: work, scenario: 'options.xml', target: target() }));
  });

  it('message-offline.xml ×3 → 202; then message-receiver.xml registered as that user receives all 3, and they are marked delivered', async () => {
    ts = await startTestServer({ auth: 'none' });
    await ts.addUser('tv1', 'pw'); // a MESSAGE to an unknown user gets 404; store-and-forward is for known users
    ok(await sipp({ workDir: work, scenario: 'message-offline.xml', target: target(), args: ['-s', 'tv1', '-m', '3', '-r', '10'] }), 3);
    const pending = await ts.server.store.listMessages({ toUser: 'tv1', state: 'pending' });
    assert.equal(pending.length, 3);
    assert.match(Buffer.from(pending[0]!.body).toString('utf8'), /tvphone-interop-offline \d+: kept while the TV was off/);
    // the server delivers right after the 200 for REGISTER; the receiver binds the same port a moment later
    // and gets the MESSAGE's UDP retransmission (Timer E)
    const rx = await registeredUas('tv1', 'message-receiver.xml', ['-m', '3']);
    ok(await rx.result, 3);
    const delivered = await until(() => ts!.server.store.listMessages({ toUser: 'tv1', state: 'delivered' }), (m) => m.length === 3, 2000);
    assert.equal(delivered.length, 3);
    assert.deepEqual(await ts.server.store.listMessages({ toUser: 'tv1', state: 'pending' }), []);
  });

  // Same rule for stored MESSAGEs: routing/send-request.ts bindingTarget() still sends them to the REGISTER's
  // source, while the proxy (proxy/target-set.ts) now uses the Contact unless NATed or on a stream flow.
  it('stored MESSAGEs after a third-party registration go to the registered Contact', async () => {
    ts = await startTestServer({ auth: 'none' });
    await ts.addUser('tv3', 'pw');
    ok(await sipp({ workDir: work, scenario: 'message-offline.xml', target: target(), args: ['-s', 'tv3'] }));
    const rx = await startSipp({ workDir: work, scenario: 'message-receiver.xml', target: null, timeoutS: 5 });
    ok(await sipp({ workDir: work, scenario: 'register.xml', target: target(), args: ['-s', 'tv3', '-key', 'contact_hostport', `${LOOPBACK}:${rx.port}`] }));
    ok(await rx.result);
  });
});
