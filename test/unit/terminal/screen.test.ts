import assert from 'node:assert/strict';
import { applyEvent, initialScreen, render } from '../../../src/terminal/screen.ts';
import { pictureContentType } from '../../../src/terminal/tv-agent.ts';

describe('TV screen', () => {
  it('shows contacts online state, missed calls, messages and the call, and RTCP figures at hang-up', () => {
    const s = initialScreen('1001', ['1002', '1003']);
    applyEvent(s, 'registered', { aor: 'sip:1001@x', contact: 'sip:1001@127.0.0.1:1', transport: 'tcp', expires: 300 });
    applyEvent(s, 'presence', { contact: '1002', online: true, basic: 'open' });
    applyEvent(s, 'missed-calls', { id: 'm1', calls: [{ from: '1003', count: 2, first: 'a', last: 'b' }] });
    applyEvent(s, 'message', { id: '1', from: '1002', contentType: 'text/plain', bytes: 2, text: 'hi' });
    applyEvent(s, 'call-incoming', { callId: 'c', from: '1002' });
    let out = render(s);
    assert.match(out, /1002/);
    assert.match(out, /1003 ×2/);
    assert.match(out, /1002: hi/);
    assert.match(out, /1002 is calling/);
    assert.equal(s.contacts.get('1002'), true);
    assert.equal(s.contacts.get('1003'), false);
    applyEvent(s, 'call-ended', {
      callId: 'c', peer: '1002', reason: 'remote-hangup', durationMs: 1000,
      rtcp: { durationMs: 1000, sent: { packets: 50, octets: 8000, dtmfPackets: 0 }, received: { packets: 49, octets: 7840, lost: 1, jitterMs: 0.5, duplicates: 0, late: 0, concealed: 1, discarded: 0 }, remoteBye: true },
    });
    out = render(s);
    assert.match(out, /sent 50 pkts, received 49, lost 1/);
    assert.match(out, /\(no call\)/);
  });

  it('bounds the message list', () => {
    const s = initialScreen('1001', []);
    for (let i = 0; i < 50; i++) applyEvent(s, 'message', { id: String(i), from: 'x', contentType: 'text/plain', bytes: 1, text: String(i) });
    assert.equal(s.messages.length, 10);
    assert.equal(s.messages[9], 'x: 49');
  });

  it('picks the picture Content-Type from the file extension', () => {
    assert.equal(pictureContentType('a/b.JPG'), 'image/jpeg');
    assert.equal(pictureContentType('a.jpeg'), 'image/jpeg');
    assert.equal(pictureContentType('a.png'), 'image/png');
    assert.throws(() => pictureContentType('a.txt'), /Unsupported picture type/);
  });
});
