// The TV agent (DESIGN.md: the TV's SIP user agent): binds its RTP port, registers with the tvphone server,
// shows what the server kept for it (messages, pictures, missed-call notices), watches its contacts' presence,
// and places and answers calls with G.711 audio. A composition root: a facade over its parts in agent/ —
// Registerer, Subscriber (presence), Inbox, Messager, SessionManager (calls) — on one UA core (dialog/);
// it routes incoming requests to them and guards their events. The CLI (cli/tv.ts) wires flags and output.
import { EventEmitter } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { systemClock, type Clock } from '../clock.ts';
import type { Dialog } from '../dialog/dialog.ts';
import { MIN_SE_FLOOR } from '../dialog/session-timer.ts';
import { UserAgentCore } from '../dialog/user-agent-core.ts';
import type { MediaStats } from '../media/rtp-session.ts';
import type { VideoStats } from '../media/video-session.ts';
import type { SipRequest } from '../sip/message.ts';
import { SipError, TvphoneError } from '../errors.ts';
import { createResponse } from '../sip/response.ts';
import { parseSipUri } from '../sip/uri.ts';
import type { ServerTransaction } from '../transaction/server-transaction.ts';
import { dnsLookups, ServerLocator } from '../transaction/locate-server.ts';
import { NetworkTransport } from '../transport/network-transport.ts';
import { defaultPort, type Target, type TransportName } from '../transport/transport.ts';
import type { AgentContext, AgentOptions, TvAgentOptions } from './agent/context.ts';
import { Inbox } from './agent/inbox.ts';
import { VoiceMessages, type VoiceMessage } from './agent/voice-messages.ts';
import { localAddressFor } from './agent/local-address.ts';
import { Messager } from './agent/messager.ts';
import { Registerer } from './agent/registerer.ts';
import { Servers, type ServerEntry } from './agent/servers.ts';
import { WakeListener } from './agent/wake-listener.ts';
import { ALLOW, SessionManager } from './agent/session-manager.ts';
import { Subscriber } from './agent/subscriber.ts';
import type { TvAgentEvents } from './events.ts';

export type { TvAgentOptions } from './agent/context.ts';


/** The pn-provider our push registrations name (RFC 8599 §4.1): the server's push gateway knows it. */
export const PUSH_PROVIDER = 'tvphone';

export class TvAgent extends EventEmitter<TvAgentEvents> {
  readonly options: AgentOptions;
  /** host[:port] of the server: our domain */
  readonly domain: string;
  readonly aor: string;
  readonly #clock: Clock;
  #transport: NetworkTransport | null = null;
  #core: UserAgentCore | null = null;
  /** the server requests go to now: the servers' target, changed in place by a failover */
  readonly #serverTarget: Target;
  readonly #servers: Servers;
  readonly #registerer: Registerer;
  readonly #subscriber: Subscriber;
  readonly #inbox: Inbox;
  readonly #voice: VoiceMessages;
  readonly #messager: Messager;
  readonly #sessions: SessionManager;
  #stopped = false;
  #started = false;
  #wakeListener: WakeListener | null = null;

  constructor(o: TvAgentOptions) {
    super();
    this.options = {
      user: o.user, password: o.password, server: o.server, transport: o.transport ?? 'tcp', localIp: o.localIp ?? '',
      downloadDir: o.downloadDir ?? './tvphone-downloads', contacts: o.contacts ?? [], autoAnswer: o.autoAnswer ?? false,
      toneHz: o.toneHz ?? 440, play: o.play, record: o.record, video: o.video, recordVideo: o.recordVideo, showVideo: o.showVideo, videoCodecs: o.videoCodecs ?? ['H264', 'VP8'], videoBandwidthKbps: o.videoBandwidthKbps, expires: o.expires ?? 300, presenceExpires: o.presenceExpires ?? 600,
      keepAliveMs: o.keepAliveMs ?? 30_000, retryMinMs: o.retryMinMs ?? 1_000, retryMaxMs: o.retryMaxMs ?? 60_000,
      timerValues: o.timerValues, rtcpIntervalMs: o.rtcpIntervalMs ?? 5_000, outboundProxy: o.outboundProxy,
      ringTimeoutMs: o.ringTimeoutMs ?? 60_000, mediaTimeoutMs: o.mediaTimeoutMs ?? 30_000, sessionExpires: o.sessionExpires ?? 1800,
      minSe: o.minSe ?? MIN_SE_FLOOR, speaker: o.speaker, push: o.push, fallbackServers: o.fallbackServers ?? [], dnsServers: o.dnsServers,
    };
    this.#clock = o.clock ?? systemClock;
    const s = parseSipUri(o.server);
    const t = (s.params.get('transport') as TransportName | null | undefined) ?? this.options.transport;
    this.options.transport = t;
    // RFC 3263 §4.2: an address is the server itself; a name is located through DNS (SRV when the URI has no port)
    const entryOf = (u: ReturnType<typeof parseSipUri>): ServerEntry => {
      const host = u.host.replace(/^\[|\]$/g, '');
      return isIP(host) !== 0 ? { transport: t, address: host, port: u.port ?? defaultPort(t) } : { host, port: u.port, transport: t };
    };
    // an outbound proxy is the one next hop; else the server, then its fallbacks (issue 18)
    this.#servers = new Servers(o.outboundProxy !== undefined ? [entryOf(parseSipUri(o.outboundProxy))]
      : [entryOf(s), ...this.options.fallbackServers.map((f) => entryOf(parseSipUri(f)))],
    { locator: new ServerLocator({ dns: dnsLookups(o.dnsServers) }), clock: this.#clock });
    this.#serverTarget = this.#servers.target;
    this.domain = s.port === null ? s.host : `${s.host}:${s.port}`;
    this.aor = `sip:${o.user}@${s.host}`;
    const ctx = this.#context();
    this.#subscriber = new Subscriber(ctx);
    this.#registerer = new Registerer(ctx, this.#servers, {
      registered: () => this.#subscriber.subscribeAll(),
      // subscriptions lived on that flow: start them afresh once registered again
      flowLost: () => this.#subscriber.dropAll(),
    });
    this.#voice = new VoiceMessages(ctx);
    this.#inbox = new Inbox(ctx, this.#voice);
    this.#messager = new Messager(ctx);
    this.#sessions = new SessionManager(ctx);
  }

  #context(): AgentContext {
    const agent = this;
    return {
      options: this.options, domain: this.domain, aor: this.aor, clock: this.#clock,
      get core() { return agent.#core; },
      get contact() { return agent.contact; },
      get stopped() { return agent.#stopped; },
      emit: (event, ...args) => this.#emit(event, ...args),
      error: (err) => this.#error(err),
    };
  }

  /**
   * Emit an event with listeners guarded (mediasoup's safeEmit): a listener that throws cannot break the
   * part that emitted; it is reported as an `error` event (code ERR_LISTENER), or, when an `error` listener
   * itself throws, as a process warning. `error` with no listener is dropped (the agent carries on).
   */
  #emit<K extends keyof TvAgentEvents>(event: K, ...args: TvAgentEvents[K]): void {
    if (event === 'error' && this.listenerCount('error') === 0) return;
    try {
      (this.emit as (e: K, ...a: TvAgentEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      const message = `a "${event}" listener threw: ${(err as Error)?.message ?? String(err)}`;
      if (event === 'error') process.emitWarning(message, { code: 'ERR_LISTENER' });
      else this.#emit('error', { message, code: 'ERR_LISTENER' });
    }
  }

  #error(err: unknown): void {
    const e = err as { message?: string; code?: string };
    this.#emit('error', { message: e?.message ?? String(err), ...(e?.code ? { code: e.code } : {}) });
  }

  /** the SIP listener our Contact names */
  get contact(): string {
    const l = this.#transport?.listeners.find((x) => x.transport === this.options.transport);
    // behind a NAT: the address the registrar saw (registerer.ts, RFC 3581 §4)
    const pub = this.#registerer?.publicAddress ?? null;
    const ip = pub?.host ?? this.options.localIp;
    const host = ip.includes(':') ? `[${ip}]` : ip;
    const push = this.options.push === undefined ? '' : `;pn-provider=${PUSH_PROVIDER};pn-prid=${encodeURIComponent(this.options.push)}`;
    return `sip:${this.options.user}@${host}:${pub?.port ?? l?.port ?? 0};transport=${this.options.transport}${push}`;
  }

  get isRegistered(): boolean {
    return this.#registerer.isRegistered;
  }

  get inCall(): boolean {
    return this.#sessions.inCall;
  }

  /** contacts' last known state, for the screen */
  get presence(): Map<string, boolean> {
    return this.#subscriber.presence;
  }

  /** Binds the RTP port first, then the SIP listeners, then registers and subscribes (RFC 3261 §10.2). */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await mkdir(this.options.downloadDir, { recursive: true });
    // the names of the server list located (RFC 3263); with none found and no --local-ip there is no route to pick
    await this.#servers.refresh();
    if (this.#servers.count === 0 && this.options.localIp === '') throw new TvphoneError('ERR_BAD_SERVER', `${this.options.server}: no server found in DNS`);
    // no --local-ip: the address of the interface that routes to the server (or the outbound proxy)
    if (this.options.localIp === '') this.options.localIp = await localAddressFor(this.#serverTarget.address, this.#serverTarget.port);
    // our listeners are bound in that address's family: a name's addresses of the other family are not reachable
    this.#servers.onlyFamily(isIP(this.options.localIp));
    await this.#inbox.load();
    await this.#voice.load();
    await this.#sessions.start();
    const ip = this.options.localIp;
    this.#transport = await NetworkTransport.listen({
      listeners: [{ transport: 'tcp', host: ip, port: 0 }, { transport: 'udp', host: ip, port: 0 }],
      idleTimeout: 3_600_000, maxMessageSize: 1_100_000,
    });
    this.#transport.onConnectionClosed((_id, remote) => this.#registerer.connectionClosed(remote));
    this.#core = new UserAgentCore({
      transport: this.#transport, outboundProxy: this.#serverTarget, credentials: { user: this.options.user, password: this.options.password },
      timerValues: this.options.timerValues, onError: (err) => this.#error(err),
    });
    this.#core.handler = {
      onRequest: (req, st) => this.#onRequest(req, st),
      onDialogRequest: (d, req, st) => this.#onDialogRequest(d, req, st),
      onUnknownDialogRequest: (req, st) => this.#subscriber.onUnknownDialogRequest(req, st),
      onCancel: (st) => this.#sessions.onCancel(st),
      onAckTimeout: (d) => void this.#sessions.onAckTimeout(d),
    };
    await this.#registerer.register();
    const transport = this.#transport;
    this.#registerer.startKeepAlive((to) => transport.keepAlive(to));
  }

  // ------------------------------------------------------------------------------------------ the public API of the parts

  /** The voice messages received (and those saved before a restart), oldest first. */
  voiceMessages(): VoiceMessage[] {
    return this.#voice.list();
  }

  /**
   * Play a voice message (key p): by id, default the oldest not played yet (else the newest), through the speaker
   * sink (option `speaker`) at real-time pace. Resolves with it once played (event voice-message-played), null when none.
   */
  async playVoiceMessage(id?: string): Promise<VoiceMessage | null> {
    const vm = await this.#voice.play(id, this.options.speaker);
    if (vm !== null) this.#emit('voice-message-played', { id: vm.id, from: vm.from, file: vm.file, durationMs: vm.durationMs });
    return vm;
  }

  /** RFC 3856 / RFC 6665 §4.1: watch a contact's presence. */
  subscribe(contact: string): Promise<void> {
    return this.#subscriber.subscribe(contact);
  }

  /** Place a call to a user of our server (RFC 3261 §13.2.1: INVITE with an SDP offer); `video: false`: a voice call. */
  dial(user: string, o: { video?: boolean } = {}): Promise<boolean> {
    return this.#sessions.dial(user, o);
  }

  /** Answer the ringing call (key a, or --auto-answer). */
  answer(): boolean {
    return this.#sessions.answer();
  }

  /** Hang up (key h): BYE when answered, CANCEL while our INVITE is pending, 603 to a ringing incoming call. */
  hangup(): Promise<boolean> {
    return this.#sessions.hangup();
  }

  /** Put the call on hold (RFC 3264 §8.4) or take it off hold. */
  hold(on: boolean): Promise<boolean> {
    return this.#sessions.hold(on);
  }

  /** Turn our camera off or on in a video call (a re-INVITE; key c). */
  camera(on: boolean): Promise<boolean> {
    return this.#sessions.camera(on);
  }

  /** Add a video stream to the call in progress (a re-INVITE, RFC 3264 §8.1; key v). */
  addVideo(): Promise<boolean> {
    return this.#sessions.addVideo();
  }

  /** Remove the call's video stream (a re-INVITE with port 0, RFC 3264 §8.2; key v); the audio goes on. */
  removeVideo(): Promise<boolean> {
    return this.#sessions.removeVideo();
  }

  /** Whether the call in progress has a video stream. */
  get hasVideo(): boolean {
    return this.#sessions.hasVideo;
  }

  /** Whether our camera is off in the call in progress. */
  get cameraOff(): boolean {
    return this.#sessions.cameraOff;
  }

  /** Whether the call in progress is on hold (by us or by the peer). */
  get onHold(): boolean {
    return this.#sessions.onHold;
  }

  /**
   * Send DTMF digits (0-9 * # A-D) in the answered call as RFC 4733 telephone-events, 100 ms each. False when
   * there is no answered call; throws TvphoneError ERR_MEDIA_DTMF when the peer did not offer telephone-event.
   */
  sendDtmf(digits: string): boolean {
    return this.#sessions.sendDtmf(digits);
  }

  /** The figures of the call's video stream now (frames, packets, feedback; null when no video stream runs). */
  videoStats(): VideoStats | null {
    return this.#sessions.videoStats();
  }

  /** RTP/RTCP figures of the call in progress (null when no call has media). */
  callStats(): MediaStats | null {
    return this.#sessions.callStats();
  }

  /** RFC 3428: a MESSAGE to a user; resolves with the final status (202 when the server kept it). */
  sendMessage(user: string, body: Uint8Array | string, contentType?: string): Promise<number> {
    return this.#messager.sendMessage(user, body, contentType);
  }

  /** A picture as a MESSAGE body (image/jpeg or image/png from the file's extension). */
  sendPicture(user: string, file: string): Promise<number> {
    return this.#messager.sendPicture(user, file);
  }

  // ------------------------------------------------------------------------------------------ incoming requests

  #onRequest(req: SipRequest, st: ServerTransaction): void {
    switch (req.method) {
      case 'MESSAGE':
        void this.#inbox.onMessage(req, st).catch((err: unknown) => {
          this.#error(err);
          if (st.finalResponse === null) st.respond(createResponse(req, 500, 'Could Not Store'));
        });
        return;
      case 'INVITE':
        return void this.#sessions.onInvite(req, st).catch((err: unknown) => {
          this.#error(err);
          if (st.finalResponse === null) st.respond(createResponse(req, err instanceof SipError ? err.status : 500));
        });
      case 'OPTIONS': {
        const res = createResponse(req, 200);
        res.addHeader('Allow', ALLOW);
        return void st.respond(res);
      }
      case 'NOTIFY':
        return this.#subscriber.onNotify(req, st);
      default: {
        const res = createResponse(req, 405);
        res.addHeader('Allow', ALLOW);
        st.respond(res);
      }
    }
  }

  #onDialogRequest(d: Dialog, req: SipRequest, st: ServerTransaction): void {
    switch (req.method) {
      case 'BYE':
        return this.#sessions.onBye(d, req, st);
      case 'NOTIFY':
        return this.#subscriber.onNotify(req, st, d);
      case 'INVITE':
      case 'UPDATE':
        return void this.#sessions.onReInvite(d, req, st).catch((err: unknown) => {
          this.#error(err);
          if (st.finalResponse === null) st.respond(createResponse(req, 500));
        });
      case 'INFO':
      case 'OPTIONS':
        return void st.respond(createResponse(req, 200));
      default:
        st.respond(createResponse(req, 405));
    }
  }

  // ------------------------------------------------------------------------------------------ standby (RFC 8599)

  get inStandby(): boolean {
    return this.#registerer.inStandby;
  }

  /**
   * Standby, as a TV switched to standby: no refresh, and the connection to the server dropped without a
   * de-registration, so the registrar keeps our push registration (option `push`). A push (wake()) brings us back.
   */
  standby(): void {
    if (this.#stopped || this.#transport === null) return;
    this.#registerer.sleep();
    this.#transport.closeConnectionsTo(this.#serverTarget);
    this.#emit('standby', {});
  }

  /** A push woke us (the network wake-up of a TV): register again, so the call held for us rings here. */
  async wake(): Promise<boolean> {
    if (this.#stopped || this.#transport === null || !this.#registerer.inStandby) return false;
    this.#emit('woken', {});
    const ok = await this.#registerer.wake();
    const transport = this.#transport;
    this.#registerer.startKeepAlive((to) => transport.keepAlive(to));
    return ok;
  }

  /** Listen for wake-ups over HTTP (POST /wake) on host:port; resolves with the URL to POST to. Closed at stop(). */
  async listenForWake(host = '127.0.0.1', port = 0): Promise<string> {
    this.#wakeListener ??= await WakeListener.listen(host, port, () => void this.wake().catch((err: unknown) => this.#error(err)));
    return this.#wakeListener.url;
  }

  // ------------------------------------------------------------------------------------------ stop

  /** Hang up, unsubscribe, de-register (REGISTER Expires: 0) and close every socket. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    await this.#sessions.endAll();
    this.#stopped = true;
    await this.#wakeListener?.close();
    this.#registerer.stop();
    await this.#subscriber.unsubscribeAll(this.#registerer.isRegistered);
    await this.#registerer.unregister();
    this.#core?.close();
    await this.#transport?.close();
    await this.#sessions.close();
  }
}
