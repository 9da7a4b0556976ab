import assert from 'node:assert/strict';
import { audioDelayMs, captureMs, senderClockOf } from '../../../src/media/lip-sync.ts';
import { ntpFromUnixMs, unixMsFromNtp } from '../../../src/media/rtcp.ts';

describe('media/lip-sync (RFC 3550 §6.4.1)', () => {
  it('reads an NTP timestamp back as the Unix time it was made from (to well under a millisecond)', () => {
    for (const ms of [0, 1_764_547_200_123.5, 2_085_978_496_000 - 1]) {
      const n = ntpFromUnixMs(ms);
      assert.ok(Math.abs(unixMsFromNtp(n.seconds, n.fraction) - ms) < 0.001, `${ms}`);
    }
  });

  it('gives the capture time of an RTP timestamp from the last SR, before and after it, across the 2^32 wrap', () => {
    const t = ntpFromUnixMs(1_764_547_200_000);
    const audio = senderClockOf({ ntpSeconds: t.seconds, ntpFraction: t.fraction, rtpTimestamp: 0xffff_ff00 }, 8000);
    assert.equal(captureMs(audio, 0xffff_ff00), 1_764_547_200_000);
    assert.equal(captureMs(audio, 0xffff_ff00 + 160), 1_764_547_200_020);
    assert.equal(captureMs(audio, 0x0000_0060), 1_764_547_200_044); // wrapped: 0x100 + 0x60 = 352 ticks = 44 ms later
    assert.equal(captureMs(audio, 0xffff_fe00), 1_764_547_199_968); // 256 ticks before the SR
    const video = senderClockOf({ ntpSeconds: t.seconds, ntpFraction: t.fraction, rtpTimestamp: 1000 }, 90_000);
    assert.equal(captureMs(video, 1000 - 9000), 1_764_547_199_900);
  });

  it('places the audio by capture time when both streams have an SR, by arrival otherwise', () => {
    const t = ntpFromUnixMs(1_764_547_200_000);
    const sr = { ntpSeconds: t.seconds, ntpFraction: t.fraction };
    const audio = { rtpTimestamp: 8000 + 4000, clock: senderClockOf({ ...sr, rtpTimestamp: 8000 }, 8000), arrivedAt: 900 }; // captured 500 ms after the SR
    const video = { rtpTimestamp: 90_000 + 18_000, clock: senderClockOf({ ...sr, rtpTimestamp: 90_000 }, 90_000), arrivedAt: 100 }; // 200 ms after
    assert.deepEqual(audioDelayMs(audio, video), { ms: 300, by: 'sr' });
    assert.deepEqual(audioDelayMs({ ...audio, clock: undefined }, video), { ms: 800, by: 'arrival' });
    assert.deepEqual(audioDelayMs(audio, { ...video, clock: undefined }), { ms: 800, by: 'arrival' });
  });
});
