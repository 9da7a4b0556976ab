// Interop with baresip 1.0 for the voicemail access number: the TV owner's baresip subscribes to its message-summary
// (the mwi module, mwi=yes), sees Messages-Waiting: yes once a caller left a voice message, dials *97 (the shipped
// default profile's voicemail.accessNumber), hears the message to its end (Messages-Waiting: no, Voice-Message 0/1),
// deletes it with the 7 key — DTMF typed on baresip's stdio menu, sent as RFC 4733 telephone-event — (0/0) and ends
// with # (tvphone hangs up).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestServer } from '../helpers/test-server.ts';
import { startDefaultProfileServer, shippedDefaultProfile } from '../helpers/default-profile-server.ts';
import { until } from '../helpers/until.ts';
import { generateTone } from '../../src/media/tone.ts';
import { readWav, writeWav } from '../../src/media/wav.ts';
import { goertzelPower } from '../../src/media/goertzel.ts';
import { baresipAvailable, startBaresip } from './lib/baresip.ts';
import { TvAgent } from '../../src/terminal/tv-agent.ts';
import { waitFor } from '../helpers/tv-events.ts';
import { installed, killAll, LOOPBACK } from './lib/proc.ts';
import { needPeers } from '../helpers/peers.ts';

const REGISTERED = /200 OK \(\) \[1 binding\]/;
const ALICE_HZ = 440;

describe('interop: baresip reaches its voice messages at the access number (*97) and sees MWI follow', function () {
  this.timeout(90_000);
  let ts: TestServer | null = null;
  let work: string;

  before(function () {
    needPeers(this, installed('baresip') && baresipAvailable() && existsSync('/usr/lib/baresip/modules/mwi.so'), 'baresip with its mwi module');
  });
  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'tvphone-baresip-mailbox-'));
    writeFileSync(join(work, 'silence.wav'), writeWav(new Int16Array(8000 * 30), 8000));
  });
  afterEach(async () => {
    await killAll();
    await ts?.close();
    ts = null;
    rmSync(work, { recursive: true, force: true });
  });

  it('MWI yes after a voice message; *97 plays it (heard: no, 0/1); the 7 key deletes it (0/0); # ends the call', async () => {
    const access = (shippedDefaultProfile().voicemail as { accessNumber?: string }).accessNumber;
    assert.equal(access, '*97', 'the shipped access number');
    // the owner's phone rings and is not picked up: after ringSeconds the media server takes the call
    ts = await startDefaultProfileServer({ voicemail: { enabled: true, ringSeconds: 2 } });
    await ts.addUser('alice', 'alice-pw');
    await ts.addUser('tv', 'tv-pw');
    const port = ts.udp.port;
    const phone = await startBaresip({
      dir: work, user: 'tv', password: 'tv-pw', serverPort: port, source: join(work, 'silence.wav'), quitAfterS: 70, interactive: true,
      answerMode: 'manual', mwi: true,
    });
    const withPhone = (err: Error): never => {
      throw new Error(`${err.message}\nphone: ${phone.proc.stdout().slice(-3000)} ${phone.proc.stderr().slice(-500)}`);
    };
    await phone.proc.waitFor(REGISTERED, 10000).catch(withPhone);
    await phone.proc.waitFor(/Messages-Waiting: no/, 10000).catch(withPhone);

    const caller = new TvAgent({ user: 'alice', password: 'alice-pw', server: `sip:${LOOPBACK}:${port}`, transport: 'udp', downloadDir: join(work, 'alice'), toneHz: ALICE_HZ });
    try {
      await caller.start();
      const answered = waitFor(caller, 'call-answered', () => true, 10_000);
      await caller.dial('tv');
      await phone.proc.waitFor(/Incoming call/i, 5000).catch(withPhone);
      await answered; // the media server, after the phone rang 2 s
      await new Promise((r) => setTimeout(r, 1600 + 2500));
      await caller.hangup();
    } finally {
      await caller.stop();
    }
    await until(async () => (await ts!.server.store.listVoicemails({ toUser: 'tv' })).length === 1, 8000, 'the voice message kept');
    const [vm] = await ts.server.store.listVoicemails({ toUser: 'tv' });
    await phone.proc.waitFor(/Messages-Waiting: yes/, 10000).catch(withPhone);
    assert.match(phone.proc.stdout(), /Voice-Message: 1\/0/);
    // the phone may still be ringing off the first call's end: wait for it to settle
    await new Promise((r) => setTimeout(r, 500));

    phone.command(`/dial sip:${access}@${LOOPBACK}:${port}`);
    await phone.proc.waitFor(/Call established/, 10000).catch(withPhone);
    // the counts, the pip, the message to its end: heard (old) and the summary says so
    await until(async () => (await ts!.server.store.getVoicemail(vm.id))?.state === 'delivered', 15000, 'the message heard').catch(withPhone);
    await until(async () => /Messages-Waiting: yes[\s\S]*Messages-Waiting: no/.test(phone.proc.stdout()), 10000, 'MWI no once heard').catch(withPhone);
    assert.match(phone.proc.stdout(), /Voice-Message: 0\/1/);
    // 7 deletes it (the menu module sends a typed digit as DTMF in a call)
    phone.command('7');
    await until(async () => (await ts!.server.store.getVoicemail(vm.id)) === null, 8000, 'deleted by the 7 key').catch(withPhone);
    await until(async () => /Voice-Message: 0\/0/.test(phone.proc.stdout()), 10000, 'MWI 0/0 once deleted').catch(withPhone);
    phone.command('#');
    await phone.proc.waitFor(/terminated/, 8000).catch(withPhone); // tvphone's BYE after #
    phone.command('/quit');
    await phone.proc.done;

    // what the phone decoded: the message (alice's 440 Hz) after the prompts
    const heard = readWav(readFileSync(phone.dumps().dec.at(-1)!));
    const mono = heard.channels === 1 ? heard.samples : heard.samples.filter((_, i) => i % heard.channels === 0);
    assert.ok(goertzelPower(mono, ALICE_HZ, heard.sampleRate) > 20 * goertzelPower(mono, 2500, heard.sampleRate), 'the message was heard at the access number');
  });
});
