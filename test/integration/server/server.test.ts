// The server over real UDP and TCP sockets on 127.0.0.1: registrar, routing replies, proxying, user_call and
// user_property, store-and-forward. Runs on SQLite, and again on PostgreSQL in `npm test` (TVPHONE_TEST_STORE).
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer, REALM, TEST_STORE, type TestServer } from '../../helpers/test-server.ts';
import { RawClient } from '../../helpers/raw-client.ts';
import type { SipResponse } from '../../../src/sip/message.ts';
import { createResponse } from '../../../src/sip/response.ts';
import { parseAuthParams, parseContacts } from '../../../src/sip/headers.ts';
import { buildAuthorization } from '../../../src/sip/digest.ts';
import { newTag } from '../../../src/sip/ids.ts';
import { parseMissedCallNotice } from '../../../src/formats/missed-call-notice.ts';

describe(`server over UDP and TCP on 127.0.0.1 (${TEST_STORE})`, function () {
  this.timeout(20000);
  let ts: TestServer;
  const client = (transport: 'udp' | 'tcp' = 'udp'): Promise<RawClient> => ts.client(transport);

  async function start(auth: 'none' | 'digest' = 'none'): Promise<void> {
    ts = await startTestServer({ auth });
  }

  const register = (c: RawClient, user: string, expires = 3600): Promise<SipResponse> => c.register(user, expires);

  afterEach(async () => {
    await ts?.close();
  });

  it('answers OPTIONS to the server with 200 and Allow (RFC 3261 §11.2)', async () => {
    await start();
    const c = await client();
    const { callId } = c.request({ method: 'OPTIONS', uri: `sip:127.0.0.1:${ts.udp.port}`, from: '<sip:x@127.0.0.1>', to: `<sip:127.0.0.1:${ts.udp.port}>` });
    const res = await c.final(callId);
    assert.equal(res.status, 200);
    assert.match(res.header('allow')!, /INVITE.*REGISTER.*MESSAGE.*SUBSCRIBE/);
  });

  it('answers an unknown method with 501 and Allow, and PUBLISH with 405 and Allow', async () => {
    await start();
    const c = await client();
    const a = c.request({ method: 'FOOBAR', uri: 'sip:127.0.0.1', from: '<sip:x@127.0.0.1>', to: '<sip:127.0.0.1>' });
    const r1 = await c.final(a.callId);
    assert.equal(r1.status, 501);
    assert.ok(r1.header('allow'));
    const b = c.request({ method: 'PUBLISH', uri: 'sip:127.0.0.1', from: '<sip:x@127.0.0.1>', to: '<sip:127.0.0.1>' });
    const r2 = await c.final(b.callId);
    assert.equal(r2.status, 405);
    assert.ok(r2.header('allow'));
  });

  it('answers Max-Forwards: 0 with 483 (RFC 3261 §16.3 item 3)', async () => {
    await start();
    const c = await client();
    await register(c, '1002');
    const raw = c.request({ method: 'MESSAGE', uri: 'sip:1002@127.0.0.1', from: '<sip:1001@127.0.0.1>', to: '<sip:1002@127.0.0.1>', maxForwards: 0, body: 'x', contentType: 'text/plain' });
    assert.equal((await c.final(raw.callId)).status, 483);
  });

  it('answers a malformed request with 400 naming the fault and keeps serving', async () => {
    await start();
    const c = await client();
    c.sendRaw('INVITE sip:1002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:' + c.port + ';branch=z9hG4bKbad\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:1002@127.0.0.1>\r\nCall-ID: bad1\r\nCSeq: 1 INVITE\r\nMax-Forwards: many\r\nContent-Length: 0\r\n\r\n');
    const bad = await c.final('bad1');
    assert.equal(bad.status, 400);
    assert.match(bad.reason, /Max-Forwards/, 'the reason phrase names the fault');
    c.sendRaw(Buffer.from([0, 1, 2, 3, 255, 254]));
    const res = await register(c, '1005');
    assert.equal(res.status, 200);
  });

  it('registers a binding, lists it with expires, writes User_netstate = 1 and User_ip', async () => {
    await start();
    const c = await client();
    const res = await register(c, '1001', 600);
    assert.equal(res.status, 200);
    const contacts = parseContacts(res);
    assert.ok(contacts !== '*' && contacts.length === 1);
    assert.equal(contacts[0].params.get('expires'), '600');
    const p = await ts.server.store.getPresence('1001');
    assert.equal(p?.netstate, 1);
    assert.equal(p?.ip, '127.0.0.1');
    const un = await register(c, '1001', 0);
    assert.equal(un.status, 200);
    assert.equal((await ts.server.store.getPresence('1001'))?.netstate, 0);
  });

  it('sets User_netstate = 0 when the TCP connection a binding came over closes', async () => {
    await start();
    const c = await client('tcp');
    assert.equal((await register(c, '1003')).status, 200);
    assert.equal((await ts.server.store.getPresence('1003'))?.netstate, 1);
    await c.close();
    for (let i = 0; i < 50 && (await ts.server.store.getPresence('1003'))?.netstate !== 0; i++) await sleep(50);
    assert.equal((await ts.server.store.getPresence('1003'))?.netstate, 0);
  });

  it('challenges a REGISTER from the TV agent with SHA-256 and MD5 (RFC 8760), any other UA with MD5, and accepts the MD5 answer', async () => {
    await start('digest');
    await ts.addUser('2001', 'secret');
    const c = await client();
    const algorithmsOf = (res: SipResponse) => res.fields('www-authenticate').map((f) => parseAuthParams(f.value).params.get('algorithm'));
    const plain = c.request({ method: 'REGISTER', uri: 'sip:127.0.0.1', from: '<sip:2001@127.0.0.1>', to: '<sip:2001@127.0.0.1>', headers: [['Contact', c.contact], ['User-Agent', 'baresip v1.0.0']] });
    assert.deepEqual(algorithmsOf(await c.final(plain.callId)), ['MD5']);
    const first = c.request({ method: 'REGISTER', uri: 'sip:127.0.0.1', from: '<sip:2001@127.0.0.1>', to: '<sip:2001@127.0.0.1>', headers: [['Contact', c.contact], ['User-Agent', 'tvphone-tv']] });
    const challenge = await c.final(first.callId);
    assert.equal(challenge.status, 401);
    assert.deepEqual(algorithmsOf(challenge), ['SHA-256', 'MD5']);
    const md5 = challenge.fields('www-authenticate').map((f) => parseAuthParams(f.value).params).find((p) => p.get('algorithm') === 'MD5')!;
    const authz = buildAuthorization({ challenge: md5, user: '2001', password: 'secret', method: 'REGISTER', uri: 'sip:127.0.0.1', nc: 1, cnonce: 'abc' });
    const second = c.request({ method: 'REGISTER', uri: 'sip:127.0.0.1', from: '<sip:2001@127.0.0.1>', to: '<sip:2001@127.0.0.1>', callId: first.callId, cseq: 2, headers: [['Contact', c.contact], ['User-Agent', 'tvphone-tv'], ['Authorization', authz]] });
    const ok = await c.final(second.callId);
    assert.equal(ok.status, 200);
    assert.equal(challenge.header('www-authenticate')!.includes(`realm="${REALM}"`), true);
  });

  it('stores a MESSAGE for an offline user with 202 and delivers it at REGISTER with From, body and Date', async () => {
    await start();
    const sender = await client();
    await register(sender, '1001');
    await register(sender, '1002', 0); // 1002 exists (auth none creates users on REGISTER) but is offline
    const m = sender.request({ method: 'MESSAGE', uri: 'sip:1002@127.0.0.1', from: '"Alice" <sip:1001@127.0.0.1>', to: '<sip:1002@127.0.0.1>', body: 'héllo TV', contentType: 'text/plain;charset=utf-8' });
    const accepted = await sender.final(m.callId);
    assert.equal(accepted.status, 202);
    const tv = await client();
    assert.equal((await register(tv, '1002')).status, 200);
    const delivered = await tv.nextRequest('MESSAGE');
    assert.equal(Buffer.from(delivered.body).toString('utf8'), 'héllo TV');
    assert.match(delivered.header('from')!, /"Alice" <sip:1001@127\.0\.0\.1>/);
    assert.equal(delivered.header('content-type'), 'text/plain;charset=utf-8');
    assert.ok(!Number.isNaN(Date.parse(delivered.header('date')!)));
    assert.ok(delivered.header('x-tvphone-message-id'));
    for (let i = 0; i < 40; i++) {
      if ((await ts.server.store.listMessages({ toUser: '1002', state: 'delivered' })).length === 1) break;
      await sleep(50);
    }
    assert.equal((await ts.server.store.listMessages({ toUser: '1002', state: 'delivered' })).length, 1);
  });

  it('records an INVITE to an offline user in user_call, answers 480 with Retry-After, and sends the missed-call notice at REGISTER', async () => {
    await start();
    const caller = await client();
    await register(caller, '1001');
    await register(caller, '1004', 0);
    for (let i = 0; i < 2; i++) {
      const inv = caller.request({ method: 'INVITE', uri: 'sip:1004@127.0.0.1', from: '<sip:1001@127.0.0.1>', to: '<sip:1004@127.0.0.1>', headers: [['Contact', caller.contact]] });
      const res = await caller.final(inv.callId);
      assert.equal(res.status, 480);
      assert.ok(res.header('retry-after'));
    }
    const calls = await ts.server.store.listCalls({ missedBy: '1004' });
    assert.equal(calls.length, 2);
    assert.equal(calls[0].userId, '1001');
    assert.equal(calls[0].outcome, 'offline');
    const tv = await client();
    await register(tv, '1004');
    const notice = await tv.nextRequest('MESSAGE');
    const parsed = parseMissedCallNotice(notice.header('content-type')!, notice.body);
    assert.ok(parsed);
    assert.equal(parsed.calls[0].from, '1001');
    assert.equal(parsed.calls[0].count, 2);
  });

  it('proxies a call with Record-Route, passes 180/200/ACK/BYE and records it answered with its duration', async () => {
    await start();
    const a = await client();
    const b = await client();
    b.autoAnswer = null;
    await register(a, '1001');
    await register(b, '1002');
    const fromTag = newTag();
    const inv = a.request({ method: 'INVITE', uri: 'sip:1002@127.0.0.1', from: '<sip:1001@127.0.0.1>', fromTag, to: '<sip:1002@127.0.0.1>', headers: [['Contact', a.contact]], body: 'v=0\r\n', contentType: 'application/sdp' });
    const got = await b.nextRequest('INVITE');
    assert.match(got.header('record-route')!, /;lr/);
    assert.equal(got.uri, `sip:c@127.0.0.1:${b.port}`);
    const toTag = newTag();
    const ringing = createResponse(got, 180, undefined, toTag);
    b.sendMessage(ringing);
    const ok = createResponse(got, 200, undefined, toTag);
    ok.addHeader('Contact', b.contact);
    // RFC 3261 §12.1.1: the UAS copies Record-Route into its 2xx
    for (const rr of got.headerValues('record-route')) ok.addHeader('Record-Route', rr);
    b.sendMessage(ok);
    const final = await a.final(inv.callId, 'INVITE');
    assert.equal(final.status, 200);
    assert.ok(final.header('record-route'));
    const rr = final.header('record-route')!.replace(/^<|>$/g, '');
    // ACK and BYE follow the route set through the proxy (RFC 3261 §12.2.1.1)
    a.request({ method: 'ACK', uri: b.contact.slice(1, -1), from: '<sip:1001@127.0.0.1>', fromTag, to: `<sip:1002@127.0.0.1>;tag=${toTag}`, callId: inv.callId, headers: [['Route', `<${rr}>`]] });
    await b.nextRequest('ACK');
    await sleep(50);
    const bye = a.request({ method: 'BYE', uri: b.contact.slice(1, -1), from: '<sip:1001@127.0.0.1>', fromTag, to: `<sip:1002@127.0.0.1>;tag=${toTag}`, callId: inv.callId, cseq: 2, headers: [['Route', `<${rr}>`]] });
    const byeIn = await b.nextRequest('BYE');
    b.sendMessage(createResponse(byeIn, 200));
    assert.equal((await a.final(bye.callId, 'BYE')).status, 200);
    let rec;
    // the record's updates are writes of their own after the answers (a loaded SQL Server takes a while): up to 10 s
    for (let i = 0; i < 200; i++) {
      rec = (await ts.server.store.listCalls({ userId: '1001' }))[0];
      if (rec?.outcome === 'answered' && rec.durationMs !== null) break;
      await sleep(50);
    }
    assert.equal(rec?.outcome, 'answered');
    assert.equal(rec?.otherUserId, '1002');
    assert.ok((rec?.durationMs ?? -1) >= 0);
  });

  it('stores a MESSAGE with 202 when the online user answers 480, and when it does not answer at all (msilo contract)', async function () {
    this.timeout(30000);
    await start();
    const sender = await client();
    const tv = await client();
    await register(sender, '1001');
    await register(tv, '1006');
    tv.autoAnswer = 480;
    const a = sender.request({ method: 'MESSAGE', uri: 'sip:1006@127.0.0.1', from: '<sip:1001@127.0.0.1>', to: '<sip:1006@127.0.0.1>', body: 'one', contentType: 'text/plain' });
    assert.equal((await sender.final(a.callId, 'MESSAGE')).status, 202);
    tv.autoAnswer = null;
    const b = sender.request({ method: 'MESSAGE', uri: 'sip:1006@127.0.0.1', from: '<sip:1001@127.0.0.1>', to: '<sip:1006@127.0.0.1>', body: 'two', contentType: 'text/plain' });
    const t0 = Date.now();
    assert.equal((await sender.final(b.callId, 'MESSAGE', 20000)).status, 202);
    assert.ok(Date.now() - t0 < 15000, 'answered before the sender gives up (Timer F, 32 s)');
    const pending = await ts.server.store.listMessages({ toUser: '1006', state: 'pending' });
    assert.deepEqual(pending.map((m) => Buffer.from(m.body).toString()), ['one', 'two']);
  });

  it('does not follow a Route header that does not name it: no relay for in-dialog or preloaded routes', async () => {
    await start();
    const c = await client();
    const victim = await client();
    victim.autoAnswer = 200;
    await register(c, '1001');
    const target = `sip:x@127.0.0.1:${victim.port}`;
    // an in-dialog request (To-tag) whose route set does not go through us
    const bye = c.request({ method: 'BYE', uri: target, from: '<sip:1001@127.0.0.1>', to: '<sip:x@127.0.0.1>;tag=zz', headers: [['Route', `<sip:127.0.0.1:${victim.port};lr>`]] });
    assert.equal((await c.final(bye.callId)).status, 404);
    // an initial request for a local user with a preloaded route elsewhere: the route is dropped, the user is reached
    const m = c.request({ method: 'MESSAGE', uri: 'sip:1001@127.0.0.1', from: '<sip:1001@127.0.0.1>', to: '<sip:1001@127.0.0.1>', headers: [['Route', `<sip:127.0.0.1:${victim.port};lr>`]], body: 'hi', contentType: 'text/plain' });
    const delivered = await c.nextRequest('MESSAGE');
    assert.equal(delivered.header('route'), undefined);
    assert.equal((await c.final(m.callId, 'MESSAGE')).status, 200);
    await sleep(100);
    assert.equal(victim.received.length, 0, 'nothing reached the address named only in a Route');
  });

  it('does not relay an in-dialog request whose Route names it but was never record-routed by it (no open relay, toll fraud)', async () => {
    await start();
    const c = await client();
    const victim = await client();
    victim.autoAnswer = 200;
    const us = `sip:127.0.0.1:${ts.udp.port}`;
    for (const method of ['INVITE', 'MESSAGE', 'BYE', 'NOTIFY', 'OPTIONS', 'REFER', 'INFO']) {
      // loose-routing form: Route <sip:US;lr>, Request-URI the victim
      const loose = c.request({ method, uri: `sip:+19005550100@127.0.0.1:${victim.port}`, from: '<sip:anyone@192.0.2.66>', to: '<sip:x@127.0.0.1>;tag=forged',
        headers: [['Route', `<${us};lr>`]] });
      assert.equal((await c.final(loose.callId)).status, 404, `${method} (loose route)`);
      // strict-router form: Request-URI our address, the victim as the last Route
      const strict = c.request({ method, uri: `${us};lr`, from: '<sip:anyone@192.0.2.66>', to: '<sip:x@127.0.0.1>;tag=forged',
        headers: [['Route', `<sip:+19005550100@127.0.0.1:${victim.port}>`]] });
      assert.equal((await c.final(strict.callId)).status, 404, `${method} (strict route)`);
    }
    c.request({ method: 'ACK', uri: `sip:x@127.0.0.1:${victim.port}`, from: '<sip:anyone@192.0.2.66>', to: '<sip:x@127.0.0.1>;tag=forged', headers: [['Route', `<${us};lr>`]] });
    await sleep(200);
    assert.equal(victim.received.length, 0, 'nothing reached the address named in the forged requests');
  });

  it('refuses a request for a foreign domain (no open relay)', async () => {
    await start();
    const c = await client();
    const r = c.request({ method: 'MESSAGE', uri: 'sip:bob@example.com', from: '<sip:1001@127.0.0.1>', to: '<sip:bob@example.com>', body: 'x', contentType: 'text/plain' });
    assert.equal((await c.final(r.callId)).status, 403);
  });
});
