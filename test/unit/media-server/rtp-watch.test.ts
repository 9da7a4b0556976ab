import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { FakeClock } from '../../../src/clock.ts';
import type { MediaSession } from '../../../src/media/rtp-session.ts';
import { RtpWatch } from '../../../src/media-server/rtp-watch.ts';

describe('media-server/rtp-watch (voicemail.rtpTimeoutSeconds)', () => {
  const media = (): EventEmitter & Pick<MediaSession, 'on'> => new EventEmitter() as EventEmitter & Pick<MediaSession, 'on'>;

  it('ends a call whose RTP stopped for rtpTimeoutSeconds, once; RTP keeps it going', () => {
    const clock = new FakeClock();
    const m = media();
    let timeouts = 0;
    new RtpWatch({ clock, media: m, timeoutSeconds: 2, onTimeout: () => timeouts++ });
    clock.advance(1500);
    m.emit('rtp');
    clock.advance(1500);
    assert.equal(timeouts, 0, 'RTP 1.5 s ago');
    clock.advance(1000);
    assert.equal(timeouts, 1);
    clock.advance(10_000);
    assert.equal(timeouts, 1);
  });

  it('stop() ends the watch', () => {
    const clock = new FakeClock();
    let timeouts = 0;
    const w = new RtpWatch({ clock, media: media(), timeoutSeconds: 1, onTimeout: () => timeouts++ });
    w.stop();
    w.stop();
    clock.advance(5000);
    assert.equal(timeouts, 0);
  });
});
