import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decodeG711, encodeG711, codecOfPayloadType, silenceByte } from '../../../src/media/g711.ts';
import { generateTone, ToneGenerator } from '../../../src/media/tone.ts';
import { dominantFrequency, rms } from '../../../src/media/goertzel.ts';
import { readWav, writeWav } from '../../../src/media/wav.ts';
import { downmixToMono, resample, toTelephonyPcm } from '../../../src/media/resample.ts';
import { TvphoneError } from '../../../src/errors.ts';

const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`../../fixtures/media/${name}`, import.meta.url)));

describe('media: G.711', () => {
  it('maps RFC 3551 static payload types 0 → PCMU and 8 → PCMA', () => {
    assert.equal(codecOfPayloadType(0), 'PCMU');
    assert.equal(codecOfPayloadType(8), 'PCMA');
    assert.equal(codecOfPayloadType(18), undefined);
  });

  it('encodes linear 0 to the G.711 silence bytes 0xFF (µ-law) and 0xD5 (A-law)', () => {
    assert.deepEqual([...encodeG711('PCMU', new Int16Array([0, 0]))], [0xff, 0xff]);
    assert.deepEqual([...encodeG711('PCMA', new Int16Array([0]))], [0xd5]);
    assert.equal(silenceByte('PCMU'), 0xff);
    assert.equal(silenceByte('PCMA'), 0xd5);
  });

  for (const codec of ['PCMU', 'PCMA'] as const) {
    it(`${codec} round-trips a tone within the companding error (≤ 1/32 of full scale) and keeps its frequency`, () => {
      const pcm = generateTone({ frequency: 1000, amplitude: 0.5, samples: 8000 });
      const bytes = encodeG711(codec, pcm);
      assert.equal(bytes.length, pcm.length);
      const back = decodeG711(codec, bytes);
      let maxErr = 0;
      for (let i = 0; i < pcm.length; i++) maxErr = Math.max(maxErr, Math.abs(pcm[i] - back[i]));
      assert.ok(maxErr <= 1024, `max error ${maxErr}`);
      assert.ok(Math.abs(dominantFrequency(back) - 1000) < 0.5);
    });
  }
});

describe('media: tone and frequency measurement', () => {
  it('generates a tone of the requested amplitude (RMS = A/√2)', () => {
    const t = generateTone({ frequency: 440, amplitude: 0.25, samples: 8000 });
    assert.ok(Math.abs(rms(t) - (0.25 * 32767) / Math.SQRT2) < 20);
  });

  it('continues the phase across fill() calls (frames join without a click)', () => {
    const g = new ToneGenerator({ frequency: 1000, amplitude: 0.5 });
    const a = new Int16Array(160), b = new Int16Array(160);
    g.fill(a); g.fill(b);
    const whole = generateTone({ frequency: 1000, amplitude: 0.5, samples: 320 });
    for (let i = 0; i < 160; i++) { assert.ok(Math.abs(whole[i] - a[i]) <= 1); assert.ok(Math.abs(whole[160 + i] - b[i]) <= 1); }
  });

  it('refuses a tone at or above Nyquist', () => {
    assert.throws(() => new ToneGenerator({ frequency: 4000 }), RangeError);
  });

  for (const f of [300, 440, 1000, 1234.5, 3400]) {
    it(`measures a ${f} Hz tone within 0.1 Hz`, () => {
      const t = generateTone({ frequency: f, amplitude: 0.3, samples: 4000 });
      assert.ok(Math.abs(dominantFrequency(t) - f) < 0.1, `${dominantFrequency(t)}`);
    });
  }

  it('finds the stronger of two tones', () => {
    const a = generateTone({ frequency: 440, amplitude: 0.2, samples: 8000 });
    const b = generateTone({ frequency: 1000, amplitude: 0.5, samples: 8000 });
    const mix = a.map((v, i) => v + b[i]);
    assert.ok(Math.abs(dominantFrequency(mix) - 1000) < 0.5);
  });
});

describe('media: WAV', () => {
  it('reads a 16-bit mono 8 kHz file written by another tool (Python wave)', () => {
    const w = readWav(fixture('tone-1000hz-8000-mono-16bit.wav'));
    assert.deepEqual([w.sampleRate, w.channels, w.bitsPerSample, w.samples.length], [8000, 1, 16, 2000]);
    assert.equal(w.samples[0], 0);
    assert.equal(w.samples[1], 0x2d41); // round(0.5 × 32767 × sin(2π·1000/8000)) = 11585
    assert.ok(Math.abs(dominantFrequency(w.samples) - 1000) < 0.5);
  });

  it('reads 8-bit unsigned mono at 11025 Hz, scaling to 16-bit', () => {
    const w = readWav(fixture('tone-440hz-11025-mono-8bit.wav'));
    assert.deepEqual([w.sampleRate, w.channels, w.bitsPerSample], [11025, 1, 8]);
    assert.equal(w.samples.length, 5512);
    assert.ok(Math.abs(rms(w.samples) - (0.5 * 32767) / Math.SQRT2) < 400);
  });

  it('reads 16-bit stereo at 44100 Hz as interleaved samples', () => {
    const w = readWav(fixture('tone-1000hz-44100-stereo-16bit.wav'));
    assert.deepEqual([w.sampleRate, w.channels, w.samples.length], [44100, 2, 44100]);
  });

  it('refuses 24-bit PCM with ERR_WAV_FORMAT naming the sample size', () => {
    assert.throws(() => readWav(fixture('tone-1000hz-48000-mono-24bit.wav')),
      (e: unknown) => e instanceof TvphoneError && e.code === 'ERR_WAV_FORMAT' && /24 bits/.test(e.message));
  });

  it('refuses an unusual sample rate and a non-WAV file with a clear message', () => {
    const w = writeWav(new Int16Array(10), 7000);
    assert.throws(() => readWav(w), /unsupported WAV sample rate 7000 Hz/);
    assert.throws(() => readWav(new TextEncoder().encode('hello, this is not audio')), /not a WAV file/);
    assert.throws(() => readWav(new Uint8Array(0)), /not a WAV file/);
  });

  it('refuses a non-PCM encoding (format 3, float)', () => {
    const w = writeWav(new Int16Array(4));
    new DataView(w.buffer).setUint16(20, 3, true);
    assert.throws(() => readWav(w), /unsupported WAV encoding 3/);
  });

  it('round-trips 16-bit mono 8 kHz through writeWav/readWav exactly', () => {
    const pcm = generateTone({ frequency: 697, amplitude: 0.9, samples: 1601 });
    const bytes = writeWav(pcm);
    assert.equal(bytes.length, 44 + 1601 * 2);
    const back = readWav(bytes);
    assert.deepEqual([back.sampleRate, back.channels, back.bitsPerSample], [8000, 1, 16]);
    assert.deepEqual(back.samples, pcm);
  });

  it('skips unknown chunks (LIST) before data', () => {
    const base = writeWav(new Int16Array([1, -2, 3]));
    const list = new Uint8Array([...new TextEncoder().encode('LIST'), 5, 0, 0, 0, 1, 2, 3, 4, 5, 0]); // odd size → pad byte
    const file = new Uint8Array([...base.subarray(0, 36), ...list, ...base.subarray(36)]);
    new DataView(file.buffer).setUint32(4, file.length - 8, true);
    assert.deepEqual([...readWav(file).samples], [1, -2, 3]);
  });
});

describe('media: resampling to 8 kHz', () => {
  it('downmixes stereo by averaging channels', () => {
    assert.deepEqual([...downmixToMono(new Int16Array([100, 300, -10, 10]), 2)], [200, 0]);
  });

  const cases: Array<[string, number, number]> = [
    ['tone-1000hz-44100-stereo-16bit.wav', 44100, 1000],
    ['tone-440hz-11025-mono-8bit.wav', 11025, 440],
    ['tone-700hz-16000-mono-16bit.wav', 16000, 700],
  ];
  for (const [file, rate, f] of cases) {
    it(`keeps the frequency of a ${f} Hz tone from ${rate} Hz (${file})`, () => {
      const pcm = toTelephonyPcm(readWav(fixture(file)));
      assert.equal(pcm.length, Math.floor((readWav(fixture(file)).samples.length / readWav(fixture(file)).channels) * 8000 / rate));
      assert.ok(Math.abs(dominantFrequency(pcm) - f) < 1, `${dominantFrequency(pcm)}`);
      // amplitude preserved (passband gain ≈ 1): 0.5 full scale → RMS ≈ 11585
      const mid = pcm.subarray(200, pcm.length - 200);
      assert.ok(Math.abs(rms(mid) - 11585) < 11585 * 0.05, `rms ${rms(mid)}`);
    });
  }

  for (const rate of [22050, 32000, 48000]) {
    it(`keeps the frequency of a 1000 Hz tone from ${rate} Hz`, () => {
      const pcm = resample(generateTone({ frequency: 1000, sampleRate: rate, samples: rate / 2 }), rate, 8000);
      assert.ok(Math.abs(dominantFrequency(pcm) - 1000) < 1);
    });
  }

  it('low-pass filters: a 6000 Hz tone at 44100 Hz does not alias into the 8 kHz output (< −40 dB)', () => {
    const pcm = toTelephonyPcm(readWav(fixture('tone-6000hz-44100-mono-16bit.wav')));
    const mid = pcm.subarray(200, pcm.length - 200);
    assert.ok(rms(mid) < 11585 * 0.01, `aliased rms ${rms(mid)}`);
  });

  it('returns a copy when the rate already is 8 kHz', () => {
    const a = new Int16Array([1, 2, 3]);
    const b = resample(a, 8000, 8000);
    assert.deepEqual(b, a);
    assert.notEqual(b, a);
  });
});
