// `tvphone tv --json` as a child process against the server in-process: register, show a message, de-register on SIGTERM.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { dominantFrequency, rms } from '../../../src/media/goertzel.ts';
import { generateTone } from '../../../src/media/tone.ts';
import { readWav, writeWav } from '../../../src/media/wav.ts';
import { TvAgent } from '../../../src/terminal/tv-agent.ts';
import { FakeDns } from '../../helpers/fake-dns.ts';
import type { TestServer } from '../../helpers/test-server.ts';
import { until } from '../../helpers/until.ts';
import { startDefaultProfileServer } from '../../helpers/default-profile-server.ts';
import { tvphoneBin } from '../../helpers/built-package.ts';

/** the built package's tvphone (test/helpers/built-package.ts), set before the tests */
let BIN = '';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('tvphone tv --json (child process)', function () {
  before(function () {
    this.timeout(180_000); // the first suite to ask builds the package
    BIN = tvphoneBin();
  });
  this.timeout(30_000);
  let srv: TestServer;
  let dir: string;
  let child: ChildProcess | null = null;
  let sender: TvAgent | null = null;

  beforeEach(async () => {
    srv = await startDefaultProfileServer();
    await srv.addUser('1001', 'pw1');
    await srv.addUser('1002', 'pw2');
    dir = mkdtempSync(join(tmpdir(), 'tvphone-tvcli-'));
  });
  afterEach(async () => {
    if (child !== null && child.exitCode === null) child.kill('SIGKILL');
    child = null;
    await sender?.stop();
    sender = null;
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** `tvphone tv ARGS --json` with the password on stdin; its events as they come, and a wait for one by name. */
  function tv(args: string[]): { events: Record<string, unknown>[]; until(name: string, ms?: number): Promise<Record<string, unknown>> } {
    child = spawn(process.execPath, [BIN, 'tv', '--password-stdin', '--json', ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
    child.stdin!.end(`${args[args.indexOf('--user') + 1] === '1001' ? 'pw1' : 'pw2'}\n`);
    const events: Record<string, unknown>[] = [];
    const waiters: Array<() => void> = [];
    createInterface({ input: child.stdout! }).on('line', (line) => {
      events.push(JSON.parse(line) as Record<string, unknown>);
      for (const w of waiters.splice(0)) w();
    });
    const until = async (name: string, ms = 20_000): Promise<Record<string, unknown>> => {
      for (let i = 0; i < ms / 100; i++) {
        const e = events.find((x) => x.event === name);
        if (e) return e;
        await new Promise<void>((r) => { waiters.push(r); setTimeout(r, 100); });
      }
      throw new Error(`no ${name} event; got ${JSON.stringify(events)}`);
    };
    return { events, until };
  }

  it('--call --duration 2 --play FILE.wav --dtmf: the callee hears the file and the digits, the CLI prints call-answered and call-ended with RTCP figures, de-registers and exits 0', async () => {
    // a 16 kHz WAV: the agent resamples it to 8 kHz for PCMU
    const wav = join(dir, 'play.wav');
    writeFileSync(wav, writeWav(generateTone({ frequency: 700, amplitude: 0.4, sampleRate: 16000, samples: 16000 * 3 }), 16000));
    sender = new TvAgent({ user: '1002', password: 'pw2', server: `sip:127.0.0.1:${srv.tcp.port}`, downloadDir: join(dir, 'b'), autoAnswer: true, record: join(dir, 'heard.wav'), toneHz: 1000, rtcpIntervalMs: 500 });
    const digits: string[] = [];
    sender.on('dtmf', (e) => digits.push(e.digit));
    const calleeEnded = new Promise<string>((r) => sender!.once('call-ended', (e) => r(e.reason)));
    await sender.start();
    const { events, until } = tv(['--user', '1001', '--server', `sip:127.0.0.1:${srv.tcp.port}`, '--download-dir', join(dir, 'a'),
      '--call', '1002', '--duration', '2', '--play', wav, '--dtmf', '7#']);
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    const answered = await until('call-answered');
    assert.equal(answered.peer, '1002');
    assert.equal(answered.codec, 'PCMU');
    const ended = await until('call-ended');
    assert.equal(ended.reason, 'local-hangup');
    assert.ok(Number(ended.durationMs) >= 1900 && Number(ended.durationMs) < 4000, `durationMs ${String(ended.durationMs)}`);
    const rtcp = ended.rtcp as { sent: { packets: number; dtmfPackets: number }; received: { packets: number } };
    assert.ok(rtcp.sent.packets >= 80, `sent ${rtcp.sent.packets} RTP packets in 2 s`);
    assert.ok(rtcp.received.packets >= 80, `received ${rtcp.received.packets} RTP packets in 2 s`);
    assert.ok(rtcp.sent.dtmfPackets > 0);
    await until('unregistered');
    assert.equal(await exited, 0);
    assert.equal(await calleeEnded, 'remote-hangup');
    assert.deepEqual(digits, ['7', '#']);
    assert.deepEqual(events.map((e) => e.event).filter((n) => String(n).startsWith('call')), ['call-outgoing', 'call-ringing', 'call-answered', 'call-ended']);

    const heard = readWav(readFileSync(join(dir, 'heard.wav')));
    const body = heard.samples.subarray(4000); // past the start and the DTMF (which replaces audio frames)
    assert.ok(rms(body) > 1000, 'the callee heard sound');
    const hz = dominantFrequency(body, 8000);
    assert.ok(Math.abs(hz - 700) < 5, `the callee heard ${hz} Hz, expected the file's 700 Hz`);
  });

  it('--push PRID --standby: registers with push parameters, goes to standby, and a POST to its wake listener registers it again', async () => {
    const t = tv(['--user', '1002', '--server', `sip:127.0.0.1:${srv.tcp.port}`, '--download-dir', join(dir, 'dl'), '--push', 'cli-tv', '--standby']);
    const reg = await t.until('registered');
    assert.match(String(reg.contact), /;pn-provider=tvphone;pn-prid=cli-tv$/);
    const { url } = await t.until('wake-listener');
    await t.until('standby');
    await until(async () => (await srv.server.registrar.lookup('1002')).kind === 'offline', 5000, 'no binding in standby');
    assert.equal((await srv.server.registrar.pushRegistrations('1002')).length, 1, 'the push registration stays');
    assert.equal((await fetch(String(url), { method: 'POST', body: '{}' })).status, 202);
    await t.until('woken');
    await until(async () => (await srv.server.registrar.lookup('1002')).kind === 'found', 5000, 'registered again once woken');
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    child!.kill('SIGTERM');
    assert.equal(await exited, 0);
  });

    it('refuses a bad --dtmf', async () => {
    tv(['--user', '1001', '--server', `sip:127.0.0.1:${srv.tcp.port}`, '--download-dir', join(dir, 'a'), '--dtmf', 'x']);
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    assert.notEqual(await exited, 0);
  });

  it('prints registered, then a message event, then unregistered on SIGTERM and exits 0', async () => {
    child = spawn(process.execPath, [BIN, 'tv', '--user', '1002', '--password-stdin', '--server', `sip:127.0.0.1:${srv.tcp.port}`,
      '--json', '--download-dir', join(dir, 'dl')], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
    child.stdin!.end('pw2\n');
    const events: Record<string, unknown>[] = [];
    const waiters: Array<() => void> = [];
    createInterface({ input: child.stdout! }).on('line', (line) => {
      events.push(JSON.parse(line) as Record<string, unknown>);
      for (const w of waiters.splice(0)) w();
    });
    const until = async (name: string): Promise<Record<string, unknown>> => {
      for (let i = 0; i < 200; i++) {
        const e = events.find((x) => x.event === name);
        if (e) return e;
        await new Promise<void>((r) => { waiters.push(r); setTimeout(r, 100); });
      }
      throw new Error(`no ${name} event; got ${JSON.stringify(events)}`);
    };
    const reg = await until('registered');
    assert.equal(reg.aor, 'sip:1002@127.0.0.1');
    assert.equal(reg.transport, 'tcp');
    // no --local-ip: the address of the interface that routes to the server, here loopback
    assert.match(String(reg.contact), /^sip:1002@127\.0\.0\.1:\d+;transport=tcp$/);

    sender = new TvAgent({ user: '1001', password: 'pw1', server: `sip:127.0.0.1:${srv.tcp.port}`, downloadDir: join(dir, 'a') });
    await sender.start();
    assert.equal(await sender.sendMessage('1002', 'from the test'), 200);
    const msg = await until('message');
    assert.equal(msg.text, 'from the test');
    assert.equal(msg.from, '1001');

    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    await until('unregistered');
    assert.equal(await exited, 0);
  });

  it('--password-stdin keeps the keyboard (the terminal reopened): m, a line and Enter on the screen send a message; q quits with 0', async function () {
    // a real terminal for the child: util-linux script(1) gives it a pty; its stdin is the password pipe
    sender = new TvAgent({ user: '1001', password: 'pw1', server: `sip:127.0.0.1:${srv.tcp.port}`, downloadDir: join(dir, 'a') });
    const got = new Promise<string | undefined>((r) => sender!.once('message', (e) => r(e.text)));
    await sender.start();
    const cmd = `printf 'pw2\\n' | '${process.execPath}' '${BIN}' tv --password-stdin --user 1002 ` +
      `--server sip:127.0.0.1:${srv.tcp.port} --download-dir '${join(dir, 'b')}' --contacts 1001`;
    child = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => { out += c; });
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    for (let i = 0; i < 100 && !/● online/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(out, /● online/, 'the screen shows the TV online');
    await new Promise((r) => setTimeout(r, 500)); // the keyboard is opened once registered
    child.stdin!.write('m');
    child.stdin!.write('hello tv\r');
    assert.equal(await got, 'hello tv');
    for (let i = 0; i < 50 && !/message to 1001 delivered/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(out, /message to 1001 delivered/);
    child.stdin!.write('Q');
    assert.equal(await exited, 0);
  });

  it('with no password given, asks for it on the terminal without echo', async () => {
    const cmd = `'${process.execPath}' '${BIN}' tv --user 1002 --server sip:127.0.0.1:${srv.tcp.port} --download-dir '${join(dir, 'b')}'`;
    child = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => { out += c; });
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    for (let i = 0; i < 100 && !/password for 1002: /.test(out); i++) await new Promise((r) => setTimeout(r, 100));
    child.stdin!.write('pw2\r');
    for (let i = 0; i < 100 && !/● online/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(out, /● online/);
    assert.doesNotMatch(out, /pw2/, 'the password is not echoed');
    await new Promise((r) => setTimeout(r, 300));
    child.stdin!.write('q');
    assert.equal(await exited, 0);
  });

  /** `tvphone tv ARGS` to the end: its exit code and stderr. */
  function run(args: string[], password = 'pw1'): Promise<{ code: number | null; stderr: string }> {
    const c = spawn(process.execPath, [BIN, 'tv', '--password-stdin', '--json', ...args], { cwd: ROOT, stdio: ['pipe', 'ignore', 'pipe'] });
    child = c;
    c.stdin!.end(`${password}\n`);
    let stderr = '';
    c.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    return new Promise((r) => c.once('exit', (code) => r({ code, stderr })));
  }

  it('bad input: one line on stderr, exit 1, no stack trace (--server without sip:, a missing or unsupported picture)', async () => {
    const server = `sip:127.0.0.1:${srv.tcp.port}`;
    writeFileSync(join(dir, 'notes.txt'), 'not a picture');
    // a DNS that knows no name: a domain of no server (RFC 3263) cannot start the agent
    const dns = await FakeDns.start();
    const cases: Array<[string[], RegExp]> = [
      [['--user', '1001', '--server', server, '--dns-server', 'dns.example'], /^tvphone: --dns-server takes IP or IP:PORT/],
      [['--user', '1001', '--server', 'sip:nowhere.test', '--dns-server', dns.server, '--download-dir', join(dir, 'a')], /^tvphone: cannot start the TV agent: sip:nowhere.test: no server found in DNS/],
      [['--user', '1001', '--server', `127.0.0.1:${srv.tcp.port}`], /^tvphone: --server takes a SIP URI/],
      [['--user', '1001', '--server', server, '--send-picture', '1002', join(dir, 'missing.png')], /^tvphone: --send-picture: no such file/],
      [['--user', '1001', '--server', server, '--send-picture', '1002', join(dir, 'notes.txt')], /^tvphone: --send-picture takes a \.jpg, \.png/],
      [['--user', '1001', '--server', server, '--standby'], /^tvphone: --standby needs --push PRID/],
      [['--user', '1001', '--server', server, '--push', 'a b'], /^tvphone: --push takes a token/],
    ];
    try {
      for (const [args, line] of cases) {
        const { code, stderr } = await run(args);
        assert.equal(code, 1, `${args.join(' ')}: ${stderr}`);
        assert.match(stderr, line);
        assert.equal(stderr.trim().split('\n').length, 1, `one line: ${stderr}`);
        assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
      }
    } finally {
      await dns.close();
    }
  });

  it('a failed --message exits 1 after de-registering', async () => {
    const { code, stderr } = await run(['--user', '1001', '--server', `sip:127.0.0.1:${srv.tcp.port}`, '--download-dir', join(dir, 'a'), '--message', '9999', 'hello']);
    assert.equal(code, 1);
    assert.match(stderr, /^tvphone: message not sent \(404\)/);
  });
});
