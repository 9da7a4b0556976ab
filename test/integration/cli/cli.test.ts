// The CLI contract operators script against: commands, exit codes and --json shapes.
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ha1 } from '../../../src/sip/digest.ts';
import { openStore } from '../../../src/store/open.ts';
import type { Binding, Store } from '../../../src/store/store.ts';
import { startChildServer } from '../../helpers/child-server.ts';
import { tvphoneBin } from '../../helpers/built-package.ts';

/** the built package's tvphone (test/helpers/built-package.ts), set before the tests */
let BIN = '';

function run(args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...opts.env }, timeout: 30000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
    child.stdin?.end(opts.input ?? '');
  });
}

/** util-linux script(1) runs a command on a pseudo-terminal: stdin, stdout and stderr are then a TTY. */
const HAVE_SCRIPT = spawnSync('script', ['--version']).status === 0;

/**
 * Runs tvphone on a pseudo-terminal; each time the output so far ends with the next prompt of `answers`, its text
 * is typed (only then: typed earlier, the terminal would echo it before tvphone turns echo off).
 */
function runOnTerminal(args: string[], answers: Array<[RegExp, string]> = []): Promise<{ code: number; out: string }> {
  const quote = (a: string) => `'${a.replace(/'/g, "'\\''")}'`;
  const cmd = [process.execPath, BIN, ...args].map(quote).join(' ');
  return new Promise((resolve) => {
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const left = [...answers];
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (left.length && left[0][0].test(out)) child.stdin.write(left.shift()![1]);
    });
    const timer = setTimeout(() => child.kill(), 20000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      child.stdin.end();
      resolve({ code: code ?? 1, out });
    });
  });
}

async function withDb<T>(url: string, fn: (s: Store) => Promise<T>): Promise<T> {
  const s = await openStore(url);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

describe('tvphone CLI', function () {
  before(function () {
    this.timeout(180_000); // the first suite to ask builds the package
    BIN = tvphoneBin();
  });
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
    assert.equal((await run(['users', 'add', '1001', '--weak-ok', '--password', 'pw', '--db', db])).code, 0);
    assert.equal((await run(['users', 'add', '1002', '--weak-ok', '--password-stdin', '--db', db], { input: 'secret\n' })).code, 0);
    const dup = await run(['users', 'add', '1001', '--weak-ok', '--password', 'x', '--db', db]);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /exists already/);
    const list = JSON.parse((await run(['users', 'list', '--json', '--db', db])).stdout) as Array<{ user: string }>;
    assert.deepEqual(list.map((u) => u.user), ['1001', '1002']);
    assert.equal((await run(['users', 'remove', '1002', '--db', db])).code, 0);
    assert.equal((await run(['users', 'remove', '1002', '--db', db])).code, 1);
  });

  it('refuses a weak password in users add, passwd and import (shorter than 8, or only digits) in one line, exit 1, unless --weak-ok', async () => {
    for (const pw of ['1234', '12345678901', 'short']) {
      const r = await run(['users', 'add', '1001', '--password', pw, '--db', db]);
      assert.equal(r.code, 1, pw);
      assert.match(r.stderr, /^tvphone: user 1001: password too weak \((shorter than 8 characters|only digits)\): use at least 8 characters, not only digits \(or --weak-ok\)\n$/, r.stderr);
    }
    assert.equal((await run(['users', 'add', '1001', '--password-stdin', '--db', db], { input: 'long enough 1\n' })).code, 0);
    const passwd = await run(['users', 'passwd', '1001', '--password', '0000', '--db', db]);
    assert.deepEqual([passwd.code, /password too weak \(shorter than 8 characters\)/.test(passwd.stderr)], [1, true]);
    assert.equal((await run(['users', 'passwd', '1001', '--password', '0000', '--weak-ok', '--db', db])).code, 0);
    const csv = join(dir, 'w.csv');
    writeFileSync(csv, 'user,password\n2001,Good-pass-1\n2002,20022002\n');
    const imp = await run(['users', 'import', csv, '--db', db]);
    assert.equal(imp.code, 1);
    assert.match(imp.stderr, /^tvphone: .*w\.csv:3: user 2002: password too weak \(only digits\)/);
    const users = JSON.parse((await run(['users', 'list', '--json', '--db', db])).stdout) as Array<{ user: string }>;
    assert.deepEqual(users.map((u) => u.user), ['1001'], 'a refused file imports nothing');
    assert.equal((await run(['users', 'import', csv, '--weak-ok', '--db', db])).code, 0);
  });

  it('imports users from CSV, naming the line of a bad row', async () => {
    const csv = join(dir, 'u.csv');
    writeFileSync(csv, 'user,password\n' + Array.from({ length: 2500 }, (_, i) => `u${i},pw${i}`).join('\n') + '\n');
    const r = await run(['users', 'import', csv, '--weak-ok', '--db', db]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /imported 2500 users/);
    writeFileSync(csv, 'a,1\nno comma here\n');
    const bad = await run(['users', 'import', csv, '--weak-ok', '--db', db]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /u\.csv:2: expected user,password/);
  });

  it('reads TVPHONE_DB when --db is absent, and shows presence and calls as JSON', async () => {
    assert.equal((await run(['users', 'add', '7', '--weak-ok', '--password', 'pw'], { env: { TVPHONE_DB: db } })).code, 0);
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

  it('read commands refuse a missing SQLite database in one line and create nothing; users add, users import and db migrate create it', async () => {
    const missing = join(dir, 'sub', 'missing.db');
    for (const args of [['users', 'list'], ['presence'], ['calls'], ['messages'], ['registrations'], ['users', 'remove', 'x'],
      ['users', 'passwd', 'x', '--weak-ok', '--password', 'pw']]) {
      const r = await run([...args, '--db', `sqlite:${missing}`]);
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(r.stderr, `tvphone: no SQLite database at ${missing} (check --db; tvphone db migrate or users add creates one)\n`, args.join(' '));
      assert.equal(existsSync(join(dir, 'sub')), false, `${args.join(' ')} made the folder`);
    }
    assert.equal((await run(['users', 'add', 'a', '--weak-ok', '--password', 'pw', '--db', `sqlite:${join(dir, 'a', 'a.db')}`])).code, 0);
    assert.ok(existsSync(join(dir, 'a', 'a.db')));
    const csv = join(dir, 'u.csv');
    writeFileSync(csv, 'b,pw\n');
    assert.equal((await run(['users', 'import', csv, '--weak-ok', '--db', `sqlite:${join(dir, 'b', 'b.db')}`])).code, 0);
    assert.ok(existsSync(join(dir, 'b', 'b.db')));
    assert.equal((await run(['db', 'migrate', '--db', `sqlite:${join(dir, 'c', 'c.db')}`])).code, 0);
    assert.ok(existsSync(join(dir, 'c', 'c.db')));
  });

  it('calls --limit N lists the newest N calls, oldest first, in text and JSON', async () => {
    await withDb(db, async (s) => {
      for (let i = 1; i <= 5; i++) await s.recordCall({ userId: 'a', otherUserId: 'b', callDate: 1_700_000_000_000 + i * 1000, callId: `c${i}`, outcome: 'offline' });
    });
    const json = JSON.parse((await run(['calls', '--limit', '2', '--json', '--db', db])).stdout) as Array<{ callId: string }>;
    assert.deepEqual(json.map((c) => c.callId), ['c4', 'c5']);
    const missed = JSON.parse((await run(['calls', '--user', 'b', '--missed', '--limit', '3', '--json', '--db', db])).stdout) as Array<{ callId: string }>;
    assert.deepEqual(missed.map((c) => c.callId), ['c3', 'c4', 'c5']);
    const text = (await run(['calls', '--limit', '2', '--db', db])).stdout.trim().split('\n');
    assert.equal(text.length, 3);
    assert.match(text[1], /^2023-11-14T22:13:24\.000Z/);
    assert.match(text[2], /^2023-11-14T22:13:25\.000Z/);
  });

  it('--password-stdin takes the first line of standard input only', async () => {
    assert.equal((await run(['users', 'add', 'p', '--weak-ok', '--password-stdin', '--db', db], { input: 'first\r\nsecond\n' })).code, 0);
    const c = await withDb(db, (s) => s.getCredentials('p'));
    assert.equal(c?.ha1Md5, ha1('MD5', 'p', 'tvphone', 'first'));
  });

  (HAVE_SCRIPT ? it : it.skip)('asks for the password on a terminal twice without echoing it (Backspace edits)', async () => {
    const r = await runOnTerminal(['users', 'add', 't', '--weak-ok', '--db', db], [[/password for t: $/, 'hunter\u007f3\r'], [/again: $/, 'hunte3\r']]);
    assert.equal(r.code, 0, r.out);
    assert.doesNotMatch(r.out, /hunte|\*/);
    assert.match(r.out, /added t/);
    assert.equal((await withDb(db, (s) => s.getCredentials('t')))?.ha1Md5, ha1('MD5', 't', 'tvphone', 'hunte3'));
    const differ = await runOnTerminal(['users', 'add', 't2', '--weak-ok', '--db', db], [[/password for t2: $/, 'one\r'], [/again: $/, 'two\r']]);
    assert.equal(differ.code, 1);
    assert.match(differ.out, /tvphone: the passwords differ/);
  });

  it('users list into a reader that stops early (| head -1) ends quietly with exit 0', async () => {
    const csv = join(dir, 'many.csv');
    writeFileSync(csv, Array.from({ length: 4000 }, (_, i) => `user${i},pw`).join('\n'));
    assert.equal((await run(['users', 'import', csv, '--weak-ok', '--db', db])).code, 0);
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'users', 'list', '--db', db], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.stdout.once('data', () => child.stdout.destroy());
      child.on('close', (code) => resolve({ code, stderr }));
    });
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
  });

  it('imports quoted CSV fields (commas, quotes, CRLF), says which users are repeated and counts each once', async () => {
    const csv = join(dir, 'q.csv');
    writeFileSync(csv, 'user,password\r\n"1001","pa,ss"\r\n1002,"say ""hi"""\r\n# a comment\r\n\r\n1001,second\r\n1003,p#3\r\n');
    const r = await run(['users', 'import', csv, '--weak-ok', '--db', db]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'imported 3 users (realm tvphone)\n');
    assert.equal(r.stderr, `tvphone: ${csv}: user 1001 is on lines 2, 6: the last one is kept\n`);
    const creds = await withDb(db, async (s) => Promise.all(['1001', '1002', '1003'].map((u) => s.getCredentials(u))));
    assert.deepEqual(creds.map((c) => c?.ha1Md5),
      [ha1('MD5', '1001', 'tvphone', 'second'), ha1('MD5', '1002', 'tvphone', 'say "hi"'), ha1('MD5', '1003', 'tvphone', 'p#3')]);
    writeFileSync(csv, 'a,b,c\n');
    const three = await run(['users', 'import', csv, '--weak-ok', '--db', db]);
    assert.equal(three.code, 1);
    assert.match(three.stderr, /q\.csv:1: expected user,password \(3 fields; quote a password with a comma/);
    writeFileSync(csv, 'a,"open\n');
    const open = await run(['users', 'import', csv, '--weak-ok', '--db', db]);
    assert.equal(open.code, 1);
    assert.match(open.stderr, /^tvphone: .*q\.csv:\d+: Quote Not Closed/);
    assert.equal(open.stderr.split('\n').length, 2);
  });

  (HAVE_SCRIPT ? it : it.skip)('draws the import progress bar on a terminal only', async () => {
    const csv = join(dir, 'bar.csv');
    writeFileSync(csv, Array.from({ length: 2500 }, (_, i) => `b${i},pw`).join('\n'));
    const tty = await runOnTerminal(['users', 'import', csv, '--weak-ok', '--db', db]);
    assert.equal(tty.code, 0, tty.out);
    assert.match(tty.out, /\[#{30}\] 100% 2500\/2500 users/);
    assert.match(tty.out, /imported 2500 users/);
    const piped = await run(['users', 'import', csv, '--weak-ok', '--db', db]);
    assert.equal(piped.stderr, '');
    assert.equal(piped.stdout, 'imported 2500 users (realm tvphone)\n');
  });

  it('a usage error prints a short usage, then the error as the last line', async () => {
    const r = await run(['users', 'list', '--frob']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, "Usage: tvphone users list [options]\n(tvphone users list --help lists the options)\ntvphone: unknown option '--frob'\n");
    const missing = await run(['users', 'add']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.trim().split('\n').at(-1), "tvphone: missing required argument 'user'");
  });

  it('bad arguments: one line, exit 1, no stack trace', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['users', 'add', 'x', '--weak-ok', '--db', 'oracle://scott:tiger@h/db'], /^tvphone: store URL oracle:\/\/scott:\*\*\*@h\/db has an unknown scheme/],
      [['users', 'add', 'x', '--weak-ok', '--profile', join(dir, 'nope.json')], /^tvphone: .*nope\.json: \(top level\): cannot read the file \(ENOENT\)$/],
      [['users', 'list', '--profile', join(dir, 'nope.json')], /nope\.json.*ENOENT/],
      [['calls', '--limit', 'abc', '--db', db], /^tvphone: --limit takes a positive whole number, not "abc"$/],
      [['messages', '--limit', '0', '--db', db], /^tvphone: --limit takes a positive whole number/],
    ];
    for (const [args, re] of cases) {
      const r = await run(args); // users add without --password: a bad URL or profile fails before standard input is read
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(r.stderr.split('\n').length, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr.trim(), re);
    }
  });

  it('users add and the read commands take store.url and auth.realm from --profile; --db and --realm override', async () => {
    const profileDb = `sqlite:${join(dir, 'profile.db')}`;
    const profile = join(dir, 'p.json');
    writeFileSync(profile, JSON.stringify({ name: 'p', auth: { realm: 'tv.example' }, store: { url: profileDb } }));
    const add = await run(['users', 'add', 'r1', '--weak-ok', '--password', 'pw', '--profile', profile]);
    assert.equal(add.code, 0, add.stderr);
    assert.equal(add.stdout, 'added r1 (realm tv.example)\n');
    assert.equal((await run(['users', 'add', 'r2', '--weak-ok', '--password', 'pw', '--profile', profile, '--realm', 'other'])).code, 0);
    assert.equal((await run(['users', 'add', 'r3', '--weak-ok', '--password', 'pw', '--profile', profile, '--db', db])).code, 0);
    const listed = JSON.parse((await run(['users', 'list', '--json', '--profile', profile])).stdout) as Array<{ user: string; realm: string }>;
    assert.deepEqual(listed.map((u) => [u.user, u.realm]), [['r1', 'tv.example'], ['r2', 'other']]);
    assert.equal((await withDb(profileDb, (s) => s.getCredentials('r1')))?.ha1Md5, ha1('MD5', 'r1', 'tv.example', 'pw'));
    const other = JSON.parse((await run(['users', 'list', '--json', '--db', db])).stdout) as Array<{ user: string; realm: string }>;
    assert.deepEqual(other.map((u) => [u.user, u.realm]), [['r3', 'tv.example']]);
    assert.equal((await run(['users', 'add', 'r4', '--weak-ok', '--password', 'pw', '--db', db])).stdout, 'added r4 (realm tvphone)\n');
  });

  it('registrations [USER] shows each binding: contact, flow, user agent, expiry, instance and reg-id, path', async () => {
    const now = Date.now();
    const b = (user: string, contact: string, over: Partial<Binding> = {}): Binding => ({
      userId: user, contact, expiresAt: now + 600_000, q: null, callId: `cid-${user}`, cseq: 3, path: [], instance: null, regId: null,
      flow: { transport: 'udp', address: '192.0.2.7', port: 5070, connectionId: null }, userAgent: null, updatedAt: now, ...over,
    });
    await withDb(db, async (s) => {
      await s.addUser({ userId: 'idle', realm: 'tvphone', ha1Md5: 'a'.repeat(32), ha1Sha256: 'b'.repeat(64) }, now);
      await s.saveBindings('1001', [b('1001', 'sip:1001@192.0.2.7:5070', { userAgent: 'tv/1.0', q: 0.5 }),
        b('1001', 'sip:1001@[2001:db8::1]:5062;transport=tcp', { flow: { transport: 'tcp', address: '2001:db8::1', port: 5062, connectionId: 9 },
          instance: '<urn:uuid:00000000-0000-0000-0000-00000000000a>', regId: 1, path: ['<sip:edge.example;lr>'], updatedAt: now + 1 })], [], false, now);
      await s.saveBindings('1002', [b('1002', 'sip:1002@192.0.2.8')], [], false, now);
    });
    const json = JSON.parse((await run(['registrations', '--json', '--db', db])).stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(json.map((j) => [j.user, j.contact]),
      [['1001', 'sip:1001@192.0.2.7:5070'], ['1001', 'sip:1001@[2001:db8::1]:5062;transport=tcp'], ['1002', 'sip:1002@192.0.2.8']]);
    const j = json[1];
    assert.deepEqual([j.transport, j.source, j.connectionId, j.instance, j.regId, j.path],
      ['tcp', { ip: '2001:db8::1', port: 5062 }, 9, '<urn:uuid:00000000-0000-0000-0000-00000000000a>', 1, ['<sip:edge.example;lr>']]);
    assert.ok((j.expiresIn as number) > 590 && (j.expiresIn as number) <= 600);
    assert.equal(j.expires, new Date(now + 600_000).toISOString());
    const text = (await run(['registrations', '1001', '--db', db])).stdout;
    assert.match(text, /^AoR: 1001\n  Contact: sip:1001@192\.0\.2\.7:5070 q=0\.5\n    Expires: \d+s \(.*Z\)\n    Flow: udp 192\.0\.2\.7:5070\n    User-Agent: tv\/1\.0\n/);
    assert.match(text, / {4}Flow: tcp \[2001:db8::1\]:5062 connection 9\n {4}Instance: <urn:uuid:[0-9-]+a> reg-id 1\n {4}Path: <sip:edge\.example;lr>\n/);
    assert.doesNotMatch(text, /1002/);
    assert.equal((await run(['registrations', 'idle', '--json', '--db', db])).stdout, '[]\n');
    const none = await run(['registrations', 'ghost', '--db', db]);
    assert.equal(none.code, 1);
    assert.equal(none.stderr, 'tvphone: no user ghost\n');
  });

  it('serve warns at start when users have HA1s made for another realm than the profile auth.realm', async () => {
    for (const u of ['old1', 'old2']) assert.equal((await run(['users', 'add', u, '--weak-ok', '--password', 'pw', '--db', db])).code, 0);
    assert.equal((await run(['users', 'add', 'new1', '--weak-ok', '--password', 'pw', '--realm', 'new.example', '--db', db])).code, 0);
    const profile = { auth: { realm: 'new.example' } };
    const server = await startChildServer({ dbUrl: db, auth: 'digest', profile });
    try {
      const warn = await server.waitForLog((l) => l.level === 40 && l.otherRealms !== undefined);
      assert.deepEqual([warn.users, warn.realm, warn.otherRealms], [2, 'new.example', { tvphone: 2 }]);
      assert.match(String(warn.msg), /^2 users have HA1s made for realm "tvphone" \(2\), not the profile auth\.realm "new\.example"/);
    } finally {
      await server.stop();
    }
    for (const u of ['old1', 'old2']) assert.equal((await run(['users', 'passwd', u, '--weak-ok', '--password', 'pw', '--realm', 'new.example', '--db', db])).code, 0);
    const again = await startChildServer({ dbUrl: db, auth: 'digest', profile });
    try {
      await new Promise((r) => setTimeout(r, 300)); // the check runs right after "tvphone serving"
      assert.equal(again.logs.filter((l) => l.level === 40 && l.otherRealms !== undefined).length, 0);
    } finally {
      await again.stop();
    }
  });

  it('applies migrations with db migrate', async () => {
    const r = await run(['db', 'migrate', '--db', db]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /schema version \d+/);
  });
});
