// `tvphone serve` logs text for a person at a terminal and JSON lines for a service manager or a pipe.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../bin/tvphone', import.meta.url));

/** Runs `serve` until its "serving" line, then SIGTERM; returns what it printed. `tty`: under script(1), a pseudo-terminal. */
function serveOutput(tty: boolean, db: string): Promise<string> {
  const args = ['serve', '--listen', 'udp:127.0.0.1:0', '--listen', 'tcp:127.0.0.1:0', '--db', `sqlite:${db}`];
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
      setTimeout(() => (tty ? spawnSync('pkill', ['-TERM', '-f', db]) : child.kill('SIGTERM')), 300);
    });
    child.once('close', () => { clearTimeout(timer); resolve(out); });
  });
}

describe('tvphone serve: log format', function () {
  this.timeout(30000);
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'tvphone-log-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes JSON lines with one mod key when stdout is not a terminal', async () => {
    const out = await serveOutput(false, join(dir, 'a.db'));
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(lines.some((l) => l.msg === 'tvphone serving'));
    for (const raw of out.trim().split('\n')) assert.ok((raw.match(/"mod":/g) ?? []).length <= 1, `duplicated key: ${raw}`);
  });

  it('writes text with local ISO time and level names on a terminal', async function () {
    if (spawnSync('script', ['--version']).status !== 0) this.skip();
    const out = await serveOutput(true, join(dir, 'b.db'));
    assert.match(out, /\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [+-]\d{4}\] .*INFO.*tvphone serving/);
    assert.doesNotMatch(out, /"level":/);
  });
});
