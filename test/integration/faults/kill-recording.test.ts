// Fault test (issue 13): the server is SIGKILLed in the middle of a voice message and restarted on the same database.
// What was recorded up to the last checkpoint (every 2 s, media-server/recording-checkpoint.ts) becomes the voice
// message, delivered at the callee's REGISTER with at least the checkpointed seconds; a kill during the greeting (no
// checkpoint yet) leaves the missed call. Never a lost call: the test says which of the two it got, and that it is
// the one expected.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { dominantFrequency } from '../../../src/media/goertzel.ts';
import { readWav } from '../../../src/media/wav.ts';
import { openStore } from '../../../src/store/open.ts';
import { TvAgent } from '../../../src/terminal/tv-agent.ts';
import { startChildServer, type ChildServer } from '../../helpers/child-server.ts';
import { REALM } from '../../helpers/test-server.ts';
import { sleep, waitFor } from '../../helpers/tv-events.ts';
import { until } from '../../helpers/until.ts';

const ha1 = (alg: 'md5' | 'sha256', user: string, pw: string) => createHash(alg).update(`${user}:${REALM}:${pw}`).digest('hex');
const PROFILE = { voicemail: { enabled: true, httpHost: '127.0.0.1', httpPort: 0, maxSeconds: 30, silenceSeconds: 0 } };

describe('faults: the server is SIGKILLed in the middle of a voice message (sqlite)', function () {
  this.timeout(60_000);
  let dir: string;
  let dbUrl: string;
  let server: ChildServer | undefined;
  const agents: TvAgent[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tvphone-kill-vm-'));
    dbUrl = `sqlite:${join(dir, 'tvphone.db')}`;
    const store = await openStore(dbUrl, { migrate: true });
    for (const [u, p] of [['1001', 'pw1'], ['1002', 'pw2']]) {
      await store.addUser({ userId: u, realm: REALM, ha1Md5: ha1('md5', u, p), ha1Sha256: ha1('sha256', u, p) }, Date.now());
    }
    await store.close();
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.stop();
    await server?.kill();
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  function agent(user: string, o: { toneHz?: number } = {}): TvAgent {
    const a = new TvAgent({
      user, password: user === '1001' ? 'pw1' : 'pw2', server: `sip:127.0.0.1:${server!.tcpPort}`, transport: 'tcp', localIp: '127.0.0.1',
      downloadDir: join(dir, user), rtcpIntervalMs: 300, timerValues: { t1: 100, t2: 400, t4: 500 }, ...o,
    });
    agents.push(a);
    return a;
  }

  /** what the killed server left in progress: the checkpointed milliseconds of the call, 0 when none */
  function checkpointedMs(): number {
    const db = new DatabaseSync(join(dir, 'tvphone.db'), { readOnly: true });
    try {
      const row = db.prepare('SELECT MAX(duration_ms) AS ms FROM voicemail_checkpoints').get() as { ms: number | null } | undefined;
      return Number(row?.ms ?? 0);
    } finally {
      db.close();
    }
  }

  /** 1001 calls offline 1002 and talks (440 Hz); the server is killed once `killWhen` says so; then restarted. */
  async function callAndKill(killWhen: () => Promise<void>): Promise<{ callId: string }> {
    server = await startChildServer({ dbUrl, auth: 'digest', profile: PROFILE });
    const a = agent('1001', { toneHz: 440 });
    await a.start();
    const answered = waitFor(a, 'call-answered');
    await a.dial('1002');
    const { callId } = await answered;
    await killWhen();
    await server.kill();
    await a.stop();
    server = await startChildServer({ dbUrl, auth: 'digest', profile: PROFILE });
    return { callId };
  }

  it('a kill 4 s into the message leaves the voice message up to its last checkpoint (≥ the checkpointed seconds), delivered at REGISTER, the call outcome voicemail', async () => {
    let atKill = 0;
    const { callId } = await callAndKill(async () => {
      // the greeting (1.6 s), then about 4 s of tone: at least one checkpoint of 2 s or more must be in the store
      await sleep(1600 + 4000);
      await until(async () => checkpointedMs() >= 2000, 5000, 'a checkpoint of at least 2 s');
      atKill = checkpointedMs();
    });
    assert.ok(atKill >= 2000 && atKill <= 6000, `checkpointed ${atKill} ms`);
    // the restarted server's sweep turns the stale checkpoint (no longer renewed) into the voice message
    await server!.waitForLog((l) => l.msg === 'voice message recovered from an interrupted recording', 20_000);

    const b = agent('1002');
    let missed = 0;
    b.on('missed-calls', () => { missed++; });
    const got = waitFor(b, 'voice-message', () => true, 15_000);
    await b.start();
    const v = await got;
    const wav = readWav(readFileSync(v.file));
    const ms = (wav.samples.length / 8) | 0;
    assert.ok(ms >= atKill - 20, `delivered ${ms} ms, checkpointed ${atKill} ms before the kill`);
    assert.ok(Math.abs(dominantFrequency(wav.samples) - 440) < 15, `the caller's tone (${dominantFrequency(wav.samples)} Hz)`);

    const store = await openStore(dbUrl);
    try {
      const call = (await store.listCalls({ userId: '1001' })).find((c) => c.callId === callId);
      assert.equal(call?.outcome, 'voicemail', 'the call is a voice message, not a missed call');
      const [vm] = await store.listVoicemails({ toUser: '1002' });
      assert.equal(vm.callRecordId, call!.id);
      assert.equal(vm.callId, callId);
      await until(async () => (await store.pendingMessages('1002', 10)).length === 0, 5000, 'delivered = acknowledged');
    } finally {
      await store.close();
    }
    assert.equal(checkpointedMs(), 0, 'no checkpoint left');
    await sleep(500);
    assert.equal(missed, 0, 'no missed-call notice for a call kept as a voice message');
  });

  it('a kill during the greeting (nothing recorded yet) leaves the missed call, noticed at REGISTER, and no voice message', async () => {
    const { callId } = await callAndKill(async () => {
      await sleep(800);
      assert.equal(checkpointedMs(), 0);
    });
    const b = agent('1002');
    const notice = waitFor(b, 'missed-calls', () => true, 15_000);
    await b.start();
    const n = await notice;
    assert.deepEqual(n.calls.map((c) => [c.from.includes('1001'), c.count]), [[true, 1]]);
    const store = await openStore(dbUrl);
    try {
      const call = (await store.listCalls({ userId: '1001' })).find((c) => c.callId === callId);
      assert.equal(call?.outcome, 'offline');
      assert.equal((await store.listVoicemails({ toUser: '1002' })).length, 0);
    } finally {
      await store.close();
    }
  });
});
