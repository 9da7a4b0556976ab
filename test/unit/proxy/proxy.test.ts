import assert from 'node:assert/strict';
import type { SipRequest, SipResponse } from '../../../src/sip/message.ts';
import { createResponse } from '../../../src/sip/response.ts';
import { BRANCH_PREFIX } from '../../../src/proxy/loop-detection.ts';
import { CALLER, binding, fromCaller, invite, parse, setup, only, statuses, type Harness } from './helpers.ts';

const B1 = '192.0.2.10';
const B2 = '192.0.2.11';


describe('proxy: request validation (RFC 3261 §16.3)', () => {
  let h: Harness;
  beforeEach(() => {
    h = setup();
  });
  afterEach(() => h.layer.close());

  it('answers 483 Too Many Hops to a request with Max-Forwards 0', () => {
    fromCaller(h, invite({ maxForwards: 0 }));
    assert.deepEqual(statuses(h.toCaller()), [483]);
    assert.equal(h.sentTo(B1).length, 0);
    assert.ok(h.toCaller()[0].header('to')?.includes('tag='), 'a proxy-made final response carries a To tag');
  });

  it('lets an OPTIONS with Max-Forwards 0 addressed to us through so it can be answered (§11)', () => {
    const req = parse(invite({ maxForwards: 0, uri: 'sip:127.0.0.1' }).replace(/INVITE/g, 'OPTIONS'));
    assert.equal(h.proxy.validate(req), null);
    const other = parse(invite({ maxForwards: 0 }).replace(/INVITE/g, 'OPTIONS'));
    assert.equal(h.proxy.validate(other)?.status, 483);
  });

  it('answers 482 Loop Detected when a request we forwarded comes back unchanged', () => {
    fromCaller(h, invite());
    const fwd = h.sentTo(B1, 'INVITE')[0];
    // the request loops back to us through some element, with our Via still in it and the same Request-URI
    const looped = parse(invite().replace(/^Via:/m, `Via: SIP/2.0/UDP 192.0.2.50;branch=z9hG4bKother\r\nVia: ${fwd.header('via')}\r\nVia:`));
    const res = h.proxy.validate(looped);
    assert.equal(res?.status, 482);
  });

  it('treats a request that comes back with another Request-URI as a spiral, not a loop', () => {
    fromCaller(h, invite());
    const fwd = h.sentTo(B1, 'INVITE')[0];
    const spiral = parse(invite({ uri: 'sip:bob-alias@example.com' }).replace(/^Via:/m, `Via: ${fwd.header('via')}\r\nVia:`));
    assert.equal(h.proxy.validate(spiral), null);
  });

  it('answers 420 Bad Extension listing the unsupported Proxy-Require option-tags in Unsupported', () => {
    fromCaller(h, invite({ extra: ['Proxy-Require: foo, bar'] }));
    const [res] = h.toCaller();
    assert.equal(res.status, 420);
    assert.equal(res.header('unsupported'), 'foo, bar');
  });

  it('answers 416 to a Request-URI scheme it does not understand', () => {
    const req = parse(invite().replace('INVITE sip:bob@example.com', 'INVITE http://example.com/'));
    assert.equal(h.proxy.validate(req)?.status, 416);
  });
});

describe('proxy: route information preprocessing (RFC 3261 §16.4)', () => {
  let h: Harness;
  beforeEach(() => {
    h = setup();
  });
  afterEach(() => h.layer.close());

  it('removes the top Route when it names this proxy', () => {
    const req = parse(invite({ extra: ['Route: <sip:127.0.0.1;lr>, <sip:198.51.100.9;lr>'] }));
    assert.equal(h.proxy.preprocessRoute(req).strictRouterFixed, false);
    assert.deepEqual(req.headerValues('route'), ['<sip:198.51.100.9;lr>']);
  });

  it('keeps a top Route that names another element', () => {
    const req = parse(invite({ extra: ['Route: <sip:198.51.100.9;lr>'] }));
    h.proxy.preprocessRoute(req);
    assert.deepEqual(req.headerValues('route'), ['<sip:198.51.100.9;lr>']);
  });

  it('fixes a strict router: Request-URI = our Record-Route URI → last Route becomes the Request-URI', () => {
    const req = parse(invite({ uri: 'sip:127.0.0.1;lr', extra: ['Route: <sip:198.51.100.9;lr>', 'Route: <sip:bob@10.0.0.5:5070>'] }));
    assert.equal(h.proxy.preprocessRoute(req).strictRouterFixed, true);
    assert.equal(req.uri, 'sip:bob@10.0.0.5:5070');
    assert.deepEqual(req.headerValues('route'), ['<sip:198.51.100.9;lr>']);
  });
});

describe('proxy: forwarding to a target set (RFC 3261 §16.5, §16.6)', () => {
  let h: Harness;
  beforeEach(() => {
    h = setup();
  });
  afterEach(() => h.layer.close());

  it('forks in parallel to two bindings: Request-URI = Contact, sent to the received address of each', () => {
    fromCaller(h, invite());
    const a = only(h.sentTo(B1, 'INVITE'));
    const b = only(h.sentTo(B2, 'INVITE'));
    assert.equal(a.uri, 'sip:bob@10.0.0.5:5070');
    assert.equal(b.uri, 'sip:bob@10.0.0.6:5070');
    const ta = h.fake.sent.find((s) => s.msg === a)?.target;
    assert.deepEqual({ address: ta?.address, port: ta?.port, transport: ta?.transport }, { address: B1, port: 5060, transport: 'udp' });
    assert.notEqual(a.topVia().branch, b.topVia().branch, 'each branch has its own Via branch');
  });

  it('decrements Max-Forwards, adds Record-Route with lr and a top Via with a z9hG4bK loop-detection branch', () => {
    fromCaller(h, invite());
    const a = only(h.sentTo(B1, 'INVITE'));
    assert.equal(a.header('max-forwards'), '69');
    assert.equal(a.header('record-route'), '<sip:127.0.0.1:5060;transport=udp;lr>');
    const via = a.topVia();
    assert.equal(via.host, '127.0.0.1');
    assert.ok(via.branch?.startsWith(BRANCH_PREFIX));
    assert.equal(a.headerValues('via').length, 2, 'the caller Via stays below ours');
  });

  it('record-routes twice when the request leaves over another transport, the callee\'s side on top (RFC 5658 §4)', () => {
    // the caller came over a WebSocket (connection 7), the bindings are on UDP
    fromCaller(h, invite(), { transport: 'ws', connectionId: 7 });
    const a = only(h.sentTo(B1, 'INVITE'));
    assert.deepEqual(a.headerValues('record-route'), ['<sip:127.0.0.1:5060;transport=udp;lr>', '<sip:127.0.0.1:5060;transport=ws;lr>']);
  });

  it('record-routes once when the request leaves over the transport it came in on', () => {
    h.targets = [binding('sip:bob@b.invalid;transport=ws', B1, 40000, {}, { transport: 'ws', connectionId: 9 })];
    fromCaller(h, invite(), { transport: 'ws', connectionId: 7 });
    const a = only(h.sentTo(B1, 'INVITE'));
    assert.deepEqual(a.headerValues('record-route'), ['<sip:127.0.0.1:5060;transport=ws;lr>']);
    assert.equal(h.fake.sent.find((s) => s.msg === a)?.target.connectionId, 9, 'sent over the binding\'s WebSocket');
  });

  it('adds Max-Forwards: 70 when the request has none', () => {
    fromCaller(h, invite({ maxForwards: null }));
    assert.equal(only(h.sentTo(B1, 'INVITE')).header('max-forwards'), '70');
  });

  it('turns a binding Path into Route headers and sends to the first Path hop (RFC 3327 §5.3)', () => {
    h.targets = [binding('sip:bob@10.0.0.5:5070', B1, 5060, { path: ['<sip:198.51.100.7:5080;lr>'] })];
    fromCaller(h, invite());
    const fwd = only(h.sentTo('198.51.100.7', 'INVITE'));
    assert.deepEqual(fwd.headerValues('route'), ['<sip:198.51.100.7:5080;lr>']);
    assert.equal(h.fake.sent.find((s) => s.msg === fwd)?.target.port, 5080);
  });

  it('reaches a TCP binding over the connection it registered on', () => {
    h.targets = [binding('sip:bob@10.0.0.5:5070;transport=tcp', B1, 40123, {}, { transport: 'tcp', connectionId: 17 })];
    fromCaller(h, invite());
    const sent = h.fake.sent.find((s) => s.msg.isRequest() && s.target.address === B1);
    assert.deepEqual({ ...sent?.target }, { transport: 'tcp', address: B1, port: 40123, connectionId: 17 });
  });

  it('answers 480 at once when the target set is empty', () => {
    h.targets = [];
    fromCaller(h, invite());
    assert.deepEqual(statuses(h.toCaller()), [480]);
  });
});

describe('proxy: response processing (RFC 3261 §16.7)', () => {
  let h: Harness;
  beforeEach(() => {
    h = setup();
  });
  afterEach(() => h.layer.close());

  it('does not forward 100 Trying; forwards 180 at once without our Via', () => {
    fromCaller(h, invite());
    const a = only(h.sentTo(B1, 'INVITE'));
    h.answer(a, 100, B1);
    h.answer(a, 180, B1, 'bobtag1');
    const up = h.toCaller();
    assert.deepEqual(statuses(up), [180]);
    assert.equal(up[0].headerValues('via').length, 1);
    assert.match(up[0].header('via') ?? '', /branch=z9hG4bKcaller1/);
  });

  it('forwards the first 2xx at once and CANCELs the other ringing branch (§16.7 step 10)', () => {
    fromCaller(h, invite());
    const a = only(h.sentTo(B1, 'INVITE'));
    const b = only(h.sentTo(B2, 'INVITE'));
    h.answer(b, 180, B2, 'bobtag2');
    h.answer(a, 200, B1, 'bobtag1');
    assert.deepEqual(statuses(h.toCaller()), [180, 200]);
    const cancel = only(h.sentTo(B2, 'CANCEL'));
    assert.equal(cancel.topVia().branch, b.topVia().branch, '§9.1: the CANCEL has the branch of the INVITE it cancels');
    assert.equal(cancel.header('cseq'), '1 CANCEL');
    assert.equal(h.sentTo(B1, 'CANCEL').length, 0);
    // the cancelled branch answers 487: nothing more goes upstream
    h.answer(b, 487, B2, 'bobtag2');
    assert.deepEqual(statuses(h.toCaller()), [180, 200]);
    assert.equal(h.proxy.activeRelays, 0);
  });

  it('waits for a provisional before CANCELling a silent branch (§9.1)', () => {
    fromCaller(h, invite());
    const a = only(h.sentTo(B1, 'INVITE'));
    const b = only(h.sentTo(B2, 'INVITE'));
    h.answer(a, 200, B1, 'bobtag1');
    assert.equal(h.sentTo(B2, 'CANCEL').length, 0);
    h.answer(b, 180, B2, 'bobtag2');
    assert.equal(h.sentTo(B2, 'CANCEL').length, 1);
    assert.deepEqual(statuses(h.toCaller()), [200], 'the late 180 is not forwarded after the 2xx');
  });

  it('forwards every later 2xx to an INVITE too (§16.7 step 5)', () => {
    fromCaller(h, invite());
    const a = only(h.sentTo(B1, 'INVITE'));
    const b = only(h.sentTo(B2, 'INVITE'));
    h.answer(a, 200, B1, 'bobtag1');
    h.answer(b, 200, B2, 'bobtag2');
    assert.deepEqual(statuses(h.toCaller()), [200, 200]);
  });

  it('forwards the best final response when every branch has answered: 486 over 480', () => {
    fromCaller(h, invite());
    h.answer(only(h.sentTo(B1, 'INVITE')), 480, B1, 't1');
    assert.deepEqual(statuses(h.toCaller()), []);
    h.answer(only(h.sentTo(B2, 'INVITE')), 486, B2, 't2');
    assert.deepEqual(statuses(h.toCaller()), [486]);
  });

  it('cancels the other branches on a 6xx and forwards the 6xx once they are done', () => {
    fromCaller(h, invite());
    const a = only(h.sentTo(B1, 'INVITE'));
    const b = only(h.sentTo(B2, 'INVITE'));
    h.answer(b, 180, B2, 't2');
    h.answer(a, 603, B1, 't1');
    assert.equal(h.sentTo(B2, 'CANCEL').length, 1);
    h.answer(b, 487, B2, 't2');
    assert.deepEqual(statuses(h.toCaller()), [180, 603]);
  });

  it('aggregates the WWW-Authenticate and Proxy-Authenticate of every 401/407 (§16.7 step 7)', () => {
    fromCaller(h, invite());
    h.answer(only(h.sentTo(B1, 'INVITE')), 401, B1, 't1', [['WWW-Authenticate', 'Digest realm="a", nonce="1"']]);
    h.answer(only(h.sentTo(B2, 'INVITE')), 407, B2, 't2', [['Proxy-Authenticate', 'Digest realm="b", nonce="2"']]);
    const [res] = h.toCaller();
    assert.ok(res.status === 401 || res.status === 407);
    assert.deepEqual(res.headerValues('www-authenticate'), ['Digest realm="a", nonce="1"']);
    assert.deepEqual(res.headerValues('proxy-authenticate'), ['Digest realm="b", nonce="2"']);
  });

  it('sends 500 instead of a chosen 503 (§16.7 step 6)', () => {
    h.targets = [h.targets[0]];
    fromCaller(h, invite());
    h.answer(only(h.sentTo(B1, 'INVITE')), 503, B1, 't1', [['Retry-After', '30']]);
    const [res] = h.toCaller();
    assert.equal(res.status, 500);
    assert.equal(res.header('retry-after'), undefined);
  });

  it('answers 408 when no branch answers before Timer B', () => {
    fromCaller(h, invite());
    h.timers.advance(32_000);
    assert.deepEqual(statuses(h.toCaller()).filter((s) => s !== 100), [408]);
  });

  it('CANCELs a branch that rings past Timer C (§16.8) and forwards its 487', () => {
    h.targets = [h.targets[0]];
    fromCaller(h, invite());
    const a = only(h.sentTo(B1, 'INVITE'));
    h.answer(a, 180, B1, 't1');
    h.timers.advance(180_000);
    assert.equal(h.sentTo(B1, 'CANCEL').length, 0);
    h.timers.advance(1_000);
    assert.equal(h.sentTo(B1, 'CANCEL').length, 1);
    h.answer(a, 487, B1, 't1');
    assert.deepEqual(statuses(h.toCaller()).filter((s) => s !== 100), [180, 487]);
  });

  it('restarts Timer C on every provisional response', () => {
    h.targets = [h.targets[0]];
    fromCaller(h, invite());
    const a = only(h.sentTo(B1, 'INVITE'));
    h.answer(a, 180, B1, 't1');
    h.timers.advance(170_000);
    h.answer(a, 183, B1, 't1');
    h.timers.advance(170_000);
    assert.equal(h.sentTo(B1, 'CANCEL').length, 0);
  });

  it('forwards a non-INVITE 2xx at once and drops later finals', () => {
    fromCaller(h, invite().replace(/INVITE/g, 'MESSAGE'));
    const a = only(h.sentTo(B1, 'MESSAGE'));
    const b = only(h.sentTo(B2, 'MESSAGE'));
    assert.equal(a.header('record-route'), undefined, 'MESSAGE is not record-routed');
    h.answer(a, 200, B1, 't1');
    h.answer(b, 404, B2, 't2');
    assert.deepEqual(statuses(h.toCaller()), [200]);
    assert.equal(h.sentTo(B2, 'CANCEL').length, 0);
  });
});

describe('proxy: CANCEL (RFC 3261 §16.10)', () => {
  let h: Harness;
  beforeEach(() => {
    h = setup();
  });
  afterEach(() => h.layer.close());

  function cancelText(): string {
    return invite().replace('INVITE sip:bob', 'CANCEL sip:bob').replace('CSeq: 1 INVITE', 'CSeq: 1 CANCEL');
  }

  it('answers 200 to the CANCEL, CANCELs every pending branch and answers 487 to the INVITE', () => {
    fromCaller(h, invite());
    const a = only(h.sentTo(B1, 'INVITE'));
    const b = only(h.sentTo(B2, 'INVITE'));
    h.answer(a, 180, B1, 't1');
    h.answer(b, 180, B2, 't2');
    fromCaller(h, cancelText());
    assert.equal(h.sentTo(B1, 'CANCEL').length, 1);
    assert.equal(h.sentTo(B2, 'CANCEL').length, 1);
    h.answer(a, 487, B1, 't1');
    h.answer(b, 487, B2, 't2');
    const up = h.toCaller();
    assert.deepEqual(up.map((r) => `${r.status} ${r.header('cseq')}`), ['180 1 INVITE', '180 1 INVITE', '200 1 CANCEL', '487 1 INVITE']);
  });

  it('answers 487 at once when no branch has sent a provisional yet', () => {
    fromCaller(h, invite());
    fromCaller(h, cancelText());
    assert.deepEqual(statuses(h.toCaller()), [200, 487]);
    assert.equal(h.sentTo(B1, 'CANCEL').length, 0, '§9.1: no CANCEL before a provisional');
    h.answer(only(h.sentTo(B1, 'INVITE')), 180, B1, 't1');
    assert.equal(h.sentTo(B1, 'CANCEL').length, 1, 'a branch that rings later is CANCELled then');
  });

  it('forwards a 2xx that arrives after the caller got its 487, statelessly by the Via, so the caller can ACK and BYE it (§16.7 step 5, §9.1)', () => {
    fromCaller(h, invite());
    fromCaller(h, cancelText());
    assert.deepEqual(statuses(h.toCaller()), [200, 487]);
    h.answer(only(h.sentTo(B1, 'INVITE')), 200, B1, 't1');
    const up = h.toCaller();
    assert.deepEqual(up.map((r) => `${r.status} ${r.header('cseq')}`), ['200 1 CANCEL', '487 1 INVITE', '200 1 INVITE']);
    assert.equal(up[2].headerValues('via').length, 1, 'our Via is removed');
  });

  it('answers 200 with no effect to a CANCEL of an INVITE that already has its final response (§9.2)', () => {
    fromCaller(h, invite());
    h.answer(only(h.sentTo(B1, 'INVITE')), 486, B1, 't1');
    h.answer(only(h.sentTo(B2, 'INVITE')), 486, B2, 't2');
    fromCaller(h, cancelText());
    assert.deepEqual(statuses(h.toCaller()), [486, 200]);
    assert.equal(h.sentTo(B1, 'CANCEL').length, 0);
  });

  it('answers 481 to a CANCEL that matches no INVITE', () => {
    fromCaller(h, cancelText());
    assert.deepEqual(statuses(h.toCaller()), [481]);
  });
});

describe('proxy: in-dialog requests and stray responses (RFC 3261 §16.11, §16.7)', () => {
  let h: Harness;
  beforeEach(() => {
    h = setup();
    h.targets = [h.targets[0]];
  });
  afterEach(() => h.layer.close());

  function answered(): SipRequest {
    fromCaller(h, invite());
    const a = only(h.sentTo(B1, 'INVITE'));
    h.answer(a, 200, B1, 'bobtag');
    return a;
  }

  function inDialog(method: string, fromCallee: boolean, cseq = 2): string {
    const lines = fromCallee
      ? [`${method} sip:alice@192.0.2.1:5060 SIP/2.0`, `Via: SIP/2.0/UDP ${B1}:5060;branch=z9hG4bKbye${cseq};rport`,
        'From: <sip:bob@example.com>;tag=bobtag', 'To: "Alice" <sip:alice@example.com>;tag=alicetag']
      : [`${method} sip:bob@10.0.0.5:5070 SIP/2.0`, `Via: SIP/2.0/UDP ${CALLER.address}:5060;branch=z9hG4bKdlg${cseq};rport`,
        'From: "Alice" <sip:alice@example.com>;tag=alicetag', 'To: <sip:bob@example.com>;tag=bobtag'];
    return [...lines, 'Route: <sip:127.0.0.1:5060;transport=udp;lr>', 'Max-Forwards: 70', 'Call-ID: call-1@192.0.2.1',
      `CSeq: ${cseq} ${method === 'ACK' ? 'ACK' : method}`, 'Content-Length: 0', '', ''].join('\r\n');
  }

  it('forwards the ACK for a 2xx statelessly to the callee, with the same branch on a retransmission', () => {
    answered();
    fromCaller(h, inDialog('ACK', false, 1));
    fromCaller(h, inDialog('ACK', false, 1));
    const acks = h.sentTo(B1, 'ACK');
    assert.equal(acks.length, 2);
    assert.equal(acks[0].header('max-forwards'), '69');
    assert.equal(acks[0].header('route'), undefined, 'our Route was removed');
    assert.equal(acks[0].topVia().branch, acks[1].topVia().branch);
  });

  it('forwards a BYE from the callee to the caller over the flow its INVITE came from', () => {
    answered();
    h.fake.deliver(inDialog('BYE', true), { address: B1, port: 5060 });
    const bye = only(h.sentTo(CALLER.address, 'BYE'));
    h.answer(bye, 200, CALLER.address, 'alicetag');
    const ok = h.fake.sent.filter((s) => s.target.address === B1 && !s.msg.isRequest()).map((s) => s.msg as SipResponse);
    assert.deepEqual(ok.map((r) => `${r.status} ${r.header('cseq')}`), ['200 2 BYE']);
  });

  it('forwards a 2xx retransmission that matches no transaction to the next Via', () => {
    const a = answered();
    h.timers.advance(40_000); // the INVITE client transaction has left Accepted
    const before = h.toCaller().length;
    h.answer(a, 200, B1, 'bobtag');
    const up = h.toCaller();
    assert.equal(up.length, before + 1);
    assert.equal(up[up.length - 1].status, 200);
    assert.equal(h.proxy.counters.strayResponsesForwarded, 1);
  });

  it('drops a stray response whose top Via is not ours', () => {
    const res = createResponse(parse(invite()), 200, undefined, 'x');
    h.fake.deliver(res, { address: B1 });
    assert.equal(h.proxy.counters.strayResponsesDropped, 1);
  });
});

describe('proxy: call records (user_call)', () => {
  let h: Harness;
  beforeEach(() => {
    h = setup();
    h.targets = [h.targets[0]];
    h.relayOptions = { call: { userId: 'alice', otherUserId: 'bob' } };
  });
  afterEach(() => h.layer.close());

  it('records an initial INVITE as pending, then answered with answeredAt, then endedAt and duration on BYE', async () => {
    fromCaller(h, invite());
    await h.settle();
    assert.equal(h.calls.started.length, 1);
    assert.deepEqual({ ...h.calls.started[0], callDate: 0 }, { userId: 'alice', otherUserId: 'bob', callDate: 0, callId: 'call-1@192.0.2.1', outcome: 'pending' });
    const a = only(h.sentTo(B1, 'INVITE'));
    h.timers.advance(2_000);
    h.answer(a, 200, B1, 'bobtag');
    await h.settle();
    const t0 = 1_700_000_000_000;
    assert.deepEqual(h.calls.updates, [{ id: 1, update: { outcome: 'answered', status: 200, answeredAt: t0 + 2_000 } }]);
    h.timers.advance(60_000);
    fromCaller(h, [
      'BYE sip:bob@10.0.0.5:5070 SIP/2.0', `Via: SIP/2.0/UDP ${CALLER.address}:5060;branch=z9hG4bKbye1;rport`,
      'Route: <sip:127.0.0.1:5060;transport=udp;lr>', 'Max-Forwards: 70', 'From: <sip:alice@example.com>;tag=alicetag',
      'To: <sip:bob@example.com>;tag=bobtag', 'Call-ID: call-1@192.0.2.1', 'CSeq: 2 BYE', 'Content-Length: 0', '', '',
    ].join('\r\n'));
    await h.settle();
    assert.deepEqual(h.calls.updates[1], { id: 1, update: { endedAt: t0 + 62_000, durationMs: 60_000 } });
    assert.equal(only(h.sentTo(B1, 'BYE')).uri, 'sip:bob@10.0.0.5:5070');
    assert.equal(h.proxy.trackedDialogs, 0);
  });

  for (const [status, outcome] of [[486, 'busy'], [600, 'busy'], [603, 'rejected'], [408, 'no-answer'], [404, 'failed']] as const) {
    it(`records outcome ${outcome} for a ${status}`, async () => {
      fromCaller(h, invite());
      h.answer(only(h.sentTo(B1, 'INVITE')), status, B1, 't1');
      await h.settle();
      assert.deepEqual(h.calls.updates.map((u) => u.update.outcome), [outcome]);
    });
  }

  it('records outcome cancelled when the caller CANCELs', async () => {
    fromCaller(h, invite());
    const a = only(h.sentTo(B1, 'INVITE'));
    h.answer(a, 180, B1, 't1');
    fromCaller(h, invite().replace('INVITE sip:bob', 'CANCEL sip:bob').replace('CSeq: 1 INVITE', 'CSeq: 1 CANCEL'));
    h.answer(a, 487, B1, 't1');
    await h.settle();
    assert.deepEqual(h.calls.updates.map((u) => u.update), [{ outcome: 'cancelled', status: 487 }]);
  });

  it('records outcome no-answer when Timer C cancels a ringing callee', async () => {
    fromCaller(h, invite());
    const a = only(h.sentTo(B1, 'INVITE'));
    h.answer(a, 180, B1, 't1');
    h.timers.advance(181_000);
    h.answer(a, 487, B1, 't1');
    await h.settle();
    assert.deepEqual(h.calls.updates.map((u) => u.update.outcome), ['no-answer']);
  });

  it('keeps the call going when the recorder fails', async () => {
    h.proxy = new (h.proxy.constructor as typeof import('../../../src/proxy/proxy.ts').Proxy)({
      transactions: h.layer, replies: { retryAfterSeconds: 5 }, isLocal: () => false,
      callRecorder: { started: () => Promise.reject(new Error('db down')), update: () => Promise.resolve() },
    });
    fromCaller(h, invite());
    h.answer(only(h.sentTo(B1, 'INVITE')), 200, B1, 'bobtag');
    await h.settle();
    assert.deepEqual(statuses(h.toCaller()), [200]);
    assert.equal(h.proxy.counters.recorderErrors, 1);
  });
});

describe('proxy: onAllFailed (store-and-forward hook)', () => {
  let h: Harness;
  beforeEach(() => {
    h = setup();
  });
  afterEach(() => h.layer.close());

  function message(): string {
    return invite().replace(/INVITE/g, 'MESSAGE');
  }

  it('sends what onAllFailed returns when every branch fails with 408/480/503', async () => {
    let seen: number[] = [];
    h.relayOptions = {
      onAllFailed: async (finals, req) => {
        seen = finals.map((r) => r.status);
        return createResponse(req, 202);
      },
    };
    fromCaller(h, message());
    h.answer(only(h.sentTo(B1, 'MESSAGE')), 480, B1, 't1');
    h.timers.advance(32_000); // the other branch times out (Timer F)
    await h.settle();
    assert.deepEqual(seen.sort(), [408, 480]);
    assert.deepEqual(statuses(h.toCaller()), [202]);
  });

  it('does not call onAllFailed when a branch fails otherwise (486)', () => {
    let called = false;
    h.relayOptions = { onAllFailed: () => ((called = true), null) };
    fromCaller(h, message());
    h.answer(only(h.sentTo(B1, 'MESSAGE')), 480, B1, 't1');
    h.answer(only(h.sentTo(B2, 'MESSAGE')), 486, B2, 't2');
    assert.equal(called, false);
    assert.deepEqual(statuses(h.toCaller()), [486]);
  });

  it('gives up on pending branches after timeoutMs', async () => {
    h.relayOptions = { timeoutMs: 5_000, onAllFailed: (_f, req) => createResponse(req, 202) };
    fromCaller(h, message());
    h.timers.advance(5_000);
    await h.settle();
    assert.deepEqual(statuses(h.toCaller()), [202]);
  });

  it('close() stops the timers of open relays and answers nothing more', async () => {
    h.relayOptions = { timeoutMs: 5_000, onAllFailed: (_f, req) => createResponse(req, 202) };
    fromCaller(h, message());
    const before = h.timers.pending;
    h.proxy.close();
    assert.equal(h.timers.pending, before - 1, 'the relay timeout is cleared');
    h.timers.advance(5_000);
    await h.settle();
    assert.deepEqual(statuses(h.toCaller()).filter((s) => s >= 200), []);
  });
});
