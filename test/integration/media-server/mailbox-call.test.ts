// A MailboxCall (the access number) over loopback RTP with a fake store: the first new message played to its end is
// heard (delivered, the summary changed), a key event (RFC 4733) deletes the next while it plays, # ends the call.
import assert from 'node:assert/strict';
import { goertzelPower } from '../../../src/media/goertzel.ts';
import { MediaSession } from '../../../src/media/rtp-session.ts';
import { PcmRecorder } from '../../../src/media/audio-io.ts';
import { LocalMedia } from '../../../src/media/sdp.ts';
import { writeWav } from '../../../src/media/wav.ts';
import { generateTone } from '../../../src/media/tone.ts';
import { systemClock } from '../../../src/clock.ts';
import { MailboxCall, type MailboxStore } from '../../../src/media-server/mailbox-call.ts';
import type { VoicemailRecord } from '../../../src/store/store.ts';

function record(id: number, state: VoicemailRecord['state']): VoicemailRecord {
  return { id, toUser: 'tv', caller: 'a', fromUri: 'sip:a@x', callId: `c${id}`, callRecordId: null, recordedAt: id, durationMs: 1000, codec: 'PCMU', bytes: 16044, state, deliveredAt: null, contentType: 'audio/wav' };
}

describe('media-server/mailbox-call over loopback RTP (integration)', function () {
  this.timeout(20_000);
  const sessions: MediaSession[] = [];
  afterEach(async () => {
    for (const s of sessions.splice(0)) await s.stop();
  });

  it('plays the first new message to its end (heard: delivered, summary changed), 7 deletes the next, # ends', async () => {
    const list = [record(1, 'pending'), record(2, 'pending')];
    const log: string[] = [];
    const wav = writeWav(generateTone({ frequency: 440, amplitude: 0.5, samples: 4000 }), 8000);
    const store: MailboxStore = {
      listVoicemails: async () => list.map((v) => ({ ...v })),
      voicemailAudio: async (id) => (list.some((v) => v.id === id) ? wav : null),
      deleteVoicemail: async (id) => (log.push(`delete ${id}`), true),
      markDelivered: async (id) => void log.push(`heard ${id}`),
    };
    const server = new MediaSession({ localIp: '127.0.0.1' });
    const phone = new MediaSession({ localIp: '127.0.0.1' });
    sessions.push(server, phone);
    await server.bind();
    await phone.bind();
    const offer = new LocalMedia({ ip: '127.0.0.1', port: phone.localPort }).createOffer();
    const neg = new LocalMedia({ ip: '127.0.0.1', port: server.localPort }).createAnswer(offer);
    const heard = new PcmRecorder();
    phone.start({ remoteIp: '127.0.0.1', remotePort: server.localPort, payloadType: neg.payloadType, telephoneEventPayloadType: neg.telephoneEventPayloadType, sink: heard });
    const call = new MailboxCall({
      media: server, negotiated: neg, store, userId: 'tv', clock: systemClock, rtpTimeoutSeconds: 10, onChanged: () => log.push('changed'),
    });
    let ended = '';
    await call.start((r) => { ended = r; });
    const until = async (ok: () => boolean, ms: number, what: string) => {
      const end = Date.now() + ms;
      while (!ok()) {
        if (Date.now() > end) assert.fail(`${what}: ${log.join(', ')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await until(() => log.includes('heard 1'), 8000, 'the first message heard');
    assert.deepEqual(log, ['heard 1', 'changed']);
    phone.sendDtmf('2');
    await new Promise((r) => setTimeout(r, 400)); // into the second
    phone.sendDtmf('7');
    await until(() => log.includes('delete 2'), 3000, 'the second deleted');
    phone.sendDtmf('#');
    const summary = await call.done;
    assert.deepEqual([summary.reason, summary.heard, summary.deleted, ended], ['dtmf', 1, 1, 'dtmf']);
    assert.ok(!log.includes('heard 2'), 'a message deleted while playing is not marked heard first');
    assert.ok(goertzelPower(heard.samples(), 440, 8000) > 10 * goertzelPower(heard.samples(), 2500, 8000), 'the message was sent');
  });
});
