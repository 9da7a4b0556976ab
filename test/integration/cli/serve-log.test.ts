// `tvphone serve` logs text for a person at a terminal and JSON lines for a service manager or a pipe.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { tvphoneBin } from '../../helpers/built-package.ts';
import { needPeers } from '../../helpers/peers.ts';

/** the built package's tvphone (test/helpers/built-package.ts), set before the tests */
let BIN = '';

/** Runs `serve` until its "serving" line, then SIGTERM; returns what it printed. `tty`: under script(1), a pseudo-terminal. */
function serveOutput(tty: boolean, db: string, beforeStop: (out: string) => Promise<void> = async () => {}): Promise<string> {
  const args = ['serve', '--listen', 'udp:127.0.0.1:0', '--listen', 'tcp:127.0.0.1:0', '--db', `sqlite:${db}`, '--auth', 'none'];
  const child = tty
    ? spawn('script', ['-qfec', [process.execPath, BIN, ...args].join(' '), '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let stopping = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no serving line: ${out}`)); }, 15000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (stopping || !/tvphone serving[^\n]*\n/.test(out)) return;
      stopping = true; // the serving line is out (on a terminal its fields follow it): stop it
      setTimeout(() => void beforeStop(out).then(() => (tty ? spawnSync('pkill', ['-TERM', '-f', db]) : child.kill('SIGTERM'))), 300);
    });
    child.once('close', () => { clearTimeout(timer); resolve(out); });
  });
}

describe('tvphone serve: log format', function () {
  before(function () {
    this.timeout(180_000); // the first suite to ask builds the package
    BIN = tvphoneBin();
  });
  this.timeout(30000);
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'tvphone-log-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes JSON lines with one mod key when stdout is not a terminal, and nothing after "stopped" when a TCP TV is connected at SIGTERM', async () => {
    let tv: Socket | null = null;
    const out = await serveOutput(false, join(dir, 'a.db'), async (sofar) => {
      const tcp = (JSON.parse(sofar.split('\n').find((l) => l.includes('tvphone serving'))!) as { listeners: string[] }).listeners.find((l) => l.startsWith('tcp:'))!;
      tv = connect(Number(tcp.split(':')[2]), '127.0.0.1');
      const ok = new Promise<void>((resolve) => tv!.on('data', (d: Buffer) => { if (d.toString().startsWith('SIP/2.0 200')) resolve(); }));
      tv.write(['REGISTER sip:127.0.0.1 SIP/2.0', 'Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-log-1', 'Max-Forwards: 70', 'From: <sip:tv@127.0.0.1>;tag=l1',
        'To: <sip:tv@127.0.0.1>', 'Call-ID: log@127.0.0.1', 'CSeq: 1 REGISTER', 'Contact: <sip:tv@127.0.0.1:5999;transport=tcp>', 'Content-Length: 0', '', ''].join('\r\n'));
      await ok;
    });
    (tv as Socket | null)?.destroy();
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(lines.some((l) => l.msg === 'tvphone serving'));
    assert.ok(lines.some((l) => l.msg === 'bindings of connections removed'), 'the TCP TV went offline at shutdown');
    for (const raw of out.trim().split('\n')) assert.ok((raw.match(/"mod":/g) ?? []).length <= 1, `duplicated key: ${raw}`);
    // SIGTERM: a clean stop, and nothing after "tvphone stopped" (no warnings from parts closing late)
    assert.equal(lines.at(-1)!.msg, 'tvphone stopped');
    assert.ok(lines.every((l) => (l.level as number) < 40), `a warning or error while serving or stopping: ${out}`);
  });

  it('writes text with local ISO time and level names on a terminal', async function () {
    needPeers(this, spawnSync('script', ['--version']).status === 0, 'script (util-linux)');
    const out = await serveOutput(true, join(dir, 'b.db'));
    assert.match(out, /\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [+-]\d{4}\] .*INFO.*tvphone serving/);
    assert.doesNotMatch(out, /"level":/);
  });
});
