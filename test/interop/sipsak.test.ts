// Interop with sipsak 0.9.8 (OPTIONS ping, MESSAGE sender) and baresip 1.0 as the receiving agent of a stored
// MESSAGE (issue 4: "one with baresip or sipsak as the receiving agent"; sipsak has no plain receive mode).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';
import { generateTone } from '../../src/media/tone.ts';
import { writeWav } from '../../src/media/wav.ts';
import { baresipAvailable, startBaresip } from './lib/baresip.ts';
import { freeFourDigitPort, freePort, installed, killAll, LOOPBACK, run, sleep } from './lib/proc.ts';

describe('interop: sipsak against tvphone, baresip receiving stored messages', function () {
  this.timeout(20000);
  let ts: TestServer | null = null;
  let work: string;

  before(function () {
    if (!installed('sipsak')) this.skip();
  });

  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'tvphone-sipsak-'));
  });

  // sipsak 0.9.8.1 writes sip:127.0.0.1:2506 for -s sip:127.0.0.1:25061 (last digit of a 5-digit port
  // lost), which tvphone rightly answers 403 Relaying Denied: listen on a 4-digit port instead.
  async function server(): Promise<TestServer> {
    const port = await freeFourDigitPort();
    return startTestServer({ auth: 'none', profile: { listeners: [{ transport: 'udp', host: LOOPBACK, port }, { transport: 'tcp', host: LOOPBACK, port }] } });
  }

  afterEach(async () => {
    await killAll();
    await ts?.close();
    ts = null;
    rmSync(work, { recursive: true, force: true });
  });

  it('sipsak -s sip:127.0.0.1:PORT (OPTIONS ping) exits 0 on the 200', async () => {
    ts = await server();
    const lport = await freePort();
    const p = run('sipsak', ['-s', `sip:${LOOPBACK}:${ts.udp.port}`, '-l', String(lport), '-H', LOOPBACK, '-vv'], { timeoutMs: 8000 });
    const e = await p.done;
    assert.equal(e.code, 0, e.stdout + e.stderr);
    assert.match(e.stdout, /SIP\/2\.0 200/);
  });

  it('sipsak MESSAGE to an offline user → 202; baresip then registers as that user and receives it; stored as delivered', async function () {
    if (!installed('baresip') || !baresipAvailable()) this.skip();
    ts = await server();
    await ts.addUser('tv2', 'pw');
    const lport = await freePort();
    const text = `tvphone-sipsak-${process.pid} kept for the TV`;
    // sipsak's -M is a usrloc mode (it registers and messages itself), so the MESSAGE is shot from a file
    const file = join(work, 'message.sip');
    writeFileSync(file, [
      `MESSAGE sip:tv2@${LOOPBACK}:${ts.udp.port} SIP/2.0`,
      `From: <sip:sender@${LOOPBACK}>;tag=sipsak${process.pid}`,
      `To: <sip:tv2@${LOOPBACK}:${ts.udp.port}>`,
      `Call-ID: sipsak-${process.pid}@${LOOPBACK}`,
      'CSeq: 1 MESSAGE',
      'Max-Forwards: 70',
      'Content-Type: text/plain',
      `Content-Length: ${Buffer.byteLength(text)}`,
      '',
      text,
    ].join('\r\n'));
    const m = run('sipsak', ['-f', file, '-s', `sip:tv2@${LOOPBACK}:${ts.udp.port}`, '-l', String(lport), '-H', LOOPBACK, '-vv'], { timeoutMs: 8000 });
    const e = await m.done;
    assert.equal(e.code, 0, e.stdout + e.stderr);
    assert.match(e.stdout, /SIP\/2\.0 202/);
    const pending = await ts.server.store.listMessages({ toUser: 'tv2', state: 'pending' });
    assert.equal(pending.length, 1);
    assert.equal(Buffer.from(pending[0]!.body).toString('utf8'), text);

    const wav = join(work, 'silence.wav');
    writeFileSync(wav, writeWav(generateTone({ frequency: 300, amplitude: 0.01, samples: 8000 }), 8000));
    const tv = await startBaresip({ dir: work, user: 'tv2', password: 'pw', serverPort: ts.udp.port, source: wav, quitAfterS: 8, sipTrace: true });
    // baresip 1.0 does not print a MESSAGE's text (it plays its message alert); its SIP trace (-s) shows the
    // MESSAGE it received, and the store says it answered 2xx
    await tv.proc.waitFor(new RegExp(text), 6000);
    assert.match(tv.proc.stdout() + tv.proc.stderr(), /\nMESSAGE sip:[^]*Content-Type: text\/plain/);
    const end = Date.now() + 3000;
    let delivered = await ts.server.store.listMessages({ toUser: 'tv2', state: 'delivered' });
    while (delivered.length === 0 && Date.now() < end) {
      await sleep(50);
      delivered = await ts.server.store.listMessages({ toUser: 'tv2', state: 'delivered' });
    }
    assert.equal(delivered.length, 1);
    assert.deepEqual(await ts.server.store.listMessages({ toUser: 'tv2', state: 'pending' }), []);
  });
});
