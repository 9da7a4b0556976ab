// `tvphone users greeting USER FILE.wav | --remove` against a SQLite store, through bin/tvphone: a G.711 or PCM WAV is
// kept as 8 kHz mono 16-bit (what the media server plays); a file that will not do is one line on stderr and exit 1.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeG711 } from '../../../src/media/g711.ts';
import { dominantFrequency } from '../../../src/media/goertzel.ts';
import { generateTone } from '../../../src/media/tone.ts';
import { readWav, writeWav } from '../../../src/media/wav.ts';
import { openStore } from '../../../src/store/open.ts';
import { credentialsFor } from '../../../src/cli/admin.ts';
import { tvphoneBin } from '../../helpers/built-package.ts';

/** the built package's tvphone (test/helpers/built-package.ts), set before the tests */
let BIN = '';

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 30000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** A WAV of G.711 (format 7 µ-law, 6 A-law) samples, mono 8 kHz, with its fact chunk. */
function g711Wav(format: 6 | 7, pcm: Int16Array): Uint8Array {
  const data = encodeG711(format === 7 ? 'PCMU' : 'PCMA', pcm);
  const out = new Uint8Array(58 + data.length);
  const v = new DataView(out.buffer);
  const ascii = (at: number, s: string) => { for (let i = 0; i < 4; i++) out[at + i] = s.charCodeAt(i); };
  ascii(0, 'RIFF'); v.setUint32(4, 50 + data.length, true); ascii(8, 'WAVE');
  ascii(12, 'fmt '); v.setUint32(16, 18, true); v.setUint16(20, format, true); v.setUint16(22, 1, true);
  v.setUint32(24, 8000, true); v.setUint32(28, 8000, true); v.setUint16(32, 1, true); v.setUint16(34, 8, true); v.setUint16(36, 0, true);
  ascii(38, 'fact'); v.setUint32(42, 4, true); v.setUint32(46, data.length, true);
  ascii(50, 'data'); v.setUint32(54, data.length, true);
  out.set(data, 58);
  return out;
}

describe('tvphone users greeting (CLI)', function () {
  before(function () {
    this.timeout(180_000); // the first suite to ask builds the package
    BIN = tvphoneBin();
  });
  this.timeout(60_000);
  let dir: string;
  let db: string;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tvphone-greetcli-'));
    db = `sqlite:${join(dir, 'tv.db')}`;
    const s = await openStore(db, { create: true });
    try {
      await s.addUser(credentialsFor('1002', 'tvphone', 'pw-2-secret'), Date.now());
    } finally {
      await s.close();
    }
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function stored(): Promise<Uint8Array | null> {
    const s = await openStore(db);
    try {
      return await s.greeting('1002');
    } finally {
      await s.close();
    }
  }

  function file(name: string, bytes: Uint8Array | string): string {
    const f = join(dir, name);
    writeFileSync(f, bytes);
    return f;
  }

  it('keeps a µ-law, an A-law and a 44.1 kHz stereo PCM greeting as 8 kHz mono 16-bit with its tone; --remove removes it', async () => {
    const tone = generateTone({ frequency: 440, amplitude: 0.5, samples: 8000 * 2 });
    const stereo = new Int16Array(44100 * 2 * 2);
    const t44 = generateTone({ frequency: 440, amplitude: 0.5, samples: 44100 * 2, sampleRate: 44100 });
    for (let i = 0; i < t44.length; i++) stereo[2 * i] = stereo[2 * i + 1] = t44[i];
    const stereoWav = writeWav(stereo, 44100);
    // writeWav writes mono: make its header say 2 channels at 44.1 kHz
    new DataView(stereoWav.buffer).setUint16(22, 2, true);
    new DataView(stereoWav.buffer).setUint32(28, 44100 * 4, true);
    new DataView(stereoWav.buffer).setUint16(32, 4, true);
    for (const [name, bytes] of [['mulaw.wav', g711Wav(7, tone)], ['alaw.wav', g711Wav(6, tone)], ['stereo.wav', stereoWav]] as const) {
      const r = await run(['users', 'greeting', '1002', file(name, bytes), '--db', db]);
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
      assert.match(r.stdout, /^greeting of 1002 set: 2\.0 s\n$/);
      const wav = readWav((await stored())!);
      assert.deepEqual([wav.sampleRate, wav.channels, wav.bitsPerSample, wav.encoding], [8000, 1, 16, 'pcm'], name);
      assert.ok(Math.abs(dominantFrequency(wav.samples) - 440) < 5, `${name}: ${dominantFrequency(wav.samples)} Hz kept`);
    }
    const r = await run(['users', 'greeting', '1002', '--remove', '--db', db]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /greeting of 1002 removed/);
    assert.equal(await stored(), null);
    const again = await run(['users', 'greeting', '1002', '--remove', '--db', db]);
    assert.match(again.stdout, /1002 had no greeting of its own/);
  });

  it('refuses what will not do in one line and exit 1, keeping the greeting it had', async () => {
    const good = writeWav(generateTone({ frequency: 440, amplitude: 0.5, samples: 8000 }), 8000);
    assert.equal((await run(['users', 'greeting', '1002', file('good.wav', good), '--db', db])).code, 0);
    const float = writeWav(generateTone({ frequency: 440, samples: 8000 }), 8000);
    new DataView(float.buffer).setUint16(20, 3, true); // IEEE float
    const cases: Array<[string[], RegExp]> = [
      [[file('notes.wav', 'not audio at all')], /notes\.wav: not a WAV file/],
      [[file('float.wav', float)], /float\.wav: unsupported WAV encoding 3/],
      [[file('silent.wav', writeWav(new Int16Array(8000), 8000))], /silent\.wav: greeting is silence/],
      [[file('long.wav', writeWav(generateTone({ frequency: 440, samples: 8000 * 61 }), 8000))], /long\.wav: greeting too long \(61\.0 s/],
      [[file('short.wav', writeWav(generateTone({ frequency: 440, samples: 400 }), 8000))], /short\.wav: greeting too short/],
      [[join(dir, 'missing.wav')], /cannot read .*missing\.wav: ENOENT/],
      [[file('both.wav', good), '--remove'], /either a WAV file or --remove/],
      [[], /give a WAV file, or --remove/],
    ];
    for (const [args, message] of cases) {
      const r = await run(['users', 'greeting', '1002', ...args, '--db', db]);
      assert.equal(r.code, 1, `${args.join(' ')}: exit ${r.code}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
    const nobody = await run(['users', 'greeting', '9999', file('good2.wav', good), '--db', db]);
    assert.equal(nobody.code, 1);
    assert.match(nobody.stderr, /^tvphone: no user 9999\n$/);
    assert.ok(Math.abs(dominantFrequency(readWav((await stored())!).samples) - 440) < 5, 'the greeting it had is kept');
  });
});
