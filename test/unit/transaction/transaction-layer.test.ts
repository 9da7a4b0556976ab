import assert from 'node:assert/strict';
import type { SipRequest } from '../../../src/sip/message.ts';
import { createResponse } from '../../../src/sip/response.ts';
import { FakeTransport } from '../../../src/transport/fake-transport.ts';
import { FakeClock as FakeTimers } from '../../../src/clock.ts';
import { TransactionLayer } from '../../../src/transaction/transaction-layer.ts';
import { request, setup, source, target } from './helpers.ts';

describe('transaction: transaction layer (RFC 3261 §17.1.3, §17.2.3, §9.2)', () => {
  it('hands a request that matches no transaction to the TU with a new server transaction', () => {
    const { fake, rec, layer } = setup();
    fake.deliver(request('OPTIONS'), source());
    assert.equal(rec.requests.length, 1);
    assert.equal(rec.requests[0].st.request.method, 'OPTIONS');
    assert.equal(layer.serverCount, 1);
  });

  it('matches a request by branch, sent-by and method: a different sent-by is a different transaction (§17.2.3)', () => {
    const { fake, rec } = setup();
    fake.deliver(request('OPTIONS', { via: 'SIP/2.0/UDP a.example;branch=z9hG4bKsame' }), source());
    fake.deliver(request('OPTIONS', { via: 'SIP/2.0/UDP b.example;branch=z9hG4bKsame' }), source());
    assert.equal(rec.requests.length, 2);
  });

  it('matches retransmissions from an RFC 2543 peer without the magic cookie by Request-URI, tags, Call-ID, CSeq and top Via (§17.2.3)', () => {
    const { fake, rec } = setup();
    const via = 'SIP/2.0/UDP old.example:5060;branch=1234';
    fake.deliver(request('INVITE', { via }), source());
    fake.deliver(request('INVITE', { via }), source());
    assert.equal(rec.requests.length, 1);
    fake.deliver(request('INVITE', { via, cseq: 2 }), source());
    assert.equal(rec.requests.length, 2, 'another CSeq is another transaction');
    fake.deliver(request('INVITE', { via: 'SIP/2.0/UDP old.example:5060' }), source());
    assert.equal(rec.requests.length, 3, 'another top Via is another transaction');
  });

  it('matches the ACK of an RFC 2543 peer to its INVITE server transaction', () => {
    const { fake, rec } = setup();
    const via = 'SIP/2.0/UDP old.example:5060';
    fake.deliver(request('INVITE', { via }), source());
    const st = rec.requests[0].st;
    st.respond(createResponse(rec.requests[0].req, 486, undefined, 't'));
    fake.deliver(request('ACK', { via, toTag: 't' }), source());
    assert.equal(st.state, 'confirmed');
    assert.equal(rec.acks.length, 0);
  });

  it('finds the INVITE server transaction a CANCEL refers to (§9.2)', () => {
    const { fake, rec, layer } = setup();
    fake.deliver(request('INVITE', { branch: 'z9hG4bKinv' }), source());
    fake.deliver(request('CANCEL', { branch: 'z9hG4bKinv' }), source());
    assert.equal(rec.requests.length, 2, 'the CANCEL has its own server transaction');
    const cancel = rec.requests[1].req;
    assert.equal(layer.findInviteForCancel(cancel), rec.requests[0].st);
    assert.equal(layer.findInviteForCancel(request('CANCEL', { branch: 'z9hG4bKnone' })), undefined);
  });

  it('finds the INVITE a CANCEL refers to for an RFC 2543 peer', () => {
    const { fake, rec, layer } = setup();
    const via = 'SIP/2.0/UDP old.example:5060';
    fake.deliver(request('INVITE', { via }), source());
    assert.equal(layer.findInviteForCancel(request('CANCEL', { via })), rec.requests[0].st);
  });

  it('passes a response that matches no client transaction to the TU as stray', () => {
    const { fake, rec, layer } = setup();
    fake.deliver(createResponse(request('INVITE', { branch: 'z9hG4bKgone' }), 200, undefined, 'x'), source());
    assert.equal(rec.stray.length, 1);
    assert.equal(layer.counters.strayResponses, 1);
  });

  it('answers 503 without a transaction when the server table is full', () => {
    const { fake, rec, layer } = setup({ maxTransactions: 2 });
    for (const b of ['z9hG4bK1', 'z9hG4bK2', 'z9hG4bK3']) fake.deliver(request('OPTIONS', { branch: b }), source());
    assert.equal(rec.requests.length, 2);
    assert.equal(layer.serverCount, 2);
    assert.equal(layer.counters.rejectedFull, 1);
    const res = fake.last().msg as ReturnType<typeof createResponse>;
    assert.equal(res.status, 503);
  });

  it('refuses a client transaction beyond the bound, or one reusing a live branch', () => {
    const { layer } = setup({ maxTransactions: 1 });
    layer.sendRequest(request('OPTIONS', { branch: 'z9hG4bK1' }), target());
    assert.throws(() => layer.sendRequest(request('OPTIONS', { branch: 'z9hG4bK2' }), target()), { code: 'ERR_TRANSACTION_LIMIT' });
    const { layer: l2 } = setup();
    l2.sendRequest(request('OPTIONS', { branch: 'z9hG4bK1' }), target());
    assert.throws(() => l2.sendRequest(request('OPTIONS', { branch: 'z9hG4bK1' }), target()), { code: 'ERR_TRANSACTION_EXISTS' });
    assert.throws(() => l2.sendRequest(request('ACK'), target()), { code: 'ERR_ACK_NOT_TRANSACTIONAL' });
  });

  it('keeps serving when a TU callback throws, and reports the error', () => {
    const errors: unknown[] = [];
    const fake = new FakeTransport();
    let calls = 0;
    const layer = new TransactionLayer(fake, { onRequest: () => { calls++; throw new Error('boom'); } }, { timers: new FakeTimers(), onError: (e) => errors.push(e) });
    fake.deliver(request('OPTIONS', { branch: 'z9hG4bKt1' }), source());
    fake.deliver(request('OPTIONS', { branch: 'z9hG4bKt2' }), source());
    assert.equal(calls, 2);
    assert.equal(errors.length, 2);
    assert.equal((errors[0] as Error).message, 'boom');
    layer.close();
  });

  it('terminates every transaction and clears every timer on close', () => {
    const { fake, timers, layer } = setup();
    fake.deliver(request('INVITE', { branch: 'z9hG4bKa' }), source());
    fake.deliver(request('OPTIONS', { branch: 'z9hG4bKb' }), source());
    layer.sendRequest(request('INVITE', { branch: 'z9hG4bKc' }), target());
    layer.sendRequest(request('REGISTER', { branch: 'z9hG4bKd' }), target());
    assert.ok(timers.pending > 0);
    layer.close();
    layer.close();
    assert.equal(timers.pending, 0);
    assert.equal(layer.serverCount + layer.clientCount, 0);
  });
});

describe('transaction layer: our top Via (RFC 3261 §8.1.1.7, §16.6 step 8)', () => {
  function bare(method: string): SipRequest {
    const r = request(method);
    r.removeHeader('via');
    return r;
  }

  it('adds the Via with the transport sent-by, a fresh z9hG4bK branch and rport', () => {
    const { fake, layer } = setup();
    layer.request(bare('OPTIONS'), target());
    const via = fake.sent[0].msg.topVia();
    assert.equal(via.transport, 'UDP');
    assert.ok(via.branch?.startsWith('z9hG4bK'));
    assert.equal(via.rport, true);
    assert.equal(fake.sent[0].msg.headerValues('via').length, 1);
  });

  it('puts a forwarded request\'s Via on top of the others with the branch it is given', () => {
    const { fake, layer } = setup();
    layer.request(request('OPTIONS'), target(), {}, 'z9hG4bK-tvp-loop-1');
    const vias = fake.sent[0].msg.headerValues('via');
    assert.equal(vias.length, 2);
    assert.equal(fake.sent[0].msg.topVia().branch, 'z9hG4bK-tvp-loop-1');
  });

  it('replaces its own Via when the same request is sent again (a new transaction, §8.1.3.5)', () => {
    const { fake, layer } = setup();
    const req = bare('REGISTER');
    layer.request(req, target());
    const first = req.topVia().branch;
    layer.request(req, target());
    assert.equal(req.headerValues('via').length, 1);
    assert.notEqual(req.topVia().branch, first);
    assert.equal(fake.sent.length, 2);
  });

  it('keeps the INVITE\'s Via on a CANCEL (§9.1)', () => {
    const { fake, layer } = setup();
    layer.request(request('CANCEL', { branch: 'z9hG4bKinv' }), target());
    assert.equal(fake.sent[0].msg.headerValues('via').length, 1);
    assert.equal(fake.sent[0].msg.topVia().branch, 'z9hG4bKinv');
  });

  it('stamps a request sent without a transaction (an ACK for a 2xx, §13.2.2.4)', () => {
    const { fake, layer } = setup();
    layer.sendStateless(bare('ACK'), target(), 'z9hG4bKack');
    assert.equal(fake.sent[0].msg.topVia().branch, 'z9hG4bKack');
  });
});
