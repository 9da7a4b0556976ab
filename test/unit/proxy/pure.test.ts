import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SipResponse } from '../../../src/sip/message.ts';
import { parseMessage } from '../../../src/sip/parser.ts';
import type { SipRequest } from '../../../src/sip/message.ts';
import { bestResponseIndex, responseToForward } from '../../../src/proxy/response-selection.ts';
import { hashLoopKey, hasLooped, loopHash, loopKey, proxyBranch } from '../../../src/proxy/loop-detection.ts';
import { bindingTarget, isPrivateAddress } from '../../../src/registrar/lookup.ts';
import { DialogTable, outcomeOf } from '../../../src/proxy/call-outcome.ts';
import { copyForBranch } from '../../../src/proxy/forward.ts';
import { binding, invite } from './helpers.ts';

function res(status: number, extra: [string, string][] = []): SipResponse {
  const r = new SipResponse(status, 'x', [
    { name: 'Via', key: 'via', value: 'SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-tvp-a-b' },
    { name: 'Via', key: 'via', value: 'SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKc' },
  ]);
  for (const [n, v] of extra) r.addHeader(n, v);
  return r;
}

function req(text = invite()): SipRequest {
  return parseMessage(Buffer.from(text)) as SipRequest;
}

describe('proxy: best response selection (RFC 3261 §16.7 step 6)', () => {
  const pick = (...s: number[]) => s[bestResponseIndex(s.map((x) => res(x)))];

  it('prefers any 6xx over every other class', () => assert.equal(pick(200, 486, 603), 603));
  it('otherwise chooses the lowest class', () => assert.equal(pick(486, 302, 503), 302));
  it('prefers 401/407 within 4xx, then 415/420/484, then 486 over 480, then 408 last', () => {
    assert.equal(pick(486, 407, 480), 407);
    assert.equal(pick(486, 484), 484);
    assert.equal(pick(480, 486), 486);
    assert.equal(pick(408, 404), 404);
  });
  it('returns -1 when there is no final response (the caller sends 408)', () => assert.equal(bestResponseIndex([]), -1));
  it('always picks an element of the set, of a class no worse than any other (property)', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 200, max: 699 }), { minLength: 1, maxLength: 8 }), (codes) => {
      const i = bestResponseIndex(codes.map((c) => res(c)));
      const cls = Math.floor(codes[i] / 100);
      if (codes.some((c) => c >= 600)) return cls === 6;
      return codes.every((c) => Math.floor(c / 100) >= cls);
    }));
  });
  it('turns a chosen 503 into a 500 and removes our Via', () => {
    const out = responseToForward([res(503, [['Retry-After', '5']])], 0);
    assert.equal(out.status, 500);
    assert.deepEqual(out.headerValues('via'), ['SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKc']);
  });
});

describe('proxy: loop detection (RFC 3261 §16.3 item 4, §16.6 step 8)', () => {
  it('computes the same hash for a retransmission and the same request with another top Via', () => {
    const a = req();
    const b = req(invite().replace('Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKcaller1;rport', 'Via: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKzz'));
    assert.equal(loopHash(a, 's'), loopHash(b, 's'));
  });
  it('computes another hash when the Request-URI, a tag, the CSeq number or the salt differ', () => {
    const h = loopHash(req(), 's');
    assert.notEqual(loopHash(req(invite({ uri: 'sip:carol@example.com' })), 's'), h);
    assert.notEqual(loopHash(req(invite().replace('CSeq: 1', 'CSeq: 2')), 's'), h);
    assert.notEqual(loopHash(req(invite().replace('tag=alicetag', 'tag=other')), 's'), h);
    assert.notEqual(loopHash(req(), 't'), h);
  });
  it('recognises our branch with the same hash in any Via, and only as the branch parameter', () => {
    const hash = loopHash(req(), 's');
    const br = proxyBranch(hash);
    assert.ok(br.startsWith('z9hG4bK'));
    assert.notEqual(proxyBranch(hash), br, 'branches are unique');
    assert.equal(hasLooped(req(invite().replace(/^Via:/m, `Via: SIP/2.0/UDP 127.0.0.1;branch=${br}\r\nVia:`)), hash), true);
    assert.equal(hasLooped(req(invite().replace(/^Via:/m, `Via: SIP/2.0/UDP 127.0.0.1;x=${br}\r\nVia:`)), hash), false);
    assert.equal(hasLooped(req(), hash), false);
  });
  it('computes a hash given as a function only for a request that carries a branch of ours', () => {
    const hash = loopHash(req(), 's');
    let computed = 0;
    const lazy = (): string => { computed++; return hash; };
    assert.equal(hasLooped(req(), lazy), false);
    assert.equal(computed, 0);
    const looped = req(invite().replace(/^Via:/m, `Via: SIP/2.0/UDP 127.0.0.1;branch=${proxyBranch(hash)}\r\nVia:`));
    assert.equal(hasLooped(looped, lazy), true);
    assert.equal(computed, 1);
    const spiral = req(invite().replace(/^Via:/m, `Via: SIP/2.0/UDP 127.0.0.1;branch=${proxyBranch(loopHash(req(), 't'))}\r\nVia:`));
    assert.equal(hasLooped(spiral, lazy), false);
    assert.equal(hashLoopKey(loopKey(req(), 's')), hash);
  });
});

describe('proxy: branch copy (RFC 3261 §16.6)', () => {
  it('puts Path values above existing Route values and our Record-Route above existing ones', () => {
    const r = req(invite({ extra: ['Route: <sip:198.51.100.1;lr>', 'Record-Route: <sip:198.51.100.2;lr>'] }));
    const c = copyForBranch(r, { uri: 'sip:bob@10.0.0.1', path: ['<sip:198.51.100.3;lr>'], recordRoute: '<sip:127.0.0.1;lr>', via: 'SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKx' });
    assert.deepEqual(c.headerValues('route'), ['<sip:198.51.100.3;lr>', '<sip:198.51.100.1;lr>']);
    assert.deepEqual(c.headerValues('record-route'), ['<sip:127.0.0.1;lr>', '<sip:198.51.100.2;lr>']);
    assert.equal(c.headerValues('via')[0], 'SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKx');
    assert.equal(r.uri, 'sip:bob@example.com', 'the original is left alone');
    assert.equal(r.header('max-forwards'), '70');
  });
});

describe('proxy: where a binding is reached', () => {
  it('sends to the REGISTER source when the Contact names a private address behind a NAT', () => {
    const t = bindingTarget(binding('sip:tv@192.168.1.20:5060', '203.0.113.5', 40000));
    assert.deepEqual(t.destination, { transport: 'udp', address: '203.0.113.5', port: 40000, connectionId: null });
  });
  it('sends to the Contact of a third-party registration (a public or loopback Contact)', () => {
    const t = bindingTarget(binding('sip:tv@127.0.0.1:7000', '127.0.0.1', 7001));
    assert.deepEqual(t.destination, { transport: 'udp', address: '127.0.0.1', port: 7000 });
  });
  it('sends over the registering connection for TCP', () => {
    const t = bindingTarget(binding('sip:tv@198.51.100.4;transport=tcp', '198.51.100.4', 50123, {}, { transport: 'tcp', connectionId: 9 }));
    assert.deepEqual(t.destination, { transport: 'tcp', address: '198.51.100.4', port: 50123, connectionId: 9 });
  });
  it('knows the private address ranges', () => {
    for (const a of ['10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.0.1', '100.64.0.1', 'fd00::1']) assert.ok(isPrivateAddress(a), a);
    for (const a of ['8.8.8.8', '172.32.0.1', '127.0.0.1', '2001:db8::1']) assert.ok(!isPrivateAddress(a), a);
  });
});

describe('proxy: call outcomes and the dialog table', () => {
  it('maps final statuses to user_call outcomes', () => {
    assert.equal(outcomeOf(200, false), 'answered');
    assert.equal(outcomeOf(486, false), 'busy');
    assert.equal(outcomeOf(487, true), 'cancelled');
    assert.equal(outcomeOf(487, false), 'no-answer');
    assert.equal(outcomeOf(603, false), 'rejected');
    assert.equal(outcomeOf(500, false), 'failed');
  });
  it('finds a dialog from either side and forgets it after its age or beyond its size', () => {
    const t = new DialogTable<number>(2, 1000);
    t.add(DialogTable.key('c', 'a', 'b'), 1, 0);
    assert.equal(t.get(DialogTable.key('c', 'b', 'a'), 10)?.value, 1);
    assert.equal(t.get(DialogTable.key('c', 'a', 'b'), 1000), undefined);
    t.add(DialogTable.key('d', 'a', 'b'), 2, 0);
    t.add(DialogTable.key('e', 'a', 'b'), 3, 0);
    assert.equal(t.size, 2);
    assert.equal(t.take(DialogTable.key('c', 'a', 'b'), 1), undefined, 'the oldest was evicted');
  });
});
