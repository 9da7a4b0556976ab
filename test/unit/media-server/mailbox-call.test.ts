// The access number's pure parts: the prompt player, the play order (new first), the SIP INFO DTMF bodies, the
// prompts' tones (test/integration/media-server/mailbox-call.test.ts drives a MailboxCall over loopback RTP).
import assert from 'node:assert/strict';
import { goertzelPower } from '../../../src/media/goertzel.ts';
import { playOrder, PromptPlayer } from '../../../src/media-server/mailbox-call.ts';
import { infoDigit } from '../../../src/media-server/mailbox-server.ts';
import { countsPrompt, END_TONES_HZ, MAX_PIPS, NEW_PIP_HZ, OLD_PIP_HZ } from '../../../src/media-server/mailbox-prompts.ts';
import type { VoicemailRecord } from '../../../src/store/store.ts';

function record(id: number, state: VoicemailRecord['state']): VoicemailRecord {
  return { id, toUser: 'tv', caller: 'a', fromUri: 'sip:a@x', callId: `c${id}`, callRecordId: null, recordedAt: id, durationMs: 1000, codec: 'PCMU', bytes: 16044, state, deliveredAt: null, contentType: 'audio/wav' };
}

/** how many separate bursts of `hz` the prompt has (20 ms frames) */
function bursts(pcm: Int16Array, hz: number): number {
  let n = 0;
  let on = false;
  for (let at = 0; at + 160 <= pcm.length; at += 160) {
    const frame = pcm.subarray(at, at + 160);
    const now = goertzelPower(frame, hz, 8000) > 1e6;
    if (now && !on) n++;
    on = now;
  }
  return n;
}

describe('media-server/mailbox-call (the access number)', () => {
  it('plays new messages oldest first, then old ones; expired ones not at all', () => {
    const list = [record(1, 'delivered'), record(2, 'pending'), record(3, 'expired'), record(4, 'pending'), record(5, 'delivered')];
    assert.deepEqual(playOrder(list).map((v) => v.id), [2, 4, 1, 5]);
  });

  it('reads the digit of an INFO body: application/dtmf-relay Signal=, application/dtmf; anything else none', () => {
    const b = (s: string) => new TextEncoder().encode(s);
    assert.equal(infoDigit('application/dtmf-relay', b('Signal=7\r\nDuration=160\r\n')), '7');
    assert.equal(infoDigit('Application/DTMF-Relay; x=1', b('Signal= #\r\n')), '#');
    assert.equal(infoDigit('application/dtmf', b('9')), '9');
    assert.equal(infoDigit('application/dtmf-relay', b('Duration=160')), null);
    assert.equal(infoDigit('text/plain', b('Signal=1')), null);
    assert.equal(infoDigit(null, b('')), null);
  });

  it('announces the counts as pips: one per new message at 1200 Hz, one per old at 600 Hz, at most 9; none kept: the end tones', () => {
    const p = countsPrompt(2, 3);
    assert.deepEqual([bursts(p, NEW_PIP_HZ), bursts(p, OLD_PIP_HZ)], [2, 3]);
    assert.equal(bursts(countsPrompt(20, 0), NEW_PIP_HZ), MAX_PIPS);
    const empty = countsPrompt(0, 0);
    assert.deepEqual(END_TONES_HZ.map((hz) => bursts(empty, hz)), [1, 1]);
    assert.equal(bursts(empty, NEW_PIP_HZ), 0);
  });

  it('the prompt player plays a clip once, then silence, and says when it has been played (never "ended" to the session)', async () => {
    const player = new PromptPlayer();
    const frame = new Int16Array(160);
    let done = 0;
    assert.equal(player.read(frame), true);
    assert.ok(frame.every((x) => x === 0));
    player.play(Int16Array.from({ length: 200 }, () => 1000), () => done++);
    player.read(frame);
    assert.ok(frame.every((x) => x === 1000));
    player.read(frame);
    assert.ok(frame.subarray(0, 40).every((x) => x === 1000) && frame.subarray(40).every((x) => x === 0));
    await Promise.resolve();
    assert.equal(done, 1);
    assert.equal(player.playing, false);
    assert.equal(player.read(frame), true);
    player.play(new Int16Array(500), () => done++);
    player.stop();
    player.read(frame);
    await Promise.resolve();
    assert.equal(done, 1, 'a stopped clip is not "played"');
  });
});
