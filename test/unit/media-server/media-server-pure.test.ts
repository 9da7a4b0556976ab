// The media server's pure parts: the built-in greeting, the recording sink (maxSeconds, silence), content
// indirection (RFC 4483) both ways, and the fetch tokens.
import assert from 'node:assert/strict';
import { goertzelPower } from '../../../src/media/goertzel.ts';
import { generateTone } from '../../../src/media/tone.ts';
import { BEEP_HZ, BEEP_MS, builtInGreeting, GREETING_TONES_HZ } from '../../../src/media-server/greeting.ts';
import { Recording } from '../../../src/media-server/recording.ts';
import { FETCH_URL_LIFETIME_MS, fetchToken, indirect, verifyFetchToken, wavDurationMs } from '../../../src/media-server/content-indirection.ts';
import { parseExternalBody } from '../../../src/formats/external-body.ts';
import { SipRequest } from '../../../src/sip/message.ts';

const frame = (hz: number | null) => (hz === null ? new Int16Array(160) : generateTone({ frequency: hz, samples: 160 }));

describe('media-server: greeting', () => {
  it('plays the three greeting tones in turn, then the beep at its end', () => {
    const g = builtInGreeting();
    assert.equal(g.length, 1600 * 8);
    GREETING_TONES_HZ.forEach((hz, i) => {
      const part = g.subarray(i * 2400, i * 2400 + 2000);
      assert.ok(goertzelPower(part, hz, 8000) > 100 * goertzelPower(part, BEEP_HZ, 8000), `tone ${i + 1} is ${hz} Hz`);
    });
    const beep = g.subarray(g.length - (BEEP_MS * 8));
    assert.ok(goertzelPower(beep, BEEP_HZ, 8000) > 100 * goertzelPower(beep, GREETING_TONES_HZ[0], 8000));
  });
});

describe('media-server: recording', () => {
  it('keeps nothing before arm() (the greeting is playing), then what it is given', () => {
    const r = new Recording({ maxSeconds: 10, silenceSeconds: 0 });
    r.write(frame(440));
    assert.equal(r.length, 0);
    r.arm();
    for (let i = 0; i < 5; i++) r.write(frame(440));
    assert.equal(r.samples().length, 800);
  });

  it('stops at maxSeconds and says so once', () => {
    let full = 0;
    const r = new Recording({ maxSeconds: 1, silenceSeconds: 0, onFull: () => full++ });
    r.arm();
    for (let i = 0; i < 60; i++) r.write(frame(440));
    assert.equal(r.length, 8000);
    assert.equal(full, 1);
  });

  it('ends after silenceSeconds of silence in a row, and cuts the trailing silence from what it keeps', () => {
    let silent = 0;
    const r = new Recording({ maxSeconds: 60, silenceSeconds: 1, onSilence: () => silent++ });
    r.arm();
    for (let i = 0; i < 10; i++) r.write(frame(440));
    for (let i = 0; i < 30; i++) r.write(frame(null)); // a pause of 0.6 s: not yet
    assert.equal(silent, 0);
    for (let i = 0; i < 10; i++) r.write(frame(440));
    for (let i = 0; i < 50; i++) r.write(frame(null));
    assert.equal(silent, 1);
    assert.equal(r.samples().length, (10 + 30 + 10) * 160, 'the pause inside is kept, the silence at the end is not');
  });

  it('never ends by silence with silenceSeconds 0', () => {
    let silent = 0;
    const r = new Recording({ maxSeconds: 60, silenceSeconds: 0, onSilence: () => silent++ });
    r.arm();
    for (let i = 0; i < 500; i++) r.write(frame(null));
    assert.equal(silent, 0);
    assert.equal(r.samples().length, 0);
  });
});

describe('media-server: content indirection (RFC 4483)', () => {
  const secret = new Uint8Array(32).fill(1);

  it('replaces the delivery body by a message/external-body part naming the URL with its token, which the TV reads back', () => {
    const req = new SipRequest('MESSAGE', 'sip:1002@127.0.0.1:5070');
    req.addHeader('Content-Type', 'audio/wav');
    req.body = new Uint8Array(80_044);
    indirect(req, { id: 12, bytes: 80_044, contentType: 'audio/wav', baseUrl: 'http://127.0.0.1:8088', secret, now: 1_000, host: 'tv.example' });
    const ct = req.header('content-type')!;
    assert.match(ct, /^message\/external-body; access-type="URL"; expiration="[^"]+ GMT"; size=80044; URL="http:\/\/127\.0\.0\.1:8088\/voicemail\/12\.wav\?e=\d+&t=[\w-]+"$/);
    const text = new TextDecoder().decode(req.body);
    assert.equal(text, 'Content-Type: audio/wav\r\nContent-ID: <voicemail-12@tv.example>\r\nContent-Disposition: render\r\nContent-Description: voice message, 5.0 s\r\n\r\n');
    const ext = parseExternalBody(ct, req.body);
    assert.ok(ext !== null);
    assert.equal(ext.contentType, 'audio/wav');
    assert.equal(ext.size, 80_044);
    const url = new URL(ext.url);
    const e = Number(url.searchParams.get('e'));
    assert.equal(e, 1_000 + FETCH_URL_LIFETIME_MS);
    assert.ok(verifyFetchToken(secret, 12, e, url.searchParams.get('t')!, 1_000));
  });

  it('reads no external body from another type, another access type, or one without URL', () => {
    assert.equal(parseExternalBody('text/plain', new Uint8Array()), null);
    assert.equal(parseExternalBody('message/external-body; access-type="anon-ftp"; URL="x"', new Uint8Array()), null);
    assert.equal(parseExternalBody('message/external-body; access-type=URL', new Uint8Array()), null);
    assert.equal(parseExternalBody('Message/External-Body; Access-Type=url; url="http://h/a;b"', new Uint8Array())?.url, 'http://h/a;b');
  });

  it('accepts a token only for its id and expiry, before the expiry, and never one of another length', () => {
    const t = fetchToken(secret, 3, 5000);
    assert.ok(verifyFetchToken(secret, 3, 5000, t, 4999));
    assert.ok(!verifyFetchToken(secret, 3, 5000, t, 5000), 'expired');
    assert.ok(!verifyFetchToken(secret, 4, 5000, t, 0), 'another id');
    assert.ok(!verifyFetchToken(secret, 3, 5001, t, 0), 'another expiry');
    assert.ok(!verifyFetchToken(new Uint8Array(32), 3, 5000, t, 0), 'another key (another process)');
    assert.ok(!verifyFetchToken(secret, 3, 5000, t.slice(1), 0));
    assert.ok(!verifyFetchToken(secret, 3, Number.NaN, t, 0));
  });

  it('tells the length of a 8 kHz 16-bit WAV from its size', () => {
    assert.equal(wavDurationMs(44 + 16000 * 3), 3000);
    assert.equal(wavDurationMs(10), 0);
  });
});
