// Interop with sipsak 0.9.8.1 against tvphone started with the shipped default profile's auth (digest, MD5
// challenges: sipsak knows only MD5), on a 4-digit port (see server() below). Every request sipsak sends is
// challenged (401 for REGISTER, 407 otherwise) and answered by sipsak itself from -a PASSWORD (-u USER).
//
// What sipsak 0.9.8.1 can and cannot do, and how each case is run here:
// - register: usrloc mode `-U -u USER -a PASSWORD` (Expires: 15, raised by the registrar to minExpires).
//   `-u` is needed: without it sipsak answers the challenge with username="USER@" (its usrloc mode keeps the
//   '@' of -s sip:USER@HOST), which the server rightly refuses.
// - call out (INVITE, ACK, BYE, CANCEL): shot from files with -f. sipsak answers the 407, ACKs every final response itself (the 2xx ACK goes straight to
//   the callee's Contact: sipsak has no Record-Route/Route support, man page LIMITATIONS), and stops at the final
//   response, so BYE and CANCEL are further -f files. The callee is sipp (call-uas.xml / cancel-uas.xml),
//   registered with digest from the port it serves on.
// - be called: CANNOT. sipsak has no UAS mode; its only way to receive an INVITE is usrloc invite mode
//   (`-U -I`: register, then INVITE itself through the proxy), and 0.9.8.1 crashes there with SIGSEGV before
//   sending the INVITE (sprintf into a NULL buffer while building its own reply; the same crash as
//   nils-ohlmeier/sipsak issues #95 and #97, reproduced on this host against tvphone and without auth).
// - MESSAGE out, online (200 from the registered sipp receiver) and offline (202, stored): shot from a file
//   with -f -a.
// - MESSAGE in: CANNOT. sipsak cannot answer an incoming request: message mode (`-M`, `-U -M`: register, then
//   MESSAGE itself) crashes in 0.9.8.1 the same way, and `-U` exits at the 200 for REGISTER, before the stored
//   MESSAGE the server sends right after it arrives. What sipsak can do is the REGISTER that triggers delivery:
//   `-U -C` registers a Contact of the receiver's (sipp message-receiver.xml, or baresip) and the stored
//   MESSAGEs go there.
// - SUBSCRIBE (Event: presence) with refresh and un-SUBSCRIBE: from files with -f -a; sipsak stops at the 200,
//   so the refresh and the Expires: 0 are further files sent to the 200's Contact with both tags (read from
//   sipsak's -vvv output). sipsak CANNOT receive the NOTIFYs (no UAS side), so the SUBSCRIBE's Contact names a
//   UDP socket of this test that answers them 200 and records them.
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDefaultProfileServer } from '../helpers/default-profile-server.ts';
import type { TestServer } from '../helpers/test-server.ts';
import { generateTone } from '../../src/media/tone.ts';
import { writeWav } from '../../src/media/wav.ts';
import { baresipAvailable, startBaresip } from './lib/baresip.ts';
import { freeFourDigitPort, freePort, installed, killAll, LOOPBACK, run, type Exit } from './lib/proc.ts';
import { assertSippOk, sipp, startSipp } from './lib/sipp.ts';
import { pollUntil } from '../helpers/until.ts';
import { needPeers } from '../helpers/peers.ts';

const PW = 'pw-sipsak';



/** The last response with status `status` in sipsak's -vvv output (start line to the blank line). */
function lastResponse(out: string, status: number): string {
  // sipsak also prints a summary line ("SIP/2.0 200 OK" then "final received"): take the last one with headers
  const blocks = [...out.matchAll(new RegExp(`^SIP/2\\.0 ${status} [^\\n]*\\n(?:[A-Za-z-]+:[^\\n]*\\n)+`, 'gm'))].map((m) => m[0]);
  assert.ok(blocks.length > 0, `no ${status} in sipsak output:\n${out}`);
  return blocks[blocks.length - 1]!;
}

function headerOf(msg: string, name: string): string {
  const m = new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(msg);
  assert.ok(m, `no ${name} in:\n${msg}`);
  return m[1]!.trim();
}

/** A UDP socket standing in for sipsak's missing UAS side: answers every NOTIFY 200 and keeps it. */
async function notifyCatcher(): Promise<{ port: number; notifies: string[]; close(): Promise<void> }> {
  const sock: Socket = createSocket('udp4');
  const notifies: string[] = [];
  sock.on('message', (buf, rinfo) => {
    const msg = buf.toString('utf8');
    if (!msg.startsWith('NOTIFY ')) return;
    if (!notifies.some((n) => headerOf(n, 'CSeq') === headerOf(msg, 'CSeq'))) notifies.push(msg); // not retransmissions
    const head = msg.split('\r\n\r\n')[0]!.split('\r\n');
    const keep = head.filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l));
    sock.send(`SIP/2.0 200 OK\r\n${keep.join('\r\n')}\r\nContent-Length: 0\r\n\r\n`, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, LOOPBACK, resolve));
  return { port: sock.address().port, notifies, close: () => new Promise<void>((r) => sock.close(() => r())) };
}

describe('interop: sipsak 0.9.8 against tvphone (default profile, digest)', function () {
  this.timeout(30000);
  let ts: TestServer | null = null;
  let work: string;
  let seq = 0;

  before(function () {
    needPeers(this, installed('sipsak') && installed('sipp'), 'sipsak or sipp');
  });

  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'tvphone-sipsak-'));
  });

  afterEach(async () => {
    await killAll();
    await ts?.close();
    ts = null;
    rmSync(work, { recursive: true, force: true });
  });

  // sipsak 0.9.8.1 writes sip:127.0.0.1:2506 for -s sip:127.0.0.1:25061 (last digit of a 5-digit port
  // lost), which tvphone rightly answers 403 Relaying Denied: listen on a 4-digit port instead.
  async function server(): Promise<TestServer> {
    const port = await freeFourDigitPort();
    return startDefaultProfileServer({ listeners: [{ transport: 'udp', host: LOOPBACK, port }, { transport: 'tcp', host: LOOPBACK, port }] });
  }
  const hostport = (): string => `${LOOPBACK}:${ts!.udp.port}`;

  // stdbuf -o0: sipsak's stdout is block-buffered on a pipe, and a test that waits for a 180 must see it as it comes
  function sipsak(args: string[], timeoutMs = 10000): ReturnType<typeof run> {
    return run('stdbuf', ['-o0', 'sipsak', ...args, '-vvv'], { timeoutMs });
  }
  async function sipsakDone(args: string[], timeoutMs?: number): Promise<Exit> {
    return sipsak(args, timeoutMs).done;
  }
  /** Writes a request file for -f (lines joined with CRLF). */
  function file(lines: string[], body = ''): string {
    const f = join(work, `req-${++seq}.sip`);
    writeFileSync(f, [...lines, `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n'));
    return f;
  }
  // The request files carry no Via: sipsak inserts its own, with a new branch for each request it sends. (With -i
  // it would send the file's Via, and so the same branch again when it repeats a request with credentials: a
  // retransmission of the challenged transaction to the server (RFC 3261 §17.2.3), answered only after Timer J.)

  /** register-digest.xml from port P as `user` (added if new), then `scenario` served on P */
  async function registeredSippUas(user: string, scenario: string, args: string[] = []): Promise<Awaited<ReturnType<typeof startSipp>>> {
    if (!(await ts!.server.store.userExists(user))) await ts!.addUser(user, PW);
    const port = await freePort();
    assertSippOk(await sipp({ workDir: work, scenario: 'register-digest.xml', target: hostport(), port, args: ['-s', user, '-au', user, '-ap', PW] }));
    return startSipp({ workDir: work, scenario, target: null, timeoutS: 12, port, args });
  }

  it('sipsak -s sip:127.0.0.1:PORT (OPTIONS ping) exits 0 on the 200', async () => {
    ts = await server();
    const e = await sipsakDone(['-s', `sip:${hostport()}`, '-l', String(await freePort()), '-H', LOOPBACK]);
    assert.equal(e.code, 0, e.stdout + e.stderr);
    assert.match(e.stdout, /SIP\/2\.0 200/);
  });

  it('sipsak -U -a registers with digest (401, then 200); its Expires: 15 is raised to minExpires (60), not refused with 423', async () => {
    ts = await server();
    await ts.addUser('alice', PW);
    const before = Date.now();
    const e = await sipsakDone(['-U', '-s', `sip:alice@${hostport()}`, '-u', 'alice', '-a', PW, '-i', '-H', LOOPBACK]);
    assert.equal(e.code, 0, e.stdout + e.stderr);
    assert.match(e.stdout, /SIP\/2\.0 401[^]*Authorization: Digest username="alice"[^]*SIP\/2\.0 200/);
    assert.match(lastResponse(e.stdout, 200), /^Contact: <sip:alice@127\.0\.0\.1:\d+>;expires=60$/m);
    const b = await ts.server.store.getBindings('alice', Date.now());
    assert.equal(b.length, 1);
    assert.ok(b[0]!.expiresAt >= before + 59_000 && b[0]!.expiresAt <= Date.now() + 61_000, `expiresAt ${b[0]!.expiresAt - before} ms ahead`);
    assert.equal((await ts.server.store.getPresence('alice'))?.netstate, 1);
  });

  it('sipsak -U -a with a wrong password fails and adds no binding', async () => {
    ts = await server();
    await ts.addUser('alice', PW);
    const e = await sipsakDone(['-U', '-s', `sip:alice@${hostport()}`, '-u', 'alice', '-a', 'wrong', '-i', '-H', LOOPBACK]);
    assert.notEqual(e.code, 0, e.stdout + e.stderr);
    assert.deepEqual(await ts.server.store.getBindings('alice', Date.now()), []);
  });

  it('sipsak -f INVITE -a → 407 → INVITE with Proxy-Authorization → sipp callee 180/200 → sipsak ACKs; BYE from a file through the proxy (Route = Record-Route); user_call answered and ended', async () => {
    ts = await server();
    await ts.addUser('caller', PW);
    const uas = await registeredSippUas('callee', 'call-uas.xml');
    const lport = await freePort();
    const callId = `sipsak-call-${process.pid}@${LOOPBACK}`;
    const common = [`From: <sip:caller@${LOOPBACK}>;tag=sipsak${process.pid}`, `Call-ID: ${callId}`, 'Max-Forwards: 70'];
    const sdp = `v=0\r\no=caller 1 1 IN IP4 ${LOOPBACK}\r\ns=-\r\nc=IN IP4 ${LOOPBACK}\r\nt=0 0\r\nm=audio ${lport + 2} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n`;
    const invite = file([
      `INVITE sip:callee@${hostport()} SIP/2.0`, ...common,
      `To: <sip:callee@${hostport()}>`, 'CSeq: 1 INVITE', `Contact: <sip:caller@${LOOPBACK}:${lport}>`, 'Content-Type: application/sdp',
    ], sdp);
    const e = await sipsakDone(['-f', invite, '-s', `sip:callee@${hostport()}`, '-l', String(lport), '-u', 'caller', '-a', PW]);
    assert.equal(e.code, 0, e.stdout + e.stderr);
    assert.match(e.stdout, /SIP\/2\.0 407[^]*Proxy-Authorization: Digest username="caller"[^]*SIP\/2\.0 200/);
    const ok = lastResponse(e.stdout, 200);
    const to = headerOf(ok, 'To');
    const contact = /<([^>]+)>/.exec(headerOf(ok, 'Contact'))![1]!;
    const rr = headerOf(ok, 'Record-Route');
    assert.match(rr, /;lr/);
    // RFC 3261 §12.2.1.1: the BYE goes to the remote target (the callee's Contact) with the route set as Route.
    const bye = file([`BYE ${contact} SIP/2.0`, ...common, `Route: ${rr}`, `To: ${to}`, 'CSeq: 3 BYE']);
    const b = await sipsakDone(['-f', bye, '-s', `sip:callee@${hostport()}`, '-l', String(lport), '-u', 'caller', '-a', PW]);
    assert.equal(b.code, 0, b.stdout + b.stderr);
    assert.match(b.stdout, /SIP\/2\.0 200[^]*CSeq: 3 BYE/);
    assertSippOk(await uas.result);
    const calls = await pollUntil(() => ts!.server.store.listCalls({ userId: 'callee' }), (c) => c.length === 1 && c[0]!.endedAt !== null, 2000);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.userId, 'caller');
    assert.equal(calls[0]!.outcome, 'answered');
    assert.ok(calls[0]!.endedAt !== null, 'endedAt set after BYE');
  });

  it('sipsak -f INVITE -a, then CANCEL (same branch) from a second sipsak while it rings: 200 for the CANCEL, 487 for the INVITE; user_call cancelled', async () => {
    ts = await server();
    await ts.addUser('caller', PW);
    const uas = await registeredSippUas('ringer', 'cancel-uas.xml');
    const lport = await freePort();
    const callId = `sipsak-cancel-${process.pid}@${LOOPBACK}`;
    const common = [`From: <sip:caller@${LOOPBACK}>;tag=sipsak${process.pid}`, `To: <sip:ringer@${hostport()}>`, `Call-ID: ${callId}`, 'Max-Forwards: 70'];
    const invite = file([`INVITE sip:ringer@${hostport()} SIP/2.0`, ...common, 'CSeq: 1 INVITE', `Contact: <sip:caller@${LOOPBACK}:${lport}>`]);
    const inv = sipsak(['-f', invite, '-s', `sip:ringer@${hostport()}`, '-l', String(lport), '-u', 'caller', '-a', PW], 15000);
    await inv.waitFor(/SIP\/2\.0 180/, 10000);
    // RFC 3261 §9.1: the CANCEL has the Request-URI, Call-ID, From, To, top Via (branch) and CSeq number of the
    // INVITE it cancels: the Via sipsak put on the INVITE it repeated with credentials, read from its output, and
    // sent as is (-i).
    const authInvite = [...inv.stdout().matchAll(/^INVITE [^\n]*\n(?:[A-Za-z-]+:[^\n]*\n)+/gm)].map((m) => m[0]).filter((r) => /^Proxy-Authorization:/m.test(r)).pop();
    assert.ok(authInvite, inv.stdout());
    const inviteVia = headerOf(authInvite, 'Via');
    const cancel = file([`CANCEL sip:ringer@${hostport()} SIP/2.0`, `Via: ${inviteVia}`, ...common, 'CSeq: 2 CANCEL']);
    const c = await sipsakDone(['-f', cancel, '-s', `sip:ringer@${hostport()}`, '-i']);
    assert.equal(c.code, 0, c.stdout + c.stderr);
    assert.match(c.stdout, /SIP\/2\.0 200[^]*CSeq: 2 CANCEL/);
    const e = await inv.done;
    assert.equal(e.code, 1, e.stdout + e.stderr); // sipsak: 1 = a final response other than 2xx
    assert.match(lastResponse(e.stdout, 487), /CSeq: 2 INVITE/);
    assertSippOk(await uas.result);
    const calls = await pollUntil(() => ts!.server.store.listCalls({ userId: 'ringer' }), (l) => l.length === 1 && l[0]!.outcome !== 'pending', 2000);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.outcome, 'cancelled');
    assert.equal(calls[0]!.status, 487);
  });

  /** A MESSAGE from user sender (Proxy-Authorization from -u/-a) to `to`, shot with -f. */
  async function sendMessage(to: string, text: string, password = PW): Promise<Exit> {
    const lport = await freePort();
    const f = file([
      `MESSAGE sip:${to}@${hostport()} SIP/2.0`,
      `From: <sip:sender@${LOOPBACK}>;tag=sipsak${process.pid}-${++seq}`, `To: <sip:${to}@${hostport()}>`,
      `Call-ID: sipsak-msg-${process.pid}-${seq}@${LOOPBACK}`, 'CSeq: 1 MESSAGE', 'Max-Forwards: 70', 'Content-Type: text/plain',
    ], text);
    return sipsakDone(['-f', f, '-s', `sip:${to}@${hostport()}`, '-l', String(lport), '-u', 'sender', '-a', password]);
  }

  it('sipsak -f MESSAGE -a to a registered user: 407, then the sipp receiver answers 200; nothing stored', async () => {
    ts = await server();
    await ts.addUser('sender', PW);
    const rx = await registeredSippUas('tv0', 'message-receiver.xml');
    const e = await sendMessage('tv0', 'tvphone-interop-online 1: from sipsak');
    assert.equal(e.code, 0, e.stdout + e.stderr);
    assert.match(e.stdout, /SIP\/2\.0 407[^]*Proxy-Authorization: Digest username="sender"[^]*SIP\/2\.0 200/);
    assertSippOk(await rx.result);
    assert.deepEqual(await ts.server.store.listMessages({ toUser: 'tv0' }), []);
  });

  it('sipsak -f MESSAGE -a to an offline user → 202 (stored); sipsak -U -C then registers that user for the sipp receiver, which gets it; delivered', async () => {
    ts = await server();
    await ts.addUser('sender', PW);
    await ts.addUser('tv1', PW);
    const e = await sendMessage('tv1', 'tvphone-interop-offline 1: kept while the TV was off');
    assert.equal(e.code, 0, e.stdout + e.stderr);
    assert.match(e.stdout, /SIP\/2\.0 407[^]*SIP\/2\.0 202/);
    assert.equal((await ts.server.store.listMessages({ toUser: 'tv1', state: 'pending' })).length, 1);
    // sipsak cannot take the MESSAGE itself (see the top of this file): it registers the receiver's Contact
    const rx = await startSipp({ workDir: work, scenario: 'message-receiver.xml', target: null, timeoutS: 8 });
    const r = await sipsakDone(['-U', '-s', `sip:tv1@${hostport()}`, '-C', `sip:tv1@${LOOPBACK}:${rx.port}`, '-x', '600', '-u', 'tv1', '-a', PW, '-i', '-H', LOOPBACK]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assertSippOk(await rx.result);
    const delivered = await pollUntil(() => ts!.server.store.listMessages({ toUser: 'tv1', state: 'delivered' }), (m) => m.length === 1, 2000);
    assert.equal(delivered.length, 1);
  });

  it('sipsak -f MESSAGE with a wrong password is not stored', async () => {
    ts = await server();
    await ts.addUser('sender', PW);
    await ts.addUser('tv2', PW);
    const e = await sendMessage('tv2', 'must not be stored', 'wrong');
    assert.notEqual(e.code, 0, e.stdout + e.stderr);
    assert.deepEqual(await ts.server.store.listMessages({ toUser: 'tv2' }), []);
  });

  it('sipsak -f SUBSCRIBE (Event: presence) -a → 407 → 200 + NOTIFY; refresh to the 200\'s Contact → 200 + NOTIFY; Expires: 0 → 200 + NOTIFY terminated', async () => {
    ts = await server();
    await ts.addUser('watcher', PW);
    await ts.addUser('frank', PW);
    const catcher = await notifyCatcher();
    try {
      const lport = await freePort();
      const callId = `sipsak-sub-${process.pid}@${LOOPBACK}`;
      const from = `From: <sip:watcher@${LOOPBACK}>;tag=sipsak${process.pid}`;
      const sub = (uri: string, to: string, cseq: number, expires: number): string => file([
        `SUBSCRIBE ${uri} SIP/2.0`, from, `To: ${to}`, `Call-ID: ${callId}`,
        `CSeq: ${cseq} SUBSCRIBE`, `Contact: <sip:watcher@${LOOPBACK}:${catcher.port}>`, 'Event: presence', 'Accept: application/pidf+xml',
        `Expires: ${expires}`, 'Max-Forwards: 70',
      ]);
      const shoot = (f: string): Promise<Exit> => sipsakDone(['-f', f, '-s', `sip:frank@${hostport()}`, '-l', String(lport), '-u', 'watcher', '-a', PW]);

      const first = await shoot(sub(`sip:frank@${hostport()}`, `<sip:frank@${hostport()}>`, 1, 600));
      assert.equal(first.code, 0, first.stdout + first.stderr);
      assert.match(first.stdout, /SIP\/2\.0 407[^]*Proxy-Authorization: Digest username="watcher"[^]*SIP\/2\.0 200/);
      const ok = lastResponse(first.stdout, 200);
      const to = headerOf(ok, 'To');
      assert.match(to, /;tag=/);
      const target = /<([^>]+)>/.exec(headerOf(ok, 'Contact'))![1]!;
      await pollUntil(async () => catcher.notifies.length, (n) => n >= 1, 3000);

      // RFC 6665 §4.1.2.1: a refresh is sent in the dialog, to the notifier's Contact (no Record-Route: no Route)
      const refresh = await shoot(sub(target, to, 3, 600));
      assert.equal(refresh.code, 0, refresh.stdout + refresh.stderr);
      assert.match(lastResponse(refresh.stdout, 200), /^Expires: 600$/m);
      await pollUntil(async () => catcher.notifies.length, (n) => n >= 2, 3000);

      const end = await shoot(sub(target, to, 4, 0));
      assert.equal(end.code, 0, end.stdout + end.stderr);
      assert.match(lastResponse(end.stdout, 200), /^Expires: 0$/m);
      await pollUntil(async () => catcher.notifies.length, (n) => n >= 3, 3000);

      const states = catcher.notifies.map((n) => headerOf(n, 'Subscription-State'));
      assert.equal(states.length, 3, states.join(' | '));
      assert.match(states[0]!, /^active/);
      assert.match(states[1]!, /^active/);
      assert.match(states[2]!, /^terminated/);
      for (const n of catcher.notifies) {
        assert.equal(headerOf(n, 'Event'), 'presence');
        assert.match(headerOf(n, 'Content-Type'), /application\/pidf\+xml/);
      }
      assert.deepEqual(await ts.server.store.subscriptionsFor('frank', Date.now()), []);
    } finally {
      await catcher.close();
    }
  });

  it('sipsak MESSAGE to an offline user → 202; baresip then registers as that user and receives it; stored as delivered', async function () {
    needPeers(this, installed('baresip') && baresipAvailable(), 'baresip');
    ts = await server();
    await ts.addUser('sender', PW);
    await ts.addUser('tv3', PW);
    const text = `tvphone-sipsak-${process.pid} kept for the TV`;
    const e = await sendMessage('tv3', text);
    assert.equal(e.code, 0, e.stdout + e.stderr);
    assert.match(e.stdout, /SIP\/2\.0 202/);
    const pending = await ts.server.store.listMessages({ toUser: 'tv3', state: 'pending' });
    assert.equal(pending.length, 1);
    assert.equal(Buffer.from(pending[0]!.body).toString('utf8'), text);

    const wav = join(work, 'silence.wav');
    writeFileSync(wav, writeWav(generateTone({ frequency: 300, amplitude: 0.01, samples: 8000 }), 8000));
    const tv = await startBaresip({ dir: work, user: 'tv3', password: PW, serverPort: ts.udp.port, source: wav, quitAfterS: 8, sipTrace: true });
    // baresip 1.0 does not print a MESSAGE's text (it plays its message alert); its SIP trace (-s) shows the
    // MESSAGE it received, and the store says it answered 2xx
    await tv.proc.waitFor(new RegExp(text), 10000);
    assert.match(tv.proc.stdout() + tv.proc.stderr(), /\nMESSAGE sip:[^]*Content-Type: text\/plain/);
    const delivered = await pollUntil(() => ts!.server.store.listMessages({ toUser: 'tv3', state: 'delivered' }), (m) => m.length === 1, 3000);
    assert.equal(delivered.length, 1);
    assert.deepEqual(await ts.server.store.listMessages({ toUser: 'tv3', state: 'pending' }), []);
  });
});
