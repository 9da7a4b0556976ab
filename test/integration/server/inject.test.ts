// The whole server without sockets (fastify's inject(), SIP.js's TransportFake): startServer on a FakeTransport and
// a FakeClock, SQLite in memory. Requests are injected as if they came from the network; the answers are read from
// what the server sent. Integration because it opens SQLite.
import assert from 'node:assert/strict';
import { validateProfile } from '../../../src/config/profile.ts';
import { silentLogger } from '../../../src/log/logger.ts';
import { startServer, type TvphoneServer } from '../../../src/server.ts';
import { SipResponse, type SipRequest } from '../../../src/sip/message.ts';
import { createResponse } from '../../../src/sip/response.ts';
import { buildAuthorization, ha1 } from '../../../src/sip/digest.ts';
import { parseAuthParams } from '../../../src/sip/headers.ts';
import { newBranch, newTag } from '../../../src/sip/ids.ts';
import { FakeTransport } from '../../../src/transport/fake-transport.ts';
import { FakeClock } from '../../helpers/fake-location-store.ts';
import { until } from '../../helpers/until.ts';

const REALM = 'tvphone';
const HOST = '127.0.0.1';
/** where each user agent sends from (its UDP flow) */
const UA = { '2001': { address: '192.0.2.1', port: 5061 }, '2002': { address: '192.0.2.2', port: 5062 } } as const;
type User = keyof typeof UA;

interface Spec {
  method: string;
  user: User;
  uri: string;
  to: string;
  callId: string;
  cseq: number;
  headers?: [string, string][];
  body?: string;
}

describe('server on a fake transport and a fake clock (inject, no sockets)', function () {
  this.timeout(20000);
  let clock: FakeClock;
  let fake: FakeTransport;
  let server: TvphoneServer<FakeTransport>;

  beforeEach(async () => {
    clock = new FakeClock();
    fake = new FakeTransport({ transport: 'udp', host: HOST, port: 5060 });
    const profile = validateProfile({
      listeners: [{ transport: 'udp', host: HOST, port: 5060 }],
      auth: { mode: 'digest', realm: REALM },
      store: { url: 'sqlite::memory:' },
    }, 'inject-profile');
    server = await startServer({ profile, log: silentLogger(), clock, transport: fake });
    for (const user of Object.keys(UA)) {
      await server.store.addUser({ userId: user, realm: REALM, ha1Md5: ha1('MD5', user, REALM, `pw-${user}`), ha1Sha256: ha1('SHA-256', user, REALM, `pw-${user}`) }, clock.now());
    }
  });

  afterEach(async () => {
    await server?.close();
  });

  /** Inject a request from `spec.user`'s flow; returns its branch. */
  function inject(spec: Spec): string {
    const ua = UA[spec.user];
    const branch = newBranch();
    const body = spec.body ?? '';
    fake.deliver([
      `${spec.method} ${spec.uri} SIP/2.0`,
      `Via: SIP/2.0/UDP ${ua.address}:${ua.port};branch=${branch};rport`,
      'Max-Forwards: 70',
      `From: <sip:${spec.user}@${HOST}>;tag=${spec.callId}-tag`,
      `To: ${spec.to}`,
      `Call-ID: ${spec.callId}`,
      `CSeq: ${spec.cseq} ${spec.method}`,
      ...(spec.headers ?? []).map(([n, v]) => `${n}: ${v}`),
      ...(body ? ['Content-Type: text/plain'] : []),
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ].join('\r\n'), { transport: 'udp', ...ua });
    return branch;
  }

  /** The final response the server sent for the request with this branch. */
  async function finalFor(branch: string): Promise<SipResponse> {
    const find = () => fake.sent.map((s) => s.msg).find((m): m is SipResponse => m instanceof SipResponse && m.status >= 200 && m.topVia().branch === branch);
    await until(() => find() !== undefined, 5000, `a final response to ${branch}`);
    return find()!;
  }

  /** Send the request; answer a 401/407 challenge with the user's digest (RFC 3261 §22.2, §22.3) and return the final response. */
  async function authorized(spec: Spec): Promise<{ challenge: SipResponse; res: SipResponse }> {
    const challenge = await finalFor(inject(spec));
    const header = challenge.status === 401 ? 'www-authenticate' : 'proxy-authenticate';
    const md5 = challenge.fields(header).map((f) => parseAuthParams(f.value).params).find((p) => p.get('algorithm') === 'MD5')!;
    const authz = buildAuthorization({ challenge: md5, user: spec.user, password: `pw-${spec.user}`, method: spec.method, uri: spec.uri, nc: 1, cnonce: newTag() });
    const name = challenge.status === 401 ? 'Authorization' : 'Proxy-Authorization';
    const res = await finalFor(inject({ ...spec, cseq: spec.cseq + 1, headers: [...(spec.headers ?? []), [name, authz]] }));
    return { challenge, res };
  }

  const register = (user: User, callId: string) => authorized({
    method: 'REGISTER', user, uri: `sip:${HOST}`, to: `<sip:${user}@${HOST}>`, callId, cseq: 1,
    headers: [['Contact', `<sip:${user}@${UA[user].address}:${UA[user].port}>`], ['Expires', '3600']],
  });
  const message = (callId: string, body: string) => authorized({
    method: 'MESSAGE', user: '2001', uri: `sip:2002@${HOST}`, to: `<sip:2002@${HOST}>`, callId, cseq: 1, body,
  });

  /** Requests the server sent to `user`'s flow. */
  const requestsTo = (user: User, method: string) => fake.sent
    .filter((s) => s.msg.isRequest() && (s.msg as SipRequest).method === method && s.target.address === UA[user].address && s.target.port === UA[user].port)
    .map((s) => s.msg as SipRequest);

  /** Answer a request the server sent, as the user agent would (over its flow). */
  function answer(user: User, req: SipRequest, status: number): void {
    fake.deliver(createResponse(req, status, undefined, newTag()), { transport: 'udp', ...UA[user] });
  }

  it('registers with digest (401 then 200), stores a MESSAGE for the offline user (202), delivers it at its REGISTER, and the binding expires on the clock', async () => {
    const reg1 = await register('2001', 'reg-2001');
    assert.equal(reg1.challenge.status, 401);
    assert.equal(reg1.res.status, 200);

    // RFC 3428 / msilo: 2002 has no binding; the MESSAGE is kept and answered 202.
    const stored = await message('msg-1', 'hello TV');
    assert.equal(stored.challenge.status, 407);
    assert.equal(stored.res.status, 202);

    // An INVITE to the offline user: recorded as missed, 480.
    const call = await authorized({ method: 'INVITE', user: '2001', uri: `sip:2002@${HOST}`, to: `<sip:2002@${HOST}>`, callId: 'call-1', cseq: 1, headers: [['Contact', `<sip:2001@${UA['2001'].address}:${UA['2001'].port}>`]] });
    assert.equal(call.res.status, 480);

    const reg2 = await register('2002', 'reg-2002');
    assert.equal(reg2.res.status, 200);
    // m_dump: the stored MESSAGE goes to 2002's binding over its flow; it is delivered only after the 2xx.
    await until(() => requestsTo('2002', 'MESSAGE').some((m) => new TextDecoder().decode(m.body) === 'hello TV'), 5000, 'the stored MESSAGE at 2002');
    const delivered = requestsTo('2002', 'MESSAGE').find((m) => new TextDecoder().decode(m.body) === 'hello TV')!;
    assert.match(delivered.header('from') ?? '', /sip:2001@/);
    answer('2002', delivered, 200);
    await until(async () => (await server.store.listMessages({ toUser: '2002', state: 'pending' })).length === 0, 5000, 'the message marked delivered');

    // An INVITE to the online user is proxied to its binding (RFC 3261 §16.6); its 486 reaches the caller.
    const proxied = authorized({ method: 'INVITE', user: '2001', uri: `sip:2002@${HOST}`, to: `<sip:2002@${HOST}>`, callId: 'call-2', cseq: 1, headers: [['Contact', `<sip:2001@${UA['2001'].address}:${UA['2001'].port}>`]] });
    await until(() => requestsTo('2002', 'INVITE').length > 0, 5000, 'the INVITE at 2002');
    answer('2002', requestsTo('2002', 'INVITE')[0], 486);
    assert.equal((await proxied).res.status, 486);

    // RFC 3261 §10.3: the binding lapses when its expiry passes; User_netstate goes to 0.
    assert.equal((await server.store.getPresence('2002'))?.netstate, 1);
    clock.advance(3600_000);
    await until(async () => {
      clock.advance(1000);
      return (await server.store.getPresence('2002'))?.netstate === 0;
    }, 5000, '2002 offline');
    assert.equal((await message('msg-2', 'again')).res.status, 202, 'offline again: stored');
  });
});
