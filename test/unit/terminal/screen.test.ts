import assert from 'node:assert/strict';
import { applyEvent, initialScreen, render } from '../../../src/terminal/screen.ts';
import { pictureContentType } from '../../../src/terminal/agent/messager.ts';

/** The screen without its ANSI escapes (clear, home, colours). */
function plain(out: string): string {
  return out.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
}

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

  it('renders a typical screen: contacts online and offline, kept calls, messages (text and picture), a call in progress', () => {
    const s = initialScreen('1001', ['1002', '1003', '1004']);
    applyEvent(s, 'registered', { aor: 'sip:1001@tv.example', contact: 'sip:1001@127.0.0.1:1', transport: 'tcp', expires: 300 });
    applyEvent(s, 'presence', { contact: '1002', online: true, basic: 'open' });
    applyEvent(s, 'presence', { contact: '1004', online: true, basic: 'open' });
    applyEvent(s, 'presence', { contact: '1004', online: false, basic: 'closed' });
    applyEvent(s, 'missed-calls', { id: 'n1', calls: [
      { from: '1003', count: 2, first: '2024-05-01T10:00:00Z', last: '2024-05-01T10:05:00Z' },
      { from: '1002', count: 1, first: '2024-05-01T11:00:00Z', last: '2024-05-01T11:00:00Z' },
    ] });
    applyEvent(s, 'message', { id: '7', from: '1003', contentType: 'text/plain', bytes: 5, text: 'hello' });
    applyEvent(s, 'message', { id: '8', from: '1002', contentType: 'image/png', bytes: 900, file: 'dl/8-1002.png' });
    applyEvent(s, 'call-outgoing', { callId: 'c1', to: '1002' });
    applyEvent(s, 'call-ringing', { callId: 'c1', status: 180 });
    applyEvent(s, 'call-ringing', { callId: 'c1', status: 183 });
    assert.equal(s.call, 'calling 1002… (ringing)', 'a second 18x does not repeat "(ringing)"');
    applyEvent(s, 'call-answered', { callId: 'c1', peer: '1002', codec: 'PCMU', direction: 'sendrecv', remoteRtp: '127.0.0.1:4000' });
    applyEvent(s, 'dtmf', { callId: 'c1', digit: '4' });
    applyEvent(s, 'dtmf', { callId: 'c1', digit: '2' });

    const out = render(s);
    assert.ok(out.startsWith('\x1b[2J\x1b[H'), 'clears the terminal and goes home first');
    assert.deepEqual(plain(out).split('\n'), [
      'tvphone TV — 1001  ● online',
      '',
      'Contacts',
      '  ● 1002',
      '  ○ 1003',
      '  ○ 1004',
      '',
      'Missed calls',
      '  1003 ×2 (last 2024-05-01T10:05:00Z)',
      '  1002 ×1 (last 2024-05-01T11:00:00Z)',
      '',
      'Messages',
      '  1003: hello',
      '  1002: [picture] dl/8-1002.png',
      '',
      'Call',
      '  in call with 1002 (PCMU) — h to hang up',
      '',
      'DTMF received: 42',
      'keys: a answer · h hang up · o hold/resume · 0-9*# DTMF · q quit',
      '',
    ]);
    // online contacts are green, offline grey
    assert.match(out, /\x1b\[32m●\x1b\[0m 1002/);
    assert.match(out, /\x1b\[90m○\x1b\[0m 1004/);

    applyEvent(s, 'call-held', { callId: 'c1', held: true, by: 'local' });
    assert.match(plain(render(s)), /in call with 1002 \(PCMU\) — h to hang up \[on hold\]/);
    applyEvent(s, 'call-held', { callId: 'c1', held: false, by: 'local' });
    assert.equal(s.call, 'in call with 1002 (PCMU) — h to hang up', 'resume removes the hold mark');
  });

  it('renders the empty screen of a TV that is not registered yet', () => {
    assert.deepEqual(plain(render(initialScreen('1001', []))).split('\n'), [
      'tvphone TV — 1001  ○ offline', '', 'Contacts', '  (none)', '', 'Missed calls', '  (none)', '', 'Messages', '  (none)', '',
      'Call', '  (no call)', '', 'starting', 'keys: a answer · h hang up · o hold/resume · 0-9*# DTMF · q quit', '',
    ]);
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
