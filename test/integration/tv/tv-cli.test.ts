// `tvphone tv --json` as a child process against the server in-process: register, show a message, de-register on SIGTERM.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { TvAgent } from '../../../src/terminal/tv-agent.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('tvphone tv --json (child process)', function () {
  this.timeout(30_000);
  let srv: TestServer;
  let dir: string;
  let child: ChildProcess | null = null;
  let sender: TvAgent | null = null;

  beforeEach(async () => {
    srv = await startTestServer({ auth: 'digest' });
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

  it('prints registered, then a message event, then unregistered on SIGTERM and exits 0', async () => {
    child = spawn(process.execPath, [join(ROOT, 'bin/tvphone'), 'tv', '--user', '1002', '--password-stdin', '--server', `sip:127.0.0.1:${srv.tcp.port}`,
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
});
