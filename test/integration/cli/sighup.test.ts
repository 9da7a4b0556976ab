// SIGHUP: `tvphone serve` reads its profile again, applies what a running server can change and logs it, names
// what needs a restart, and keeps the running profile when the file is bad.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from '../../helpers/until.ts';
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { freePort } from '../../../bench/lib/proc.ts';
import { tvphoneBin } from '../../helpers/built-package.ts';

/** the built package's tvphone (test/helpers/built-package.ts), set before the tests */
let BIN = '';

describe('tvphone serve: SIGHUP reloads the profile', function () {
  before(function () {
    this.timeout(180_000); // the first suite to ask builds the package
    BIN = tvphoneBin();
  });
  this.timeout(30000);
  let dir: string;
  let child: ChildProcess | null = null;
  let lines: Array<Record<string, unknown>>;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tvphone-hup-'));
    lines = [];
  });
  afterEach(async () => {
    if (child && child.exitCode === null) {
      const done = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await done;
    }
    child = null;
    rmSync(dir, { recursive: true, force: true });
  });

  const profile = (registrar: Record<string, unknown>, extra: Record<string, unknown> = {}) => JSON.stringify({
    listeners: [{ transport: 'udp', host: '127.0.0.1', port: 0 }], auth: { mode: 'none' },
    store: { url: `sqlite:${join(dir, 'db.sqlite')}` }, registrar, ...extra,
  });

  /** A REGISTER asking for 30 s (below minExpires 60); resolves with the status line. */
  async function register(port: number, cseq: number): Promise<string> {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const me = sock.address().port;
    const msg = [`REGISTER sip:127.0.0.1:${port} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${me};branch=z9hG4bK-hup-${cseq};rport`, 'Max-Forwards: 70',
      `From: <sip:tv@127.0.0.1>;tag=h${cseq}`, 'To: <sip:tv@127.0.0.1>', 'Call-ID: hup@127.0.0.1', `CSeq: ${cseq} REGISTER`,
      `Contact: <sip:tv@127.0.0.1:${me}>`, 'Expires: 30', 'Content-Length: 0', '', ''].join('\r\n');
    const answer = new Promise<string>((resolve) => sock.once('message', (b) => resolve(b.toString().split('\r\n')[0]!)));
    sock.send(msg, port, '127.0.0.1');
    try {
      return await answer;
    } finally {
      sock.close();
    }
  }

  it('applies registrar.belowMinExpires without a restart, names listener changes, and survives a bad file', async () => {
    const file = join(dir, 'p.json');
    writeFileSync(file, profile({ belowMinExpires: 'raise' }));
    child = spawn(process.execPath, [BIN, 'serve', '--profile', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        lines.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
        buf = buf.slice(nl + 1);
      }
    });
    await until(() => lines.some((l) => l.msg === 'tvphone serving'), 15000, 'serving');
    const port = Number(String((lines.find((l) => l.msg === 'tvphone serving')!.listeners as string[])[0]).split(':')[2]);
    assert.match(await register(port, 1), /^SIP\/2\.0 200/);

    writeFileSync(file, profile({ belowMinExpires: 'reject' }, { listeners: [{ transport: 'udp', host: '127.0.0.1', port: 0 }, { transport: 'tcp', host: '127.0.0.1', port: 0 }] }));
    child.kill('SIGHUP');
    await until(() => lines.some((l) => l.msg === 'profile reloaded'), 5000, 'reloaded');
    assert.deepEqual(lines.find((l) => l.msg === 'profile reloaded')!.changed, ['registrar.belowMinExpires']);
    assert.deepEqual(lines.find((l) => l.msg === 'these settings take effect at the next restart')?.settings, ['listeners']);
    assert.match(await register(port, 2), /^SIP\/2\.0 423/);

    writeFileSync(file, '{ not json');
    child.kill('SIGHUP');
    await until(() => lines.some((l) => l.msg === 'profile not reloaded: the running one stays'), 5000, 'refused');
    assert.match(String(lines.find((l) => l.msg === 'profile not reloaded: the running one stays')!.reason), /p\.json: .*not valid JSON/);
    assert.match(await register(port, 3), /^SIP\/2\.0 423/, 'still serving, with the last good profile');
    assert.equal(child.exitCode, null);
  });

  it('starts with a profile that has a trunk and command-line flags (the flags apply to the file before validation)', async () => {
    const file = join(dir, 'p.json');
    writeFileSync(file, JSON.stringify({
      listeners: [{ transport: 'udp', host: '127.0.0.1', port: 0 }], store: { url: `sqlite:${join(dir, 'db.sqlite')}` },
      trunks: [{ name: 'carrier', host: '127.0.0.1', port: 5999, username: 'u', password: 'p', register: false }],
    }));
    child = spawn(process.execPath, [BIN, 'serve', '--profile', file, '--listen', 'udp:127.0.0.1:0', '--auth', 'none'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => /tvphone serving/.test(out) || child!.exitCode !== null, 15000, 'serving or exit');
    assert.match(out, /"auth":"none".*"msg":"tvphone serving"/, out);
  });

  it('tvphone trunks reload: adds, changes and removes trunks from trunks/*.json without a restart; a bad file changes nothing (one line, exit 1)', async () => {
    const file = join(dir, 'p.json');
    const adminPort = await freePort();
    writeFileSync(file, JSON.stringify({
      listeners: [{ transport: 'udp', host: '127.0.0.1', port: 0 }], auth: { mode: 'none' }, store: { url: `sqlite:${join(dir, 'db.sqlite')}` },
      admin: { listen: `127.0.0.1:${adminPort}` },
    }));
    mkdirSync(join(dir, 'trunks'));
    const trunk = (name: string, extra: Record<string, unknown> = {}) => writeFileSync(join(dir, 'trunks', `${name}.json`),
      JSON.stringify({ name, host: '127.0.0.1', port: 5999, register: false, ...extra }));
    trunk('a');
    child = spawn(process.execPath, [BIN, 'serve', '--profile', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => /tvphone serving/.test(out), 15000, 'serving');
    const cli = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
      try {
        const r = await promisify(execFile)(process.execPath, [BIN, 'trunks', ...args, '--admin', `127.0.0.1:${adminPort}`], { encoding: 'utf8', timeout: 20_000 });
        return { code: 0, stdout: r.stdout, stderr: r.stderr };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    };
    const names = async () => (JSON.parse((await cli('status', '--json')).stdout) as { name: string; maxCalls: number }[]).map((r) => `${r.name}:${r.maxCalls}`);
    assert.deepEqual(await names(), ['a:0']);

    trunk('b');
    trunk('a', { maxCalls: 5 });
    const r1 = await cli('reload');
    assert.equal(r1.code, 0, r1.stderr);
    assert.match(r1.stdout, /trunks added: b; removed: none; changed: a/);
    assert.deepEqual(await names(), ['a:5', 'b:0']);

    writeFileSync(join(dir, 'trunks', 'b.json'), '{ "name": "b", "host": "127.0.0.1", "transport": "sctp" }');
    const r2 = await cli('reload');
    assert.equal(r2.code, 1);
    assert.equal(r2.stderr.trim().split('\n').length, 1, r2.stderr);
    assert.match(r2.stderr, /b\.json.*transport/);
    assert.deepEqual(await names(), ['a:5', 'b:0'], 'the running trunks stay');

    rmSync(join(dir, 'trunks', 'b.json'));
    const r3 = await cli('reload');
    assert.match(r3.stdout, /removed: b/);
    assert.deepEqual(await names(), ['a:5']);
  });
});
