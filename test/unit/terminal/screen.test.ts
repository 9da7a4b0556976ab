import assert from 'node:assert/strict';
import { applyEvent, initialScreen, localTime, pressKey, render, splitKeys, spokenDuration, type ScreenState } from '../../../src/terminal/screen.ts';
import { pictureContentType } from '../../../src/terminal/agent/messager.ts';
import type { MediaStats } from '../../../src/media/rtp-session.ts';

/** The screen without its ANSI escapes (clear, home, colours). */
function plain(out: string): string {
  return out.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
}

/** epoch ms of today at hh:mm local time */
function today(hh: number, mm: number): number {
  const d = new Date();
  d.setHours(hh, mm, 0, 0);
  return d.getTime();
}

const RTCP: MediaStats = {
  durationMs: 1000, sent: { packets: 50, octets: 8000, dtmfPackets: 0 },
  received: { packets: 49, octets: 7840, lost: 1, jitterMs: 0.5, duplicates: 0, late: 0, concealed: 1, discarded: 0 }, remoteBye: true,
};

function press(s: ScreenState, chunk: string): ReturnType<typeof pressKey>[] {
  return splitKeys(chunk).map((k) => pressKey(s, k)).filter((a) => a !== null);
}

/** The screen's Call section (its keys line is not part of it). */
const callSection = (screen: string): string => plain(screen).split('\nCall\n')[1]?.split('\nkeys:')[0]?.split('\n\n')[0] ?? '';
const VIDEO_STATS = {
  sent: { frames: 10, keyframes: 1, packets: 20, octets: 9000 },
  received: { frames: 10, keyframes: 1, packets: 20, lost: 0, droppedFrames: 0, malformed: 0, discarded: 0 },
  plisSent: 0, plisReceived: 0, firsSent: 0, firsReceived: 0, keyframesOnRequest: 0, nacksSent: 0, nackedPackets: 0, recoveredPackets: 0, nacksReceived: 0, retransmittedPackets: 0,
};

describe('TV screen', () => {
  it('renders a typical screen in plain words and local time: contacts, merged missed calls, messages, a call in progress', () => {
    const now = today(12, 0);
    const s = initialScreen('1001', ['1002', '1003', '1004']);
    applyEvent(s, 'registered', { aor: 'sip:1001@tv.example', contact: 'sip:1001@127.0.0.1:1', transport: 'tcp', expires: 300 }, now);
    applyEvent(s, 'presence', { contact: '1002', online: true, basic: 'open' });
    applyEvent(s, 'presence', { contact: '1004', online: true, basic: 'open' });
    applyEvent(s, 'presence', { contact: '1004', online: false, basic: 'closed' });
    applyEvent(s, 'missed-calls', { id: 'n1', calls: [
      { from: '1003', count: 2, first: new Date(today(10, 0)).toISOString(), last: new Date(today(10, 5)).toISOString() },
      { from: '1002', count: 1, first: new Date(today(11, 0)).toISOString(), last: new Date(today(11, 0)).toISOString() },
    ] }, now);
    applyEvent(s, 'message', { id: '7', from: '1003', contentType: 'text/plain', bytes: 5, text: 'hello' }, today(11, 30));
    applyEvent(s, 'message', { id: '8', from: '1002', contentType: 'image/png', bytes: 900, file: 'dl/8-1002.png', date: new Date(today(11, 31)).toUTCString() }, now);
    applyEvent(s, 'call-outgoing', { callId: 'c1', to: '1002' }, now);
    applyEvent(s, 'call-ringing', { callId: 'c1', status: 180 }, now);
    applyEvent(s, 'call-ringing', { callId: 'c1', status: 183 }, now);
    assert.equal(s.call, 'calling 1002… (ringing)', 'a second 18x does not repeat "(ringing)"');
    applyEvent(s, 'call-answered', { callId: 'c1', peer: '1002', codec: 'PCMU', direction: 'sendrecv', remoteRtp: '127.0.0.1:4000' }, now);
    applyEvent(s, 'dtmf', { callId: 'c1', digit: '4' });
    applyEvent(s, 'dtmf', { callId: 'c1', digit: '2' });

    const out = render(s, now + 65_000);
    assert.ok(out.startsWith('\x1b[2J\x1b[H'), 'clears the terminal and goes home first');
    assert.deepEqual(plain(out).split('\n'), [
      'tvphone TV — 1001  ● online',
      '',
      'Contacts',
      '> ● 1002',
      '  ○ 1003',
      '  ○ 1004',
      '',
      'Missed calls',
      '  2 missed calls from 1003, last at 10:05',
      '  missed call from 1002 at 11:00',
      '',
      'Messages',
      '  11:30 1003: hello',
      '  11:31 1002: [picture] dl/8-1002.png',
      '',
      'Call',
      '  in call with 1002, 1 min 5 s',
      '',
      'keys pressed by the other side: 42',
      'keys: a answer · h hang up · o hold/resume · c camera · v video · 0-9*# tones · i details · q quit',
      '',
    ]);
    // online contacts are green, offline grey
    assert.match(out, /\x1b\[32m●\x1b\[0m 1002/);
    assert.match(out, /\x1b\[90m○\x1b\[0m 1004/);
    assert.doesNotMatch(plain(out), /PCMU|RTCP|pkts|jitter/, 'no protocol terms on the main screen');

    applyEvent(s, 'call-held', { callId: 'c1', held: true, by: 'local' });
    assert.match(plain(render(s, now + 3_000)), /in call with 1002, 3 s \[on hold\]/);
    applyEvent(s, 'call-held', { callId: 'c1', held: false, by: 'local' });
    assert.equal(s.call, 'in call with 1002', 'resume removes the hold mark');
    applyEvent(s, 'call-ended', { callId: 'c1', peer: '1002', reason: 'remote-hangup', durationMs: 192_000, rtcp: RTCP }, now);
    assert.match(plain(render(s, now)), /call with 1002 ended, 3 min 12 s/);
  });

  it('shows the video of a call in plain words under the call line; c turns the camera off/on only in a video call', () => {
    const s = initialScreen('1001', []);
    const now = today(20, 0);
    applyEvent(s, 'call-answered', { callId: 'c1', peer: '1002', codec: 'PCMU', direction: 'sendrecv', remoteRtp: '192.0.2.2:4000' }, now);
    assert.equal(pressKey(s, 'c'), null, 'an audio call has no camera to turn off');
    assert.doesNotMatch(callSection(render(s, now)), /video/);
    applyEvent(s, 'video-started', { callId: 'c1', codec: 'H264', payloadType: 96, profileLevelId: '42e01f', sending: true, receiving: true, remoteRtp: '192.0.2.2:4002', feedback: { nack: true, pli: true, fir: true } }, now);
    assert.match(plain(render(s, now)), /in call with 1002, 0 s\n  video both ways\n/);
    assert.doesNotMatch(plain(render(s, now)), /H264|RTP|NACK/, 'no protocol terms on the main screen');
    assert.deepEqual(pressKey(s, 'C'), { do: 'camera' });
    applyEvent(s, 'video-changed', { callId: 'c1', sending: false, receiving: true });
    assert.match(plain(render(s, now)), /video: you see them, your camera is off/);
    applyEvent(s, 'video-changed', { callId: 'c1', sending: true, receiving: false });
    assert.match(plain(render(s, now)), /video: they see you/);
    applyEvent(s, 'video-changed', { callId: 'c1', sending: false, receiving: false });
    assert.match(plain(render(s, now)), /video paused/);
    applyEvent(s, 'call-ended', { callId: 'c1', peer: '1002', reason: 'local-hangup', durationMs: 5000, rtcp: null }, now);
    assert.equal(s.video, null);
    assert.doesNotMatch(callSection(render(s, now)), /video/);
    assert.equal(pressKey(s, 'c'), null);
  });

  it('v adds or removes the video in a call (RFC 3264 §8.1, §8.2), not outside one; video-stopped leaves a voice call in words', () => {
    const s = initialScreen('1001', []);
    const now = today(20, 0);
    assert.equal(pressKey(s, 'v'), null, 'no call: nothing to add video to');
    applyEvent(s, 'call-answered', { callId: 'c1', peer: '1002', codec: 'PCMU', direction: 'sendrecv', remoteRtp: '192.0.2.2:4000' }, now);
    assert.deepEqual(pressKey(s, 'V'), { do: 'video' });
    applyEvent(s, 'video-started', { callId: 'c1', codec: 'VP8', payloadType: 97, sending: true, receiving: true, remoteRtp: '192.0.2.2:4002', feedback: { nack: true, pli: true, fir: true } }, now);
    assert.match(callSection(render(s, now)), /video both ways/);
    assert.deepEqual(pressKey(s, 'v'), { do: 'video' });
    applyEvent(s, 'video-stopped', { callId: 'c1', by: 'remote', video: VIDEO_STATS }, now);
    assert.equal(s.video, null);
    assert.doesNotMatch(callSection(render(s, now)), /video both ways/);
    assert.match(plain(render(s, now)), /the other side stopped the video: voice only/);
    assert.equal(pressKey(s, 'c'), null, 'no video: no camera to turn off');
    assert.match(callSection(render(s, now)), /in call with 1002/);
  });

  it('video-stats puts what is received on the video line in words: size, frame rate, packets lost', () => {
    const s = initialScreen('1001', []);
    const now = today(20, 0);
    applyEvent(s, 'call-answered', { callId: 'c1', peer: '1002', codec: 'PCMU', direction: 'sendrecv', remoteRtp: '192.0.2.2:4000' }, now);
    applyEvent(s, 'video-stats', { callId: 'c1', sending: true, receiving: true, width: 320, height: 240, fps: 15, sentFrames: 30, receivedFrames: 29, lost: 0, recovered: 0 }, now);
    assert.match(callSection(render(s, now)), /video both ways, 320x240 at 15 frames a second$/m);
    applyEvent(s, 'video-stats', { callId: 'c1', sending: true, receiving: true, width: 640, height: 360, fps: 12, sentFrames: 60, receivedFrames: 50, lost: 7, recovered: 5 }, now);
    assert.match(callSection(render(s, now)), /video both ways, 640x360 at 12 frames a second, 7 packets lost$/m);
    applyEvent(s, 'video-stats', { callId: 'c1', sending: true, receiving: false, fps: 0, sentFrames: 90, receivedFrames: 50, lost: 7, recovered: 5 }, now);
    assert.match(callSection(render(s, now)), /video: they see you, 7 packets lost$/m);
  });

  it('renders the empty screen of a TV that is not registered yet', () => {
    assert.deepEqual(plain(render(initialScreen('1001', []))).split('\n'), [
      'tvphone TV — 1001  ○ offline', '', 'Contacts', '  (none)', '', 'Missed calls', '  (none)', '', 'Messages', '  (none)', '',
      'Call', '  (no call)', '', 'starting', 'keys: ↑↓ choose · Enter call · m message · p play voice message · d dismiss missed · i details · q quit', '',
    ]);
  });

  it('lists voice messages (who, when, how long, ● until played) and asks the agent to play one on p, not during a call', () => {
    const s = initialScreen('1001', []);
    applyEvent(s, 'voice-message', { id: '7', from: '1002', file: '/d/voicemail-7-1002.wav', durationMs: 5200, date: new Date(today(9, 30)).toUTCString() });
    assert.match(plain(render(s)), /Voice messages\n  ● 09:30 1002, 5 s\n/);
    assert.equal(s.status, 'voice message from 1002 — press p to play it');
    assert.deepEqual(pressKey(s, 'p'), { do: 'play-voice-message' });
    applyEvent(s, 'voice-message-played', { id: '7', from: '1002', file: '/d/voicemail-7-1002.wav', durationMs: 5200 });
    assert.match(plain(render(s)), /Voice messages\n    09:30 1002, 5 s\n/);
    applyEvent(s, 'call-incoming', { callId: 'c', from: '1003' });
    assert.equal(pressKey(s, 'P'), null);
  });

  it('says why an outgoing call did not happen in plain words', () => {
    const ended = (reason: 'rejected' | 'no-answer' | 'busy' | 'cancelled', status?: number): string => {
      const s = initialScreen('1001', []);
      applyEvent(s, 'call-outgoing', { callId: 'c', to: '1002' });
      applyEvent(s, 'call-ended', { callId: 'c', peer: '1002', reason, ...(status !== undefined ? { status } : {}), durationMs: 0, rtcp: null });
      return s.status;
    };
    assert.equal(ended('no-answer'), '1002 is not answering');
    assert.equal(ended('rejected', 408), '1002 is not answering');
    assert.equal(ended('busy', 486), '1002 is busy');
    assert.equal(ended('rejected', 603), '1002 declined the call');
    assert.equal(ended('rejected', 404), 'there is no user 1002');
    assert.match(ended('rejected', 480), /^1002 is not available now/);
    assert.equal(ended('cancelled', 487), 'call to 1002 cancelled');
  });

  it('a caller who gives up (CANCEL before answer) is a missed call at once, merged with the earlier ones from the same person', () => {
    const s = initialScreen('1001', []);
    applyEvent(s, 'missed-calls', { id: 'n', calls: [{ from: '1002', count: 1, first: new Date(today(9, 0)).toISOString(), last: new Date(today(9, 0)).toISOString() }] });
    applyEvent(s, 'call-incoming', { callId: 'c', from: '1002' }, today(10, 5));
    applyEvent(s, 'call-ended', { callId: 'c', peer: '1002', reason: 'cancelled', status: 487, durationMs: 0, rtcp: null }, today(10, 5));
    assert.match(plain(render(s, today(10, 6))), /\n {2}2 missed calls from 1002, last at 10:05\n/);
    assert.equal(s.status, 'missed call from 1002 at 10:05');
  });

  it('a call missed while on is not counted twice when the server lists it in its next notice (after a reconnect)', () => {
    const s = initialScreen('1001', []);
    applyEvent(s, 'call-incoming', { callId: 'c', from: '1002' }, today(10, 4));
    applyEvent(s, 'call-ended', { callId: 'c', peer: '1002', reason: 'cancelled', status: 487, durationMs: 0, rtcp: null }, today(10, 5));
    assert.equal(s.status, 'missed call from 1002 at 10:04', 'the time it rang');
    applyEvent(s, 'missed-calls', { id: 'n', calls: [
      { from: '1002', count: 2, first: new Date(today(9, 0)).toISOString(), last: new Date(today(10, 4)).toISOString() },
      { from: '1003', count: 1, first: new Date(today(9, 30)).toISOString(), last: new Date(today(9, 30)).toISOString() },
    ] }, today(10, 6));
    const out = plain(render(s, today(10, 7)));
    assert.match(out, /\n {2}2 missed calls from 1002, last at 10:04\n {2}missed call from 1003 at 09:30\n/);
  });

  it('keys: arrows choose a contact, Enter calls it; letters work in upper case; a chunk of keys is several presses', () => {
    const s = initialScreen('1001', ['1002', '1003', '1004']);
    assert.deepEqual(press(s, '\x1b[B\x1b[B\x1b[A'), []);
    assert.equal(s.selected, 1);
    assert.match(plain(render(s)), /> ○ 1003/);
    assert.deepEqual(press(s, '\r'), [{ do: 'call', user: '1003' }]);
    assert.deepEqual(press(s, '\x1b[A\x1b[A'), [], 'the selection wraps around');
    assert.equal(s.selected, 2);
    applyEvent(s, 'call-incoming', { callId: 'c', from: '1002' });
    assert.deepEqual(press(s, 'A'), [{ do: 'answer' }], 'upper-case A answers');
    applyEvent(s, 'call-answered', { callId: 'c', peer: '1002', codec: 'PCMU', direction: 'sendrecv', remoteRtp: '127.0.0.1:4000' });
    assert.deepEqual(splitKeys('123#'), ['1', '2', '3', '#']);
    assert.deepEqual(press(s, '123#'), ['1', '2', '3', '#'].map((d) => ({ do: 'dtmf', digits: d })), 'DTMF typed fast is four digits');
    assert.deepEqual(press(s, '\r'), [], 'Enter does not dial during a call');
    assert.deepEqual(press(s, 'OH'), [{ do: 'hold' }, { do: 'hangup' }]);
    assert.deepEqual(press(s, 'Q'), [{ do: 'quit' }]);
  });

  it('keys: m opens a one-line input to the chosen contact, Enter sends it, Esc cancels', () => {
    const s = initialScreen('1001', ['1002']);
    assert.deepEqual(press(s, 'm'), []);
    assert.deepEqual(press(s, 'hi q\x7fthere'), [], 'in the input every key is text (q does not quit), Backspace deletes');
    assert.match(plain(render(s)), /message to 1002: hi there_/);
    assert.deepEqual(press(s, '\r'), [{ do: 'message', to: '1002', text: 'hi there' }]);
    assert.equal(s.input, null);
    press(s, 'Mabc\x1b');
    assert.equal(s.input, null, 'Esc closes the input, nothing sent');
    applyEvent(s, 'message-sent', { to: '1002', status: 202, reason: 'Accepted' });
    assert.match(s.status, /kept for 1002/);
  });

  it('keys: d dismisses the missed-call list; i toggles the details view with the RTCP figures', () => {
    const s = initialScreen('1001', []);
    applyEvent(s, 'missed-calls', { id: 'n', calls: [{ from: '1002', count: 3, first: 'x', last: new Date(today(10, 5)).toISOString() }] });
    press(s, 'D');
    assert.match(plain(render(s)), /Missed calls\n {2}\(none\)/);
    applyEvent(s, 'call-ended', { callId: 'c', peer: '1002', reason: 'local-hangup', durationMs: 1000, rtcp: RTCP });
    assert.doesNotMatch(plain(render(s)), /packets/);
    press(s, 'i');
    assert.match(plain(render(s)), /Call details\n {2}sent 50 packets \(8000 bytes\)\n {2}received 49 packets, lost 1, jitter 0\.5 ms/);
    press(s, 'I');
    assert.doesNotMatch(plain(render(s)), /Call details/);
  });

  it('shows times in local time, with the day when not today; durations in words', () => {
    const t = today(10, 5);
    assert.equal(localTime(t, t), '10:05');
    assert.match(localTime(t - 86_400_000 * 2, t), /^\d{1,2} [A-Z][a-z]{2} \d\d:\d\d$/);
    assert.equal(spokenDuration(192_000), '3 min 12 s');
    assert.equal(spokenDuration(45_400), '45 s');
  });

  it('bounds the message list', () => {
    const s = initialScreen('1001', []);
    for (let i = 0; i < 50; i++) applyEvent(s, 'message', { id: String(i), from: 'x', contentType: 'text/plain', bytes: 1, text: String(i) }, today(10, 5));
    assert.equal(s.messages.length, 10);
    assert.equal(s.messages[9], '10:05 x: 49');
  });

  it('picks the picture Content-Type from the file extension', () => {
    assert.equal(pictureContentType('a/b.JPG'), 'image/jpeg');
    assert.equal(pictureContentType('a.jpeg'), 'image/jpeg');
    assert.equal(pictureContentType('a.png'), 'image/png');
    assert.throws(() => pictureContentType('a.txt'), /Unsupported picture type/);
  });
});
