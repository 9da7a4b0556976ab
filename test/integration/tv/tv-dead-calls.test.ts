// Calls that end by themselves, against the tvphone server over real sockets on 127.0.0.1: the ring timeout of an
// outgoing call (CANCEL), no media from a peer that vanished, RFC 4028 session timers when the server is gone
// mid-call, and `--duration` for a call nobody answers.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { TvAgent, type TvAgentOptions } from '../../../src/terminal/tv-agent.ts';
import { sleep, waitFor } from '../../helpers/tv-events.ts';
import type { TestServer } from '../../helpers/test-server.ts';
import { startDefaultProfileServer } from '../../helpers/default-profile-server.ts';
import { tvphoneBin } from '../../helpers/built-package.ts';

/** the built package's tvphone (test/helpers/built-package.ts), set before the tests */
let BIN = '';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('tvphone tv: calls that end by themselves (integration)', function () {
  before(function () {
    this.timeout(180_000); // the first suite to ask builds the package
    BIN = tvphoneBin();
  });
  this.timeout(30_000);
  let srv: TestServer;
  let dir: string;
  const agents: TvAgent[] = [];
  let child: ChildProcess | null = null;

  beforeEach(async () => {
    srv = await startDefaultProfileServer();
    await srv.addUser('1001', 'pw1');
    await srv.addUser('1002', 'pw2');
    dir = mkdtempSync(join(tmpdir(), 'tvphone-tvdead-'));
  });
  afterEach(async () => {
    if (child !== null && child.exitCode === null) child.kill('SIGKILL');
    child = null;
    for (const a of agents.splice(0)) await a.stop();
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function agent(user: '1001' | '1002', o: Partial<TvAgentOptions> = {}): TvAgent {
    const a = new TvAgent({
      user, password: user === '1001' ? 'pw1' : 'pw2', server: `sip:127.0.0.1:${srv.tcp.port}`, downloadDir: join(dir, user),
      rtcpIntervalMs: 300, timerValues: { t1: 100, t2: 400, t4: 500 }, retryMinMs: 200, ...o,
    });
    agents.push(a);
    return a;
  }

  /** `tvphone tv --json ARGS` with the password on stdin; resolves each event by name. */
  function tv(args: string[], password: string): { until(name: string, ms?: number): Promise<Record<string, unknown>>; exited: Promise<number | null> } {
    child = spawn(process.execPath, [BIN, 'tv', '--password-stdin', '--json', '--server', `sip:127.0.0.1:${srv.tcp.port}`, ...args],
      { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
    child.stdin!.end(`${password}\n`);
    const events: Record<string, unknown>[] = [];
    createInterface({ input: child.stdout! }).on('line', (line) => events.push(JSON.parse(line) as Record<string, unknown>));
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    return {
      exited,
      async until(name, ms = 15_000) {
        for (let i = 0; i < ms / 50; i++) {
          const e = events.find((x) => x.event === name);
          if (e) return e;
          await sleep(50);
        }
        throw new Error(`no ${name} event; got ${JSON.stringify(events)}`);
      },
    };
  }

  it('an outgoing call nobody answers is cancelled at the ring timeout: no-answer here, cancelled at the callee', async () => {
    const a = agent('1001', { ringTimeoutMs: 700 });
    const b = agent('1002');
    await a.start();
    await b.start();
    const ringing = waitFor(b, 'call-incoming');
    const aEnded = waitFor(a, 'call-ended');
    const bEnded = waitFor(b, 'call-ended');
    const t0 = Date.now();
    assert.equal(await a.dial('1002'), false);
    await ringing;
    const ea = await aEnded;
    assert.equal(ea.reason, 'no-answer');
    assert.equal(ea.status, 487);
    assert.ok(Date.now() - t0 >= 650 && Date.now() - t0 < 3000, `ended after ${Date.now() - t0} ms`);
    assert.equal((await bEnded).reason, 'cancelled');
    assert.equal(a.inCall, false);
    assert.equal(b.inCall, false);
  });

  it('a peer that vanishes mid-call (killed, no BYE) is hung up when no RTP or RTCP came for the media timeout', async () => {
    const callee = tv(['--user', '1002', '--download-dir', join(dir, 'b'), '--auto-answer'], 'pw2');
    await callee.until('registered');
    const a = agent('1001', { mediaTimeoutMs: 1500 });
    await a.start();
    const answered = waitFor(a, 'call-answered');
    const ended = waitFor(a, 'call-ended', () => true, 10_000);
    assert.equal(await a.dial('1002'), true);
    await answered;
    await sleep(500);
    child!.kill('SIGKILL');
    const t0 = Date.now();
    const e = await ended;
    assert.equal(e.reason, 'no-media');
    assert.ok(Date.now() - t0 >= 1000 && Date.now() - t0 < 4000, `ended ${Date.now() - t0} ms after the peer died`);
    assert.equal(a.inCall, false);
  });

  it('RFC 4028: the caller refreshes the session by re-INVITE; when the server is gone mid-call both sides end the call (no one stays "in call")', async () => {
    const o = { sessionExpires: 2, minSe: 1, mediaTimeoutMs: 0 };
    const a = agent('1001', o);
    const b = agent('1002', { ...o, autoAnswer: true });
    await a.start();
    await b.start();
    const bAnswered = waitFor(b, 'call-answered');
    assert.equal(await a.dial('1002'), true);
    await bAnswered;
    // past the interval: without refreshes the callee would have ended it at 2 − 2/3 s
    await sleep(3000);
    assert.equal(a.inCall, true);
    assert.equal(b.inCall, true);
    const aEnded = waitFor(a, 'call-ended', () => true, 15_000);
    const bEnded = waitFor(b, 'call-ended', () => true, 15_000);
    await srv.server.close();
    assert.equal((await aEnded).reason, 'session-expired', 'the refresh failed: BYE');
    assert.equal((await bEnded).reason, 'session-expired', 'no refresh came: BYE');
  });

  it('--duration ends a call nobody answers too, then the CLI exits 0', async () => {
    const b = agent('1002');
    await b.start();
    const bEnded = waitFor(b, 'call-ended', () => true, 10_000);
    const caller = tv(['--user', '1001', '--download-dir', join(dir, 'a'), '--call', '1002', '--duration', '1'], 'pw1');
    await caller.until('call-ringing');
    const ended = await caller.until('call-ended');
    assert.equal(ended.reason, 'cancelled');
    assert.equal(await caller.exited, 0);
    assert.equal((await bEnded).reason, 'cancelled');
  });
});
