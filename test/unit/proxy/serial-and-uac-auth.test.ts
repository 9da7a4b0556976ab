// Trunk mechanics in the proxy: sequential search with failover (RFC 3261 §16.5/§16.6), a target's slot
// (acquire/release, a trunk's maxCalls), and 401/407 answered on a target's behalf (§22.2, Kamailio's uac_auth()).
import assert from 'node:assert/strict';
import type { SipRequest, SipResponse } from '../../../src/sip/message.ts';
import type { ProxyTarget } from '../../../src/proxy/target-set.ts';
import { CALLER, fromCaller, invite, setup, only, statuses, type Harness } from './helpers.ts';

const T1 = '192.0.2.21';
const T2 = '192.0.2.22';


interface Slot {
  taken: number;
  released: number;
  max: number;
}

function trunkTarget(name: string, address: string, slot: Slot, authorize?: ProxyTarget['authorize']): ProxyTarget {
  return {
    uri: `sip:+4930123456@${address}`, destination: { transport: 'udp', address, port: 5060 }, label: name,
    prepare: (req) => req.setHeader('P-Asserted-Identity', '<sip:alice@example.com>'),
    acquire: () => {
      if (slot.taken - slot.released >= slot.max) return false;
      slot.taken++;
      return true;
    },
    release: () => {
      slot.released++;
    },
    ...(authorize ? { authorize } : {}),
  };
}

/** a 503, 408, 500 … may fail over; busy and other 4xx/6xx answers stand */
const failover = (res: SipResponse): boolean => res.status === 408 || (res.status >= 500 && res.status < 600);

describe('proxy: sequential search through trunk targets (RFC 3261 §16.6)', () => {
  let h: Harness;
  let s1: Slot;
  let s2: Slot;
  beforeEach(() => {
    h = setup();
    s1 = { taken: 0, released: 0, max: 10 };
    s2 = { taken: 0, released: 0, max: 10 };
    h.targets = [trunkTarget('one', T1, s1), trunkTarget('two', T2, s2)];
    h.relayOptions = { serial: failover, call: { userId: 'alice', otherUserId: '+4930123456' } };
  });
  afterEach(() => h.layer.close());

  it('tries only the first target, and the second after the first answers 503; the caller sees the second\'s answer', async () => {
    fromCaller(h, invite());
    const a = only(h.sentTo(T1, 'INVITE'));
    assert.equal(h.sentTo(T2, 'INVITE').length, 0, 'serial: one target at a time');
    assert.equal(a.header('p-asserted-identity'), '<sip:alice@example.com>', 'prepare() changed the copy');
    h.answer(a, 503, T1, 't1');
    const b = only(h.sentTo(T2, 'INVITE'));
    assert.notEqual(b.topVia().branch, a.topVia().branch);
    h.answer(b, 180, T2, 't2');
    h.answer(b, 200, T2, 't2');
    assert.deepEqual(statuses(h.toCaller()), [180, 200], 'the 503 never went upstream');
    assert.deepEqual([s1.taken, s1.released, s2.taken, s2.released], [1, 1, 1, 0], 'the answered trunk holds its slot until BYE');
    await h.settle();
    assert.equal(h.calls.updates.at(-1)?.update.trunk, 'two');
  });

  it('does not fail over on busy (486): the caller gets the 486 and the second trunk is never tried', () => {
    fromCaller(h, invite());
    h.answer(only(h.sentTo(T1, 'INVITE')), 486, T1, 't1');
    assert.equal(h.sentTo(T2).length, 0);
    assert.deepEqual(statuses(h.toCaller()), [486]);
  });

  it('fails over when the first trunk does not answer at all (Timer B: 408)', () => {
    fromCaller(h, invite());
    only(h.sentTo(T1, 'INVITE'));
    h.timers.advance(32_001);
    const b = only(h.sentTo(T2, 'INVITE'));
    h.answer(b, 200, T2, 't2');
    assert.deepEqual(statuses(h.toCaller()).filter((s) => s !== 100), [200]);
  });

  it('with serialNoResponseMs, gives up on a silent trunk then, and CANCELs it should it ring later (§9.1)', () => {
    h.relayOptions = { ...h.relayOptions, serialNoResponseMs: 3000 };
    fromCaller(h, invite());
    const a = only(h.sentTo(T1, 'INVITE'));
    h.timers.advance(2999);
    assert.equal(h.sentTo(T2).length, 0);
    h.timers.advance(2);
    const b = only(h.sentTo(T2, 'INVITE'));
    h.answer(a, 180, T1, 't1');
    assert.equal(only(h.sentTo(T1, 'CANCEL')).topVia().branch, a.topVia().branch);
    assert.deepEqual(statuses(h.toCaller()).filter((s) => s !== 100), [], 'the late 180 of the given-up trunk is not forwarded');
    h.answer(b, 200, T2, 't2');
    assert.deepEqual(statuses(h.toCaller()).filter((s) => s !== 100), [200]);
  });

  it('skips a full trunk (acquire false) at once, and answers the last failure when all are tried', () => {
    s1.max = 0;
    fromCaller(h, invite());
    assert.equal(h.sentTo(T1).length, 0, 'the full trunk is not sent anything');
    const b = only(h.sentTo(T2, 'INVITE'));
    h.answer(b, 503, T2, 't2');
    // §16.7 step 6: a chosen 503 goes upstream as 500
    assert.deepEqual(statuses(h.toCaller()), [500]);
    assert.deepEqual([s1.taken, s2.taken, s2.released], [0, 1, 1]);
  });

  it('does not try the next trunk once the caller CANCELled', () => {
    fromCaller(h, invite());
    const a = only(h.sentTo(T1, 'INVITE'));
    h.answer(a, 180, T1, 't1');
    fromCaller(h, invite().replace(/INVITE/g, 'CANCEL'));
    h.answer(only(h.sentTo(T1, 'CANCEL')), 200, T1);
    h.answer(a, 487, T1, 't1');
    assert.equal(h.sentTo(T2).length, 0);
    assert.deepEqual(statuses(h.toCaller()).filter((s) => s !== 200), [180, 487]);
    assert.equal(s1.released, 1);
  });

  it('releases the answered trunk\'s slot at the BYE', () => {
    fromCaller(h, invite());
    h.answer(only(h.sentTo(T1, 'INVITE')), 200, T1, 't1');
    assert.equal(s1.released, 0);
    fromCaller(h, [
      `BYE sip:+4930123456@${T1} SIP/2.0`, `Via: SIP/2.0/UDP ${CALLER.address}:5060;branch=z9hG4bKbye2;rport`,
      'From: "Alice" <sip:alice@example.com>;tag=alicetag', 'To: <sip:bob@example.com>;tag=t1',
      'Route: <sip:127.0.0.1:5060;transport=udp;lr>', 'Max-Forwards: 70', 'Call-ID: call-1@192.0.2.1', 'CSeq: 2 BYE',
      'Content-Length: 0', '', ''].join('\r\n'));
    assert.equal(only(h.sentTo(T1, 'BYE')).header('cseq'), '2 BYE');
    assert.equal(s1.released, 1);
  });
});

describe('proxy: a 401/407 answered on the target\'s behalf (RFC 3261 §22.2; Kamailio uac_auth)', () => {
  let h: Harness;
  let slot: Slot;
  let rounds: number;
  beforeEach(() => {
    h = setup();
    slot = { taken: 0, released: 0, max: 10 };
    rounds = 0;
    const authorize = (req: SipRequest, challenge: SipResponse): boolean => {
      rounds++;
      if (!challenge.header('proxy-authenticate')?.includes('nonce="n1"')) return false;
      req.setHeader('Proxy-Authorization', 'Digest username="acct", nonce="n1"');
      const c = req.cseq();
      req.setHeader('CSeq', `${c.seq + 1} ${c.method}`);
      return true;
    };
    h.targets = [trunkTarget('one', T1, slot, authorize)];
    h.relayOptions = { serial: failover };
  });
  afterEach(() => h.layer.close());

  function call(): { first: SipRequest; second: SipRequest } {
    fromCaller(h, invite());
    const first = only(h.sentTo(T1, 'INVITE'));
    h.answer(first, 407, T1, 'c1', [['Proxy-Authenticate', 'Digest realm="carrier", nonce="n1"']]);
    const invites = h.sentTo(T1, 'INVITE');
    assert.equal(invites.length, 2, 'the INVITE went again with credentials');
    return { first, second: invites[1]! };
  }

  it('ACKs the 407 with its own CSeq, sends the INVITE again with credentials and CSeq + 1 on a new branch; the caller never sees the 407', () => {
    const { first, second } = call();
    const ack = only(h.sentTo(T1, 'ACK'));
    assert.equal(ack.header('cseq'), '1 ACK', '§17.1.1.3: the ACK of a non-2xx has the INVITE\'s CSeq number');
    assert.equal(ack.topVia().branch, first.topVia().branch);
    assert.equal(second.header('proxy-authorization'), 'Digest username="acct", nonce="n1"');
    assert.equal(second.header('cseq'), '2 INVITE');
    assert.notEqual(second.topVia().branch, first.topVia().branch);
    assert.deepEqual(second.headerValues('via').slice(1), first.headerValues('via').slice(1), 'one Via of ours, over the caller\'s');
    assert.equal(second.callId, first.callId);
    assert.equal(second.fromTag, first.fromTag);
    assert.deepEqual(statuses(h.toCaller()), []);
    assert.equal(slot.taken, 1, 'the retry keeps the same slot');
  });

  it('gives the caller its own CSeq back on 180 and 200, and moves the CSeq of the caller\'s ACK and BYE on by one', () => {
    const { second } = call();
    h.answer(second, 180, T1, 'c2');
    h.answer(second, 200, T1, 'c2');
    assert.deepEqual(h.toCaller().map((r) => `${r.status} ${r.header('cseq')}`), ['180 1 INVITE', '200 1 INVITE']);
    const inDialog = (method: string, seq: number): string => [
      `${method} sip:+4930123456@${T1} SIP/2.0`, `Via: SIP/2.0/UDP ${CALLER.address}:5060;branch=z9hG4bK${method}${seq};rport`,
      'From: "Alice" <sip:alice@example.com>;tag=alicetag', 'To: <sip:bob@example.com>;tag=c2',
      'Route: <sip:127.0.0.1:5060;transport=udp;lr>', 'Max-Forwards: 70', 'Call-ID: call-1@192.0.2.1', `CSeq: ${seq} ${method}`,
      'Content-Length: 0', '', ''].join('\r\n');
    fromCaller(h, inDialog('ACK', 1));
    const acks = h.sentTo(T1, 'ACK');
    assert.equal(acks.at(-1)?.header('cseq'), '2 ACK', 'the 2xx ACK carries the CSeq of the INVITE the carrier answered');
    fromCaller(h, inDialog('BYE', 2));
    const bye = only(h.sentTo(T1, 'BYE'));
    assert.equal(bye.header('cseq'), '3 BYE');
    h.answer(bye, 200, T1, 'c2');
    assert.equal(h.toCaller().at(-1)?.header('cseq'), '2 BYE', 'the BYE\'s 200 goes back with the caller\'s CSeq');
    assert.equal(slot.released, 1);
  });

  it('passes a challenge it cannot answer upstream, and answers at most two challenges per call', () => {
    const { second } = call();
    h.answer(second, 407, T1, 'c2', [['Proxy-Authenticate', 'Digest realm="carrier", nonce="n1", stale=true']]);
    const third = h.sentTo(T1, 'INVITE')[2]!;
    assert.equal(third.header('cseq'), '3 INVITE');
    h.answer(third, 407, T1, 'c3', [['Proxy-Authenticate', 'Digest realm="carrier", nonce="n1"']]);
    assert.equal(h.sentTo(T1, 'INVITE').length, 3, 'no third round');
    const up = h.toCaller();
    assert.deepEqual(up.map((r) => `${r.status} ${r.header('cseq')}`), ['407 1 INVITE']);
    assert.equal(rounds, 2);
    assert.equal(slot.released, 1);
  });

  it('answers the carrier\'s challenge to an in-dialog BYE too, and the caller\'s CSeq comes back to it', () => {
    const { second } = call();
    h.answer(second, 200, T1, 'c2');
    fromCaller(h, [
      `BYE sip:+4930123456@${T1} SIP/2.0`, `Via: SIP/2.0/UDP ${CALLER.address}:5060;branch=z9hG4bKbye7;rport`,
      'From: "Alice" <sip:alice@example.com>;tag=alicetag', 'To: <sip:bob@example.com>;tag=c2',
      'Route: <sip:127.0.0.1:5060;transport=udp;lr>', 'Max-Forwards: 70', 'Call-ID: call-1@192.0.2.1', 'CSeq: 2 BYE',
      'Content-Length: 0', '', ''].join('\r\n'));
    const bye = only(h.sentTo(T1, 'BYE'));
    assert.equal(bye.header('cseq'), '3 BYE');
    h.answer(bye, 407, T1, 'c2', [['Proxy-Authenticate', 'Digest realm="carrier", nonce="n1"']]);
    const byes = h.sentTo(T1, 'BYE');
    assert.equal(byes.length, 2);
    assert.equal(byes[1]!.header('cseq'), '4 BYE');
    assert.ok(byes[1]!.header('proxy-authorization'));
    h.answer(byes[1]!, 200, T1, 'c2');
    assert.equal(h.toCaller().at(-1)?.header('cseq'), '2 BYE');
  });
});
