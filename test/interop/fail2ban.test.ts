// fail2ban (Debian) reads tvphone's "authentication failed" log lines with the shipped filter and finds the
// guessing source's address: a wrong password and an unknown user count, a good registration does not.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../../src/log/logger.ts';
import { buildAuthorization } from '../../src/sip/digest.ts';
import { parseAuthParams } from '../../src/sip/headers.ts';
import type { TestServer } from '../helpers/test-server.ts';
import { startDefaultProfileServer } from '../helpers/default-profile-server.ts';
import { installed, run } from './lib/proc.ts';
import { needPeers } from '../helpers/peers.ts';

const FILTER = fileURLToPath(new URL('../../contrib/fail2ban/filter.d/tvphone.conf', import.meta.url));

describe('interop: fail2ban-regex with contrib/fail2ban/filter.d/tvphone.conf', function () {
  this.timeout(20000);
  let ts: TestServer | null = null;
  let dir: string;

  before(function () {
    needPeers(this, installed('fail2ban-regex'), 'fail2ban');
  });
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'tvphone-f2b-')); });
  afterEach(async () => {
    await ts?.close();
    ts = null;
    rmSync(dir, { recursive: true, force: true });
  });

  it('matches the refused REGISTERs (wrong password, unknown user) and names 127.0.0.1', async () => {
    const lines: string[] = [];
    ts = await startDefaultProfileServer({ log: createLogger('info', { write: (l: string) => void lines.push(l) }) });
    await ts.addUser('1001', 'right-pw');
    const c = await ts.client();
    const register = async (user: string, password: string): Promise<number> => {
      const spec = { method: 'REGISTER', uri: 'sip:127.0.0.1', from: `<sip:${user}@127.0.0.1>`, to: `<sip:${user}@127.0.0.1>`, headers: [['Contact', c.contact]] as Array<[string, string]> };
      const first = c.request(spec);
      const challenge = await c.final(first.callId);
      const authz = buildAuthorization({ challenge: parseAuthParams(challenge.header('www-authenticate')!).params, user, password, method: 'REGISTER', uri: 'sip:127.0.0.1', nc: 1, cnonce: 'f2b' });
      const second = c.request({ ...spec, callId: first.callId, cseq: 2, headers: [...spec.headers, ['Authorization', authz]] });
      return (await c.final(second.callId)).status;
    };
    assert.equal(await register('1001', 'guess-1'), 401);
    assert.equal(await register('1001', 'guess-2'), 401);
    assert.equal(await register('nobody', 'guess-3'), 401);
    assert.equal(await register('1001', 'right-pw'), 200);
    const log = join(dir, 'tvphone.log');
    writeFileSync(log, lines.join(''));
    const r = await run('fail2ban-regex', ['--print-all-matched', log, FILTER], { timeoutMs: 15000 }).done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Lines: \d+ lines, 0 ignored, 3 matched/);
    assert.match(r.stdout, /127\.0\.0\.1/);
  });

  it('matches tvphone\'s own ban line too: 10 wrong passwords (the shipped authFailures) make 10 failure lines and one "source banned"', async () => {
    const lines: string[] = [];
    ts = await startDefaultProfileServer({ log: createLogger('info', { write: (l: string) => void lines.push(l) }) });
    await ts.addUser('1001', 'right-pw');
    const c = await ts.client();
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      const spec = { method: 'REGISTER', uri: 'sip:127.0.0.1', from: '<sip:1001@127.0.0.1>', to: '<sip:1001@127.0.0.1>', headers: [['Contact', c.contact]] as Array<[string, string]> };
      const first = c.request(spec);
      const challenge = await c.final(first.callId, 'REGISTER', 8000);
      if (challenge.status !== 401) {
        statuses.push(challenge.status);
        continue;
      }
      const authz = buildAuthorization({ challenge: parseAuthParams(challenge.header('www-authenticate')!).params, user: '1001', password: `guess-${i}`, method: 'REGISTER', uri: 'sip:127.0.0.1', nc: 1, cnonce: 'f2b' });
      statuses.push((await c.final(c.request({ ...spec, callId: first.callId, cseq: 2, headers: [...spec.headers, ['Authorization', authz]] }).callId, 'REGISTER', 8000)).status);
    }
    assert.deepEqual(statuses, [...Array(10).fill(401), 403]);
    const log = join(dir, 'tvphone.log');
    writeFileSync(log, lines.join(''));
    const r = await run('fail2ban-regex', ['--print-all-matched', log, FILTER], { timeoutMs: 15000 }).done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Lines: \d+ lines, 0 ignored, 11 matched/, r.stdout);
    assert.match(r.stdout, /source banned/);
  });
});
