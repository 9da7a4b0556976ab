import assert from 'node:assert/strict';
import { FakeClock } from '../../../src/clock.ts';
import { HeldCalls, heldCallKey } from '../../../src/push/held-calls.ts';
import { parseMessage } from '../../../src/sip/parser.ts';
import type { SipRequest } from '../../../src/sip/message.ts';

function req(method: string, branch: string): SipRequest {
  const text = `${method} sip:bob@tv.example SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=${branch}\r\nMax-Forwards: 70\r\n` +
    'From: <sip:alice@tv.example>;tag=a\r\nTo: <sip:bob@tv.example>\r\nCall-ID: c1\r\nCSeq: 1 ' + method + '\r\nContent-Length: 0\r\n\r\n';
  return parseMessage(new TextEncoder().encode(text)) as SipRequest;
}

describe('held calls (Kamailio tsilo)', () => {
  let clock: FakeClock;
  let held: HeldCalls<string>;
  let expired: string[];
  beforeEach(() => {
    clock = new FakeClock();
    held = new HeldCalls<string>({ clock, max: 2 });
    expired = [];
  });
  afterEach(() => { held.drain(); });

  it('gives a CANCEL the key of the INVITE it cancels (RFC 3261 §9.1: Call-ID, CSeq number, top Via branch)', () => {
    assert.equal(heldCallKey(req('CANCEL', 'z9hG4bK-1')), heldCallKey(req('INVITE', 'z9hG4bK-1')));
    assert.notEqual(heldCallKey(req('INVITE', 'z9hG4bK-2')), heldCallKey(req('INVITE', 'z9hG4bK-1')));
  });

  it('holds until the hold time, then expires the call once and forgets it', () => {
    assert.equal(held.hold('bob', 'k1', 'call-1', 1000, (v) => expired.push(v)), true);
    clock.advance(999);
    assert.deepEqual(expired, []);
    clock.advance(1);
    assert.deepEqual(expired, ['call-1']);
    assert.equal(held.size, 0);
    assert.deepEqual(held.take('bob'), []);
    clock.advance(5000);
    assert.deepEqual(expired, ['call-1']);
  });

  it('hands the calls of a user that registers over oldest first (ts_append) and their timers never fire', () => {
    held.hold('bob', 'k1', 'call-1', 1000, (v) => expired.push(v));
    held.hold('bob', 'k2', 'call-2', 1000, (v) => expired.push(v));
    assert.deepEqual(held.take('carol'), []);
    assert.deepEqual(held.take('bob'), ['call-1', 'call-2']);
    clock.advance(2000);
    assert.deepEqual(expired, []);
    assert.equal(held.size, 0);
  });

  it('is bounded: beyond max, and for a key held already, nothing is held', () => {
    assert.equal(held.hold('bob', 'k1', 'call-1', 1000, () => {}), true);
    assert.equal(held.hold('bob', 'k1', 'again', 1000, () => {}), false);
    assert.equal(held.hold('carol', 'k2', 'call-2', 1000, () => {}), true);
    assert.equal(held.hold('dave', 'k3', 'call-3', 1000, () => {}), false);
    assert.equal(held.size, 2);
    assert.equal(held.release('k1'), 'call-1');
    assert.equal(held.hold('dave', 'k3', 'call-3', 1000, () => {}), true);
  });

  it('releases a cancelled call: it neither expires nor is taken', () => {
    held.hold('bob', 'k1', 'call-1', 1000, (v) => expired.push(v));
    assert.equal(held.release('k1'), 'call-1');
    assert.equal(held.release('k1'), null);
    clock.advance(2000);
    assert.deepEqual(expired, []);
    assert.deepEqual(held.take('bob'), []);
  });

  it('drains every call at shutdown, clearing the timers', () => {
    held.hold('bob', 'k1', 'call-1', 1000, (v) => expired.push(v));
    held.hold('carol', 'k2', 'call-2', 1000, (v) => expired.push(v));
    assert.deepEqual(held.drain().sort(), ['call-1', 'call-2']);
    clock.advance(2000);
    assert.deepEqual(expired, []);
  });
});
