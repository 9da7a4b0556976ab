// `tvphone serve` and the admin endpoint: admin.listen from the profile starts it (the bound address is logged),
// and a bad `--admin HOST:PORT` is refused at start naming the field, like a bad profile setting.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChildServer, type ChildServer } from '../../helpers/child-server.ts';
import { tvphoneBin } from '../../helpers/built-package.ts';

/** the built package's tvphone (test/helpers/built-package.ts), set before the tests */
let BIN = '';

describe('tvphone serve: admin HTTP endpoint', function () {
  before(function () {
    this.timeout(180_000); // the first suite to ask builds the package
    BIN = tvphoneBin();
  });
  this.timeout(30_000);
  let dir: string;
  let child: ChildServer | null = null;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'tvphone-admin-')); });
  afterEach(async () => {
    await child?.stop();
    child = null;
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts the endpoint from the profile admin.listen and logs the bound address', async () => {
    child = await startChildServer({ dbUrl: `sqlite:${join(dir, 't.db')}`, profile: { admin: { listen: '127.0.0.1:0' } } });
    const line = await child.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('admin HTTP serving'));
    const listen = String(line.listen);
    assert.match(listen, /^127\.0\.0\.1:\d+$/);
    const res = await fetch(`http://${listen}/health`, { headers: { connection: 'close' } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
  });

  it('refuses a bad --admin at start, naming the field and the reason', async () => {
    const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, [BIN, 'serve', '--listen', 'udp:127.0.0.1:0', '--db', `sqlite:${join(dir, 't.db')}`, '--admin', 'localhost'],
        { timeout: 20_000 }, (err, _stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr }));
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\(with command-line flags\): admin\.listen: expected HOST:PORT/);
  });
});
