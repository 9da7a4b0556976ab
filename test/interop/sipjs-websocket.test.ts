// Interop with SIP.js 0.21 over its OWN WebSocket transport (RFC 7118; Node 24's global WebSocket), configured exactly
// as contrib/sipjs-example.html configures it in a browser (the options come from contrib/sipjs-phone.js): register
// with digest, a call between two such UAs with BYE, a call to a SIP.js UA on TCP (the transport changes at the
// proxy), MESSAGE online and offline (202, delivered at REGISTER), presence with NOTIFY, offline when the page goes.
// Only the session description handler differs from a browser: Node has no WebRTC, so a fixed SDP stands in.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Inviter, Messager, Registerer, RegistererState, SessionState, Subscriber, SubscriptionState, UserAgent,
  type Invitation, type Message, type Notification, type Session,
} from 'sip.js';
import type { TestServer } from '../helpers/test-server.ts';
import { startDefaultProfileServer } from '../helpers/default-profile-server.ts';
import { overallBasic, parsePidf } from '../../src/formats/pidf.ts';
import { tvphoneRegistererOptions, tvphoneUserAgentOptions } from '../../contrib/sipjs-phone.js';
import { LOOPBACK, sleep } from './lib/proc.ts';
import { FixedSdh } from './lib/sipjs-fixed-sdh.ts';
import { NodeTcpTransport } from './lib/sipjs-tcp-transport.ts';

const EXAMPLE_PAGE = fileURLToPath(new URL('../../contrib/sipjs-example.html', import.meta.url));

async function waitFor(test: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('interop: SIP.js 0.21 over its own WebSocket transport, configured as the example web page', function () {
  this.timeout(20000);
  let ts: TestServer | null = null;
  const uas: UserAgent[] = [];

  afterEach(async () => {
    for (const ua of uas.splice(0)) await ua.stop().catch(() => {});
    await ts?.close();
    ts = null;
  });

  async function start(): Promise<TestServer> {
    ts = await startDefaultProfileServer({
      listeners: [
        { transport: 'udp', host: LOOPBACK, port: 0 },
        { transport: 'tcp', host: LOOPBACK, port: 0 },
        { transport: 'ws', host: LOOPBACK, port: 0 },
      ],
    });
    await ts.addUser('carol', 'carol-pw');
    await ts.addUser('dave', 'dave-pw');
    return ts;
  }

  /** A UserAgent as the example page makes it (plus a fixed-SDP handler in place of WebRTC). */
  function webUserAgent(user: string, rtpPort: number, delegate: { onInvite?: (inv: Invitation) => void; onMessage?: (m: Message) => void } = {}): UserAgent {
    const ws = ts!.server.listeners.find((l) => l.transport === 'ws')!;
    const ua = new UserAgent({
      ...tvphoneUserAgentOptions({ server: `ws://${LOOPBACK}:${ws.port}`, user, password: `${user}-pw` }),
      logLevel: process.env.SIPJS_DEBUG ? 'debug' : 'error',
      logBuiltinEnabled: !!process.env.SIPJS_DEBUG,
      sessionDescriptionHandlerFactory: () => new FixedSdh(rtpPort),
      delegate,
    });
    uas.push(ua);
    return ua;
  }

  async function register(ua: UserAgent): Promise<Registerer> {
    await ua.start();
    const r = new Registerer(ua, tvphoneRegistererOptions);
    await r.register();
    await waitFor(() => r.state === RegistererState.Registered, 5000, 'Registered');
    return r;
  }

  it('the example page builds its UserAgent and Registerer from contrib/sipjs-phone.js, and its script parses', () => {
    const html = readFileSync(EXAMPLE_PAGE, 'utf8');
    assert.match(html, /<script type="importmap">\{ "imports": \{ "sip\.js": "\.\/sip\.js\/lib\/index\.js" \} \}<\/script>/);
    assert.match(html, /import \{ tvphoneRegistererOptions, tvphoneUserAgentOptions \} from '\.\/sipjs-phone\.js';/);
    assert.match(html, /\.\.\.options,/);
    assert.match(html, /new Registerer\(ua, tvphoneRegistererOptions\)/);
    assert.doesNotMatch(html, /https?:\/\/(?!tvphone\.example\.com)[^\s"']+\.js/, 'no script from a CDN');
    const script = /<script type="module">([\s\S]*?)<\/script>/.exec(html)?.[1];
    assert.ok(script, 'the page has its module script');
    const dir = mkdtempSync(join(tmpdir(), 'tvphone-page-'));
    try {
      writeFileSync(join(dir, 'page.mjs'), script);
      execFileSync(process.execPath, ['--check', join(dir, 'page.mjs')], { stdio: 'pipe' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('registers with digest over WebSocket, calls another web UA through the proxy, and the caller\'s BYE ends the call', async () => {
    await start();
    let incoming: Invitation | null = null;
    const carol = webUserAgent('carol', 40100, {
      onInvite: (inv) => {
        incoming = inv;
        void inv.accept();
      },
    });
    await register(carol);
    const [binding] = await ts!.server.store.getBindings('carol', Date.now());
    assert.equal(binding?.flow.transport, 'ws');
    assert.match(binding?.contact ?? '', /^<?sip:[^@]+@[^;>]+\.invalid;transport=ws/, 'SIP.js registers a Contact no one can dial');
    assert.ok(binding !== undefined && binding.flow.connectionId !== null && ts!.server.transport.hasConnection(binding.flow.connectionId), 'the binding is the WebSocket flow');
    assert.equal((await ts!.server.store.getPresence('carol'))?.netstate, 1);

    const dave = webUserAgent('dave', 40102);
    await register(dave);
    const inviter = new Inviter(dave, UserAgent.makeURI(`sip:carol@${LOOPBACK}`)!);
    await inviter.invite();
    await waitFor(() => inviter.state === SessionState.Established, 5000, 'caller Established');
    await waitFor(() => (incoming as Session | null)?.state === SessionState.Established, 2000, 'callee Established');
    assert.match((inviter.sessionDescriptionHandler as FixedSdh).remote ?? '', /m=audio 40100 RTP\/AVP 0/);
    assert.match(((incoming as Session | null)!.sessionDescriptionHandler as FixedSdh).remote ?? '', /m=audio 40102 RTP\/AVP 0/);

    await sleep(300);
    await inviter.bye();
    await waitFor(() => (incoming as Session | null)!.state === SessionState.Terminated, 5000, 'callee Terminated by BYE');
    await waitFor(() => inviter.state === SessionState.Terminated, 5000, 'caller Terminated');
    await waitFor(async () => (await ts!.server.store.listCalls({ userId: 'carol' }))[0]?.endedAt != null, 3000, 'call end recorded');
    const [call] = await ts!.server.store.listCalls({ userId: 'carol' });
    assert.deepEqual([call?.userId, call?.otherUserId, call?.outcome, call?.status], ['dave', 'carol', 'answered', 200]);
  });

  it('calls a SIP.js UA registered over TCP (double Record-Route, RFC 5658) and the callee\'s BYE reaches the web page', async () => {
    await start();
    let incoming: Invitation | null = null;
    const tcpCarol = new UserAgent({
      uri: UserAgent.makeURI(`sip:carol@${LOOPBACK}`),
      authorizationUsername: 'carol',
      authorizationPassword: 'carol-pw',
      transportConstructor: NodeTcpTransport,
      transportOptions: { host: LOOPBACK, port: ts!.tcp.port },
      contactName: 'carol',
      contactParams: { transport: 'tcp' },
      viaHost: LOOPBACK,
      logLevel: 'error',
      sessionDescriptionHandlerFactory: () => new FixedSdh(40110),
      delegate: {
        onInvite: (inv) => {
          incoming = inv;
          void inv.accept();
        },
      },
    });
    uas.push(tcpCarol);
    await register(tcpCarol);
    const dave = webUserAgent('dave', 40112);
    await register(dave);
    const inviter = new Inviter(dave, UserAgent.makeURI(`sip:carol@${LOOPBACK}`)!);
    await inviter.invite();
    await waitFor(() => (incoming as Session | null)?.state === SessionState.Established && inviter.state === SessionState.Established, 5000, 'both Established');
    const wsPort = ts!.server.listeners.find((l) => l.transport === 'ws')!.port;
    assert.deepEqual((incoming as Invitation | null)!.request.getHeaders('record-route').map((v) => v.replace(/;tvs=[\w-]{22}/, '')), [
      `<sip:${LOOPBACK}:${ts!.tcp.port};transport=tcp;lr>`,
      `<sip:${LOOPBACK}:${wsPort};transport=ws;lr>`,
    ]);
    await (incoming as Session | null)!.bye();
    await waitFor(() => inviter.state === SessionState.Terminated, 5000, 'the web caller Terminated by the callee\'s BYE');
  });

  it('MESSAGE: to an offline user (202, kept) delivered over its WebSocket when it registers, and to an online one', async () => {
    await start();
    const received: string[] = [];
    const dave = webUserAgent('dave', 40122);
    await register(dave);
    const statuses: number[] = [];
    await new Messager(dave, UserAgent.makeURI(`sip:carol@${LOOPBACK}`)!, 'kept for carol').message({
      requestDelegate: { onAccept: (r) => void statuses.push(r.message.statusCode!), onReject: (r) => void statuses.push(r.message.statusCode!) },
    });
    await waitFor(() => statuses.length > 0, 5000, 'answer to the MESSAGE');
    assert.deepEqual(statuses, [202]);
    assert.equal((await ts!.server.store.pendingMessages('carol', 10)).length, 1);

    const carol = webUserAgent('carol', 40120, {
      onMessage: (m) => {
        received.push(m.request.body);
        void m.accept();
      },
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

  it('presence: SUBSCRIBEs with credentials and is NOTIFYed open, then closed when the other page goes away (WebSocket closed)', async () => {
    await start();
    const dave = webUserAgent('dave', 40132);
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

    const carol = webUserAgent('carol', 40130);
    await register(carol);
    await waitFor(() => notifies.length === 2, 5000, 'NOTIFY open');
    assert.equal(notifies[1]!.basic, 'open');

    // the page is closed without un-REGISTER: its WebSocket goes, and with it carol's binding (as for TCP)
    await carol.transport.disconnect();
    await waitFor(() => notifies.length === 3, 5000, 'NOTIFY closed');
    assert.equal(notifies[2]!.basic, 'closed');
    assert.equal((await ts!.server.store.getPresence('carol'))?.netstate, 0);
    assert.deepEqual(await ts!.server.store.getBindings('carol', Date.now()), []);

    await subscriber.unsubscribe();
    await waitFor(() => subscriber.state === SubscriptionState.Terminated, 5000, 'Terminated');
    await waitFor(async () => (await ts!.server.store.subscriptionsFor('carol', Date.now())).length === 0, 3000, 'subscription removed');
  });
});
