import assert from 'node:assert/strict';
import { Dialog } from '../../../src/dialog/dialog.ts';
import { createRequest, type DialogState } from '../../../src/dialog/dialog-state.ts';
import { UserAgentCore, type UserAgentHandler } from '../../../src/dialog/user-agent-core.ts';
import { parseMessage } from '../../../src/sip/parser.ts';
import { SipRequest, type SipResponse } from '../../../src/sip/message.ts';
import { createResponse } from '../../../src/sip/response.ts';
import { createChallenge } from '../../../src/sip/digest.ts';
import { parseAuthParams, parseCSeq } from '../../../src/sip/headers.ts';
import { FakeTransport } from '../../../src/transport/fake-transport.ts';
import { FakeClock as FakeTimers } from '../../../src/clock.ts';
import type { ServerTransaction } from '../../../src/transaction/server-transaction.ts';

function msg(lines: string[], body = ''): string {
  return lines.join('\r\n') + `\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n` + body;
}

const INVITE = msg([
  'INVITE sip:1002@example.com SIP/2.0',
  'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKabc1',
  'From: "Alice" <sip:1001@example.com>;tag=a1',
  'To: <sip:1002@example.com>',
  'Call-ID: call-1',
  'CSeq: 7 INVITE',
  'Contact: <sip:1001@192.0.2.10:5062>',
  'Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>',
  'Max-Forwards: 70',
]);

describe('dialog (RFC 3261 §12)', () => {
  it('UAS: route set is Record-Route in order, remote target the Contact, remote seq the CSeq (§12.1.1)', () => {
    const req = parseMessage(Buffer.from(INVITE)) as SipRequest;
    const d = Dialog.asUas(req, 'b2');
    assert.deepEqual(d.routeSet, ['<sip:p2.example.com;lr>', '<sip:p1.example.com;lr>']);
    assert.equal(d.remoteTarget, 'sip:1001@192.0.2.10:5062');
    assert.equal(d.remoteSeq, 7);
    assert.equal(d.key, 'call-1;b2;a1');
    const bye = d.createRequest('BYE');
    assert.equal(bye.uri, 'sip:1001@192.0.2.10:5062');
    assert.deepEqual(bye.headerValues('route'), ['<sip:p2.example.com;lr>', '<sip:p1.example.com;lr>']);
    assert.match(bye.header('from') ?? '', /tag=b2/);
    assert.match(bye.header('to') ?? '', /tag=a1/);
    assert.equal(bye.header('cseq'), '1 BYE');
  });

  it('UAC: route set is Record-Route reversed and CSeq grows by one per request (§12.1.2, §12.2.1.1)', () => {
    const req = parseMessage(Buffer.from(INVITE)) as SipRequest;
    req.setHeader('From', '<sip:1001@example.com>;tag=a1');
    const res = createResponse(req, 200, undefined, 'b2');
    for (const rr of req.fields('record-route')) res.addHeader('Record-Route', rr.value);
    res.addHeader('Contact', '<sip:1002@192.0.2.20:5070;transport=tcp>');
    const d = Dialog.asUac(req, res);
    assert.deepEqual(d.routeSet, ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    assert.equal(d.remoteTarget, 'sip:1002@192.0.2.20:5070;transport=tcp');
    assert.equal(d.state, 'confirmed');
    assert.equal(d.createRequest('INFO').header('cseq'), '8 INFO');
    assert.equal(d.createRequest('BYE').header('cseq'), '9 BYE');
    assert.equal(d.createRequest('ACK', { seq: 7 }).header('cseq'), '7 ACK');
  });

  it('strict router: the first route becomes the Request-URI and the remote target the last Route (§12.2.1.1)', () => {
    const req = parseMessage(Buffer.from(INVITE.replace('Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>', 'Record-Route: <sip:strict.example.com>'))) as SipRequest;
    const d = Dialog.asUas(req, 'b2');
    const bye = d.createRequest('BYE');
    assert.equal(bye.uri, 'sip:strict.example.com');
    assert.deepEqual(bye.headerValues('route'), ['<sip:1001@192.0.2.10:5062>']);
  });

  it('builds in-dialog requests per RFC 3261 §12.2.1.1, loose and strict routing', () => {
    const dialog: DialogState = {
      callId: 'c', localTag: 'l', remoteTag: 'r', localUri: 'sip:a@example.com', remoteUri: 'sip:b@example.com', remoteTarget: 'sip:ua@192.0.2.1',
      routeSet: ['<sip:p1.example.com>', '<sip:p2.example.com;lr>'], localSeq: 6, remoteSeq: null, secure: false,
    };
    const strict = createRequest(dialog, 'NOTIFY', { seq: 7 });
    assert.equal(strict.uri, 'sip:p1.example.com');
    assert.deepEqual(strict.headerValues('route'), ['<sip:p2.example.com;lr>', '<sip:ua@192.0.2.1>']);
    const loose = createRequest({ ...dialog, routeSet: ['<sip:p2.example.com;lr>'] }, 'NOTIFY', { seq: 7 });
    assert.equal(loose.uri, 'sip:ua@192.0.2.1');
    assert.equal(loose.header('cseq'), '7 NOTIFY');
    assert.equal(loose.header('from'), '<sip:a@example.com>;tag=l');
    assert.equal(loose.header('to'), '<sip:b@example.com>;tag=r');
  });

  it('a request with a lower CSeq than the remote seq gets 500 (§12.2.2)', () => {
    const d = Dialog.asUas(parseMessage(Buffer.from(INVITE)) as SipRequest, 'b2');
    const late = parseMessage(Buffer.from(INVITE.replace('CSeq: 7 INVITE', 'CSeq: 5 BYE').replace('INVITE sip', 'BYE sip'))) as SipRequest;
    assert.equal(d.receiveRequest(late)?.status, 500);
    const next = parseMessage(Buffer.from(INVITE.replace('CSeq: 7 INVITE', 'CSeq: 8 BYE').replace('INVITE sip', 'BYE sip'))) as SipRequest;
    assert.equal(d.receiveRequest(next), null);
    assert.equal(d.remoteSeq, 8);
  });
});

describe('UA core (RFC 3261 §13, §9, §22)', () => {
  let timers: FakeTimers;
  let a: FakeTransport;
  let b: FakeTransport;
  let uac: UserAgentCore;
  let uas: UserAgentCore;

  beforeEach(() => {
    timers = new FakeTimers();
    a = new FakeTransport({ host: '127.0.0.1', port: 5071 });
    b = new FakeTransport({ host: '127.0.0.1', port: 5072 });
    a.link(b);
    uac = new UserAgentCore({ transport: a, outboundProxy: { transport: 'udp', address: '127.0.0.1', port: 5072 }, timers });
    uas = new UserAgentCore({ transport: b, outboundProxy: { transport: 'udp', address: '127.0.0.1', port: 5071 }, timers });
  });
  afterEach(() => {
    uac.close();
    uas.close();
  });

  function invite(): SipRequest {
    const r = new SipRequest('INVITE', 'sip:1002@127.0.0.1:5072');
    r.addHeader('From', '<sip:1001@127.0.0.1>;tag=a1');
    r.addHeader('To', '<sip:1002@127.0.0.1>');
    r.addHeader('Call-ID', 'c-1');
    r.addHeader('CSeq', '1 INVITE');
    r.addHeader('Contact', '<sip:1001@127.0.0.1:5071>');
    return r;
  }

  function answering(onDialogRequest: UserAgentHandler['onDialogRequest'] = () => {}): { acks: number } {
    const seen = { acks: 0 };
    uas.handler = {
      onRequest(req: SipRequest, st: ServerTransaction) {
        const d = Dialog.asUas(req, 'b1');
        uas.addDialog(d);
        const res = createResponse(req, 200, undefined, 'b1');
        res.addHeader('Contact', '<sip:1002@127.0.0.1:5072>');
        uas.respond2xx(st, res, d);
      },
      onDialogRequest,
      onAck() { seen.acks++; },
    };
    return seen;
  }

  async function settle(): Promise<void> {
    for (let i = 0; i < 5; i++) {
      await a.settle();
      await b.settle();
    }
  }

  it('the UAC core ACKs a 2xx with the INVITE CSeq number, and both sides hold the dialog', async () => {
    const seen = answering();
    const p = uac.invite(invite());
    await settle();
    const out = await p;
    await settle();
    assert.equal(out.response.status, 200);
    assert.ok(out.dialog);
    const ack = a.sent.map((s) => s.msg).find((m): m is SipRequest => m.isRequest() && m.method === 'ACK');
    assert.ok(ack, 'ACK sent');
    assert.equal(ack.header('cseq'), '1 ACK');
    assert.equal(ack.uri, 'sip:1002@127.0.0.1:5072');
    assert.equal(seen.acks, 1);
    assert.equal(uac.dialogCount, 1);
    assert.equal(uas.dialogCount, 1);
  });

  it('a BYE in the dialog reaches the peer in order; a request for an unknown dialog gets 481', async () => {
    let byes = 0;
    answering((_d, req, st) => {
      byes++;
      st.respond(createResponse(req, 200));
    });
    const p = uac.invite(invite());
    await settle();
    const { dialog } = await p;
    assert.ok(dialog);
    const byeP = uac.request(dialog.createRequest('BYE'));
    await settle();
    assert.equal((await byeP).status, 200);
    assert.equal(byes, 1);
    const stray = dialog.createRequest('BYE');
    stray.setHeader('Call-ID', 'unknown');
    const strayP = uac.request(stray);
    await settle();
    assert.equal((await strayP).status, 481);
  });

  it('the UAS retransmits its 2xx over UDP with T1 doubling until the ACK (§13.3.1.4)', async () => {
    const solo = new FakeTransport({ host: '127.0.0.1', port: 5080 });
    const core = new UserAgentCore({ transport: solo, outboundProxy: { transport: 'udp', address: '192.0.2.1', port: 5060 }, timers });
    let acked = 0;
    core.handler = {
      onRequest(req, st) {
        const d = Dialog.asUas(req, 'b1');
        core.addDialog(d);
        const res = createResponse(req, 200, undefined, 'b1');
        res.addHeader('Contact', '<sip:1002@127.0.0.1:5080>');
        core.respond2xx(st, res, d);
      },
      onDialogRequest() {},
      onAck() { acked++; },
    };
    solo.deliver(INVITE);
    const count200 = (): number => solo.sent.filter((s) => !s.msg.isRequest() && (s.msg as SipResponse).status === 200).length;
    assert.equal(count200(), 1);
    timers.advance(500);
    assert.equal(count200(), 2);
    timers.advance(1000);
    assert.equal(count200(), 3);
    timers.advance(2000);
    assert.equal(count200(), 4);
    const sent = solo.sent.find((s) => !s.msg.isRequest())?.msg as SipResponse;
    const toTag = /tag=(\w+)/.exec(sent.header('to') ?? '')?.[1];
    solo.deliver(msg([
      'ACK sip:1002@127.0.0.1:5080 SIP/2.0', 'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKack1',
      'From: "Alice" <sip:1001@example.com>;tag=a1', `To: <sip:1002@example.com>;tag=${toTag}`, 'Call-ID: call-1', 'CSeq: 7 ACK', 'Max-Forwards: 70',
    ]));
    assert.equal(acked, 1);
    timers.advance(10_000);
    assert.equal(count200(), 4, 'no retransmission after the ACK');
    core.close();
  });

  it('with no ACK in 64*T1 the TU is told to end the session (§13.3.1.4)', () => {
    const solo = new FakeTransport({ host: '127.0.0.1', port: 5080 });
    const core = new UserAgentCore({ transport: solo, outboundProxy: { transport: 'udp', address: '192.0.2.1', port: 5060 }, timers });
    let timedOut = 0;
    core.handler = {
      onRequest(req, st) {
        const d = Dialog.asUas(req, 'b1');
        core.addDialog(d);
        core.respond2xx(st, createResponse(req, 200, undefined, 'b1'), d);
      },
      onDialogRequest() {},
      onAckTimeout() { timedOut++; },
    };
    solo.deliver(INVITE);
    timers.advance(31_000);
    assert.equal(timedOut, 0);
    timers.advance(1_500);
    assert.equal(timedOut, 1);
    core.close();
  });

  it('answers a 401 with SHA-256 credentials when offered with MD5, CSeq + 1 (§22.2, RFC 8760)', async () => {
    const solo = new FakeTransport({ host: '127.0.0.1', port: 5080 });
    const core = new UserAgentCore({
      transport: solo, outboundProxy: { transport: 'udp', address: '192.0.2.1', port: 5060 }, timers, credentials: { user: '1001', password: 'pw' },
    });
    const reg = new SipRequest('REGISTER', 'sip:example.com');
    reg.addHeader('From', '<sip:1001@example.com>;tag=r1');
    reg.addHeader('To', '<sip:1001@example.com>');
    reg.addHeader('Call-ID', 'reg-1');
    reg.addHeader('CSeq', '1 REGISTER');
    const p = core.request(reg);
    const first = solo.last().msg as SipRequest;
    const res = createResponse(first, 401, undefined, 'srv');
    res.addHeader('WWW-Authenticate', createChallenge({ realm: 'example.com', nonce: 'n1', algorithm: 'MD5' }));
    res.addHeader('WWW-Authenticate', createChallenge({ realm: 'example.com', nonce: 'n2', algorithm: 'SHA-256' }));
    solo.deliver(res);
    await solo.settle();
    const second = solo.last().msg as SipRequest;
    assert.notEqual(second, undefined);
    assert.equal(parseCSeq(second.header('cseq') ?? '').seq, 2);
    const auth = parseAuthParams(second.header('authorization') ?? '');
    assert.equal(auth.params.get('algorithm'), 'SHA-256');
    assert.equal(auth.params.get('nonce'), 'n2');
    solo.deliver(createResponse(second, 200, undefined, 'srv'));
    assert.equal((await p).status, 200);
    core.close();
  });

  it('a CANCEL for a pending INVITE gets 200 and the TU is told (§9.2)', () => {
    const solo = new FakeTransport({ host: '127.0.0.1', port: 5080 });
    const core = new UserAgentCore({ transport: solo, outboundProxy: { transport: 'udp', address: '192.0.2.1', port: 5060 }, timers });
    let cancelled: ServerTransaction | null = null;
    core.handler = {
      onRequest(req, st) { st.respond(createResponse(req, 180, undefined, 'b1')); },
      onDialogRequest() {},
      onCancel(st) {
        cancelled = st;
        st.respond(createResponse(st.request, 487, undefined, 'b1'));
      },
    };
    solo.deliver(INVITE);
    solo.deliver(msg([
      'CANCEL sip:1002@example.com SIP/2.0', 'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKabc1',
      'From: "Alice" <sip:1001@example.com>;tag=a1', 'To: <sip:1002@example.com>', 'Call-ID: call-1', 'CSeq: 7 CANCEL', 'Max-Forwards: 70',
    ]));
    assert.ok(cancelled);
    const statuses = solo.sent.filter((s) => !s.msg.isRequest()).map((s) => `${(s.msg as SipResponse).status} ${(s.msg as SipResponse).header('cseq')}`);
    assert.ok(statuses.includes('200 7 CANCEL'));
    assert.ok(statuses.includes('487 7 INVITE'));
    core.close();
  });
});
