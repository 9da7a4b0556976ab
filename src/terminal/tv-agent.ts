// The TV agent (DESIGN.md: the TV's SIP user agent): binds its RTP port, registers with the tvphone server,
// shows what the server kept for it (messages, pictures, missed-call notices), watches its contacts' presence,
// and places and answers calls with G.711 audio. A composition root: wires the UA core (dialog/), the media
// session (media/) and the capability parsers (offline/, presence/); the CLI (cli/tv.ts) wires flags and output.
import { EventEmitter } from 'node:events';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { Dialog } from '../dialog/dialog.ts';
import { UserAgentCore } from '../dialog/user-agent-core.ts';
import { SipError } from '../errors.ts';
import { PcmRecorder, PcmSource, ToneSource, type AudioSource } from '../media/audio-io.ts';
import { toTelephonyPcm } from '../media/resample.ts';
import { MediaSession, type MediaStats } from '../media/rtp-session.ts';
import { LocalMedia, type MediaDirection, type Negotiated } from '../media/sdp.ts';
import { readWav } from '../media/wav.ts';
import { parseMissedCallNotice } from '../formats/missed-call-notice.ts';
import { overallBasic, parsePidf } from '../formats/pidf.ts';
import { contactExpires, expiresOf, parseContacts, parseNameAddr } from '../sip/headers.ts';
import { newCallId, newTag } from '../sip/ids.ts';
import { SipRequest, type SipResponse } from '../sip/message.ts';
import { createResponse } from '../sip/response.ts';
import { parseSipUri } from '../sip/uri.ts';
import type { ServerTransaction } from '../transaction/server-transaction.ts';
import type { TimerValues } from '../transaction/timers.ts';
import { NetworkTransport } from '../transport/network-transport.ts';
import type { Target, TransportName } from '../transport/transport.ts';
import type { CallEndReason, TvAgentEvents } from './events.ts';

export interface TvAgentOptions {
  user: string;
  password: string;
  /** the registrar/proxy, e.g. sip:127.0.0.1:5060 (an IP address: no DNS here) */
  server: string;
  /** default tcp */
  transport?: TransportName;
  /**
   * RFC 3261 §8.1.2: send every request here (an IP-address SIP URI, e.g. an SBC or a relay) instead of to
   * `server`, which still names the domain (Request-URI of REGISTER, our AoR). Default: `server` itself.
   */
  outboundProxy?: string;
  /** our address for SIP and RTP (default 127.0.0.1) */
  localIp?: string;
  /** where pictures and the message log go (default ./tvphone-downloads) */
  downloadDir?: string;
  /** users whose presence we watch */
  contacts?: string[];
  autoAnswer?: boolean;
  /** test tone frequency (default 440 Hz) when no `play` file */
  toneHz?: number;
  /** a WAV file to send instead of the tone */
  play?: string;
  /** write received audio of each call to this WAV file */
  record?: string;
  /** REGISTER expiry asked for (default 300 s) */
  expires?: number;
  /** SUBSCRIBE expiry asked for (default 600 s) */
  presenceExpires?: number;
  /** RFC 5626 §3.5.1 CRLF keep-alive interval on TCP/TLS (default 30 000 ms; 0 disables) */
  keepAliveMs?: number;
  /** first and largest wait between failed REGISTER attempts (default 1 000 / 60 000 ms) */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** T1/T2/T4 overrides (tests) */
  timerValues?: Partial<TimerValues>;
  /** RTCP report interval for calls (default 5 000 ms) */
  rtcpIntervalMs?: number;
}

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

interface Subscription {
  contact: string;
  callId: string;
  fromTag: string;
  dialog: Dialog | null;
  timer: ReturnType<typeof setTimeout> | null;
  closed: boolean;
}

const MAX_SEEN_IDS = 1000;
const SEEN_FILE = '.tvphone-seen-ids';
const MESSAGE_LOG = 'messages.log';
const PICTURE_EXT: Record<string, string> = { 'image/jpeg': '.jpg', 'image/png': '.png', 'image/gif': '.gif', 'image/webp': '.webp' };

/** Content-Type for a picture file, from its extension. */
export function pictureContentType(file: string): string {
  const ext = extname(file).toLowerCase();
  if (ext === '.jpg' || ext === '.jpeg') return 'image/jpeg';
  if (ext === '.png') return 'image/png';
  if (ext === '.gif') return 'image/gif';
  if (ext === '.webp') return 'image/webp';
  throw new SipError(415, `Unsupported picture type ${ext || '(none)'}`);
}

function userOf(nameAddrOrUri: string): string {
  try {
    const uri = nameAddrOrUri.includes('<') || nameAddrOrUri.includes(';') ? parseNameAddr(nameAddrOrUri).uri : nameAddrOrUri;
    const u = parseSipUri(uri);
    return u.user ?? u.host;
  } catch {
    return nameAddrOrUri;
  }
}

export class TvAgent extends EventEmitter<TvAgentEvents> {
  readonly options: Required<Omit<TvAgentOptions, 'play' | 'record' | 'timerValues' | 'contacts' | 'outboundProxy'>> & Pick<TvAgentOptions, 'play' | 'record' | 'timerValues' | 'outboundProxy'> & { contacts: string[] };
  /** host[:port] of the server: our domain */
  readonly domain: string;
  readonly aor: string;
  private transport: NetworkTransport | null = null;
  private core: UserAgentCore | null = null;
  private serverTarget: Target;
  private media: MediaSession | null = null;
  private call: Call | null = null;
  private registerCallId = newCallId();
  private registerSeq = 0;
  private registered = false;
  private registering = false;
  private regTimer: ReturnType<typeof setTimeout> | null = null;
  private keepAliveTimer: ReturnType<typeof setInterval> | null = null;
  private retryMs: number;
  private subs = new Map<string, Subscription>();
  private seen: string[] = [];
  private seenSet = new Set<string>();
  private audio: Int16Array | null = null;
  private stopped = false;
  private started = false;
  /** dial() is taking its media port (the call does not exist yet): set, a second dial or an INVITE is refused */
  private dialing: { aborted: boolean } | null = null;
  /** contacts' last known state, for the screen */
  readonly presence = new Map<string, boolean>();

  constructor(o: TvAgentOptions) {
    super();
    this.options = {
      user: o.user, password: o.password, server: o.server, transport: o.transport ?? 'tcp', localIp: o.localIp ?? '127.0.0.1',
      downloadDir: o.downloadDir ?? './tvphone-downloads', contacts: o.contacts ?? [], autoAnswer: o.autoAnswer ?? false,
      toneHz: o.toneHz ?? 440, play: o.play, record: o.record, expires: o.expires ?? 300, presenceExpires: o.presenceExpires ?? 600,
      keepAliveMs: o.keepAliveMs ?? 30_000, retryMinMs: o.retryMinMs ?? 1_000, retryMaxMs: o.retryMaxMs ?? 60_000,
      timerValues: o.timerValues, rtcpIntervalMs: o.rtcpIntervalMs ?? 5_000, outboundProxy: o.outboundProxy,
    };
    const s = parseSipUri(o.server);
    const t = (s.params.get('transport') as TransportName | null | undefined) ?? this.options.transport;
    this.options.transport = t;
    const next = o.outboundProxy !== undefined ? parseSipUri(o.outboundProxy) : s;
    this.serverTarget = { transport: t, address: next.host.replace(/^\[|\]$/g, ''), port: next.port ?? (t === 'tls' ? 5061 : 5060) };
    this.domain = s.port === null ? s.host : `${s.host}:${s.port}`;
    this.aor = `sip:${o.user}@${s.host}`;
    this.retryMs = this.options.retryMinMs;
  }

  #emit<K extends keyof TvAgentEvents>(event: K, ...args: TvAgentEvents[K]): void {
    // a throwing listener must not break the agent's state
    try {
      (this.emit as (e: K, ...a: TvAgentEvents[K]) => boolean)(event, ...args);
    } catch {
      /* ignored */
    }
  }

  #error(err: unknown): void {
    const e = err as { message?: string; code?: string };
    this.#emit('error', { message: e?.message ?? String(err), ...(e?.code ? { code: e.code } : {}) });
  }

  /** the SIP listener our Contact names */
  get contact(): string {
    const l = this.transport?.listeners.find((x) => x.transport === this.options.transport);
    const host = this.options.localIp.includes(':') ? `[${this.options.localIp}]` : this.options.localIp;
    return `sip:${this.options.user}@${host}:${l?.port ?? 0};transport=${this.options.transport}`;
  }

  get isRegistered(): boolean {
    return this.registered;
  }

  get inCall(): boolean {
    return this.call !== null;
  }

  /** Binds the RTP port first, then the SIP listeners, then registers and subscribes (RFC 3261 §10.2). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await mkdir(this.options.downloadDir, { recursive: true });
    await this.#loadSeen();
    if (this.options.play !== undefined) this.audio = toTelephonyPcm(readWav(await readFile(this.options.play)));
    this.media = await this.#newMedia();
    const ip = this.options.localIp;
    this.transport = await NetworkTransport.listen({
      listeners: [{ transport: 'tcp', host: ip, port: 0 }, { transport: 'udp', host: ip, port: 0 }],
      idleTimeout: 3_600_000, maxMessageSize: 1_100_000,
    });
    this.transport.onConnectionClosed((_id, remote) => this.#connectionClosed(remote));
    this.core = new UserAgentCore({
      transport: this.transport, outboundProxy: this.serverTarget, credentials: { user: this.options.user, password: this.options.password },
      timerValues: this.options.timerValues, onError: () => {},
    });
    this.core.handler = {
      onRequest: (req, st) => this.#onRequest(req, st),
      onDialogRequest: (d, req, st) => this.#onDialogRequest(d, req, st),
      onUnknownDialogRequest: (req, st) => this.#onUnknownDialogRequest(req, st),
      onCancel: (st) => this.#onCancel(st),
      onAckTimeout: (d) => void this.#onAckTimeout(d),
    };
    await this.#register();
    if (this.options.keepAliveMs > 0 && this.options.transport !== 'udp') {
      this.keepAliveTimer = setInterval(() => this.#keepAlive(), this.options.keepAliveMs);
      this.keepAliveTimer.unref();
    }
  }

  async #newMedia(): Promise<MediaSession> {
    const m = new MediaSession({ localIp: this.options.localIp, rtcpIntervalMs: this.options.rtcpIntervalMs });
    await m.bind();
    return m;
  }

  // ------------------------------------------------------------------------------------------ registration

  /** RFC 3261 §10.2: REGISTER our Contact; the same Call-ID and a growing CSeq for every refresh (§10.2.4). */
  async #register(expires = this.options.expires): Promise<boolean> {
    const core = this.core;
    if (core === null || this.registering) return false;
    this.registering = true;
    try {
      const req = new SipRequest('REGISTER', `sip:${this.domain}`);
      req.addHeader('From', `<${this.aor}>;tag=${newTag()}`);
      req.addHeader('To', `<${this.aor}>`);
      req.addHeader('Call-ID', this.registerCallId);
      req.addHeader('CSeq', `${++this.registerSeq} REGISTER`);
      req.addHeader('Contact', `<${this.contact}>`);
      req.addHeader('Expires', String(expires));
      req.addHeader('User-Agent', 'tvphone-tv');
      const res = await core.request(req);
      this.registerSeq = Math.max(this.registerSeq, Number(/^\s*(\d+)/.exec(req.header('cseq') ?? '')?.[1] ?? this.registerSeq));
      if (expires === 0) return res.status >= 200 && res.status < 300;
      if (res.status >= 200 && res.status < 300) {
        const granted = this.#grantedExpires(res) ?? expires;
        const wasRegistered = this.registered;
        this.registered = true;
        this.retryMs = this.options.retryMinMs;
        // refresh before expiry: at 80 % of the granted time, at least 1 s
        this.#schedule(Math.max(1_000, granted * 800), () => void this.#register());
        this.#emit('registered', { aor: this.aor, contact: this.contact, transport: this.options.transport, expires: granted });
        if (!wasRegistered) this.#subscribeAll();
        return true;
      }
      this.registered = false;
      const wait = this.retryMs;
      this.retryMs = Math.min(this.retryMs * 2, this.options.retryMaxMs);
      this.#emit('registration-failed', { status: res.status, reason: res.reason, retryInMs: wait });
      this.#schedule(wait, () => void this.#register());
      return false;
    } finally {
      this.registering = false;
    }
  }

  #grantedExpires(res: SipResponse): number | null {
    try {
      const cs = parseContacts(res);
      if (cs !== '*') {
        const ours = cs.find((c) => c.uri === this.contact) ?? cs.find((c) => c.uri.includes(`:${this.contact.split(':')[2]}`));
        const e = ours ? contactExpires(ours) : null;
        if (e !== null) return e;
      }
      return expiresOf(res);
    } catch {
      return null;
    }
  }

  #schedule(ms: number, fn: () => void): void {
    if (this.stopped) return;
    if (this.regTimer !== null) clearTimeout(this.regTimer);
    this.regTimer = setTimeout(fn, ms);
  }

  /** RFC 5626 §3.5.1: a CRLFCRLF ping on the flow to the server keeps NATs and the registrar's connection alive. */
  #keepAlive(): void {
    this.transport?.keepAlive(this.serverTarget);
  }

  /** The flow to the server closed: register again (a new connection), with back-off on failure. */
  #connectionClosed(remote: { transport: TransportName; address: string; port: number }): void {
    if (this.stopped) return;
    const s = this.serverTarget;
    if (remote.transport !== s.transport || remote.address !== s.address || remote.port !== s.port) return;
    this.registered = false;
    this.#emit('connection-lost', {});
    // subscriptions lived on that flow: start them afresh once registered again
    for (const sub of this.subs.values()) this.#dropSubscription(sub);
    this.subs.clear();
    const wait = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, this.options.retryMaxMs);
    this.#schedule(Math.min(wait, 1_000), () => void this.#register());
  }

  // ------------------------------------------------------------------------------------------ presence

  #subscribeAll(): void {
    for (const c of this.options.contacts) if (!this.subs.has(c)) void this.subscribe(c);
  }

  /** RFC 3856 / RFC 6665 §4.1: SUBSCRIBE Event: presence to a contact; refreshed in the dialog before expiry. */
  async subscribe(contact: string): Promise<void> {
    const core = this.core;
    if (core === null || this.stopped) return;
    const sub: Subscription = this.subs.get(contact) ?? { contact, callId: newCallId(), fromTag: newTag(), dialog: null, timer: null, closed: false };
    this.subs.set(contact, sub);
    let req: SipRequest;
    if (sub.dialog !== null) req = sub.dialog.createRequest('SUBSCRIBE');
    else {
      req = new SipRequest('SUBSCRIBE', `sip:${contact}@${this.domain}`);
      req.addHeader('From', `<${this.aor}>;tag=${sub.fromTag}`);
      req.addHeader('To', `<sip:${contact}@${this.domain.split(':')[0]}>`);
      req.addHeader('Call-ID', sub.callId);
      req.addHeader('CSeq', '1 SUBSCRIBE');
    }
    req.addHeader('Event', 'presence');
    req.addHeader('Accept', 'application/pidf+xml');
    req.addHeader('Expires', String(this.options.presenceExpires));
    req.addHeader('Contact', `<${this.contact}>`);
    const res = await core.request(req, {}, sub.dialog ?? undefined);
    if (sub.closed || this.stopped) return;
    if (res.status >= 200 && res.status < 300) {
      if (sub.dialog === null) {
        try {
          sub.dialog = Dialog.asUac(req, res);
          core.addDialog(sub.dialog);
        } catch (err) {
          this.#error(err);
        }
      }
      const granted = expiresOf(res) ?? this.options.presenceExpires;
      this.#subTimer(sub, Math.max(1_000, granted * 800));
      return;
    }
    // RFC 6665 §4.1.2.2: a failed refresh (481 …) ends the subscription; start a new one later.
    if (sub.dialog !== null) core.removeDialog(sub.dialog);
    sub.dialog = null;
    sub.callId = newCallId();
    sub.fromTag = newTag();
    this.#subTimer(sub, res.status === 481 ? 1_000 : 30_000);
  }

  #subTimer(sub: Subscription, ms: number): void {
    if (sub.timer !== null) clearTimeout(sub.timer);
    sub.timer = setTimeout(() => void this.subscribe(sub.contact), ms);
  }

  #dropSubscription(sub: Subscription): void {
    sub.closed = true;
    if (sub.timer !== null) clearTimeout(sub.timer);
    if (sub.dialog !== null) this.core?.removeDialog(sub.dialog);
  }

  /** RFC 3856 §6.6: a NOTIFY with a PIDF body: 200, then show the contact's state. */
  #onNotify(req: SipRequest, st: ServerTransaction, sub: Subscription | undefined): void {
    st.respond(createResponse(req, 200));
    const contact = sub?.contact ?? userOf(req.header('from') ?? '');
    if (req.body.length > 0) {
      try {
        const doc = parsePidf(req.body);
        const basic = overallBasic(doc);
        this.presence.set(contact, basic === 'open');
        this.#emit('presence', { contact, online: basic === 'open', basic });
      } catch (err) {
        this.#error(err);
      }
    }
    // RFC 6665 §4.1.3: Subscription-State: terminated ends it; subscribe again later.
    if (sub !== undefined && /^\s*terminated/i.test(req.header('subscription-state') ?? '')) {
      if (sub.dialog !== null) this.core?.removeDialog(sub.dialog);
      sub.dialog = null;
      sub.callId = newCallId();
      sub.fromTag = newTag();
      this.#subTimer(sub, 5_000);
    }
  }

  #onUnknownDialogRequest(req: SipRequest, st: ServerTransaction): boolean {
    if (req.method !== 'NOTIFY') return false;
    // RFC 6665 §4.1.2.4: a NOTIFY may arrive before the 2xx of its SUBSCRIBE.
    const sub = [...this.subs.values()].find((s) => s.callId === req.callId);
    if (sub === undefined) return false;
    this.#onNotify(req, st, sub);
    return true;
  }

  // ------------------------------------------------------------------------------------------ incoming requests

  #onRequest(req: SipRequest, st: ServerTransaction): void {
    switch (req.method) {
      case 'MESSAGE':
        void this.#onMessage(req, st).catch((err: unknown) => {
          this.#error(err);
          if (st.finalResponse === null) st.respond(createResponse(req, 500, 'Could Not Store'));
        });
        return;
      case 'INVITE':
        return void this.#onInvite(req, st).catch((err: unknown) => {
          this.#error(err);
          if (st.finalResponse === null) st.respond(createResponse(req, err instanceof SipError ? err.status : 500));
        });
      case 'OPTIONS': {
        const res = createResponse(req, 200);
        res.addHeader('Allow', 'INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, NOTIFY');
        return void st.respond(res);
      }
      case 'NOTIFY':
        return this.#onNotify(req, st, undefined);
      default: {
        const res = createResponse(req, 405);
        res.addHeader('Allow', 'INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, NOTIFY');
        st.respond(res);
      }
    }
  }

  async #loadSeen(): Promise<void> {
    try {
      const text = await readFile(join(this.options.downloadDir, SEEN_FILE), 'utf8');
      this.seen = text.split('\n').filter(Boolean).slice(-MAX_SEEN_IDS);
      this.seenSet = new Set(this.seen);
    } catch {
      this.seen = [];
    }
  }

  async #rememberSeen(id: string): Promise<void> {
    this.seen.push(id);
    this.seenSet.add(id);
    const file = join(this.options.downloadDir, SEEN_FILE);
    if (this.seen.length > MAX_SEEN_IDS * 2) {
      // bounded: keep the newest ids
      this.seen = this.seen.slice(-MAX_SEEN_IDS);
      this.seenSet = new Set(this.seen);
      await writeFile(file, this.seen.join('\n') + '\n');
    } else await appendFile(file, id + '\n');
  }

  /**
   * A message (RFC 3428): text is shown and appended to messages.log, a picture saved in the download folder,
   * a missed-call notice listed — and only then answered 200, so the server keeps it until it is on disk.
   * A repeat (same X-Tvphone-Message-Id) is answered 200 and not shown again.
   */
  async #onMessage(req: SipRequest, st: ServerTransaction): Promise<void> {
    const stored = req.header('x-tvphone-message-id');
    const id = stored ?? `${req.callId}-${req.header('cseq') ?? ''}`;
    if (stored !== undefined && this.seenSet.has(stored)) return void st.respond(createResponse(req, 200));
    const contentType = req.header('content-type') ?? 'text/plain';
    const from = userOf(req.header('from') ?? '');
    const date = req.header('date');
    const dir = this.options.downloadDir;
    const notice = parseMissedCallNotice(contentType, req.body);
    const mediaType = contentType.split(';')[0].trim().toLowerCase();
    if (notice !== null) {
      const lines = notice.calls.map((c) => `${new Date().toISOString()} missed ${c.count} call(s) from ${c.from} (last ${c.last})\n`).join('');
      await appendFile(join(dir, MESSAGE_LOG), lines);
      if (stored !== undefined) await this.#rememberSeen(stored);
      st.respond(createResponse(req, 200));
      this.#emit('missed-calls', { id, calls: notice.calls });
      return;
    }
    if (mediaType.startsWith('text/')) {
      const text = new TextDecoder('utf-8').decode(req.body);
      await appendFile(join(dir, MESSAGE_LOG), `${date ?? new Date().toUTCString()} ${from}: ${text.replace(/\r?\n/g, ' ')}\n`);
      if (stored !== undefined) await this.#rememberSeen(stored);
      st.respond(createResponse(req, 200));
      this.#emit('message', { id, from, contentType, bytes: req.body.length, text, ...(date ? { date } : {}) });
      return;
    }
    const ext = PICTURE_EXT[mediaType] ?? '.bin';
    const safe = `${id}-${from}`.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100);
    const file = join(dir, safe + ext);
    await writeFile(file, req.body);
    await appendFile(join(dir, MESSAGE_LOG), `${date ?? new Date().toUTCString()} ${from}: [${mediaType}] ${basename(file)}\n`);
    if (stored !== undefined) await this.#rememberSeen(stored);
    st.respond(createResponse(req, 200));
    this.#emit('message', { id, from, contentType, bytes: req.body.length, file, ...(date ? { date } : {}) });
  }

  // ------------------------------------------------------------------------------------------ calls

  #source(): AudioSource {
    return this.audio !== null ? new PcmSource(this.audio, { loop: true }) : new ToneSource({ frequency: this.options.toneHz });
  }

  async #takeMedia(): Promise<MediaSession> {
    const m = this.media ?? await this.#newMedia();
    this.media = null;
    return m;
  }

  /** An INVITE outside a dialog: 486 when busy (one call at a time), else ring (180) and answer now or on a key. */
  async #onInvite(req: SipRequest, st: ServerTransaction): Promise<void> {
    if (this.call !== null || this.dialing !== null) return void st.respond(createResponse(req, 486));
    const offer = req.body.length > 0 ? new TextDecoder().decode(req.body) : null;
    if (offer === null) return void st.respond(createResponse(req, 488, 'Offer Required'));
    const media = await this.#takeMedia();
    if (this.call !== null || this.dialing !== null) {
      if (this.media === null && !this.stopped) this.media = media;
      else await media.stop();
      return void st.respond(createResponse(req, 486));
    }
    const tag = newTag();
    const dialog = Dialog.asUas(req, tag, 'early');
    const call: Call = {
      callId: req.callId, peer: userOf(req.header('from') ?? ''), direction: 'in', state: 'ringing', media,
      local: new LocalMedia({ ip: this.options.localIp, port: media.localPort }), recorder: this.options.record ? new PcmRecorder() : null,
      dialog, st, offer, invite: null, provisional: true, cancelWanted: false, startedAt: Date.now(), held: false,
    };
    this.call = call;
    const ringing = createResponse(req, 180, undefined, tag);
    ringing.addHeader('Contact', `<${this.contact}>`);
    for (const rr of req.fields('record-route')) ringing.addHeader('Record-Route', rr.value);
    st.respond(ringing);
    this.#emit('call-incoming', { callId: call.callId, from: call.peer });
    if (this.options.autoAnswer) this.answer();
  }

  /** Answer the ringing call (key a, or --auto-answer): 200 with our SDP answer, retransmitted until ACK. */
  answer(): boolean {
    const call = this.call;
    const core = this.core;
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
    res.addHeader('Contact', `<${this.contact}>`);
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
    call.startedAt = Date.now();
    // RFC 4733: digits the peer sends as telephone-events
    call.media.on('dtmf', (digit) => this.#emit('dtmf', { callId: call.callId, digit }));
    call.media.start({
      remoteIp: neg.remote.ip, remotePort: neg.remote.port, remoteRtcpPort: neg.remote.rtcpPort, payloadType: neg.payloadType,
      telephoneEventPayloadType: neg.telephoneEventPayloadType, source: this.#source(), sink: call.recorder ?? undefined,
      direction: neg.direction === 'sendrecv' && neg.remote.onHold ? 'recvonly' : neg.direction,
    });
    this.#emit('call-answered', { callId: call.callId, peer: call.peer, codec: neg.codec, direction: neg.direction, remoteRtp: `${neg.remote.ip}:${neg.remote.port}` });
  }

  /** Place a call to a user of our server (RFC 3261 §13.2.1: INVITE with an SDP offer). */
  async dial(user: string): Promise<boolean> {
    const core = this.core;
    if (core === null || this.call !== null || this.dialing !== null) return false;
    const dialing = { aborted: false };
    this.dialing = dialing;
    let media: MediaSession;
    try {
      media = await this.#takeMedia();
    } finally {
      this.dialing = null;
    }
    if (dialing.aborted || this.stopped || this.call !== null) {
      // hung up (or an INVITE came in) before anything was sent: nothing to cancel
      if (this.media === null && !this.stopped) this.media = media;
      else await media.stop();
      return false;
    }
    const req = new SipRequest('INVITE', `sip:${user}@${this.domain}`);
    const call: Call = {
      callId: newCallId(), peer: user, direction: 'out', state: 'ringing', media,
      local: new LocalMedia({ ip: this.options.localIp, port: media.localPort }), recorder: this.options.record ? new PcmRecorder() : null,
      dialog: null, st: null, offer: null, invite: req, provisional: false, cancelWanted: false, startedAt: Date.now(), held: false,
    };
    this.call = call;
    req.addHeader('From', `<${this.aor}>;tag=${newTag()}`);
    req.addHeader('To', `<sip:${user}@${this.domain.split(':')[0]}>`);
    req.addHeader('Call-ID', call.callId);
    req.addHeader('CSeq', '1 INVITE');
    req.addHeader('Contact', `<${this.contact}>`);
    req.addHeader('Allow', 'INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, NOTIFY');
    req.addHeader('Content-Type', 'application/sdp');
    req.body = new TextEncoder().encode(call.local.createOffer('sendrecv'));
    this.#emit('call-outgoing', { callId: call.callId, to: user });
    const out = await core.invite(req, {
      onProvisional: (res) => {
        if (res.status === 100) return;
        call.provisional = true;
        this.#emit('call-ringing', { callId: call.callId, status: res.status });
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
      this.#error(err);
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
    const call = this.call;
    if (call === null || call.state !== 'active') return false;
    call.media.sendDtmf(digits);
    return true;
  }

  /** RTP/RTCP figures of the call in progress (null when no call has media). */
  callStats(): MediaStats | null {
    const call = this.call;
    return call !== null && call.state === 'active' ? call.media.stats() : null;
  }

  /** Whether the call in progress is on hold (by us or by the peer). */
  get onHold(): boolean {
    return this.call?.held ?? false;
  }

  /** Put the call on hold (re-INVITE with a=sendonly, RFC 3264 §8.4) or take it off hold (sendrecv). */
  async hold(on: boolean): Promise<boolean> {
    const call = this.call;
    const core = this.core;
    if (call === null || core === null || call.state !== 'active' || call.dialog === null) return false;
    const direction: MediaDirection = on ? 'sendonly' : 'sendrecv';
    const req = call.dialog.createRequest('INVITE', { body: new TextEncoder().encode(call.local.createOffer(direction)) });
    req.addHeader('Contact', `<${this.contact}>`);
    const out = await core.invite(req, { dialog: call.dialog });
    if (out.response.status < 200 || out.response.status >= 300) return false;
    try {
      const neg = call.local.acceptAnswer(new TextDecoder().decode(out.response.body), direction);
      call.media.updateRemote({ remoteIp: neg.remote.ip, remotePort: neg.remote.port, remoteRtcpPort: neg.remote.rtcpPort });
      call.media.setDirection(direction);
    } catch (err) {
      this.#error(err);
    }
    call.held = on;
    this.#emit('call-held', { callId: call.callId, held: on, by: 'local' });
    return true;
  }

  /** Hang up (key h): BYE when answered, CANCEL while our INVITE is pending, 603 to a ringing incoming call. */
  async hangup(): Promise<boolean> {
    const call = this.call;
    const core = this.core;
    if (this.dialing !== null) {
      this.dialing.aborted = true; // dial() has sent nothing yet
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
    const core = this.core;
    if (core === null || call.dialog === null) return;
    const d = call.dialog;
    await core.request(d.createRequest('BYE'), {}, d);
    core.removeDialog(d);
  }

  async #endCall(call: Call, reason: CallEndReason, status?: number): Promise<void> {
    if (call.state === 'ended') return;
    const wasActive = call.state === 'active';
    call.state = 'ended';
    if (call.dialog !== null) this.core?.removeDialog(call.dialog);
    let rtcp: MediaStats | null = null;
    let recorded: string | undefined;
    if (wasActive) {
      rtcp = await call.media.stop();
      if (call.recorder !== null && this.options.record !== undefined) {
        recorded = this.options.record;
        try {
          await writeFile(recorded, call.recorder.toWav());
        } catch (err) {
          this.#error(err);
          recorded = undefined;
        }
      }
    } else if (!this.stopped && this.media === null) {
      this.media = call.media; // never started: keep the bound port for the next call
    } else await call.media.stop();
    if (this.call === call) this.call = null;
    if (this.media === null && !this.stopped) {
      try {
        this.media = await this.#newMedia();
      } catch (err) {
        this.#error(err);
      }
    }
    this.#emit('call-ended', {
      callId: call.callId, peer: call.peer, reason, ...(status !== undefined ? { status } : {}),
      durationMs: wasActive ? Date.now() - call.startedAt : 0, rtcp, ...(recorded ? { recorded } : {}),
    });
  }

  #onCancel(st: ServerTransaction): void {
    st.respond(createResponse(st.request, 487, undefined, this.call?.dialog?.localTag));
    const call = this.call;
    if (call !== null && call.st === st) {
      call.st = null;
      void this.#endCall(call, 'cancelled', 487);
    }
  }

  async #onAckTimeout(d: Dialog): Promise<void> {
    const call = this.call;
    if (call === null || call.dialog !== d) return;
    await this.#bye(call);
    await this.#endCall(call, 'no-ack');
  }

  #onDialogRequest(d: Dialog, req: SipRequest, st: ServerTransaction): void {
    const call = this.call !== null && this.call.dialog === d ? this.call : null;
    switch (req.method) {
      case 'BYE':
        st.respond(createResponse(req, 200));
        if (call !== null) void this.#endCall(call, 'remote-hangup');
        else this.core?.removeDialog(d);
        return;
      case 'NOTIFY':
        return this.#onNotify(req, st, [...this.subs.values()].find((s) => s.dialog === d));
      case 'INVITE':
        return this.#onReInvite(call, d, req, st);
      case 'INFO':
      case 'OPTIONS':
        return void st.respond(createResponse(req, 200));
      default:
        st.respond(createResponse(req, 405));
    }
  }

  /** RFC 3261 §14.2: a re-INVITE: answer the new offer (hold/resume, a moved address) in a 200. */
  #onReInvite(call: Call | null, d: Dialog, req: SipRequest, st: ServerTransaction): void {
    const core = this.core;
    if (call === null || core === null || call.state !== 'active') return void st.respond(createResponse(req, 481));
    if (req.body.length === 0) return void st.respond(createResponse(req, 488, 'Offer Required'));
    let neg: Negotiated;
    try {
      neg = call.local.createAnswer(new TextDecoder().decode(req.body));
    } catch (err) {
      return void st.respond(createResponse(req, err instanceof SipError ? err.status : 488));
    }
    const res = createResponse(req, 200, undefined, d.localTag);
    res.addHeader('Contact', `<${this.contact}>`);
    res.addHeader('Content-Type', 'application/sdp');
    res.body = new TextEncoder().encode(neg.sdp);
    core.respond2xx(st, res, d);
    call.media.updateRemote({ remoteIp: neg.remote.ip, remotePort: neg.remote.port, remoteRtcpPort: neg.remote.rtcpPort });
    call.media.setDirection(neg.direction);
    const held = neg.remote.onHold;
    if (held !== call.held) {
      call.held = held;
      this.#emit('call-held', { callId: call.callId, held, by: 'remote' });
    }
  }

  // ------------------------------------------------------------------------------------------ messages out

  /** RFC 3428: a MESSAGE to a user; resolves with the final status (202 when the server kept it). */
  async sendMessage(user: string, body: Uint8Array | string, contentType = 'text/plain;charset=utf-8'): Promise<number> {
    const core = this.core;
    if (core === null) return 503;
    const req = new SipRequest('MESSAGE', `sip:${user}@${this.domain}`);
    req.addHeader('From', `<${this.aor}>;tag=${newTag()}`);
    req.addHeader('To', `<sip:${user}@${this.domain.split(':')[0]}>`);
    req.addHeader('Call-ID', newCallId());
    req.addHeader('CSeq', '1 MESSAGE');
    req.addHeader('Content-Type', contentType);
    req.body = typeof body === 'string' ? new TextEncoder().encode(body) : body;
    const res = await core.request(req);
    this.#emit('message-sent', { to: user, status: res.status, reason: res.reason });
    return res.status;
  }

  /** A picture as a MESSAGE body (image/jpeg or image/png from the file's extension). */
  async sendPicture(user: string, file: string): Promise<number> {
    const type = pictureContentType(file);
    return this.sendMessage(user, await readFile(file), type);
  }

  // ------------------------------------------------------------------------------------------ stop

  /** Hang up, unsubscribe, de-register (REGISTER Expires: 0) and close every socket. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    const call = this.call;
    if (call !== null) {
      try {
        await this.hangup();
        if (call.state !== 'ended') await this.#endCall(call, 'local-hangup');
      } catch (err) {
        this.#error(err);
      }
    }
    this.stopped = true;
    if (this.regTimer !== null) clearTimeout(this.regTimer);
    if (this.keepAliveTimer !== null) clearInterval(this.keepAliveTimer);
    for (const sub of this.subs.values()) {
      if (sub.dialog !== null && this.registered && this.core !== null) {
        // RFC 6665 §4.1.2.3: unsubscribe with Expires: 0
        const req = sub.dialog.createRequest('SUBSCRIBE');
        req.addHeader('Event', 'presence');
        req.addHeader('Expires', '0');
        req.addHeader('Contact', `<${this.contact}>`);
        sub.closed = true;
        await Promise.race([this.core.request(req, {}, sub.dialog), delay(2_000)]);
      }
      this.#dropSubscription(sub);
    }
    this.subs.clear();
    if (this.registered && this.core !== null) {
      // RFC 3261 §10.2.2: de-register our binding with Expires: 0
      this.registering = false;
      const ok = await Promise.race([this.#register(0), delay(4_000).then(() => false)]);
      this.registered = false;
      if (ok) this.#emit('unregistered', { aor: this.aor });
    }
    this.core?.close();
    await this.transport?.close();
    if (this.media !== null) await this.media.stop();
    this.media = null;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
