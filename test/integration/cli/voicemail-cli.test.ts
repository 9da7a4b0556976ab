// `tvphone voicemail list | export | delete` against a SQLite store, through bin/tvphone.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeWav } from '../../../src/media/wav.ts';
import { generateTone } from '../../../src/media/tone.ts';
import { openStore } from '../../../src/store/open.ts';
import { tvphoneBin } from '../../helpers/built-package.ts';

/** the built package's tvphone (test/helpers/built-package.ts), set before the tests */
let BIN = '';
const T0 = Date.parse('2026-03-01T10:00:00Z');

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 30000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('tvphone voicemail (CLI)', function () {
  before(function () {
    this.timeout(180_000); // the first suite to ask builds the package
    BIN = tvphoneBin();
  });
  this.timeout(30_000);
  let dir: string;
  let db: string;
  const wav = writeWav(generateTone({ frequency: 440, samples: 8000 }), 8000);

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tvphone-vmcli-'));
    db = `sqlite:${join(dir, 'tv.db')}`;
    const s = await openStore(db, { create: true });
    try {
      for (const [to, caller, at] of [['1002', '1001', T0], ['1003', '1001', T0 + 1000]] as const) {
        await s.storeVoicemail({
          message: { toUser: to, fromUri: `sip:${caller}@tv.example`, fromHeader: `<sip:${caller}@tv.example>;tag=x`, toUri: `sip:${to}@tv.example`, contentType: 'audio/wav', body: wav, receivedAt: at, expiresAt: at + 86_400_000 },
          caller, callId: `c-${to}`, callRecordId: null, durationMs: 1000, codec: 'PCMU',
        });
      }
    } finally {
      await s.close();
    }
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('lists voice messages as a table and as JSON, for one user with --user', async () => {
    const t = await run(['voicemail', 'list', '--db', db]);
    assert.equal(t.code, 0, t.stderr);
    const lines = t.stdout.trim().split('\n');
    assert.match(lines[0], /^ID\s+TO\s+CALLER\s+RECORDED\s+DURATION\s+CODEC\s+BYTES\s+STATE\s+DELIVERED$/);
    assert.match(lines[1], /^1\s+1002\s+1001\s+2026-03-01T10:00:00.000Z\s+1.0s\s+PCMU\s+16044\s+pending$/);
    const j = await run(['voicemail', 'list', '--user', '1003', '--json', '--db', db]);
    assert.deepEqual(JSON.parse(j.stdout), [{
      id: 2, to: '1003', caller: '1001', from: 'sip:1001@tv.example', recorded: '2026-03-01T10:00:01.000Z', durationMs: 1000, codec: 'PCMU',
      type: 'audio/wav', bytes: 16044, state: 'pending', delivered: null, callId: 'c-1003', callRecord: null,
    }]);
  });

  it('exports a voice message byte for byte, and refuses to overwrite a file', async () => {
    const file = join(dir, 'out.wav');
    const r = await run(['voicemail', 'export', '1', file, '--db', db]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `voice message 1: 16044 bytes written to ${file}\n`);
    assert.deepEqual(readFileSync(file), Buffer.from(wav));
    writeFileSync(join(dir, 'taken.wav'), 'x');
    const again = await run(['voicemail', 'export', '1', join(dir, 'taken.wav'), '--db', db]);
    assert.deepEqual([again.code, again.stderr], [1, `tvphone: ${join(dir, 'taken.wav')} exists: not overwritten\n`]);
  });

  it('deletes a voice message, which then is neither listed nor delivered', async () => {
    assert.equal((await run(['voicemail', 'delete', '1', '--db', db])).stdout, 'voice message 1 deleted\n');
    const list = JSON.parse((await run(['voicemail', 'list', '--json', '--db', db])).stdout) as Array<{ id: number }>;
    assert.deepEqual(list.map((v) => v.id), [2]);
    const s = await openStore(db);
    try {
      assert.deepEqual(await s.pendingMessages('1002', 10), []);
    } finally {
      await s.close();
    }
  });

  it('errors: one line, exit 1 (no such id, a bad id, a missing database)', async () => {
    const cases: Array<[string[], string]> = [
      [['voicemail', 'export', '9', join(dir, 'x.wav'), '--db', db], 'tvphone: no voice message 9\n'],
      [['voicemail', 'delete', '9', '--db', db], 'tvphone: no voice message 9\n'],
      [['voicemail', 'delete', 'abc', '--db', db], 'tvphone: a voice message id is a positive whole number, not "abc"\n'],
    ];
    for (const [args, err] of cases) {
      const r = await run(args);
      assert.deepEqual([r.code, r.stderr], [1, err], args.join(' '));
    }
    assert.equal(existsSync(join(dir, 'x.wav')), false);
    const missing = await run(['voicemail', 'list', '--db', `sqlite:${join(dir, 'none.db')}`]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.split('\n').length, 2);
  });
});
