// Calls of the TV agent (RFC 3261 §13-§15, RFC 3264): one call at a time, placed (INVITE with an SDP offer) or
// answered (180, then 200 on a key or at once), held and resumed by re-INVITE, ended by BYE or CANCEL, with
// G.711 audio from the media session (media/). A spare bound RTP port waits for the next call.
// SIP.js calls this part the SessionManager.
import { writeFile, readFile } from 'node:fs/promises';
import { Dialog } from '../../dialog/dialog.ts';
import { SipError } from '../../errors.ts';
import { PcmRecorder, PcmSource, ToneSource, type AudioSource } from '../../media/audio-io.ts';
import { toTelephonyPcm } from '../../media/resample.ts';
import { MediaSession, type MediaStats } from '../../media/rtp-session.ts';
import { LocalMedia, type MediaDirection, type Negotiated } from '../../media/sdp.ts';
import { readWav } from '../../media/wav.ts';
import { newCallId, newTag } from '../../sip/ids.ts';
import { SipRequest } from '../../sip/message.ts';
import { createResponse } from '../../sip/response.ts';
import type { ServerTransaction } from '../../transaction/server-transaction.ts';
import type { CallEndReason } from '../events.ts';
import type { AgentContext } from './context.ts';
import { userOf } from './user-of.ts';

interface Call {
  callId: string;
  peer: string;
  direction: 'in' | 'out';
  state: 'ringing' | 'active' | 'ended';
  media: MediaSession;
  local: LocalMedia;
  recorder: PcmRecorder | null;
  dialog: Dialog | null;
  /** incoming: the INVITE server transaction while ringing */
  st: ServerTransaction | null;
  offer: string | null;
  /** outgoing: the INVITE as sent, for CANCEL */
  invite: SipRequest | null;
  provisional: boolean;
  cancelWanted: boolean;
  startedAt: number;
  held: boolean;
}

export class SessionManager {
  readonly #ctx: AgentContext;
  /** the bound RTP port waiting for the next call */
  #media: MediaSession | null = null;
  #call: Call | null = null;
  /** the `play` file as 8 kHz PCM */
  #audio: Int16Array | null = null;
  /** dial() is taking its media port (the call does not exist yet): set, a second dial or an INVITE is refused */
  #dialing: { aborted: boolean } | null = null;

  constructor(ctx: AgentContext) {
    this.#ctx = ctx;
  }

  get inCall(): boolean {
    return this.#call !== null;
  }

  /** Read the `play` file and bind the first RTP port (before registering: RFC 3261 §10.2 names a ready Contact). */
  async start(): Promise<void> {
    const o = this.#ctx.options;
    if (o.play !== undefined) this.#audio = toTelephonyPcm(readWav(await readFile(o.play)));
    this.#media = await this.#newMedia();
  }

  /** Hang up the call in progress (stop() of the agent). */
  async endAll(): Promise<void> {
    const call = this.#call;
    if (call === null) return;
    try {
      await this.hangup();
      if (call.state !== 'ended') await this.#endCall(call, 'local-hangup');
    } catch (err) {
      this.#ctx.error(err);
    }
  }

  /** Release the spare RTP port. */
  async close(): Promise<void> {
    if (this.#media !== null) await this.#media.stop();
    this.#media = null;
  }

  async #newMedia(): Promise<MediaSession> {
    const m = new MediaSession({ localIp: this.#ctx.options.localIp, rtcpIntervalMs: this.#ctx.options.rtcpIntervalMs });
    await m.bind();
    return m;
  }

  #source(): AudioSource {
    return this.#audio !== null ? new PcmSource(this.#audio, { loop: true }) : new ToneSource({ frequency: this.#ctx.options.toneHz });
  }

  async #takeMedia(): Promise<MediaSession> {
    const m = this.#media ?? await this.#newMedia();
    this.#media = null;
    return m;
  }

  /** An INVITE outside a dialog: 486 when busy (one call at a time), else ring (180) and answer now or on a key. */
  async onInvite(req: SipRequest, st: ServerTransaction): Promise<void> {
    if (this.#call !== null || this.#dialing !== null) return void st.respond(createResponse(req, 486));
    const offer = req.body.length > 0 ? new TextDecoder().decode(req.body) : null;
    if (offer === null) return void st.respond(createResponse(req, 488, 'Offer Required'));
    const media = await this.#takeMedia();
    if (this.#call !== null || this.#dialing !== null) {
      if (this.#media === null && !this.#ctx.stopped) this.#media = media;
      else await media.stop();
      return void st.respond(createResponse(req, 486));
    }
    const tag = newTag();
    const dialog = Dialog.asUas(req, tag, 'early');
    const call: Call = {
      callId: req.callId, peer: userOf(req.header('from') ?? ''), direction: 'in', state: 'ringing', media,
      local: new LocalMedia({ ip: this.#ctx.options.localIp, port: media.localPort }), recorder: this.#ctx.options.record ? new PcmRecorder() : null,
      dialog, st, offer, invite: null, provisional: true, cancelWanted: false, startedAt: this.#ctx.clock.now(), held: false,
    };
    this.#call = call;
    const ringing = createResponse(req, 180, undefined, tag);
    ringing.addHeader('Contact', `<${this.#ctx.contact}>`);
    for (const rr of req.fields('record-route')) ringing.addHeader('Record-Route', rr.value);
    st.respond(ringing);
    this.#ctx.emit('call-incoming', { callId: call.callId, from: call.peer });
    if (this.#ctx.options.autoAnswer) this.answer();
  }

  /** Answer the ringing call (key a, or --auto-answer): 200 with our SDP answer, retransmitted until ACK. */
  answer(): boolean {
    const call = this.#call;
    const core = this.#ctx.core;
    if (call === null || core === null || call.direction !== 'in' || call.state !== 'ringing' || call.st === null || call.dialog === null || call.offer === null) return false;
    const st = call.st;
    let neg: Negotiated;
    try {
      neg = call.local.createAnswer(call.offer);
    } catch (err) {
      st.respond(createResponse(st.request, err instanceof SipError ? err.status : 488));
      void this.#endCall(call, 'error', err instanceof SipError ? err.status : 488);
      return false;
    }
    const res = createResponse(st.request, 200, undefined, call.dialog.localTag);
    for (const rr of st.request.fields('record-route')) res.addHeader('Record-Route', rr.value);
    res.addHeader('Contact', `<${this.#ctx.contact}>`);
    res.addHeader('Content-Type', 'application/sdp');
    res.body = new TextEncoder().encode(neg.sdp);
    call.dialog.confirm();
    core.addDialog(call.dialog);
    core.respond2xx(st, res, call.dialog);
    call.st = null;
    this.#startMedia(call, neg);
    return true;
  }

  #startMedia(call: Call, neg: Omit<Negotiated, 'sdp'>): void {
    call.state = 'active';
    call.startedAt = this.#ctx.clock.now();
    // RFC 4733: digits the peer sends as telephone-events
    call.media.on('dtmf', (digit) => this.#ctx.emit('dtmf', { callId: call.callId, digit }));
    call.media.start({
      remoteIp: neg.remote.ip, remotePort: neg.remote.port, remoteRtcpPort: neg.remote.rtcpPort, payloadType: neg.payloadType,
      telephoneEventPayloadType: neg.telephoneEventPayloadType, source: this.#source(), sink: call.recorder ?? undefined,
      direction: neg.direction === 'sendrecv' && neg.remote.onHold ? 'recvonly' : neg.direction,
    });
    this.#ctx.emit('call-answered', { callId: call.callId, peer: call.peer, codec: neg.codec, direction: neg.direction, remoteRtp: `${neg.remote.ip}:${neg.remote.port}` });
  }

  /** Place a call to a user of our server (RFC 3261 §13.2.1: INVITE with an SDP offer). */
  async dial(user: string): Promise<boolean> {
    const core = this.#ctx.core;
    if (core === null || this.#call !== null || this.#dialing !== null) return false;
    const dialing = { aborted: false };
    this.#dialing = dialing;
    let media: MediaSession;
    try {
      media = await this.#takeMedia();
    } finally {
      this.#dialing = null;
    }
    if (dialing.aborted || this.#ctx.stopped || this.#call !== null) {
      // hung up (or an INVITE came in) before anything was sent: nothing to cancel
      if (this.#media === null && !this.#ctx.stopped) this.#media = media;
      else await media.stop();
      return false;
    }
    const req = new SipRequest('INVITE', `sip:${user}@${this.#ctx.domain}`);
    const call: Call = {
      callId: newCallId(), peer: user, direction: 'out', state: 'ringing', media,
      local: new LocalMedia({ ip: this.#ctx.options.localIp, port: media.localPort }), recorder: this.#ctx.options.record ? new PcmRecorder() : null,
      dialog: null, st: null, offer: null, invite: req, provisional: false, cancelWanted: false, startedAt: this.#ctx.clock.now(), held: false,
    };
    this.#call = call;
    req.addHeader('From', `<${this.#ctx.aor}>;tag=${newTag()}`);
    req.addHeader('To', `<sip:${user}@${this.#ctx.domain.split(':')[0]}>`);
    req.addHeader('Call-ID', call.callId);
    req.addHeader('CSeq', '1 INVITE');
    req.addHeader('Contact', `<${this.#ctx.contact}>`);
    req.addHeader('Allow', 'INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, NOTIFY');
    req.addHeader('Content-Type', 'application/sdp');
    req.body = new TextEncoder().encode(call.local.createOffer('sendrecv'));
    this.#ctx.emit('call-outgoing', { callId: call.callId, to: user });
    const out = await core.invite(req, {
      onProvisional: (res) => {
        if (res.status === 100) return;
        call.provisional = true;
        this.#ctx.emit('call-ringing', { callId: call.callId, status: res.status });
        // RFC 3261 §9.1: a CANCEL may only be sent once a provisional response arrived.
        if (call.cancelWanted) void core.cancel(req);
      },
    });
    call.invite = null;
    if (out.dialog === undefined) {
      const st = out.response.status;
      await this.#endCall(call, call.cancelWanted ? 'cancelled' : st === 486 || st === 600 ? 'busy' : 'rejected', st);
      return false;
    }
    call.dialog = out.dialog;
    if (call.cancelWanted || call.state === 'ended') {
      // the 2xx crossed our CANCEL (§9.1): end the call that was set up after all
      await this.#bye(call);
      await this.#endCall(call, 'cancelled', 200);
      return false;
    }
    try {
      const neg = call.local.acceptAnswer(new TextDecoder().decode(out.response.body));
      this.#startMedia(call, neg);
      return true;
    } catch (err) {
      this.#ctx.error(err);
      await this.#bye(call);
      await this.#endCall(call, 'error', 488);
      return false;
    }
  }

  /**
   * Send DTMF digits (0-9 * # A-D) in the answered call as RFC 4733 telephone-events, 100 ms each. False when
   * there is no answered call; throws TvphoneError ERR_MEDIA_DTMF when the peer did not offer telephone-event.
   */
  sendDtmf(digits: string): boolean {
    const call = this.#call;
    if (call === null || call.state !== 'active') return false;
    call.media.sendDtmf(digits);
    return true;
  }

  /** RTP/RTCP figures of the call in progress (null when no call has media). */
  callStats(): MediaStats | null {
    const call = this.#call;
    return call !== null && call.state === 'active' ? call.media.stats() : null;
  }

  /** Whether the call in progress is on hold (by us or by the peer). */
  get onHold(): boolean {
    return this.#call?.held ?? false;
  }

  /** Put the call on hold (re-INVITE with a=sendonly, RFC 3264 §8.4) or take it off hold (sendrecv). */
  async hold(on: boolean): Promise<boolean> {
    const call = this.#call;
    const core = this.#ctx.core;
    if (call === null || core === null || call.state !== 'active' || call.dialog === null) return false;
    const direction: MediaDirection = on ? 'sendonly' : 'sendrecv';
    const req = call.dialog.createRequest('INVITE', { body: new TextEncoder().encode(call.local.createOffer(direction)) });
    req.addHeader('Contact', `<${this.#ctx.contact}>`);
    const out = await core.invite(req, { dialog: call.dialog });
    if (out.response.status < 200 || out.response.status >= 300) return false;
    try {
      const neg = call.local.acceptAnswer(new TextDecoder().decode(out.response.body), direction);
      call.media.updateRemote({ remoteIp: neg.remote.ip, remotePort: neg.remote.port, remoteRtcpPort: neg.remote.rtcpPort });
      call.media.setDirection(direction);
    } catch (err) {
      this.#ctx.error(err);
    }
    call.held = on;
    this.#ctx.emit('call-held', { callId: call.callId, held: on, by: 'local' });
    return true;
  }

  /** Hang up (key h): BYE when answered, CANCEL while our INVITE is pending, 603 to a ringing incoming call. */
  async hangup(): Promise<boolean> {
    const call = this.#call;
    const core = this.#ctx.core;
    if (this.#dialing !== null) {
      this.#dialing.aborted = true; // dial() has sent nothing yet
      return true;
    }
    if (call === null || core === null) return false;
    if (call.state === 'active') {
      await this.#bye(call);
      await this.#endCall(call, 'local-hangup');
      return true;
    }
    if (call.direction === 'in' && call.st !== null) {
      call.st.respond(createResponse(call.st.request, 603));
      await this.#endCall(call, 'rejected', 603);
      return true;
    }
    if (call.direction === 'out' && call.invite !== null) {
      call.cancelWanted = true;
      if (call.provisional) await core.cancel(call.invite);
      return true; // the INVITE's 487 ends the call
    }
    return false;
  }

  async #bye(call: Call): Promise<void> {
    const core = this.#ctx.core;
    if (core === null || call.dialog === null) return;
    const d = call.dialog;
    await core.request(d.createRequest('BYE'), {}, d);
    core.removeDialog(d);
  }

  async #endCall(call: Call, reason: CallEndReason, status?: number): Promise<void> {
    if (call.state === 'ended') return;
    const wasActive = call.state === 'active';
    call.state = 'ended';
    if (call.dialog !== null) this.#ctx.core?.removeDialog(call.dialog);
    let rtcp: MediaStats | null = null;
    let recorded: string | undefined;
    if (wasActive) {
      rtcp = await call.media.stop();
      if (call.recorder !== null && this.#ctx.options.record !== undefined) {
        recorded = this.#ctx.options.record;
        try {
          await writeFile(recorded, call.recorder.toWav());
        } catch (err) {
          this.#ctx.error(err);
          recorded = undefined;
        }
      }
    } else if (!this.#ctx.stopped && this.#media === null) {
      this.#media = call.media; // never started: keep the bound port for the next call
    } else await call.media.stop();
    if (this.#call === call) this.#call = null;
    if (this.#media === null && !this.#ctx.stopped) {
      try {
        this.#media = await this.#newMedia();
      } catch (err) {
        this.#ctx.error(err);
      }
    }
    this.#ctx.emit('call-ended', {
      callId: call.callId, peer: call.peer, reason, ...(status !== undefined ? { status } : {}),
      durationMs: wasActive ? this.#ctx.clock.now() - call.startedAt : 0, rtcp, ...(recorded ? { recorded } : {}),
    });
  }

  onCancel(st: ServerTransaction): void {
    st.respond(createResponse(st.request, 487, undefined, this.#call?.dialog?.localTag));
    const call = this.#call;
    if (call !== null && call.st === st) {
      call.st = null;
      void this.#endCall(call, 'cancelled', 487);
    }
  }

  async onAckTimeout(d: Dialog): Promise<void> {
    const call = this.#call;
    if (call === null || call.dialog !== d) return;
    await this.#bye(call);
    await this.#endCall(call, 'no-ack');
  }

  /** RFC 3261 §15.1.2: a BYE ends the call of its dialog (or just the dialog): 200. */
  onBye(d: Dialog, req: SipRequest, st: ServerTransaction): void {
    st.respond(createResponse(req, 200));
    const call = this.#callOf(d);
    if (call !== null) void this.#endCall(call, 'remote-hangup');
    else this.#ctx.core?.removeDialog(d);
  }

  #callOf(d: Dialog): Call | null {
    return this.#call !== null && this.#call.dialog === d ? this.#call : null;
  }

  /** RFC 3261 §14.2: a re-INVITE: answer the new offer (hold/resume, a moved address) in a 200. */
  onReInvite(d: Dialog, req: SipRequest, st: ServerTransaction): void {
    const call = this.#callOf(d);
    const core = this.#ctx.core;
    if (call === null || core === null || call.state !== 'active') return void st.respond(createResponse(req, 481));
    if (req.body.length === 0) return void st.respond(createResponse(req, 488, 'Offer Required'));
    let neg: Negotiated;
    try {
      neg = call.local.createAnswer(new TextDecoder().decode(req.body));
    } catch (err) {
      return void st.respond(createResponse(req, err instanceof SipError ? err.status : 488));
    }
    const res = createResponse(req, 200, undefined, d.localTag);
    res.addHeader('Contact', `<${this.#ctx.contact}>`);
    res.addHeader('Content-Type', 'application/sdp');
    res.body = new TextEncoder().encode(neg.sdp);
    core.respond2xx(st, res, d);
    call.media.updateRemote({ remoteIp: neg.remote.ip, remotePort: neg.remote.port, remoteRtcpPort: neg.remote.rtcpPort });
    call.media.setDirection(neg.direction);
    const held = neg.remote.onHold;
    if (held !== call.held) {
      call.held = held;
      this.#ctx.emit('call-held', { callId: call.callId, held, by: 'remote' });
    }
  }
}
