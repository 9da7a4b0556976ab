// Interop with SIP.js 0.21 (its own transaction, dialog and digest code) in Node over a small TCP transport
// (lib/sipjs-tcp-transport.ts) and a fixed-SDP session description handler: two SIP.js UserAgents register
// to tvphone with digest (MD5), one calls the other through the proxy, the callee answers, the caller hangs
// up with BYE; user_property and user_call are checked in the store.
import assert from 'node:assert/strict';
import {
  Inviter, Messager, Registerer, RegistererState, SessionState, Subscriber, SubscriptionState, UserAgent,
  type Invitation, type Message, type Notification, type Session,
} from 'sip.js';
import type { TestServer } from '../helpers/test-server.ts';
import { startDefaultProfileServer } from '../helpers/default-profile-server.ts';
import { until as waitFor } from '../helpers/until.ts';
import { overallBasic, parsePidf } from '../../src/formats/pidf.ts';
import { LOOPBACK, sleep } from './lib/proc.ts';
import { NodeTcpTransport } from './lib/sipjs-tcp-transport.ts';
import { FixedSdh } from './lib/sipjs-fixed-sdh.ts';

describe('interop: SIP.js 0.21 user agents over TCP through tvphone', function () {
  this.timeout(20000);
  let ts: TestServer | null = null;
  const uas: UserAgent[] = [];

  afterEach(async () => {
    for (const ua of uas.splice(0)) await ua.stop().catch(() => {});
    await ts?.close();
    ts = null;
  });

  function userAgent(user: string, password: string, rtpPort: number, onInvite?: (inv: Invitation) => void, onMessage?: (m: Message) => void): UserAgent {
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
      delegate: { ...(onInvite ? { onInvite } : {}), ...(onMessage ? { onMessage } : {}) },
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
    // SIP.js 0.21 computes MD5 only and keeps only the LAST WWW-Authenticate (Parser: setHeader): the shipped
    // default profile offers it MD5 only.
    ts = await startDefaultProfileServer();
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
    assert.equal(bindings[0]!.flow.transport.toLowerCase(), 'tcp');

    const dave = userAgent('dave', 'dave-pw', 40002);
    await register(dave);
    const inviter = new Inviter(dave, UserAgent.makeURI(`sip:carol@${LOOPBACK}`)!);
    const states: SessionState[] = [];
    inviter.stateChange.addListener((s) => states.push(s));
    await inviter.invite();
    await waitFor(() => inviter.state === SessionState.Established, 5000, 'caller Established');
    await waitFor(() => (incoming as Session | null)?.state === SessionState.Established, 2000, 'callee Established');
    assert.match((inviter.sessionDescriptionHandler as FixedSdh).remote ?? '', /m=audio 40000 RTP\/AVP 0/);
    // the caller's credentials were consumed by tvphone (RFC 3261 §22.3): the callee never sees them
    assert.equal((incoming as Invitation | null)!.request.getHeader('Proxy-Authorization'), undefined);
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

  it('CANCEL: the caller gives up while the callee rings; both end and user_call says cancelled', async () => {
    ts = await startDefaultProfileServer();
    await ts.addUser('carol', 'carol-pw');
    await ts.addUser('dave', 'dave-pw');
    let incoming: Invitation | null = null;
    const carol = userAgent('carol', 'carol-pw', 40010, (inv) => {
      incoming = inv;
      void inv.progress();
    });
    await register(carol);
    const dave = userAgent('dave', 'dave-pw', 40012);
    await register(dave);
    const inviter = new Inviter(dave, UserAgent.makeURI(`sip:carol@${LOOPBACK}`)!);
    await inviter.invite();
    await waitFor(() => incoming !== null, 5000, 'callee rings');
    await waitFor(() => inviter.state === SessionState.Establishing, 2000, 'caller Establishing');
    await sleep(200); // the 180 has reached the caller
    await inviter.cancel();
    await waitFor(() => (incoming as Session | null)!.state === SessionState.Terminated, 5000, 'callee Terminated by CANCEL');
    await waitFor(() => inviter.state === SessionState.Terminated, 5000, 'caller Terminated');
    await waitFor(async () => (await ts!.server.store.listCalls({ userId: 'carol' }))[0]?.outcome === 'cancelled', 3000, 'user_call cancelled');
  });

  it('MESSAGE: SIP.js sends to an online user and to an offline one (202, kept), and receives what was kept for it at REGISTER', async () => {
    ts = await startDefaultProfileServer();
    await ts.addUser('carol', 'carol-pw');
    await ts.addUser('dave', 'dave-pw');
    const received: string[] = [];
    const dave = userAgent('dave', 'dave-pw', 40022);
    await register(dave);
    // carol is off: the MESSAGE is challenged (407), sent again with credentials, kept and answered 202
    const statuses: number[] = [];
    await new Messager(dave, UserAgent.makeURI(`sip:carol@${LOOPBACK}`)!, 'kept for carol').message({
      requestDelegate: { onAccept: (r) => void statuses.push(r.message.statusCode!), onReject: (r) => void statuses.push(r.message.statusCode!) },
    });
    await waitFor(() => statuses.length > 0, 5000, 'answer to the MESSAGE');
    assert.deepEqual(statuses, [202]);
    assert.equal((await ts.server.store.pendingMessages('carol', 10)).length, 1);

    const carol = userAgent('carol', 'carol-pw', 40020, undefined, (m) => {
      received.push(m.request.body);
      void m.accept();
    });
    await register(carol);
    await waitFor(() => received.length === 1, 5000, 'kept message delivered at REGISTER');
    assert.equal(received[0], 'kept for carol');
    await waitFor(async () => (await ts!.server.store.pendingMessages('carol', 10)).length === 0, 3000, 'marked delivered');

    const online: number[] = [];
    await new Messager(dave, UserAgent.makeURI(`sip:carol@${LOOPBACK}`)!, 'hello online').message({
      requestDelegate: { onAccept: (r) => void online.push(r.message.statusCode!) },
    });
    await waitFor(() => received.length === 2 && online.length === 1, 5000, 'online MESSAGE relayed');
    assert.equal(received[1], 'hello online');
    assert.equal(online[0], 200, 'the callee\'s 200 comes back through the proxy');
  });

  it('presence: SIP.js SUBSCRIBEs (407, credentials), is NOTIFYed open/closed, refreshes in the dialog and un-SUBSCRIBEs', async () => {
    ts = await startDefaultProfileServer();
    await ts.addUser('carol', 'carol-pw');
    await ts.addUser('dave', 'dave-pw');
    const dave = userAgent('dave', 'dave-pw', 40032);
    await register(dave);
    const notifies: Array<{ state: string; basic: string }> = [];
    const subscriber = new Subscriber(dave, UserAgent.makeURI(`sip:carol@${LOOPBACK}`)!, 'presence', { expires: 600 });
    subscriber.delegate = {
      onNotify: (n: Notification) => {
        notifies.push({ state: n.request.getHeader('Subscription-State') ?? '', basic: overallBasic(parsePidf(new TextEncoder().encode(n.request.body))) });
        void n.accept();
      },
    };
    await subscriber.subscribe();
    await waitFor(() => subscriber.state === SubscriptionState.Subscribed && notifies.length === 1, 5000, 'subscribed with a first NOTIFY');
    assert.equal(notifies[0]!.basic, 'closed');

    const carol = userAgent('carol', 'carol-pw', 40030);
    const carolReg = await register(carol);
    await waitFor(() => notifies.length === 2, 5000, 'NOTIFY open');
    assert.equal(notifies[1]!.basic, 'open');

    await subscriber.subscribe(); // RFC 6665 §4.1.2.1: a re-SUBSCRIBE in the dialog refreshes it
    await waitFor(() => notifies.length === 3, 5000, 'NOTIFY after the refresh');
    assert.match(notifies[2]!.state, /^active/);
    assert.equal((await ts.server.store.subscriptionsFor('carol', Date.now())).length, 1, 'still one subscription');

    await carolReg.unregister();
    await waitFor(() => notifies.length === 4, 5000, 'NOTIFY closed');
    assert.equal(notifies[3]!.basic, 'closed');

    await subscriber.unsubscribe();
    await waitFor(() => subscriber.state === SubscriptionState.Terminated, 5000, 'Terminated');
    // SIP.js ends the subscription at the 200 of its un-SUBSCRIBE and does not hand the final NOTIFY to the delegate
    await waitFor(async () => (await ts!.server.store.subscriptionsFor('carol', Date.now())).length === 0, 3000, 'subscription removed');
  });
});
