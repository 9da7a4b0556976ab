// The CLI contract operators script against: commands, exit codes and --json shapes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../bin/tvphone', import.meta.url));

function run(args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...opts.env }, timeout: 30000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
    child.stdin?.end(opts.input ?? '');
  });
}

describe('tvphone CLI', function () {
  this.timeout(60000);
  let dir: string;
  let db: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tvphone-cli-'));
    db = `sqlite:${join(dir, 't.db')}`;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('prints its version and help', async () => {
    const v = await run(['--version']);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
    const h = await run(['--help']);
    for (const cmd of ['serve', 'users', 'presence', 'calls', 'messages', 'db']) assert.match(h.stdout, new RegExp(`\\b${cmd}\\b`));
  });

  it('adds users (password flag and stdin), refuses a duplicate, lists them as JSON, removes one', async () => {
    assert.equal((await run(['users', 'add', '1001', '--password', 'pw', '--db', db])).code, 0);
    assert.equal((await run(['users', 'add', '1002', '--password-stdin', '--db', db], { input: 'secret\n' })).code, 0);
    const dup = await run(['users', 'add', '1001', '--password', 'x', '--db', db]);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /exists already/);
    const list = JSON.parse((await run(['users', 'list', '--json', '--db', db])).stdout) as Array<{ user: string }>;
    assert.deepEqual(list.map((u) => u.user), ['1001', '1002']);
    assert.equal((await run(['users', 'remove', '1002', '--db', db])).code, 0);
    assert.equal((await run(['users', 'remove', '1002', '--db', db])).code, 1);
  });

  it('imports users from CSV, naming the line of a bad row', async () => {
    const csv = join(dir, 'u.csv');
    writeFileSync(csv, 'user,password\n' + Array.from({ length: 2500 }, (_, i) => `u${i},pw${i}`).join('\n') + '\n');
    const r = await run(['users', 'import', csv, '--db', db]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /imported 2500 users/);
    writeFileSync(csv, 'a,1\nno comma here\n');
    const bad = await run(['users', 'import', csv, '--db', db]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /u\.csv:2: expected user,password/);
  });

  it('reads TVPHONE_DB when --db is absent, and shows presence and calls as JSON', async () => {
    assert.equal((await run(['users', 'add', '7', '--password', 'pw'], { env: { TVPHONE_DB: db } })).code, 0);
    const p = JSON.parse((await run(['presence', '--json', '--db', db])).stdout) as Array<{ user: string; state: string }>;
    assert.deepEqual(p.map((x) => [x.user, x.state]), [['7', 'offline']]);
    assert.deepEqual(JSON.parse((await run(['calls', '--json', '--db', db])).stdout), []);
    assert.equal((await run(['calls', '--missed', '--db', db])).code, 1);
  });

  it('refuses a bad profile at start with the file, the field and the reason', async () => {
    const f = join(dir, 'bad.json');
    writeFileSync(f, JSON.stringify({ listeners: [{ transport: 'sctp', host: '127.0.0.1', port: 5060 }] }));
    const r = await run(['serve', '--profile', f, '--db', db]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad\.json: listeners\[0\]\.transport: must be one of udp, tcp, tls/);
  });

  it('fails at start on an unreachable database URL without printing the password', async () => {
    const r = await run(['users', 'list', '--db', 'postgres://admin:hunter2@127.0.0.1:1/x']);
    assert.equal(r.code, 1);
    assert.doesNotMatch(r.stderr + r.stdout, /hunter2/);
    assert.match(r.stderr, /127\.0\.0\.1:1/);
  });

  it('applies migrations with db migrate', async () => {
    const r = await run(['db', 'migrate', '--db', db]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /schema version \d+/);
  });
});
