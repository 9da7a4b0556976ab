// Two TV agents and the tvphone server over real sockets on 127.0.0.1, in-process.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TvAgent, type TvAgentOptions } from '../../../src/terminal/tv-agent.ts';
import type { TvAgentEvents } from '../../../src/terminal/events.ts';
import { readWav } from '../../../src/media/wav.ts';
import { dominantFrequency, rms } from '../../../src/media/goertzel.ts';
import { waitFor, sleep, assertTone } from '../../helpers/tv-events.ts';
import type { TestServer } from '../../helpers/test-server.ts';
import { startDefaultProfileServer } from '../../helpers/default-profile-server.ts';


describe('tvphone tv: two agents and the server (integration)', function () {
  this.timeout(30_000);
  let srv: TestServer;
  let dir: string;
  const agents: TvAgent[] = [];

  beforeEach(async () => {
    srv = await startDefaultProfileServer();
    await srv.addUser('1001', 'pw1');
    await srv.addUser('1002', 'pw2');
    dir = mkdtempSync(join(tmpdir(), 'tvphone-tv-'));
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.stop();
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function agent(user: string, o: Partial<TvAgentOptions> = {}, transport: 'tcp' | 'udp' = 'tcp'): TvAgent {
    const port = transport === 'tcp' ? srv.tcp.port : srv.udp.port;
    const a = new TvAgent({
      user, password: user === '1001' ? 'pw1' : 'pw2', server: `sip:127.0.0.1:${port}`, transport,
      downloadDir: join(dir, user), rtcpIntervalMs: 300, timerValues: { t1: 100, t2: 400, t4: 500 }, ...o,
    });
    agents.push(a);
    return a;
  }

  it('register with digest, see each other online, call with auto-answer: tones arrive at the right frequency both ways, RTCP figures at hang-up', async () => {
    const a = agent('1001', { contacts: ['1002'], toneHz: 440, record: join(dir, 'a.wav') });
    const b = agent('1002', { contacts: ['1001'], toneHz: 1000, autoAnswer: true, record: join(dir, 'b.wav') }, 'udp');
    const aReg = waitFor(a, 'registered');
    await a.start();
    assert.equal((await aReg).aor, 'sip:1001@127.0.0.1');
    const aSeesB = waitFor(a, 'presence', (e) => e.contact === '1002' && e.online);
    const bSeesA = waitFor(b, 'presence', (e) => e.contact === '1001' && e.online);
    await b.start();
    assert.ok(b.isRegistered);
    await aSeesB;
    await bSeesA;

    const incoming = waitFor(b, 'call-incoming');
    const aAnswered = waitFor(a, 'call-answered');
    const bAnswered = waitFor(b, 'call-answered');
    assert.equal(await a.dial('1002'), true);
    assert.equal((await incoming).from, '1001');
    assert.equal((await aAnswered).codec, 'PCMU');
    await bAnswered;
    await sleep(1500);
    const aEnded = waitFor(a, 'call-ended');
    const bEnded = waitFor(b, 'call-ended');
    assert.equal(await a.hangup(), true);
    const ea = await aEnded;
    const eb = await bEnded;
    assert.equal(ea.reason, 'local-hangup');
    assert.equal(eb.reason, 'remote-hangup');
    assert.ok(ea.rtcp && ea.rtcp.sent.packets > 40, `A sent ${ea.rtcp?.sent.packets} packets`);
    assert.ok(ea.rtcp && ea.rtcp.received.packets > 40, `A received ${ea.rtcp?.received.packets} packets`);
    assert.ok(ea.rtcp?.remote && ea.rtcp.remote.reports > 0, 'A got RTCP reports from B');
    assert.ok(eb.rtcp?.remote && eb.rtcp.remote.reports > 0, 'B got RTCP reports from A');

    // what B recorded is A's 440 Hz tone; what A recorded is B's 1000 Hz tone
    assertTone(join(dir, 'b.wav'), 440);
    assertTone(join(dir, 'a.wav'), 1000);
  });

  it('answers 486 Busy Here to a second call', async () => {
    const a = agent('1001', { autoAnswer: true });
    const b = agent('1002', {}, 'tcp');
    await a.start();
    await b.start();
    const answered = waitFor(a, 'call-answered');
    void b.dial('1001');
    await answered;
    // a second caller: a third registration of 1002 would be needed; instead the callee itself is busy for a new INVITE
    const second = new TvAgent({ user: '1002', password: 'pw2', server: `sip:127.0.0.1:${srv.tcp.port}`, downloadDir: join(dir, 'x'), timerValues: { t1: 100, t2: 400, t4: 500 } });
    agents.push(second);
    await second.start();
    const ended = waitFor(second, 'call-ended');
    void second.dial('1001');
    const e = await ended;
    assert.equal(e.status, 486);
    assert.equal(e.reason, 'busy');
  });

  it('a message, a picture and a missed call sent while the TV is off arrive when it starts (picture byte-identical)', async () => {
    const a = agent('1001');
    await a.start();
    assert.equal(await a.sendMessage('1002', 'hello TV'), 202);
    const picture = Buffer.alloc(5000);
    for (let i = 0; i < picture.length; i++) picture[i] = (i * 31 + 7) & 0xff;
    const picFile = join(dir, 'photo.png');
    writeFileSync(picFile, picture);
    assert.equal(await a.sendPicture('1002', picFile), 202);
    // the server's voicemail answers the call to the TV that is off; the caller hangs up during the greeting: a missed call
    const answered = waitFor(a, 'call-answered');
    const ended = waitFor(a, 'call-ended');
    await a.dial('1002');
    await answered;
    await a.hangup();
    await ended;

    const b = agent('1002');
    const got: Array<TvAgentEvents['message'][0]> = [];
    b.on('message', (m) => got.push(m));
    const missed = waitFor(b, 'missed-calls');
    await b.start();
    const notice = await missed;
    assert.deepEqual(notice.calls.map((c) => [c.from, c.count]), [['1001', 1]]);
    for (let i = 0; i < 50 && got.length < 2; i++) await sleep(100);
    assert.equal(got.length, 2);
    const text = got.find((m) => m.text !== undefined);
    assert.equal(text?.text, 'hello TV');
    assert.equal(text?.from, '1001');
    const pic = got.find((m) => m.file !== undefined);
    assert.equal(pic?.contentType, 'image/png');
    assert.deepEqual(readFileSync(pic!.file!), picture);
    assert.match(readFileSync(join(dir, '1002', 'messages.log'), 'utf8'), /1001: hello TV/);
  });

  it('MESSAGE to an online agent is relayed (200) and shown; a presence refresh stays in its dialog; stop un-SUBSCRIBEs', async () => {
    const a = agent('1001', { contacts: ['1002'] });
    const b = agent('1002');
    await b.start();
    const online = waitFor(a, 'presence', (e) => e.contact === '1002' && e.online);
    await a.start();
    await online;
    const shown = waitFor(b, 'message', (e) => e.text === 'are you watching?');
    assert.equal(await a.sendMessage('1002', 'are you watching?'), 200);
    assert.equal((await shown).from, '1001');
    assert.equal((await srv.server.store.pendingMessages('1002', 10)).length, 0);

    const [before] = await srv.server.store.subscriptionsFor('1002', Date.now());
    assert.ok(before);
    await sleep(20);
    await a.subscribe('1002'); // RFC 6665 §4.1.2.1: the refresh goes to the notifier's Contact, in the dialog
    const after = await srv.server.store.subscriptionsFor('1002', Date.now());
    assert.equal(after.length, 1);
    assert.equal(after[0]!.id, before.id, 'the same subscription was refreshed, not a new one made');
    assert.ok(after[0]!.expiresAt > before.expiresAt, 'its expiry moved on');

    await a.stop();
    assert.deepEqual(await srv.server.store.subscriptionsFor('1002', Date.now()), [], 'stop ended the subscription (Expires: 0)');
  });

  it('reports a throwing listener as an error event (ERR_LISTENER) and carries on, registered (mediasoup listenererror)', async () => {
    const a = agent('1001');
    a.on('registered', () => {
      throw new Error('screen broke');
    });
    const reported = waitFor(a, 'error', (e) => e.code === 'ERR_LISTENER');
    await a.start();
    assert.match((await reported).message, /"registered" listener threw: screen broke/);
    assert.equal(a.isRegistered, true);
  });

  it('de-registers on stop: the other agent sees it go offline', async () => {
    const a = agent('1001', { contacts: ['1002'] });
    const b = agent('1002');
    await b.start();
    const online = waitFor(a, 'presence', (e) => e.contact === '1002' && e.online);
    await a.start();
    await online;
    const offline = waitFor(a, 'presence', (e) => e.contact === '1002' && !e.online);
    const unreg = waitFor(b, 'unregistered');
    await b.stop();
    await unreg;
    await offline;
  });
});

describe('tvphone tv: connection loss and repeats (integration)', function () {
  this.timeout(30_000);
  let srv: TestServer;
  let dir: string;
  let a: TvAgent | null = null;

  beforeEach(async () => {
    srv = await startDefaultProfileServer();
    await srv.addUser('1001', 'pw1');
    dir = mkdtempSync(join(tmpdir(), 'tvphone-tv-'));
  });
  afterEach(async () => {
    await a?.stop();
    a = null;
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers again over a new connection when the TCP connection to the server is lost', async () => {
    a = new TvAgent({ user: '1001', password: 'pw1', server: `sip:127.0.0.1:${srv.tcp.port}`, downloadDir: dir, retryMinMs: 50 });
    await a.start();
    assert.equal(srv.server.transport.connectionCount, 1);
    const lost = waitFor(a, 'connection-lost');
    const again = waitFor(a, 'registered');
    for (let id = 1; id < 10; id++) if (srv.server.transport.hasConnection(id)) srv.server.transport.closeConnection(id);
    await lost;
    await again;
    assert.ok(a.isRegistered);
  });

  it('a repeated message id (after a crash) is answered 200 but not shown twice', async () => {
    await srv.addUser('1002', 'pw2');
    const seenFile = join(dir, '.tvphone-seen-ids');
    writeFileSync(seenFile, '1\n');
    const b = new TvAgent({ user: '1002', password: 'pw2', server: `sip:127.0.0.1:${srv.tcp.port}`, downloadDir: join(dir, 'x') });
    a = new TvAgent({ user: '1001', password: 'pw1', server: `sip:127.0.0.1:${srv.tcp.port}`, downloadDir: dir });
    // 1001 is off: a message kept for it gets silo id 1, which its seen-ids file already lists
    await b.start();
    assert.equal(await b.sendMessage('1001', 'already seen'), 202);
    assert.equal(await b.sendMessage('1001', 'new one'), 202);
    const shown: string[] = [];
    a.on('message', (m) => shown.push(m.text ?? ''));
    await a.start();
    for (let i = 0; i < 30 && shown.length < 1; i++) await sleep(100);
    await sleep(300);
    await b.stop();
    assert.deepEqual(shown, ['new one']);
    assert.equal((await srv.server.store.pendingMessages('1001', 10)).length, 0, 'both answered 200: nothing kept');
  });
});
