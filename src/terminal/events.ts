// The TV agent's events: what `tvphone tv --json` prints, one JSON object per line on stdout, as
// `{"event":"<name>", ...fields}`. The names and fields below are a contract scripts rely on: keep them stable.
//
//   registered      {aor, contact, transport, expires}             a REGISTER got 200 (first time and after a loss)
//   public-address  {address, port}                               the registrar saw us at another address (NAT): the Contact now names it
//   unregistered    {aor}                                          REGISTER Expires: 0 answered (at exit)
//   registration-failed {status, reason, retryInMs}                REGISTER failed or timed out; retried after retryInMs
//   server-changed  {transport, address, port}                     the server could not be reached: the next one of the list (issue 18)
//   connection-lost {}                                             the TCP/TLS connection to the server closed
//   standby         {}                                             standby (RFC 8599): the connection dropped on purpose, no refresh
//   woken           {}                                             a push woke us from standby: registering again
//   message         {id, from, contentType, bytes, text?, file?, date?}   a message was shown (text) or saved (file path)
//   missed-calls    {id, calls:[{from, count, first, last}]}        the server's missed-call notice
//   voice-message   {id, from, file, durationMs, video, date?}     a voice message was fetched and saved (WAV, 8 kHz; video: .mkv)
//   voice-message-played {id, from, file, durationMs}              a voice message was played (key p)
//   presence        {contact, online, basic}                       a contact's state (from a PIDF NOTIFY)
//   message-sent    {to, status, reason}                           the final response to our MESSAGE
//   call-incoming   {callId, from}                                 an INVITE is ringing here
//   call-outgoing   {callId, to}                                   we sent an INVITE
//   call-ringing    {callId, status}                               the callee is ringing (18x)
//   call-answered   {callId, peer, codec, direction, remoteRtp}    media flows
//   video-started   {callId, codec, payloadType, profileLevelId?, sending, receiving, remoteRtp, feedback, bitrateKbps?}
//                   video negotiated: H264 (RFC 6184; profileLevelId) or VP8 (RFC 7741); feedback: the RTCP feedback the
//                   peer takes ({nack, pli, fir}: RFC 4585, RFC 5104); bitrateKbps: the peer's b=TIAS/b=AS limit our encoder keeps to
//   video-changed   {callId, sending, receiving}                   a re-INVITE turned our camera or the peer's on or off
//                   (video-started also comes mid-call: a re-INVITE added video to the call, RFC 3264 §8.1)
//   video-stats     {callId, sending, receiving, width?, height?, fps, sentFrames, receivedFrames, lost, recovered}
//                   every 2 s while video runs: the size of the last keyframe received, the frame rate received over
//                   the last 2 s, frames and packets lost (RFC 3550) and recovered by NACK (RFC 4585)
//   video-stopped   {callId, by, video}                           a re-INVITE removed the video (port 0, RFC 3264 §8.2) by
//                   "local" (key v) or "remote"; the audio goes on; video: that stream's VideoStats
//   call-held       {callId, held, by}                             hold/resume by "local" or "remote"
//   dtmf            {callId, digit}                                the peer sent a DTMF digit (RFC 4733)
//   call-ended      {callId, peer, reason, status?, durationMs, rtcp, recorded?}
//                   reason: local-hangup | remote-hangup | rejected | cancelled | busy | no-ack | error
//                         | no-answer (our ring timeout: CANCEL) | no-media (no RTP for the inactivity time)
//                         | session-expired (RFC 4028: the session refresh failed or never came);
//                   rtcp: MediaStats of src/media/rtp-session.ts (null when media never started)
//                   video: VideoStats of src/media/video-session.ts (frames, keyframes, PLIs, FIRs, NACKs sent and received,
//                   keyframes sent on request, packets recovered and retransmitted, loss; added up over the call's video streams) and recordedVideo?,
//                   when video was negotiated
//   error           {message, code?}                               something failed; the agent carries on
import type { MissedCallGroup } from '../formats/missed-call-notice.ts';
import type { MediaStats } from '../media/rtp-session.ts';
import type { MediaDirection, VideoCodecName, VideoFeedback } from '../media/sdp.ts';
import type { VideoStats } from '../media/video-session.ts';

export interface TvAgentEvents {
  registered: [{ aor: string; contact: string; transport: string; expires: number }];
  'public-address': [{ address: string; port: number }];
  unregistered: [{ aor: string }];
  'registration-failed': [{ status: number; reason: string; retryInMs: number }];
  'connection-lost': [Record<string, never>];
  'server-changed': [{ transport: string; address: string; port: number }];
  standby: [Record<string, never>];
  woken: [Record<string, never>];
  message: [{ id: string; from: string; contentType: string; bytes: number; text?: string; file?: string; date?: string }];
  'missed-calls': [{ id: string; calls: MissedCallGroup[] }];
  'voice-message': [{ id: string; from: string; file: string; durationMs: number; video?: boolean; date?: string }];
  'voice-message-played': [{ id: string; from: string; file: string; durationMs: number }];
  presence: [{ contact: string; online: boolean; basic: 'open' | 'closed' }];
  'message-sent': [{ to: string; status: number; reason: string }];
  'call-incoming': [{ callId: string; from: string }];
  'call-outgoing': [{ callId: string; to: string }];
  'call-ringing': [{ callId: string; status: number }];
  'call-answered': [{ callId: string; peer: string; codec: string; direction: MediaDirection; remoteRtp: string }];
  'video-started': [{
    callId: string; codec: VideoCodecName; payloadType: number; profileLevelId?: string; sending: boolean; receiving: boolean; remoteRtp: string;
    feedback: VideoFeedback; bitrateKbps?: number;
  }];
  'video-changed': [{ callId: string; sending: boolean; receiving: boolean }];
  'video-stats': [{
    callId: string; sending: boolean; receiving: boolean; width?: number; height?: number; fps: number; sentFrames: number; receivedFrames: number;
    lost: number; recovered: number;
  }];
  'video-stopped': [{ callId: string; by: 'local' | 'remote'; video: VideoStats }];
  'call-held': [{ callId: string; held: boolean; by: 'local' | 'remote' }];
  dtmf: [{ callId: string; digit: string }];
  'call-ended': [{ callId: string; peer: string; reason: CallEndReason; status?: number; durationMs: number; rtcp: MediaStats | null; recorded?: string; video?: VideoStats & { recordedVideo?: string } }];
  error: [{ message: string; code?: string }];
}

export type CallEndReason = 'local-hangup' | 'remote-hangup' | 'rejected' | 'cancelled' | 'busy' | 'no-ack' | 'error'
  | 'no-answer' | 'no-media' | 'session-expired';

export type TvAgentEventName = keyof TvAgentEvents;

/** One event as printed by --json. */
export type TvAgentEventLine = { [K in TvAgentEventName]: { event: K } & TvAgentEvents[K][0] }[TvAgentEventName];
