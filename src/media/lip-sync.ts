// Lip sync (RFC 3550 §6.4.1): a sender report pairs its sender's wallclock (NTP) with the RTP timestamp of the same
// instant, so the capture time of any packet of that stream follows from its RTP timestamp and the clock rate. Two
// streams of one sender (audio and video, one CNAME) are put in step by their capture times, not their arrival: the
// network and the sender's encoders delay them differently.
import { unixMsFromNtp } from './rtcp.ts';

/** The last sender report of a stream: its wallclock (Unix ms) and RTP timestamp at that instant. */
export interface SenderClock {
  ntpMs: number;
  rtpTimestamp: number;
  clockRate: number;
}

export function senderClockOf(sr: { ntpSeconds: number; ntpFraction: number; rtpTimestamp: number }, clockRate: number): SenderClock {
  return { ntpMs: unixMsFromNtp(sr.ntpSeconds, sr.ntpFraction), rtpTimestamp: sr.rtpTimestamp >>> 0, clockRate };
}

/** The sender's wallclock (Unix ms) when the sample or frame of this RTP timestamp was captured (modulo 2^32, §5.1). */
export function captureMs(clock: SenderClock, rtpTimestamp: number): number {
  const ticks = ((rtpTimestamp >>> 0) - clock.rtpTimestamp) | 0; // the signed 32-bit distance
  return clock.ntpMs + (ticks * 1000) / clock.clockRate;
}

/** Where a stream's first kept sample or picture is: its RTP timestamp, the stream's SR clock, and when it arrived. */
export interface StreamStart {
  rtpTimestamp: number;
  clock: SenderClock | undefined;
  /** local ms of its arrival (any clock, the same for both streams) */
  arrivedAt: number;
}

/**
 * How long after the video's first picture the audio's first sample was captured: by the sender reports when both
 * streams have one (§6.4.1), else by arrival (what a receiver without SRs can do).
 */
export function audioDelayMs(audio: StreamStart, video: StreamStart): { ms: number; by: 'sr' | 'arrival' } {
  if (audio.clock !== undefined && video.clock !== undefined) {
    return { ms: captureMs(audio.clock, audio.rtpTimestamp) - captureMs(video.clock, video.rtpTimestamp), by: 'sr' };
  }
  return { ms: audio.arrivedAt - video.arrivedAt, by: 'arrival' };
}
