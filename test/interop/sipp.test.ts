// Interop with sipp (SIPp 3.6) as an independent peer: the scenarios of test/interop/sipp/ against tvphone
// in-process on 127.0.0.1 (UDP) with the shipped default profile's auth (startDefaultProfileServer: MD5 challenges
// for a UA not known to do SHA-256, which sipp is), with sipp's exit code, its successful/failed call counts, and
// the store (user_call, bindings, stored messages, subscriptions) checked afterwards.
// Every client case authenticates: REGISTER with 401, INVITE, MESSAGE and SUBSCRIBE with 407 ([authentication]
// from -au/-ap). The scenarios without auth (register.xml, call-uac.xml, cancel-uac.xml, message-offline.xml …)
// stay for bench/validate-interop.ts, which runs them against Kamailio without auth; here only those that
// no authentication touches run (OPTIONS to the server, 483, 405/501: answered before any challenge), and they
// run with the default profile too. A callee or receiver UAS registers first with digest from the port it then
// serves on (register-digest.xml, then the UAS scenario on that port).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDefaultProfileServer } from '../helpers/default-profile-server.ts';
import type { TestServer } from '../helpers/test-server.ts';
import { freePort, installed, killAll, LOOPBACK } from './lib/proc.ts';
import { assertSippOk, sipp, startSipp } from './lib/sipp.ts';
import { pollUntil } from '../helpers/until.ts';
import { needPeers } from '../helpers/peers.ts';



describe('interop: sipp scenarios against tvphone (UDP)', function () {
  this.timeout(30000);
  let ts: TestServer | null = null;
  let work: string;
  const target = (): string => `${LOOPBACK}:${ts!.udp.port}`;

  before(function () {
    needPeers(this, installed('sipp'), 'sipp');
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

  const PW = 'pw-sipp';
  /** -s USER plus credentials of user `as` (the From user of the request, the To user of a REGISTER) */
  const creds = (service: string, as: string, password = PW): string[] => ['-s', service, '-au', as, '-ap', password];

  it('with the shipped default profile (MD5 challenge first for a UA not known to do SHA-256) sipp answers the 401: 200 listing the binding', async () => {
    ts = await startDefaultProfileServer();
    await ts.addUser('alice', 's3cret');
    const r = await sipp({ workDir: work, scenario: 'register-digest.xml', target: target(), args: creds('alice', 'alice', 's3cret') });
    assertSippOk(r);
    assert.doesNotMatch(r.log, /must use MD5/);
    const b = await ts.server.store.getBindings('alice', Date.now());
    assert.equal(b.length, 1);
    assert.equal((await ts.server.store.getPresence('alice'))?.netstate, 1);
  });

  it('register-digest.xml with a wrong password fails (the challenge is really checked) and adds no binding', async () => {
    ts = await startDefaultProfileServer();
    await ts.addUser('alice', 's3cret');
    const r = await sipp({ workDir: work, scenario: 'register-digest.xml', target: target(), timeoutS: 3, args: creds('alice', 'alice', 'wrong') });
    assert.notEqual(r.code, 0, r.log);
    assert.ok(r.successful <= 0, r.log);
    assert.deepEqual(await ts.server.store.getBindings('alice', Date.now()), []);
  });

  it('register-digest-contact.xml: a digest REGISTER for another Contact binds that Contact', async () => {
    ts = await startDefaultProfileServer();
    await ts.addUser('bob', PW);
    assertSippOk(await sipp({ workDir: work, scenario: 'register-digest-contact.xml', target: target(), args: [...creds('bob', 'bob'), '-key', 'contact_hostport', `${LOOPBACK}:5999`] }));
    const b = await ts.server.store.getBindings('bob', Date.now());
    assert.equal(b.length, 1);
    assert.match(b[0]!.contact, /sip:bob@127\.0\.0\.1:5999/);
  });

  it('unregister-digest.xml: Expires: 0 (credentials for the same nonce, nc=2) removes the binding; the user goes offline', async () => {
    ts = await startDefaultProfileServer();
    await ts.addUser('carol', PW);
    assertSippOk(await sipp({ workDir: work, scenario: 'unregister-digest.xml', target: target(), args: creds('carol', 'carol') }));
    assert.deepEqual(await ts.server.store.getBindings('carol', Date.now()), []);
    assert.equal((await ts.server.store.getPresence('carol'))?.netstate, 0);
  });

  it('query-digest.xml: an authenticated REGISTER without Contact lists the current binding and changes nothing', async () => {
    ts = await startDefaultProfileServer();
    await ts.addUser('dave', PW);
    assertSippOk(await sipp({ workDir: work, scenario: 'query-digest.xml', target: target(), args: creds('dave', 'dave') }));
    const b = await ts.server.store.getBindings('dave', Date.now());
    assert.equal(b.length, 1);
    assert.match(b[0]!.contact, /query-probe@/);
  });

  // RFC 3261 §10.2: "a third-party registration" — the REGISTER may come from an address other than the
  // Contact's. The proxy must send the INVITE to the Contact (it is not NATed, not a flow).
  it('call via a third-party registration: the INVITE goes to the registered Contact, not to the REGISTER\'s source', async () => {
    ts = await startDefaultProfileServer();
    await ts.addUser('callee', PW);
    await ts.addUser('caller', PW);
    const uas = await startSipp({ workDir: work, scenario: 'call-uas.xml', target: null, timeoutS: 12 });
    assertSippOk(await sipp({ workDir: work, scenario: 'register-digest-contact.xml', target: target(), args: [...creds('callee', 'callee'), '-key', 'contact_hostport', `${LOOPBACK}:${uas.port}`] }));
    assertSippOk(await sipp({ workDir: work, scenario: 'call-uac-auth.xml', target: target(), timeoutS: 12, args: [...creds('callee', 'caller'), '-d', '200'] }));
    assertSippOk(await uas.result);
  });

  /** register-digest.xml sent from port P (Contact 127.0.0.1:P) as `user` (added with PW if new), then the UAS scenario started on P: a first-party registration */
  async function registeredUas(user: string, scenario: string, args: string[] = []): Promise<Awaited<ReturnType<typeof startSipp>>> {
    const port = await freePort();
    if (!(await ts!.server.store.userExists(user))) await ts!.addUser(user, PW);
    assertSippOk(await sipp({ workDir: work, scenario: 'register-digest.xml', target: target(), port, args: creds(user, user) }));
    return startSipp({ workDir: work, scenario, target: null, timeoutS: 12, port, args });
  }

  it('call-uac-auth.xml → call-uas.xml: INVITE → 407 → ACK → INVITE with Proxy-Authorization, relayed with Record-Route; ACK and BYE by loose routing; user_call answered', async () => {
    ts = await startDefaultProfileServer();
    await ts.addUser('caller', PW);
    const uas = await registeredUas('callee', 'call-uas.xml');
    assertSippOk(await sipp({ workDir: work, scenario: 'call-uac-auth.xml', target: target(), args: [...creds('callee', 'caller'), '-d', '200'] }));
    assertSippOk(await uas.result);
    const calls = await pollUntil(() => ts!.server.store.listCalls({ userId: 'callee' }), (c) => c.length === 1 && c[0]!.endedAt !== null, 2000);
    assert.equal(calls.length, 1);
    const c = calls[0]!;
    assert.equal(c.userId, 'caller');
    assert.equal(c.otherUserId, 'callee');
    assert.equal(c.outcome, 'answered');
    assert.equal(c.status, 200);
    assert.ok(c.answeredAt !== null, 'answeredAt set');
    assert.ok(c.endedAt !== null, 'endedAt set after BYE');
  });

  it('call-uac-auth.xml with a wrong password never reaches the callee (407 again, no call recorded)', async () => {
    ts = await startDefaultProfileServer();
    await ts.addUser('caller', PW);
    const uas = await registeredUas('callee', 'call-uas.xml');
    const r = await sipp({ workDir: work, scenario: 'call-uac-auth.xml', target: target(), timeoutS: 3, args: [...creds('callee', 'caller', 'wrong'), '-d', '200'] });
    assert.notEqual(r.code, 0, r.log);
    assert.ok(r.successful <= 0, r.log);
    uas.proc.kill();
    assert.deepEqual(await ts.server.store.listCalls({ userId: 'callee' }), []);
  });

  it('cancel-uac-auth.xml → cancel-uas.xml: CANCEL of the authenticated INVITE relayed to the ringing branch, 200 then 487; user_call cancelled', async () => {
    ts = await startDefaultProfileServer();
    await ts.addUser('caller', PW);
    const uas = await registeredUas('ringer', 'cancel-uas.xml');
    assertSippOk(await sipp({ workDir: work, scenario: 'cancel-uac-auth.xml', target: target(), args: creds('ringer', 'caller') }));
    assertSippOk(await uas.result);
    const calls = await pollUntil(() => ts!.server.store.listCalls({ userId: 'ringer' }), (c) => c.length === 1 && c[0]!.outcome !== 'pending', 2000);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.outcome, 'cancelled');
    assert.equal(calls[0]!.status, 487);
  });

  it('max-forwards-483.xml: MESSAGE with Max-Forwards: 0 gets 483 (before any challenge) and is not stored', async () => {
    ts = await startDefaultProfileServer();
    await ts.addUser('erin', PW);
    assertSippOk(await sipp({ workDir: work, scenario: 'max-forwards-483.xml', target: target(), args: ['-s', 'erin'] }));
    assert.deepEqual(await ts.server.store.listMessages({ toUser: 'erin' }), []);
  });

  it('unknown-method.xml: FROBNICATE gets 405 or 501 with Allow', async () => {
    ts = await startDefaultProfileServer();
    assertSippOk(await sipp({ workDir: work, scenario: 'unknown-method.xml', target: target() }));
  });

  it('options.xml: OPTIONS to the server gets 200 with Allow listing INVITE', async () => {
    ts = await startDefaultProfileServer();
    assertSippOk(await sipp({ workDir: work, scenario: 'options.xml', target: target() }));
  });

  it('message-online-auth.xml: MESSAGE → 407 → MESSAGE with credentials reaches the registered user (message-receiver.xml), 200, nothing stored', async () => {
    ts = await startDefaultProfileServer();
    await ts.addUser('sender', PW);
    const rx = await registeredUas('tv0', 'message-receiver.xml');
    assertSippOk(await sipp({ workDir: work, scenario: 'message-online-auth.xml', target: target(), args: creds('tv0', 'sender') }));
    assertSippOk(await rx.result);
    assert.deepEqual(await ts.server.store.listMessages({ toUser: 'tv0' }), []);
  });

  it('message-offline-auth.xml ×3 → 407, then 202; message-receiver.xml, registered with digest as that user, receives all 3; they are marked delivered', async () => {
    ts = await startDefaultProfileServer();
    await ts.addUser('sender', PW);
    await ts.addUser('tv1', PW); // a MESSAGE to an unknown user gets 404; store-and-forward is for known users
    assertSippOk(await sipp({ workDir: work, scenario: 'message-offline-auth.xml', target: target(), args: [...creds('tv1', 'sender'), '-m', '3', '-r', '10'] }), 3);
    const pending = await ts.server.store.listMessages({ toUser: 'tv1', state: 'pending' });
    assert.equal(pending.length, 3);
    assert.match(Buffer.from(pending[0]!.body).toString('utf8'), /tvphone-interop-offline \d+: sent with credentials/);
    assert.match(pending[0]!.fromUri, /^sip:sender@/);
    // the server delivers right after the 200 for REGISTER; the receiver binds the same port a moment later
    // and gets the MESSAGE's UDP retransmission (Timer E)
    const rx = await registeredUas('tv1', 'message-receiver.xml', ['-m', '3']);
    assertSippOk(await rx.result, 3);
    const delivered = await pollUntil(() => ts!.server.store.listMessages({ toUser: 'tv1', state: 'delivered' }), (m) => m.length === 3, 2000);
    assert.equal(delivered.length, 3);
    assert.deepEqual(await ts.server.store.listMessages({ toUser: 'tv1', state: 'pending' }), []);
  });

  it('message-offline-auth.xml with a wrong password is not stored', async () => {
    ts = await startDefaultProfileServer();
    await ts.addUser('sender', PW);
    await ts.addUser('tv2', PW);
    const r = await sipp({ workDir: work, scenario: 'message-offline-auth.xml', target: target(), timeoutS: 3, args: creds('tv2', 'sender', 'wrong') });
    assert.notEqual(r.code, 0, r.log);
    assert.deepEqual(await ts.server.store.listMessages({ toUser: 'tv2' }), []);
  });

  // Same rule for stored MESSAGEs: they go to the registered Contact unless NATed or on a stream flow.
  it('stored MESSAGEs after a third-party registration go to the registered Contact', async () => {
    ts = await startDefaultProfileServer();
    await ts.addUser('sender', PW);
    await ts.addUser('tv3', PW);
    assertSippOk(await sipp({ workDir: work, scenario: 'message-offline-auth.xml', target: target(), args: creds('tv3', 'sender') }));
    const rx = await startSipp({ workDir: work, scenario: 'message-receiver.xml', target: null, timeoutS: 5 });
    assertSippOk(await sipp({ workDir: work, scenario: 'register-digest-contact.xml', target: target(), args: [...creds('tv3', 'tv3'), '-key', 'contact_hostport', `${LOOPBACK}:${rx.port}`] }));
    assertSippOk(await rx.result);
  });

  it('subscribe-presence-auth.xml: SUBSCRIBE → 407 → SUBSCRIBE with credentials → 200 + NOTIFY; refresh to the 200\'s Contact → 200 + NOTIFY; Expires: 0 → 200 + NOTIFY terminated', async () => {
    ts = await startDefaultProfileServer();
    await ts.addUser('watcher', PW);
    await ts.addUser('frank', PW);
    assertSippOk(await sipp({ workDir: work, scenario: 'register-digest.xml', target: target(), args: creds('frank', 'frank') })); // frank is online
    assertSippOk(await sipp({ workDir: work, scenario: 'subscribe-presence-auth.xml', target: target(), args: creds('frank', 'watcher') }));
    assert.deepEqual(await ts.server.store.subscriptionsFor('frank', Date.now()), []);
  });
});
