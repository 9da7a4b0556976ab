import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { SipRequest, SipResponse } from '../../../src/sip/message.ts';
import { createResponse } from '../../../src/sip/response.ts';
import { serializeMessage } from '../../../src/sip/serializer.ts';
import { request, sendTimes, setup, source } from './helpers.ts';

function statuses(sent: { msg: unknown }[]): number[] {
  return sent.map((s) => (s.msg as SipResponse).status);
}

/**
 * A server transaction whose TU answers `method` with `answer` at once and keeps only weak references to the request
 * and the response, delivered and then collected (a forced GC): what the transaction itself still holds.
 */
interface Answered { state: string; finalResponse: SipResponse | null; readonly request: SipRequest }

async function answeredAndCollected(method: string, answer: (req: SipRequest) => SipResponse) {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const { fake, timers, layer } = setup();
  const refs: { req?: WeakRef<SipRequest>; res?: WeakRef<SipResponse>; wire?: string } = {};
  const seen: Answered[] = [];
  (layer as unknown as { tu: unknown }).tu = {
    onRequest: (req: SipRequest, t: Answered & { respond(r: SipResponse): boolean }) => {
      const res = answer(req);
      t.respond(res);
      refs.req = new WeakRef(req);
      refs.res = new WeakRef(res);
      refs.wire = serializeMessage(res).toString('latin1');
      seen.push(t);
    },
  };
  fake.deliver(request(method), source());
  fake.sent.length = 0; // the fake transport's record would hold the response
  await new Promise((r) => setImmediate(r)); // WeakRef targets stay alive until the job that made them ends
  gc();
  return { fake, timers, layer, refs, st: seen[0]! };
}

describe('transaction: INVITE server transaction (RFC 3261 §17.2.1, RFC 6026)', () => {
  it('sends 100 Trying after 200 ms when the TU has not answered', () => {
    const { fake, timers, rec } = setup();
    fake.deliver(request('INVITE'), source());
    assert.equal(rec.requests.length, 1);
    timers.advance(199);
    assert.equal(fake.sent.length, 0);
    timers.advance(1);
    assert.deepEqual(statuses(fake.sent), [100]);
    assert.equal((fake.sent[0].msg as SipResponse).header('to'), '<sip:bob@example.com>', '100 Trying carries no To tag');
  });

  it('sends no 100 Trying when the TU answers within 200 ms', () => {
    const { fake, timers, rec } = setup();
    fake.deliver(request('INVITE'), source());
    rec.requests[0].st.respond(createResponse(rec.requests[0].req, 180, undefined, 't'));
    timers.advance(1000);
    assert.deepEqual(statuses(fake.sent), [180]);
  });

  it('answers a retransmitted INVITE in Proceeding with the last provisional response', () => {
    const { fake, rec } = setup();
    fake.deliver(request('INVITE'), source());
    const { req, st } = rec.requests[0];
    st.respond(createResponse(req, 180, undefined, 't'));
    fake.deliver(request('INVITE'), source());
    assert.deepEqual(statuses(fake.sent), [180, 180]);
    assert.equal(rec.requests.length, 1, 'the retransmission is not passed to the TU');
  });

  it('sends responses to the source address and port when the request had rport (RFC 3581 §4)', () => {
    const { fake, rec } = setup();
    fake.deliver(request('INVITE'), { ...source(), address: '198.51.100.9', port: 40123 });
    const st = rec.requests[0].st;
    assert.equal(st.target.address, '198.51.100.9');
    assert.equal(st.target.port, 40123);
    assert.match(st.request.header('via')!, /;received=198\.51\.100\.9;rport=40123$/);
  });

  it('sends responses to received and the sent-by port without rport (RFC 3261 §18.2.2)', () => {
    const { fake, rec } = setup();
    fake.deliver(request('OPTIONS', { via: 'SIP/2.0/UDP client.example.com:5070;branch=z9hG4bKx' }), { ...source(), address: '198.51.100.9', port: 40123 });
    const st = rec.requests[0].st;
    assert.deepEqual([st.target.address, st.target.port], ['198.51.100.9', 5070]);
  });

  it('moves to Accepted on a 2xx, passes TU 2xx retransmissions to the transport and absorbs INVITE retransmissions (RFC 6026 §7.1)', () => {
    const { fake, timers, rec } = setup();
    fake.deliver(request('INVITE'), source());
    const { req, st } = rec.requests[0];
    const ok = createResponse(req, 200, undefined, 't');
    assert.equal(st.respond(ok), true);
    assert.equal(st.state, 'accepted');
    assert.equal(st.respond(ok), true);
    fake.deliver(request('INVITE'), source());
    assert.deepEqual(statuses(fake.sent), [200, 200]);
    assert.equal(st.respond(createResponse(req, 486)), false, 'no non-2xx after a 2xx');
    timers.advance(32_000);
    assert.equal(st.state, 'terminated', 'Timer L');
    assert.equal(timers.pending, 0);
  });

  it('passes the ACK of a 2xx to the TU (a new transaction: it matches none)', () => {
    const { fake, rec } = setup();
    fake.deliver(request('INVITE'), source());
    rec.requests[0].st.respond(createResponse(rec.requests[0].req, 200, undefined, 't'));
    fake.deliver(request('ACK', { branch: 'z9hG4bKother', toTag: 't' }), source());
    assert.equal(rec.acks.length, 1);
  });

  it('passes an ACK that matches the transaction in Accepted to the TU (RFC 6026 §7.1)', () => {
    const { fake, rec } = setup();
    fake.deliver(request('INVITE'), source());
    rec.requests[0].st.respond(createResponse(rec.requests[0].req, 200, undefined, 't'));
    fake.deliver(request('ACK', { toTag: 't' }), source());
    assert.equal(rec.acks.length, 1);
  });

  it('retransmits a non-2xx final response on Timer G, doubling up to T2, until Timer H', () => {
    const { fake, timers, rec } = setup();
    const times = sendTimes(fake, timers);
    fake.deliver(request('INVITE'), source());
    rec.requests[0].st.respond(createResponse(rec.requests[0].req, 486, undefined, 't'));
    timers.advance(40_000);
    assert.deepEqual(times, [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
  });

  it('keeps only the non-2xx final response\'s bytes in Completed: the INVITE and the response objects can be collected; Timer G and a retransmission resend those bytes (issue 16)', async () => {
    // the callee is offline
    const { fake, timers, layer, refs, st } = await answeredAndCollected('INVITE', (req) => createResponse(req, 480, undefined, 't'));
    assert.equal(refs.req!.deref(), undefined, 'the INVITE is not held for Timer H');
    assert.equal(refs.res!.deref(), undefined, 'nor the response object');
    assert.equal(st.state, 'completed');
    assert.throws(() => st.request, /released its request/);
    timers.advance(500); // Timer G
    fake.deliver(request('INVITE'), source()); // a retransmission
    assert.deepEqual(fake.sent.map((s) => serializeMessage(s.msg).toString('latin1')), [refs.wire, refs.wire], 'byte for byte');
    fake.deliver(request('ACK', { toTag: 't' }), source());
    assert.equal(st.state, 'confirmed');
    timers.advance(5000);
    assert.equal(layer.serverCount, 0);
  });

  it('sends a challenge once with retransmit: false, again only for a retransmitted INVITE, and absorbs its ACK', () => {
    const { fake, timers, rec } = setup();
    const times = sendTimes(fake, timers);
    fake.deliver(request('INVITE'), source());
    const st = rec.requests[0].st;
    st.respond(createResponse(rec.requests[0].req, 407, undefined, 't'), { retransmit: false });
    timers.advance(10_000);
    assert.deepEqual(times, [0], 'no Timer G');
    fake.deliver(request('INVITE'), source()); // the client lost the 407 and retransmits
    assert.deepEqual(statuses(fake.sent), [407, 407]);
    fake.deliver(request('ACK', { toTag: 't' }), source());
    assert.equal(rec.acks.length, 0, 'the ACK is absorbed');
    assert.equal(st.state, 'confirmed');
  });

  it('terminates on Timer H and tells the TU the ACK never came', () => {
    const { fake, timers, rec } = setup();
    fake.deliver(request('INVITE'), source());
    const { req, st } = rec.requests[0];
    let timedOut = 0;
    st.onTimeout = () => timedOut++;
    st.respond(createResponse(req, 480, undefined, 't'));
    timers.advance(32_000);
    assert.equal(timedOut, 1);
    assert.equal(st.state, 'terminated');
    assert.equal(timers.pending, 0);
  });

  it('answers a retransmitted INVITE in Completed with the final response', () => {
    const { fake, rec } = setup();
    fake.deliver(request('INVITE'), source());
    rec.requests[0].st.respond(createResponse(rec.requests[0].req, 404, undefined, 't'));
    fake.deliver(request('INVITE'), source());
    assert.deepEqual(statuses(fake.sent), [404, 404]);
  });

  it('absorbs the ACK in Completed, stops Timer G and ends after Timer I (T4)', () => {
    const { fake, timers, rec } = setup();
    fake.deliver(request('INVITE'), source());
    const st = rec.requests[0].st;
    st.respond(createResponse(rec.requests[0].req, 404, undefined, 't'));
    fake.deliver(request('ACK', { toTag: 't' }), source());
    assert.equal(st.state, 'confirmed');
    assert.equal(rec.acks.length, 0, 'the ACK is absorbed');
    fake.deliver(request('ACK', { toTag: 't' }), source());
    assert.equal(rec.acks.length, 0, 'further ACKs are absorbed in Confirmed');
    timers.advance(4_999);
    assert.equal(fake.sent.length, 1, 'no more retransmissions after the ACK');
    assert.equal(st.state, 'confirmed');
    timers.advance(1);
    assert.equal(st.state, 'terminated');
    assert.equal(timers.pending, 0);
  });

  it('starts no Timer G and ends at once on the ACK on a reliable transport (Timer I = 0)', () => {
    const { fake, timers, rec } = setup({ transport: 'tcp' });
    fake.deliver(request('INVITE', { transport: 'TCP' }), source('tcp'));
    const st = rec.requests[0].st;
    st.respond(createResponse(rec.requests[0].req, 404, undefined, 't'));
    timers.advance(10_000);
    assert.equal(fake.sent.length, 1);
    fake.deliver(request('ACK', { transport: 'TCP', toTag: 't' }), source('tcp'));
    assert.equal(st.state, 'terminated');
    assert.equal(timers.pending, 0);
  });

  it('replies over the connection the request came in on (RFC 3261 §18.2.2)', () => {
    const { fake, rec } = setup({ transport: 'tcp' });
    fake.deliver(request('INVITE', { transport: 'TCP' }), source('tcp', 50555));
    assert.equal(rec.requests[0].st.target.connectionId, 7);
    assert.equal(rec.requests[0].st.target.port, 5060, 'fallback: sent-by port');
  });

  it('informs the TU of a transport error and terminates (§17.2.4)', async () => {
    const { fake, rec, timers } = setup();
    fake.deliver(request('INVITE'), source());
    const st = rec.requests[0].st;
    const errors: Error[] = [];
    st.onTransportError = (e) => errors.push(e);
    fake.failSends = new Error('EPIPE');
    st.respond(createResponse(rec.requests[0].req, 180, undefined, 't'));
    await fake.settle();
    assert.equal(errors[0].message, 'EPIPE');
    assert.equal(st.state, 'terminated');
    assert.equal(timers.pending, 0);
  });
});

describe('transaction: non-INVITE server transaction (RFC 3261 §17.2.2)', () => {
  it('absorbs retransmissions in Trying', () => {
    const { fake, rec } = setup();
    fake.deliver(request('REGISTER'), source());
    fake.deliver(request('REGISTER'), source());
    assert.equal(rec.requests.length, 1);
    assert.equal(fake.sent.length, 0);
  });

  it('answers a retransmission in Proceeding with the last provisional response', () => {
    const { fake, rec } = setup();
    fake.deliver(request('MESSAGE'), source());
    rec.requests[0].st.respond(createResponse(rec.requests[0].req, 100));
    fake.deliver(request('MESSAGE'), source());
    assert.deepEqual(statuses(fake.sent), [100, 100]);
  });

  it('answers a retransmission in Completed with the final response until Timer J (64*T1)', () => {
    const { fake, timers, rec, layer } = setup();
    fake.deliver(request('REGISTER'), source());
    const st = rec.requests[0].st;
    st.respond(createResponse(rec.requests[0].req, 200, undefined, 't'));
    assert.equal(st.respond(createResponse(rec.requests[0].req, 500)), false, 'one final response only');
    fake.deliver(request('REGISTER'), source());
    assert.deepEqual(statuses(fake.sent), [200, 200]);
    assert.equal(serializeMessage(fake.sent[1].msg).toString('latin1'), serializeMessage(fake.sent[0].msg).toString('latin1'), 'the same bytes');
    assert.deepEqual(fake.sent[1].target, fake.sent[0].target, 'to the same place');
    assert.equal(st.state, 'completed');
    timers.advance(31_999);
    assert.equal(layer.serverCount, 1);
    fake.deliver(request('REGISTER'), source());
    assert.deepEqual(statuses(fake.sent), [200, 200, 200], 'still absorbed 1 ms before Timer J');
    timers.advance(1);
    assert.equal(layer.serverCount, 0);
    assert.equal(timers.pending, 0);
    fake.deliver(request('REGISTER'), source());
    assert.equal(rec.requests.length, 2, 'after Timer J the same branch is a new request');
  });

  it('leaves no transaction object for Timer J over UDP: the layer keeps the answer\'s target and bytes (issue 17)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const { fake, timers, rec, layer } = setup();
    const held: WeakRef<object>[] = [];
    for (let i = 0; i < 50; i++) {
      fake.deliver(request('REGISTER', { branch: `z9hG4bKw${i}` }), { ...source(), port: 41000 + i });
      rec.requests[i].st.respond(createResponse(rec.requests[i].req, 200, undefined, `t${i}`));
      held.push(new WeakRef(rec.requests[i].st));
    }
    rec.requests.length = 0;
    fake.sent.length = 0;
    await new Promise((r) => setImmediate(r));
    gc();
    assert.equal(held.filter((w) => w.deref() !== undefined).length, 0, 'the 50 transactions were collected');
    assert.equal(layer.serverCount, 50, 'their answers still count as live server transactions');
    fake.deliver(request('REGISTER', { branch: 'z9hG4bKw7' }), { ...source(), port: 41007 });
    assert.equal(rec.requests.length, 0, 'a retransmission does not reach the TU');
    assert.equal((fake.sent[0].msg as SipResponse).header('to'), '<sip:bob@example.com>;tag=t7');
    assert.equal(fake.sent[0].target.port, 41007);
    timers.advance(32_000);
    assert.equal(layer.serverCount, 0);
  });

  it('lets a transport error on the final response end the kept answer at once (§17.2.4)', () => {
    const { fake, rec, layer } = setup();
    fake.deliver(request('REGISTER'), source());
    const st = rec.requests[0].st as unknown as { respond(r: SipResponse): boolean; transportError(e: Error): void; state: string };
    st.respond(createResponse(rec.requests[0].req, 200, undefined, 't'));
    assert.equal(layer.serverCount, 1);
    st.transportError(new Error('EHOSTUNREACH'));
    assert.equal(st.state, 'terminated');
    assert.equal(layer.serverCount, 0);
    fake.deliver(request('REGISTER'), source());
    assert.equal(rec.requests.length, 2, 'the retransmission is a new request');
  });

  it('keeps only the final response\'s bytes for Timer J: the request and the response objects can be collected (issue 16)', async () => {
    // the registrar, a MESSAGE answered 202
    const { fake, timers, layer, refs, st } = await answeredAndCollected('REGISTER', (req) => {
      const res = createResponse(req, 200, undefined, 't');
      res.addHeader('Contact', '<sip:tv@192.0.2.1:5060>;expires=600');
      return res;
    });
    assert.equal(refs.req!.deref(), undefined, 'the request is not held for Timer J');
    assert.equal(refs.res!.deref(), undefined, 'the response object is not held for Timer J');
    assert.equal(st.state, 'completed');
    assert.equal(layer.serverCount, 1);
    assert.throws(() => st.request, /released its request/);
    assert.equal(serializeMessage(st.finalResponse!).toString('latin1'), refs.wire, 'finalResponse reads the kept bytes');
    // RFC 3261 §17.2.2: a retransmission in Completed gets the final response again, byte for byte
    fake.deliver(request('REGISTER'), source());
    assert.equal(fake.sent.length, 1);
    assert.equal(serializeMessage(fake.sent[0].msg).toString('latin1'), refs.wire);
    timers.advance(32_000);
    assert.equal(layer.serverCount, 0);
  });

  it('waits out Timer J of many transactions on one clock timer, each ending 64*T1 after its answer (issue 17)', () => {
    const { fake, timers, rec, layer } = setup();
    for (let i = 0; i < 300; i++) {
      fake.deliver(request('REGISTER', { branch: `z9hG4bKj${i}` }), source());
      rec.requests[i].st.respond(createResponse(rec.requests[i].req, 200, undefined, 't'));
      if (i % 100 === 99) timers.advance(1000);
    }
    assert.equal(layer.serverCount, 300);
    assert.equal(timers.pending, 1, 'one timer for the 300, not one each');
    fake.deliver(request('REGISTER', { branch: 'z9hG4bKj150' }), source());
    assert.equal(rec.requests.length, 300, 'a retransmission still finds its transaction');
    timers.advance(32_000 - 3000);
    assert.equal(layer.serverCount, 200, 'the first 100 ended 32 s after their answer');
    timers.advance(2000);
    assert.equal(layer.serverCount, 0);
    assert.equal(timers.pending, 0);
  });

  it('answers as a stateless UAS with stateless: true (a source turned away, RFC 3261 §8.2.7): ends at once, a retransmission is a new request', () => {
    const { fake, timers, rec, layer } = setup();
    fake.deliver(request('REGISTER'), source());
    const st = rec.requests[0].st;
    st.respond(createResponse(rec.requests[0].req, 503, undefined, 't'), { retransmit: false, stateless: true });
    assert.equal(st.state, 'terminated');
    assert.equal(layer.serverCount, 0);
    assert.equal(timers.pending, 0, 'no Timer J');
    fake.deliver(request('REGISTER'), source());
    assert.equal(rec.requests.length, 2, 'the TU answers the retransmission itself');
  });

  it('keeps a challenge (retransmit: false, not stateless) for Timer J: a retransmission gets the same 401, byte for byte', () => {
    // a new nonce for a retransmitted REGISTER would reach the client while it waits for its 200: sipp aborts the call
    const { fake, rec, layer } = setup();
    fake.deliver(request('REGISTER'), source());
    rec.requests[0].st.respond(createResponse(rec.requests[0].req, 401, undefined, 't'), { retransmit: false });
    assert.equal(layer.serverCount, 1);
    fake.deliver(request('REGISTER'), source());
    assert.equal(rec.requests.length, 1);
    assert.deepEqual(statuses(fake.sent), [401, 401]);
    assert.equal(serializeMessage(fake.sent[1].msg).toString('latin1'), serializeMessage(fake.sent[0].msg).toString('latin1'));
  });

  it('ends at once after the final response on a reliable transport (Timer J = 0)', () => {
    const { fake, timers, rec, layer } = setup({ transport: 'tcp' });
    fake.deliver(request('REGISTER', { transport: 'TCP' }), source('tcp'));
    rec.requests[0].st.respond(createResponse(rec.requests[0].req, 200, undefined, 't'));
    assert.equal(rec.requests[0].st.state, 'terminated');
    assert.equal(layer.serverCount, 0);
    assert.equal(timers.pending, 0);
  });
});

describe('transaction: drop() — no answer at all (a banned or flooding source, issue 16)', () => {
  it('ends a non-INVITE server transaction at once with nothing sent; a retransmission is a new request for the TU', () => {
    const { fake, rec, layer } = setup();
    fake.deliver(request('REGISTER'), source());
    rec.requests[0].st.drop();
    assert.equal(rec.requests[0].st.state, 'terminated');
    fake.deliver(request('REGISTER'), source());
    assert.equal(rec.requests.length, 2);
    rec.requests[1].st.drop();
    assert.equal(fake.sent.length, 0);
    assert.equal(layer.counters.serverTransactions, 2);
  });

  it('ends an INVITE server transaction before its 100 Trying, and leaves one that has answered alone', () => {
    const { fake, rec, timers } = setup();
    fake.deliver(request('INVITE'), source());
    rec.requests[0].st.drop();
    timers.advance(60_000);
    assert.equal(fake.sent.length, 0, 'no 100 Trying, no timer left');
    fake.deliver(request('MESSAGE', { branch: 'z9hG4bKm2' }), source());
    rec.requests[1].st.respond(createResponse(rec.requests[1].req, 200));
    rec.requests[1].st.drop();
    fake.deliver(request('MESSAGE', { branch: 'z9hG4bKm2' }), source());
    assert.deepEqual(statuses(fake.sent), [200, 200], 'a retransmission still gets the final response');
  });
});
