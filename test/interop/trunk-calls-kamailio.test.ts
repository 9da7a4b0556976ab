// Calls through a trunk, with Kamailio 5.6 as the carrier (test/interop/lib/kamailio-carrier.ts, calls mode) and
// baresip 1.0 as the phones on both sides. Out: alice (a tvphone user) dials a national number; tvphone's dial plan
// makes it E.164 and sends it through the trunk; Kamailio challenges the INVITE (407) and tvphone answers with the
// trunk's account; the carrier's "PSTN" phone answers; each hears the other's tone. In: the PSTN phone calls the
// trunk's DID; Kamailio sends it to the Contact tvphone registered; tvphone maps the DID to bob; bob answers — and
// while bob is off, the server takes a voice message with the caller's number (the shipped profile's voicemail).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../bench/lib/proc.ts';
import type { TrunkStatusRow } from '../../src/trunks/trunks.ts';
import type { TestServer } from '../helpers/test-server.ts';
import { startDefaultProfileServer } from '../helpers/default-profile-server.ts';
import { pollUntil, until } from '../helpers/until.ts';
import { generateTone } from '../../src/media/tone.ts';
import { readWav, writeWav } from '../../src/media/wav.ts';
import { dominantFrequency } from '../../src/media/goertzel.ts';
import { CARRIER_DID, CARRIER_PASSWORD, CARRIER_REALM, CARRIER_USER, PSTN_NUMBER, kamailioCarrier, type KamailioCarrier } from './lib/kamailio-carrier.ts';
import { baresipAvailable, startBaresip, type Baresip } from './lib/baresip.ts';
import { installed, killAll, LOOPBACK } from './lib/proc.ts';
import { TvAgent } from '../../src/terminal/tv-agent.ts';
import { waitFor } from '../helpers/tv-events.ts';
import { needPeers } from '../helpers/peers.ts';

const REGISTERED = /200 OK .*\[1 binding\]/;

function heardHz(b: Baresip): number {
  const wav = readWav(readFileSync(b.dumps().dec[0]!));
  const body = wav.samples.subarray(Math.floor(wav.sampleRate / 2));
  return dominantFrequency(body, wav.sampleRate);
}

describe('interop: calls through a trunk to Kamailio 5.6 as the carrier (baresip phones on both sides)', function () {
  this.timeout(90_000);
  let kam: KamailioCarrier | null = null;
  let ts: TestServer | null = null;
  let work: string;

  before(function () {
    needPeers(this, installed('kamailio') && installed('kamcmd') && installed('baresip') && baresipAvailable(), 'kamailio or baresip');
  });

  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'tvphone-trunkcall-'));
    writeFileSync(join(work, 'a.wav'), writeWav(generateTone({ frequency: 440, amplitude: 0.4, samples: 8000 * 20 }), 8000));
    writeFileSync(join(work, 'b.wav'), writeWav(generateTone({ frequency: 1000, amplitude: 0.4, samples: 8000 * 20 }), 8000));
  });

  afterEach(async () => {
    await killAll();
    await ts?.close();
    ts = null;
    await kam?.close();
    kam = null;
    rmSync(work, { recursive: true, force: true });
  });

  async function start(): Promise<{ status: () => Promise<TrunkStatusRow> }> {
    const port = await freePort();
    kam = await kamailioCarrier({ port, algorithm: 'MD5', calls: true });
    ts = await startDefaultProfileServer({
      admin: { listen: '127.0.0.1:0' },
      trunks: [{
        name: 'carrier', host: LOOPBACK, port, transport: 'udp', username: CARRIER_USER, password: CARRIER_PASSWORD, realm: CARRIER_REALM,
        register: true, expires: 60, retrySeconds: 1, dids: [{ number: CARRIER_DID, user: 'bob' }],
      }],
      routes: [{ prefix: '0', trunks: ['carrier'], e164: { countryCode: '49' } }],
    });
    await ts.addUser('alice', 'alice-pw');
    await ts.addUser('bob', 'bob-pw');
    const admin = `127.0.0.1:${ts.server.admin!.address.port}`;
    const status = async (): Promise<TrunkStatusRow> => ((await (await fetch(`http://${admin}/trunks`)).json()) as TrunkStatusRow[])[0]!;
    await pollUntil(status, (s) => s.state === 'REGED', 15_000);
    return { status };
  }

  function withLogs(extra: () => string): (err: Error) => never {
    return (err) => {
      throw new Error(`${err.message}\n${extra()}\ncarrier: ${kam?.log() ?? ''}`);
    };
  }

  it('alice dials 030 1234567: E.164 through the trunk, the carrier\'s 407 answered by tvphone, the PSTN phone answers, audio both ways', async () => {
    const { status } = await start();
    const pstn = await startBaresip({ dir: work, user: 'pstn', password: 'x', serverPort: kam!.port, source: join(work, 'b.wav'), quitAfterS: 40 });
    await pstn.proc.waitFor(REGISTERED, 10_000);
    const alice = await startBaresip({ dir: work, user: 'alice', password: 'alice-pw', serverPort: ts!.udp.port, source: join(work, 'a.wav'), quitAfterS: 40, interactive: true });
    const fail = withLogs(() => `alice: ${alice.proc.stdout().slice(-1500)}\npstn: ${pstn.proc.stdout().slice(-1000)}`);
    await alice.proc.waitFor(REGISTERED, 10_000).catch(fail);
    alice.command(`/dial sip:030-1234567@${LOOPBACK}:${ts!.udp.port}`);
    await pstn.proc.waitFor(/Call established/, 15_000).catch(fail);
    await alice.proc.waitFor(/Call established/, 10_000).catch(fail);
    const during = await status();
    assert.equal(during.activeCalls, 1);
    await new Promise((r) => setTimeout(r, 4000));
    alice.command('/hangup');
    await pstn.proc.waitFor(/terminated/, 10_000).catch(fail); // the BYE went through tvphone and the carrier
    alice.command('/quit');
    pstn.proc.kill();
    await Promise.all([alice.proc.done, pstn.proc.done]);

    const log = kam!.fullLog();
    const challenged = /carrier: challenging INVITE \+49301234567 cseq (\d+)/.exec(log);
    assert.ok(challenged, `the carrier challenged the E.164 number:\n${log}`);
    const authed = new RegExp(`carrier: INVITE \\+49301234567 authenticated as ${CARRIER_USER}, From sip:alice@${CARRIER_REALM}, cseq (\\d+)`).exec(log);
    assert.ok(authed, 'tvphone answered the 407 with the trunk account; From carries the caller in the trunk\'s domain');
    assert.equal(Number(authed[1]), Number(challenged[1]) + 1, 'RFC 3261 §22.2: the request with credentials has CSeq + 1');
    assert.ok(Math.abs(heardHz(alice) - 1000) < 5, `alice heard ${heardHz(alice)} Hz`);
    assert.ok(Math.abs(heardHz(pstn) - 440) < 5, `the PSTN phone heard ${heardHz(pstn)} Hz`);
    const calls = await ts!.server.store.listCalls({ userId: 'alice' });
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.outcome, 'answered');
    assert.equal(calls[0]!.otherUserId, '0301234567');
    assert.ok(calls[0]!.endedAt !== null);
    assert.equal((await status()).activeCalls, 0, 'the BYE gave the trunk\'s call slot back');
  });

  it('a TV agent dials 030 1234567 through the trunk: the PSTN phone answers, each hears the other\'s tone', async () => {
    await start();
    const pstn = await startBaresip({ dir: work, user: 'pstn', password: 'x', serverPort: kam!.port, source: join(work, 'b.wav'), quitAfterS: 40 });
    await pstn.proc.waitFor(REGISTERED, 10_000);
    const tv = new TvAgent({
      user: 'alice', password: 'alice-pw', server: `sip:${LOOPBACK}:${ts!.tcp.port}`, transport: 'tcp', downloadDir: join(work, 'tv'),
      toneHz: 440, record: join(work, 'tv.wav'), autoAnswer: false, rtcpIntervalMs: 1000,
    });
    try {
      await tv.start();
      const answered = waitFor(tv, 'call-answered');
      const ended = waitFor(tv, 'call-ended', undefined, 20_000);
      const ok = await tv.dial('0301234567');
      if (!ok) {
        const e = await ended;
        assert.fail(`the call ended ${e.status} ${e.reason}\ncarrier: ${kam!.log()}`);
      }
      await answered;
      await pstn.proc.waitFor(/Call established/, 10_000);
      await new Promise((r) => setTimeout(r, 4000));
      assert.equal(await tv.hangup(), true);
      await ended;
      await pstn.proc.waitFor(/terminated/, 10_000);
    } finally {
      await tv.stop();
    }
    pstn.proc.kill();
    await pstn.proc.done;
    const wav = readWav(readFileSync(join(work, 'tv.wav')));
    const tvHeard = dominantFrequency(wav.samples.subarray(Math.floor(wav.sampleRate / 2)), wav.sampleRate);
    assert.ok(Math.abs(tvHeard - 1000) < 5, `the TV heard ${tvHeard} Hz`);
    assert.ok(Math.abs(heardHz(pstn) - 440) < 5, `the PSTN phone heard ${heardHz(pstn)} Hz`);
    const [call] = await ts!.server.store.listCalls({ userId: 'alice' });
    assert.deepEqual([call!.outcome, call!.trunk, call!.dialledNumber, call!.sentNumber], ['answered', 'carrier', '0301234567', PSTN_NUMBER]);
  });

  it('the PSTN phone calls the DID: while bob is off the server takes a voice message with the caller\'s number; then bob rings and answers, audio both ways', async () => {
    await start();
    const pstn = await startBaresip({ dir: work, user: 'pstn', password: 'x', serverPort: kam!.port, source: join(work, 'b.wav'), quitAfterS: 40, interactive: true });
    await pstn.proc.waitFor(REGISTERED, 10_000);
    // bob is off: the shipped profile's voicemail answers the carrier's call, as any other
    pstn.command(`/dial sip:${CARRIER_DID}@${LOOPBACK}:${kam!.port}`);
    await pstn.proc.waitFor(/Call established/, 15_000);
    await new Promise((r) => setTimeout(r, 4000)); // the greeting, then 1000 Hz recorded
    pstn.command('/hangup');
    await until(async () => (await ts!.server.store.listVoicemails({ toUser: 'bob' })).length === 1, 10_000, 'a voice message for bob');
    const [vm] = await ts!.server.store.listVoicemails({ toUser: 'bob' });
    assert.equal(vm!.caller, 'pstn', 'the caller as the carrier sent it (its From user)');
    const [call] = await ts!.server.store.listCalls({ userId: 'bob' });
    assert.equal(call!.outcome, 'voicemail');

    const bob = await startBaresip({ dir: work, user: 'bob', password: 'bob-pw', serverPort: ts!.udp.port, source: join(work, 'a.wav'), quitAfterS: 40 });
    const fail = withLogs(() => `bob: ${bob.proc.stdout().slice(-1500)}\npstn: ${pstn.proc.stdout().slice(-1500)}`);
    await bob.proc.waitFor(REGISTERED, 10_000).catch(fail);
    pstn.command(`/dial sip:${CARRIER_DID}@${LOOPBACK}:${kam!.port}`);
    await bob.proc.waitFor(/Call established/, 15_000).catch(fail);
    await new Promise((r) => setTimeout(r, 4000));
    pstn.command('/hangup');
    await bob.proc.waitFor(/terminated/, 10_000).catch(fail);
    pstn.command('/quit');
    bob.proc.kill();
    await Promise.all([bob.proc.done, pstn.proc.done]);
    assert.match(kam!.fullLog(), new RegExp(`carrier: INVITE to DID \\${CARRIER_DID}`));
    assert.ok(Math.abs(heardHz(bob) - 1000) < 5, `bob heard ${heardHz(bob)} Hz`);
    const calls = await ts!.server.store.listCalls({ userId: 'bob' });
    assert.deepEqual(calls.map((c) => c.outcome), ['voicemail', 'answered']);
  });
});
