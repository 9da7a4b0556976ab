// Interop with SIP.js 0.21 (its own transaction, dialog and digest code) in Node over a small TCP transport
// (lib/sipjs-tcp-transport.ts) and a fixed-SDP session description handler: two SIP.js UserAgents register
// to tvphone with digest (MD5), one calls the other through the proxy, the callee answers, the caller hangs
// up with BYE; user_property and user_call are checked in the store.
import assert from 'node:assert/strict';
import { Inviter, Registerer, RegistererState, SessionState, UserAgent, type Invitation, type Session, type SessionDescriptionHandler } from 'sip.js';
import { REALM, startTestServer, type TestServer } from '../helpers/test-server.ts';
import { LOOPBACK, sleep } from './lib/proc.ts';
import { NodeTcpTransport } from './lib/sipjs-tcp-transport.ts';

const sdp = (port: number): string =>
  ['v=0', `o=- ${port} 1 IN IP4 ${LOOPBACK}`, 's=-', `c=IN IP4 ${LOOPBACK}`, 't=0 0', `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');

/** Offers/answers a fixed PCMU SDP and remembers the peer's (no media: the signalling is under test). */
class FixedSdh implements SessionDescriptionHandler {
  remote: string | null = null;
  readonly #port: number;
  constructor(port: number) {
    this.#port = port;
  }
  close(): void {}
  getDescription(): Promise<{ body: string; contentType: string }> {
    return Promise.resolve({ body: sdp(this.#port), contentType: 'application/sdp' });
  }
  hasDescription(contentType: string): boolean {
    return contentType === 'application/sdp';
  }
  setDescription(s: string): Promise<void> {
    this.remote = s;
    return Promise.resolve();
  }
  sendDtmf(): boolean {
    return false;
  }
}

async function waitFor(test: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('interop: SIP.js 0.21 user agents over TCP through tvphone', function () {
  this.timeout(20000);
  let ts: TestServer | null = null;
  const uas: UserAgent[] = [];

  afterEach(async () => {
    for (const ua of uas.splice(0)) await ua.stop().catch(() => {});
    await ts?.close();
    ts = null;
  });

  function userAgent(user: string, password: string, rtpPort: number, onInvite?: (inv: Invitation) => void): UserAgent {
    const ua = new UserAgent({
      uri: UserAgent.makeURI(`sip:${user}@${LOOPBACK}`),
      authorizationUsername: user,
      authorizationPassword: password,
      transportConstructor: NodeTcpTransport,
      transportOptions: { host: LOOPBACK, port: ts!.tcp.port },
      contactName: user,
      contactParams: { transport: 'tcp' },
      viaHost: LOOPBACK,
      logLevel: process.env.SIPJS_DEBUG ? 'debug' : 'error',
      logBuiltinEnabled: !!process.env.SIPJS_DEBUG,
      sessionDescriptionHandlerFactory: () => new FixedSdh(rtpPort),
      delegate: onInvite ? { onInvite } : undefined,
    });
    uas.push(ua);
    return ua;
  }

  async function register(ua: UserAgent): Promise<Registerer> {
    await ua.start();
    const r = new Registerer(ua, { expires: 300 });
    await r.register();
    await waitFor(() => r.state === RegistererState.Registered, 5000, 'Registered');
    return r;
  }

  it('registers with digest, is called by another SIP.js UA, answers, and the caller\'s BYE ends the call', async () => {
    // SIP.js 0.21 computes MD5 only and keeps only the LAST WWW-Authenticate (Parser: setHeader), so with
    // the default [SHA-256, MD5] or with [MD5, SHA-256] it aborts ("algorithm different than 'MD5'"): MD5 only.
    ts = await startTestServer({ profile: { auth: { mode: 'digest', realm: REALM, algorithms: ['MD5'] } } });
    await ts.addUser('carol', 'carol-pw');
    await ts.addUser('dave', 'dave-pw');

    let incoming: Invitation | null = null;
    const carol = userAgent('carol', 'carol-pw', 40000, (inv) => {
      incoming = inv;
      void inv.accept();
    });
    const carolReg = await register(carol);
    const presence = await ts.server.store.getPresence('carol');
    assert.equal(presence?.netstate, 1);
    assert.equal(presence?.ip, LOOPBACK);
    const bindings = await ts.server.store.getBindings('carol', Date.now());
    assert.equal(bindings.length, 1);
    assert.equal(bindings[0]!.transport.toLowerCase(), 'tcp');

    const dave = userAgent('dave', 'dave-pw', 40002);
    await register(dave);
    const inviter = new Inviter(dave, UserAgent.makeURI(`sip:carol@${LOOPBACK}`)!);
    const states: SessionState[] = [];
    inviter.stateChange.addListener((s) => states.push(s));
    await inviter.invite();
    await waitFor(() => inviter.state === SessionState.Established, 5000, 'caller Established');
    await waitFor(() => (incoming as Session | null)?.state === SessionState.Established, 2000, 'callee Established');
    assert.match((inviter.sessionDescriptionHandler as FixedSdh).remote ?? '', /m=audio 40000 RTP\/AVP 0/);
    assert.match(((incoming as Session | null)!.sessionDescriptionHandler as FixedSdh).remote ?? '', /m=audio 40002 RTP\/AVP 0/);

    await sleep(300);
    await inviter.bye();
    await waitFor(() => (incoming as Session | null)!.state === SessionState.Terminated, 5000, 'callee Terminated by BYE');
    await waitFor(() => inviter.state === SessionState.Terminated, 5000, 'caller Terminated');

    await waitFor(async () => (await ts!.server.store.listCalls({ userId: 'carol' }))[0]?.endedAt != null, 3000, 'call end recorded');
    const calls = await ts.server.store.listCalls({ userId: 'carol' });
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.userId, 'dave');
    assert.equal(calls[0]!.otherUserId, 'carol');
    assert.equal(calls[0]!.outcome, 'answered');
    assert.equal(calls[0]!.status, 200);
    assert.ok(calls[0]!.durationMs !== null && calls[0]!.durationMs >= 250, `duration ${calls[0]!.durationMs}`);

    // un-REGISTER: carol goes offline in user_property
    await carolReg.unregister();
    await waitFor(() => carolReg.state === RegistererState.Unregistered, 5000, 'Unregistered');
    assert.equal((await ts.server.store.getPresence('carol'))?.netstate, 0);
    assert.deepEqual(await ts.server.store.getBindings('carol', Date.now()), []);
  });
});
