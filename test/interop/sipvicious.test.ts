// SIPVicious as an attacker's view of tvphone: svmap finds the SIP server; svwar (REGISTER extension
// enumeration with --force) cannot tell an existing user from an unknown one, since both get the same 401.
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';
import { startDefaultProfileServer } from '../helpers/default-profile-server.ts';
import { freePort, installed, killAll, LOOPBACK, run } from './lib/proc.ts';
import { needPeers } from '../helpers/peers.ts';

describe('interop: sipvicious svmap and svwar against tvphone', function () {
  this.timeout(40000);
  let ts: TestServer | null = null;

  before(function () {
    needPeers(this, installed('svmap') && installed('svwar'), 'sipvicious');
  });

  afterEach(async () => {
    await killAll();
    await ts?.close();
    ts = null;
  });

  it('svmap identifies 127.0.0.1:PORT as a SIP device', async () => {
    ts = await startTestServer({ auth: 'digest' });
    const e = await run('svmap', [LOOPBACK, '-p', String(ts.udp.port), '-P', String(await freePort())], { timeoutMs: 15000 }).done;
    assert.equal(e.code, 0, e.stdout + e.stderr);
    assert.match(e.stdout, new RegExp(`127\\.0\\.0\\.1:${ts.udp.port}`), e.stdout + e.stderr);
  });

  it('svwar -m REGISTER --force over 1000-1010 finds nothing although 1001 and 1005 exist', async () => {
    ts = await startTestServer({ auth: 'digest' });
    await ts.addUser('1001', 'pw1');
    await ts.addUser('1005', 'pw5');
    const e = await run('svwar', ['-e1000-1010', '-m', 'REGISTER', '--force', LOOPBACK, '-p', String(ts.udp.port), '-P', String(await freePort())], { timeoutMs: 30000 }).done;
    const out = e.stdout + e.stderr;
    assert.equal(e.code, 0, out);
    assert.match(out, /found nothing/, out);
    assert.doesNotMatch(out, /\b100[15]\b.*(reqauth|noauth)/, out);
  });

  for (const method of ['OPTIONS', 'INVITE']) {
    it(`svwar -m ${method} over 1000-1010 finds nothing although 1001 (online) and 1005 (offline) exist: everyone is challenged first`, async () => {
      ts = await startTestServer({ auth: 'digest' });
      await ts.addUser('1001', 'pw1');
      await ts.addUser('1005', 'pw5');
      const tv = await ts.client();
      await ts.server.store.saveBindings('1001', [{
        userId: '1001', contact: tv.contact.slice(1, -1), expiresAt: Date.now() + 600_000, q: null, callId: 'svwar', cseq: 1, path: [], instance: null,
        regId: null, flow: { transport: 'udp', address: LOOPBACK, port: tv.port, connectionId: null }, userAgent: null, updatedAt: Date.now(),
      }], [], false, Date.now());
      const e = await run('svwar', ['-e1000-1010', '-m', method, LOOPBACK, '-p', String(ts.udp.port), '-P', String(await freePort())], { timeoutMs: 30000 }).done;
      const out = e.stdout + e.stderr;
      assert.equal(e.code, 0, out);
      assert.match(out, /found nothing/, out);
      assert.equal(tv.received.filter((m) => m.isRequest()).length, 0, 'nothing unauthenticated reached the online TV');
    });
  }

  it('svcrack over 1000-9999 does not find a 4-digit password within its run: banned after the shipped security.authFailures (issue 16)', async function () {
    needPeers(this, installed('svcrack'), 'sipvicious');
    ts = await startDefaultProfileServer();
    await ts.addUser('1001', '1042'); // the store takes it as is: the password policy is the CLI's
    const e = await run('svcrack', ['-u1001', '-r1000-9999', '-z4', LOOPBACK, '-p', String(ts.udp.port), '-P', String(await freePort())], {
      timeoutMs: 15000, env: { ...process.env, PYTHONUNBUFFERED: '1' },
    }).done;
    const out = e.stdout + e.stderr;
    // without the ban (security.authFailures 0) it prints | 1001 | 1042 | within a second
    assert.doesNotMatch(out, /1042/, out);
    // the TV itself, at another address, still registers
    const tv = await ts.client('udp', '127.0.0.2');
    const first = tv.request({ method: 'REGISTER', uri: 'sip:127.0.0.1', from: '<sip:1001@127.0.0.1>', to: '<sip:1001@127.0.0.1>', headers: [['Contact', tv.contact]] });
    assert.equal((await tv.final(first.callId)).status, 401);
  });
});
