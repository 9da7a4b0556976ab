// Interop of the TV agent with two independent implementations: it registers (digest, MD5) to Kamailio 5.6
// (the project's reference config, bench/kamailio/kamailio.cfg with WITH_AUTH: usrloc in memory, subscribers
// in a fresh SQLite file) and calls a headless baresip 1.0 through it; then baresip calls the TV. The TV sends
// a 1000 Hz tone and baresip a 440 Hz one; both recordings must carry the other side's tone.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kamailioAvailable, startKamailio, type ServerHandle } from '../../bench/lib/kamailio.ts';
import { dominantFrequency, rms } from '../../src/media/goertzel.ts';
import { generateTone } from '../../src/media/tone.ts';
import { readWav, writeWav } from '../../src/media/wav.ts';
import { waitFor, sleep } from '../helpers/tv-events.ts';
import { TvAgent } from '../../src/terminal/tv-agent.ts';
import { baresipAvailable, startBaresip, type Baresip } from './lib/baresip.ts';
import { installed, killAll, LOOPBACK } from './lib/proc.ts';
import { needPeers } from '../helpers/peers.ts';

// bench/lib/kamailio.ts provisions subscribers a0000001..aN, password "pw"
const TV_USER = 'a0000001';
const BARESIP_USER = 'a0000002';
const TV_HZ = 1000;
const BARESIP_HZ = 440;
const CALL_MS = 5000;

/** Dominant frequency, level and length of a recording's first channel, skipping its first 0.5 s. */
function analyse(file: string): { hz: number; level: number; seconds: number } {
  const wav = readWav(readFileSync(file));
  const mono = wav.channels === 1 ? wav.samples : wav.samples.filter((_, i) => i % wav.channels === 0);
  const body = mono.subarray(Math.floor(wav.sampleRate / 2));
  return { hz: dominantFrequency(body, wav.sampleRate), level: rms(body), seconds: mono.length / wav.sampleRate };
}


describe('interop: the TV agent, Kamailio 5.6 and baresip', function () {
  this.timeout(40_000);
  let kam: ServerHandle | null = null;
  let tv: TvAgent | null = null;
  let work: string;
  const shmBefore = process.env['BENCH_KAMAILIO_SHM_MB'];

  before(function () {
    needPeers(this, kamailioAvailable() && installed('baresip') && baresipAvailable(), 'kamailio or baresip');
  });

  beforeEach(async () => {
    work = mkdtempSync(join(tmpdir(), 'tvphone-tv-kam-'));
    writeFileSync(join(work, 'baresip.wav'), writeWav(generateTone({ frequency: BARESIP_HZ, amplitude: 0.4, samples: 8000 * 30 }), 8000));
    process.env['BENCH_KAMAILIO_SHM_MB'] = '64'; // the bench default (1 GB) is for load runs
    kam = await startKamailio({ authUsers: 2 });
  });

  afterEach(async () => {
    await tv?.stop();
    tv = null;
    await killAll();
    await kam?.stop();
    kam = null;
    if (shmBefore === undefined) delete process.env['BENCH_KAMAILIO_SHM_MB'];
    else process.env['BENCH_KAMAILIO_SHM_MB'] = shmBefore;
    rmSync(work, { recursive: true, force: true });
  });

  async function startPeers(answerMode: 'auto' | 'manual', commands: string[] = []): Promise<Baresip> {
    const port = kam!.port;
    const bs = await startBaresip({
      dir: work, user: BARESIP_USER, password: 'pw', serverPort: port, source: join(work, 'baresip.wav'), quitAfterS: 30,
      answerMode, commands,
    });
    await bs.proc.waitFor(/\[1 binding\]/, 10000);
    tv = new TvAgent({
      user: TV_USER, password: 'pw', server: `sip:${LOOPBACK}:${port}`, transport: 'tcp', downloadDir: join(work, 'tv'),
      toneHz: TV_HZ, record: join(work, 'tv.wav'), autoAnswer: true, rtcpIntervalMs: 1000,
    });
    const reg = waitFor(tv, 'registered');
    await tv.start();
    const r = await reg;
    assert.equal(r.aor, `sip:${TV_USER}@${LOOPBACK}`);
    assert.ok(tv.isRegistered, 'Kamailio accepted the TV\'s digest credentials');
    return bs;
  }

  function assertTones(bs: Baresip): void {
    const heardByTv = analyse(join(work, 'tv.wav'));
    const dec = bs.dumps().dec;
    assert.equal(dec.length, 1, `baresip wrote ${dec.length} decoded dumps`);
    const heardByBaresip = analyse(dec[0]!);
    assert.ok(heardByTv.seconds >= 3, `the TV recorded ${heardByTv.seconds} s`);
    assert.ok(heardByBaresip.seconds >= 3, `baresip decoded ${heardByBaresip.seconds} s`);
    assert.ok(Math.abs(heardByTv.hz - BARESIP_HZ) < 5, `the TV heard ${heardByTv.hz} Hz, expected baresip's ${BARESIP_HZ} Hz`);
    assert.ok(Math.abs(heardByBaresip.hz - TV_HZ) < 5, `baresip heard ${heardByBaresip.hz} Hz, expected the TV's ${TV_HZ} Hz`);
    assert.ok(heardByTv.level > 1000 && heardByBaresip.level > 1000, `levels ${heardByTv.level} ${heardByBaresip.level}`);
  }

  it('the TV registers with digest and calls baresip through Kamailio: each hears the other\'s tone, the TV\'s BYE ends it', async () => {
    const bs = await startPeers('auto');
    const agent = tv!;
    const answered = waitFor(agent, 'call-answered');
    const ended = waitFor(agent, 'call-ended', undefined, CALL_MS + 10_000);
    assert.equal(await agent.dial(BARESIP_USER), true);
    const a = await answered;
    assert.equal(a.codec, 'PCMU');
    assert.equal(a.direction, 'sendrecv');
    await bs.proc.waitFor(/Call established/, 10000);
    await sleep(CALL_MS);
    assert.equal(await agent.hangup(), true);
    const e = await ended;
    assert.equal(e.reason, 'local-hangup');
    assert.ok(e.rtcp !== null && e.rtcp.received.packets > 150, `the TV received ${e.rtcp?.received.packets} RTP packets`);
    assert.ok(e.rtcp!.sent.packets > 150, `the TV sent ${e.rtcp?.sent.packets} RTP packets`);
    await bs.proc.waitFor(/terminated/, 10000); // the BYE reached baresip through Kamailio (Record-Route)
    bs.proc.kill();
    await bs.proc.done;
    assertTones(bs);
  });

  it('baresip calls the TV through Kamailio: the TV answers automatically, audio both ways, baresip\'s BYE ends it', async () => {
    const bs = await startPeers('manual');
    const agent = tv!;
    const incoming = waitFor(agent, 'call-incoming');
    const answered = waitFor(agent, 'call-answered');
    const ended = waitFor(agent, 'call-ended', undefined, CALL_MS + 10_000);
    bs.proc.kill(); // restart baresip with a dial command, now that the TV is registered
    await bs.proc.done;
    rmSync(join(work, BARESIP_USER), { recursive: true, force: true });
    const caller = await startBaresip({
      dir: work, user: BARESIP_USER, password: 'pw', serverPort: kam!.port, source: join(work, 'baresip.wav'),
      quitAfterS: Math.ceil(CALL_MS / 1000) + 2, commands: [`/dial sip:${TV_USER}@${LOOPBACK}:${kam!.port}`],
    });
    assert.equal((await incoming).from, BARESIP_USER);
    await answered;
    await caller.proc.waitFor(/Call established/, 10000);
    const e = await ended; // baresip quits after -t seconds and hangs up on the way out
    assert.equal(e.reason, 'remote-hangup');
    await caller.proc.done;
    assertTones(caller);
  });
});
