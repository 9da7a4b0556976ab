import assert from 'node:assert/strict';
import { FakeClock } from '../../../src/clock.ts';
import {
  addUacHeaders, addUasHeaders, parseSessionExpires, SessionTimer, uacNegotiated, uasNegotiate,
} from '../../../src/dialog/session-timer.ts';
import { SipRequest } from '../../../src/sip/message.ts';
import { createResponse } from '../../../src/sip/response.ts';

function invite(headers: Record<string, string> = {}): SipRequest {
  const req = new SipRequest('INVITE', 'sip:1002@127.0.0.1');
  for (const [k, v] of Object.entries({ From: '<sip:1001@127.0.0.1>;tag=a', To: '<sip:1002@127.0.0.1>', 'Call-ID': 'c', CSeq: '1 INVITE', Via: 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKx', ...headers })) req.addHeader(k, v);
  return req;
}

describe('dialog/session-timer (RFC 4028)', () => {
  it('reads Session-Expires with and without refresher (§4), the compact form x too', () => {
    assert.deepEqual(parseSessionExpires(invite({ 'Session-Expires': '1800;refresher=uac' })), { interval: 1800, refresher: 'uac' });
    assert.deepEqual(parseSessionExpires(invite({ x: '600' })), { interval: 600, refresher: null });
    assert.equal(parseSessionExpires(invite()), null);
  });

  it('UAS §9: an interval below our Min-SE gets 422; else the request\'s interval, refreshed by a UAC that supports timer', () => {
    assert.deepEqual(uasNegotiate(invite({ 'Session-Expires': '60', Supported: 'timer' }), { interval: 1800, minSe: 90 }), { reject: 422, minSe: 90 });
    assert.deepEqual(uasNegotiate(invite({ 'Session-Expires': '1200', Supported: 'timer' }), { interval: 1800, minSe: 90 }), { interval: 1200, refresher: 'uac' });
    assert.deepEqual(uasNegotiate(invite({ 'Session-Expires': '1200;refresher=uas', Supported: 'timer' }), { interval: 1800, minSe: 90 }), { interval: 1200, refresher: 'uas' });
    // a UAC without timer support cannot refresh: we do, with our interval
    assert.deepEqual(uasNegotiate(invite(), { interval: 1800, minSe: 90 }), { interval: 1800, refresher: 'uas' });
    const res = createResponse(invite(), 200, undefined, 'b');
    addUasHeaders(res, { interval: 1200, refresher: 'uac' });
    assert.equal(res.header('session-expires'), '1200;refresher=uac');
    assert.equal(res.header('require'), 'timer');
  });

  it('UAC §7: asks with Supported: timer, Session-Expires and Min-SE; the 2xx settles who refreshes', () => {
    const req = invite();
    addUacHeaders(req, 1800, 90);
    assert.equal(req.header('supported'), 'timer');
    assert.equal(req.header('session-expires'), '1800');
    assert.equal(req.header('min-se'), '90');
    const ok = createResponse(req, 200, undefined, 'b');
    ok.addHeader('Session-Expires', '900;refresher=uas');
    assert.deepEqual(uacNegotiated(ok, 1800), { interval: 900, refresher: 'uas' });
    assert.deepEqual(uacNegotiated(createResponse(req, 200, undefined, 'b'), 1800), { interval: 1800, refresher: 'uac' }, 'no Session-Expires: we still refresh');
  });

  it('§10: the refresher refreshes at half the interval; the other side expires at interval − min(32 s, interval/3)', () => {
    const clock = new FakeClock();
    const seen: string[] = [];
    const t = new SessionTimer(clock, { refresh: () => seen.push(`refresh@${clock.now()}`), expired: () => seen.push(`expired@${clock.now()}`) });
    t.start(1800, true);
    assert.equal(clock.nextDelay(), 900_000);
    t.start(1800, false);
    assert.equal(clock.nextDelay(), 1_768_000, 'restarting replaces the timer');
    assert.equal(clock.pending, 1);
    t.start(90, false);
    clock.advance(60_000);
    assert.deepEqual(seen, ['expired@60000']);
    t.start(90, true);
    t.stop();
    assert.equal(clock.pending, 0);
  });
});
