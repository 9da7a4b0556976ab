import assert from 'node:assert/strict';
import type { SipRequest, SipResponse } from '../../../src/sip/message.ts';
import { createResponse } from '../../../src/sip/response.ts';
import { recordingHandlers, request, sendTimes, setup, source, target } from './helpers.ts';

function respond(req: SipRequest, status: number, toTag?: string): SipResponse {
  return createResponse(req, status, undefined, toTag);
}

describe('transaction: INVITE client transaction (RFC 3261 §17.1.1, RFC 6026)', () => {
  it('retransmits the INVITE on Timer A, doubling the interval each time (T1, 2T1, 4T1 …), until Timer B', () => {
    const { fake, timers, layer } = setup();
    const times = sendTimes(fake, timers);
    layer.sendRequest(request('INVITE'), target(), {});
    timers.advance(40_000);
    // sent at 0, then 500, 1500, 3500, 7500, 15500, 31500 (Timer B at 32000 stops it)
    assert.deepEqual(times, [0, 500, 1500, 3500, 7500, 15500, 31500]);
  });

  it('does not start Timer A on a reliable transport', () => {
    const { fake, timers, layer } = setup({ transport: 'tcp' });
    layer.sendRequest(request('INVITE', { transport: 'TCP' }), target('tcp'), {});
    timers.advance(10_000);
    assert.equal(fake.sent.length, 1);
  });

  it('reports a Timer B timeout to the TU as a 408 and terminates', () => {
    const { timers, layer } = setup();
    const { got, handlers } = recordingHandlers();
    const ct = layer.sendRequest(request('INVITE'), target(), handlers);
    timers.advance(31_999);
    assert.equal(got.timeouts.length, 0);
    timers.advance(1);
    assert.equal(got.timeouts.length, 1);
    assert.equal(got.timeouts[0].status, 408);
    assert.equal(ct.state, 'terminated');
    assert.equal(layer.clientCount, 0);
    assert.equal(timers.pending, 0);
  });

  it('moves to Proceeding on a provisional response, passes it up and stops retransmitting', () => {
    const { fake, timers, layer } = setup();
    const { got, handlers } = recordingHandlers();
    const req = request('INVITE');
    const ct = layer.sendRequest(req, target(), handlers);
    fake.deliver(respond(req, 180, 'tt'), source());
    assert.equal(ct.state, 'proceeding');
    assert.equal(got.provisional[0].status, 180);
    timers.advance(60_000);
    assert.equal(fake.sent.length, 1);
    assert.equal(got.timeouts.length, 0, 'Timer B only fires in Calling');
  });

  it('moves to Accepted on a 2xx and passes every 2xx retransmission to the TU until Timer M (RFC 6026 §7.2)', () => {
    const { fake, timers, layer } = setup();
    const { got, handlers } = recordingHandlers();
    const req = request('INVITE');
    const ct = layer.sendRequest(req, target(), handlers);
    fake.deliver(respond(req, 200, 'a'), source());
    assert.equal(ct.state, 'accepted');
    fake.deliver(respond(req, 200, 'a'), source());
    fake.deliver(respond(req, 200, 'b'), source()); // another fork
    assert.equal(got.final.length, 3);
    assert.equal(fake.sent.length, 1, 'no ACK for a 2xx from the transaction');
    timers.advance(32_000);
    assert.equal(ct.state, 'terminated');
    assert.equal(timers.pending, 0);
    fake.deliver(respond(req, 200, 'a'), source());
    assert.equal(got.final.length, 3);
  });

  it('sends an ACK for a non-2xx final response built from the INVITE and the response (§17.1.1.3)', () => {
    const { fake, layer } = setup();
    const { got, handlers } = recordingHandlers();
    const req = request('INVITE');
    layer.sendRequest(req, target(), handlers);
    fake.deliver(respond(req, 486, 'busy'), source());
    assert.equal(got.final.length, 1);
    const ack = fake.last().msg as SipRequest;
    assert.equal(ack.method, 'ACK');
    assert.equal(ack.uri, req.uri);
    assert.equal(ack.header('cseq'), '1 ACK');
    assert.equal(ack.header('call-id'), req.callId);
    assert.equal(ack.header('from'), req.header('from'));
    assert.equal(ack.header('to'), '<sip:bob@example.com>;tag=busy');
    assert.deepEqual(ack.headerValues('via'), [req.header('via')]);
    assert.equal(ack.header('route'), req.header('route'));
    assert.deepEqual(fake.last().target, target());
  });

  it('answers a retransmitted final response in Completed with the ACK again, without telling the TU', () => {
    const { fake, timers, layer } = setup();
    const { got, handlers } = recordingHandlers();
    const req = request('INVITE');
    const ct = layer.sendRequest(req, target(), handlers);
    fake.deliver(respond(req, 404, 'x'), source());
    fake.deliver(respond(req, 404, 'x'), source());
    assert.equal(got.final.length, 1);
    assert.equal(fake.sent.filter((s) => (s.msg as SipRequest).method === 'ACK').length, 2);
    assert.equal(ct.state, 'completed');
    timers.advance(31_999);
    assert.equal(ct.state, 'completed');
    timers.advance(1);
    assert.equal(ct.state, 'terminated', 'Timer D (32 s on UDP)');
    assert.equal(timers.pending, 0);
  });

  it('sets Timer D to zero on a reliable transport', () => {
    const { fake, timers, layer } = setup({ transport: 'tcp' });
    const req = request('INVITE', { transport: 'TCP' });
    const ct = layer.sendRequest(req, target('tcp'), {});
    fake.deliver(respond(req, 603, 'x'), source('tcp'));
    assert.equal(ct.state, 'terminated');
    assert.equal(timers.pending, 0);
  });

  it('informs the TU of a transport error and terminates (§17.1.4)', async () => {
    const { fake, timers, layer } = setup();
    fake.failSends = new Error('ECONNREFUSED');
    const { got, handlers } = recordingHandlers();
    const ct = layer.sendRequest(request('INVITE'), target(), handlers);
    await fake.settle();
    assert.equal(got.transportErrors[0].message, 'ECONNREFUSED');
    assert.equal(ct.state, 'terminated');
    assert.equal(timers.pending, 0);
  });

  it('does not match a response to a CANCEL with the same branch to the INVITE (§17.1.3 CSeq method)', () => {
    const { fake, layer, rec } = setup();
    const { got, handlers } = recordingHandlers();
    const inv = request('INVITE');
    layer.sendRequest(inv, target(), handlers);
    fake.deliver(respond(request('CANCEL'), 200), source());
    assert.equal(got.final.length, 0);
    assert.equal(rec.stray.length, 1);
  });
});

describe('transaction: non-INVITE client transaction (RFC 3261 §17.1.2)', () => {
  it('retransmits on Timer E, doubling up to T2, until Timer F', () => {
    const { fake, timers, layer } = setup();
    const times = sendTimes(fake, timers);
    layer.sendRequest(request('REGISTER'), target(), {});
    timers.advance(40_000);
    // intervals 500, 1000, 2000, 4000, 4000 …; Timer F at 32000
    assert.deepEqual(times, [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
  });

  it('retransmits every T2 in Proceeding', () => {
    const { fake, timers, layer } = setup();
    const times = sendTimes(fake, timers);
    const req = request('OPTIONS');
    layer.sendRequest(req, target(), {});
    timers.advance(600); // one retransmission at 500
    fake.deliver(respond(req, 100), source());
    timers.advance(9_400); // to 10 000
    // next E was due at 1500 (set in Trying with 1000); then T2 intervals
    assert.deepEqual(times, [0, 500, 1500, 5500, 9500]);
  });

  it('reports a Timer F timeout to the TU as a 408', () => {
    const { timers, layer } = setup();
    const { got, handlers } = recordingHandlers();
    layer.sendRequest(request('MESSAGE'), target(), handlers);
    timers.advance(32_000);
    assert.equal(got.timeouts[0].status, 408);
    assert.equal(layer.clientCount, 0);
    assert.equal(timers.pending, 0);
  });

  it('passes a final response up once and absorbs its retransmissions in Completed until Timer K (T4)', () => {
    const { fake, timers, layer } = setup();
    const { got, handlers } = recordingHandlers();
    const req = request('REGISTER');
    const ct = layer.sendRequest(req, target(), handlers);
    fake.deliver(respond(req, 200, 'x'), source());
    fake.deliver(respond(req, 200, 'x'), source());
    assert.equal(got.final.length, 1);
    assert.equal(ct.state, 'completed');
    timers.advance(4_999);
    assert.equal(ct.state, 'completed');
    timers.advance(1);
    assert.equal(ct.state, 'terminated');
    assert.equal(timers.pending, 0);
  });

  it('does not start Timer E and sets Timer K to zero on a reliable transport', () => {
    const { fake, timers, layer } = setup({ transport: 'tcp' });
    const req = request('REGISTER', { transport: 'TCP' });
    const ct = layer.sendRequest(req, target('tcp'), {});
    timers.advance(10_000);
    assert.equal(fake.sent.length, 1);
    fake.deliver(respond(req, 200), source('tcp'));
    assert.equal(ct.state, 'terminated');
    assert.equal(timers.pending, 0);
  });

  it('informs the TU of a transport error', async () => {
    const { fake, layer } = setup();
    fake.failSends = new Error('EHOSTUNREACH');
    const { got, handlers } = recordingHandlers();
    layer.sendRequest(request('OPTIONS'), target(), handlers);
    await fake.settle();
    assert.equal(got.transportErrors.length, 1);
    assert.equal(layer.clientCount, 0);
  });

  it('uses the configured T1/T2 (timerValues)', () => {
    const { fake, timers, layer } = setup({ timerValues: { t1: 100, t2: 400 } });
    const times = sendTimes(fake, timers);
    layer.sendRequest(request('OPTIONS'), target(), {});
    timers.advance(2_000);
    assert.deepEqual(times, [0, 100, 300, 700, 1100, 1500, 1900]);
  });
});
