// Calls through trunks against fake carriers (UDP sockets on 127.0.0.1 that answer as scripted): failover from a
// carrier answering 503 to the next trunk of the route, a trunk down by its OPTIONS ping skipped at once, maxCalls,
// the call's slot held until BYE, and a carrier's call to a DID taken without a digest challenge while anyone
// else's request is challenged.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { parseMessage } from '../../../src/sip/parser.ts';
import { serializeMessage } from '../../../src/sip/serializer.ts';
import type { SipRequest, SipResponse } from '../../../src/sip/message.ts';
import { createResponse } from '../../../src/sip/response.ts';
import { newTag } from '../../../src/sip/ids.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { until } from '../../helpers/until.ts';

interface FakeCarrier {
  port: number;
  invites: SipRequest[];
  requests: SipRequest[];
  /** the answer to an INVITE: a final status, or 'ring' (180 and no final) */
  invite: number | 'ring';
  options: number;
  send(m: SipRequest | SipResponse, port: number): void;
  close(): Promise<void>;
}

async function fakeCarrier(invite: number | 'ring', options = 200): Promise<FakeCarrier> {
  const sock = dgram.createSocket('udp4');
  sock.bind(0, '127.0.0.1');
  await once(sock, 'listening');
  const c: FakeCarrier = {
    port: sock.address().port, invites: [], requests: [], invite, options,
    send: (m, port) => sock.send(Buffer.from(serializeMessage(m)), port, '127.0.0.1'),
    close: () => new Promise((r) => sock.close(() => r())),
  };
  const tag = newTag();
  sock.on('message', (buf, rinfo) => {
    let m;
    try {
      m = parseMessage(buf);
    } catch {
      return;
    }
    if (!m.isRequest()) return;
    c.requests.push(m);
    const reply = (status: number): void => c.send(createResponse(m, status, undefined, status === 100 ? undefined : tag), rinfo.port);
    if (m.method === 'OPTIONS') reply(c.options);
    else if (m.method === 'INVITE') {
      if (c.invites.some((i) => i.topVia().branch === m.topVia().branch)) return; // a retransmission
      c.invites.push(m);
      if (c.invite === 'ring') reply(180);
      else {
        const res = createResponse(m, c.invite, undefined, tag);
        if (c.invite === 200) {
          res.addHeader('Contact', `<sip:pstn@127.0.0.1:${c.port}>`);
          // RFC 3261 §12.1.1: a UAS copies the Record-Route into its 2xx
          for (const rr of m.headerValues('record-route')) res.addHeader('Record-Route', rr);
        }
        c.send(res, rinfo.port);
      }
    } else if (m.method === 'BYE') reply(200);
    else if (m.method === 'CANCEL') {
      reply(200);
      // RFC 3261 §9.2: the cancelled INVITE gets its 487
      const inv = c.invites.find((i) => i.topVia().branch === m.topVia().branch);
      if (inv !== undefined) c.send(createResponse(inv, 487, undefined, tag), rinfo.port);
    }
  });
  return c;
}

describe('trunks: calls through fake carriers (failover, ping, maxCalls, DIDs)', function () {
  this.timeout(30_000);
  let ts: TestServer | null = null;
  const carriers: FakeCarrier[] = [];

  afterEach(async () => {
    await ts?.close();
    ts = null;
    for (const c of carriers.splice(0)) await c.close();
  });

  async function carrier(invite: number | 'ring', options = 200): Promise<FakeCarrier> {
    const c = await fakeCarrier(invite, options);
    carriers.push(c);
    return c;
  }

  async function server(trunks: Record<string, unknown>[], extra: Record<string, unknown> = {}, auth: 'none' | 'digest' = 'none'): Promise<TestServer> {
    ts = await startTestServer({
      auth,
      profile: {
        admin: { listen: '127.0.0.1:0' },
        trunks: trunks.map((t) => ({ host: '127.0.0.1', ping: 5, ...t })),
        routes: [{ prefix: '0', trunks: trunks.map((t) => t.name), e164: { countryCode: '49' } }],
        ...extra,
      },
    });
    return ts;
  }

  const status = async (): Promise<{ name: string; ping: string; activeCalls: number }[]> =>
    (await fetch(`http://127.0.0.1:${ts!.server.admin!.address.port}/trunks`)).json() as Promise<{ name: string; ping: string; activeCalls: number }[]>;

  function dial(c: Awaited<ReturnType<TestServer['client']>>, number: string): string {
    return invite(c, number).callId;
  }

  function invite(c: Awaited<ReturnType<TestServer['client']>>, number: string): { callId: string; branch: string; fromTag: string } {
    const fromTag = newTag();
    const { callId, branch } = c.request({
      method: 'INVITE', uri: `sip:${number}@127.0.0.1:${ts!.udp.port}`, from: '<sip:alice@127.0.0.1>', to: `<sip:${number}@127.0.0.1>`,
      headers: [['Contact', c.contact]], fromTag,
    });
    return { callId, branch, fromTag };
  }

  it('fails over from a carrier answering 503 to the next trunk; the caller gets the second carrier\'s 200; BYE gives the slot back', async () => {
    const a = await carrier(503);
    const b = await carrier(200);
    await server([{ name: 'a', port: a.port, priority: 1 }, { name: 'b', port: b.port, priority: 2 }]);
    await until(async () => (await status()).every((s) => s.ping === 'up'), 5000, 'both pings up');
    const alice = await ts!.client();
    const callId = dial(alice, '030123456');
    const res = await alice.final(callId, 'INVITE');
    assert.equal(res.status, 200);
    assert.equal(a.invites.length, 1);
    assert.equal(b.invites.length, 1);
    assert.equal(b.invites[0]!.uri, `sip:+4930123456@127.0.0.1:${b.port}`);
    assert.equal((await status()).find((s) => s.name === 'b')?.activeCalls, 1);
    // ACK and BYE follow the Record-Route through tvphone to carrier b
    const rr = res.headerValues('record-route').map((v) => v).reverse();
    const route = rr.map((v) => ['Route', v] as [string, string]);
    const toTag = res.toTag!;
    const fromTag = /tag=([^;>]+)/.exec(res.header('from') ?? '')![1]!;
    alice.request({ method: 'ACK', uri: `sip:pstn@127.0.0.1:${b.port}`, from: '<sip:alice@127.0.0.1>', to: `<sip:030123456@127.0.0.1>;tag=${toTag}`, fromTag, callId, headers: route });
    alice.request({ method: 'BYE', uri: `sip:pstn@127.0.0.1:${b.port}`, from: '<sip:alice@127.0.0.1>', to: `<sip:030123456@127.0.0.1>;tag=${toTag}`, fromTag, callId, cseq: 2, headers: route });
    assert.equal((await alice.final(callId, 'BYE')).status, 200);
    assert.ok(b.requests.some((r) => r.method === 'ACK'));
    assert.equal((await status()).find((s) => s.name === 'b')?.activeCalls, 0);
    await until(async () => (await ts!.server.store.listCalls({ userId: 'alice' }))[0]?.endedAt != null, 3000, 'call ended in user_call');
    const [call] = await ts!.server.store.listCalls({ userId: 'alice' });
    assert.equal(call!.outcome, 'answered');
    assert.equal(call!.otherUserId, '030123456');
    assert.deepEqual([call!.trunk, call!.dialledNumber, call!.sentNumber], ['b', '030123456', '+4930123456'], 'user_call names the trunk that answered');
    assert.deepEqual((await ts!.server.store.listCalls({ trunk: 'b' })).map((c) => c.id), [call!.id]);
    assert.deepEqual(await ts!.server.store.listCalls({ trunk: 'a' }), []);
  });

  it('skips a trunk whose OPTIONS ping is down at once: the first INVITE goes to the second carrier', async () => {
    const a = await carrier(200, 503);
    const b = await carrier(200);
    await server([{ name: 'a', port: a.port, priority: 1 }, { name: 'b', port: b.port, priority: 2 }]);
    await until(async () => (await status()).find((s) => s.name === 'a')?.ping === 'down', 5000, 'a down by its ping');
    const alice = await ts!.client();
    assert.equal((await alice.final(dial(alice, '030123456'), 'INVITE')).status, 200);
    assert.equal(a.invites.length, 0);
    assert.equal(b.invites.length, 1);
  });

  it('maxCalls: a second call while the trunk\'s one slot rings gets 503 with Retry-After; the CANCEL frees the slot', async () => {
    const a = await carrier('ring');
    await server([{ name: 'a', port: a.port, maxCalls: 1 }]);
    const alice = await ts!.client();
    const first = invite(alice, '030111');
    await until(() => a.invites.length === 1, 3000, 'the first call at the carrier');
    await until(async () => (await status())[0]?.activeCalls === 1, 3000, 'one call on the trunk');
    const second = await alice.final(dial(alice, '030222'), 'INVITE');
    assert.equal(second.status, 503);
    assert.ok(second.header('retry-after'));
    assert.equal(a.invites.length, 1, 'the full trunk was not sent the second call');
    alice.request({ method: 'CANCEL', uri: `sip:030111@127.0.0.1:${ts!.udp.port}`, from: '<sip:alice@127.0.0.1>', to: '<sip:030111@127.0.0.1>',
      callId: first.callId, branch: first.branch, fromTag: first.fromTag });
    assert.equal((await alice.final(first.callId, 'INVITE')).status, 487);
    assert.equal((await status())[0]?.activeCalls, 0);
    dial(alice, '030333');
    await until(() => a.invites.length === 2, 3000, 'a call goes out again');
  });

  it('takes a carrier\'s call to a DID without a challenge; the same INVITE from anyone else is challenged (no open relay)', async () => {
    const a = await carrier(200);
    await server([{ name: 'a', port: a.port, dids: [{ number: '+4930555', user: 'bob' }] }], {}, 'digest');
    await ts!.addUser('bob', 'bob-pw');
    const fromCarrier = {
      method: 'INVITE', uri: `sip:+4930555@127.0.0.1:${ts!.udp.port}`, from: '<sip:+4930999@127.0.0.1>', to: '<sip:+4930555@127.0.0.1>',
      headers: [['Contact', `<sip:pstn@127.0.0.1:${a.port}>`]] as [string, string][],
    };
    // the carrier's own socket sends it: the source address and port name the trunk
    const inv = parseMessage(Buffer.from([
      `INVITE ${fromCarrier.uri} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${a.port};branch=z9hG4bKcarrier1;rport`, 'Max-Forwards: 70',
      `From: ${fromCarrier.from};tag=c1`, `To: ${fromCarrier.to}`, 'Call-ID: did-1', 'CSeq: 1 INVITE', `Contact: <sip:pstn@127.0.0.1:${a.port}>`,
      'Content-Length: 0', '', ''].join('\r\n'))) as SipRequest;
    a.send(inv, ts!.udp.port);
    await until(async () => (await ts!.server.store.listCalls({ missedBy: 'bob' })).length === 1, 5000, 'the DID call reached bob (offline: kept)');
    const [missed] = await ts!.server.store.listCalls({ missedBy: 'bob' });
    assert.equal(missed!.userId, '+4930999');
    const stranger = await ts!.client();
    const { callId } = stranger.request(fromCarrier);
    assert.equal((await stranger.final(callId, 'INVITE')).status, 407);
  });
});
