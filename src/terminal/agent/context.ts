// What the parts of the TV agent (registerer, subscriber, inbox, messager, session manager) share: the
// options, our AoR and Contact, the UA core, the clock, and the guarded event emitter of the facade (tv-agent.ts).
import type { Clock } from '../../clock.ts';
import type { AudioSink } from '../../media/audio-io.ts';
import type { VideoCodecName } from '../../media/sdp.ts';
import type { UserAgentCore } from '../../dialog/user-agent-core.ts';
import type { TimerValues } from '../../transaction/timers.ts';
import type { TransportName } from '../../transport/transport.ts';
import type { TvAgentEvents } from '../events.ts';

export interface TvAgentOptions {
  user: string;
  password: string;
  /**
   * the registrar/proxy, e.g. sip:127.0.0.1:5060, or the service's domain, e.g. sip:example.com: a name without a port
   * is located through its DNS SRV records (RFC 3263 §4.2: `_sip._tcp`, `_sip._udp` or `_sips._tcp` by the transport),
   * each target a server of the list, tried in RFC 2782 order; a name with a port, its A/AAAA records
   */
  server: string;
  /**
   * further nodes of the same service (issue 18), tried in order when the current one cannot be reached (no answer,
   * transport error or 503 to a REGISTER: RFC 3263 §4.3); `server` still names the domain
   */
  fallbackServers?: string[];
  /** the DNS servers to ask, "IP" or "IP:PORT" (default: the system's) */
  dnsServers?: string[];
  /** default tcp */
  transport?: TransportName;
  /**
   * RFC 3261 §8.1.2: send every request here (an IP-address SIP URI, e.g. an SBC or a relay) instead of to
   * `server`, which still names the domain (Request-URI of REGISTER, our AoR). Default: `server` itself.
   */
  outboundProxy?: string;
  /** our address for SIP and RTP (default: the address of the interface that routes to the server) */
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
  /** offer and accept video, sending ffmpeg's test pattern ('testsrc') or this file (looped), through ffmpeg */
  video?: string;
  /** the video codecs offered and accepted, in our order of preference (default H.264, VP8) */
  videoCodecs?: VideoCodecName[];
  /**
   * the most video we want to receive, kbit/s, offered as b=AS and b=TIAS (default: no limit offered); what we send
   * follows the peer's own b= line
   */
  videoBandwidthKbps?: number;
  /** write the received video of each call to this file (.mkv), through ffmpeg, without re-encoding */
  recordVideo?: string;
  /** show the received video of each call in a window, through ffplay (needs a display) */
  showVideo?: boolean;
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
  /** an outgoing call not answered by then is cancelled (default 60 000 ms) */
  ringTimeoutMs?: number;
  /** a call with no RTP or RTCP from the peer this long is hung up (default 30 000 ms; 0: never) */
  mediaTimeoutMs?: number;
  /** RFC 4028 Session-Expires we ask for and grant, seconds (default 1800) */
  sessionExpires?: number;
  /** RFC 4028 Min-SE, seconds (default 90, the RFC's floor; lower only in tests) */
  minSe?: number;
  /** RTCP report interval for calls (default 5 000 ms) */
  rtcpIntervalMs?: number;
  /** time and timers of the agent (refresh, re-subscribe, keep-alive); default the system clock */
  clock?: Clock;
  /**
   * RFC 8599 §4.1: register with push parameters, pn-provider=tvphone and this pn-prid, so that the server can wake
   * us from standby through its push gateway
   */
  push?: string;
  /** where a voice message played (key p) goes, 8 kHz PCM in 20 ms frames; default nowhere (no audio device here) */
  speaker?: AudioSink;
}

export type AgentOptions = Required<Omit<TvAgentOptions, 'play' | 'record' | 'video' | 'recordVideo' | 'showVideo' | 'videoBandwidthKbps' | 'videoCodecs' | 'timerValues' | 'contacts' | 'outboundProxy' | 'clock' | 'speaker' | 'push' | 'fallbackServers' | 'dnsServers'>>
  & Pick<TvAgentOptions, 'play' | 'record' | 'video' | 'recordVideo' | 'showVideo' | 'videoBandwidthKbps' | 'videoCodecs' | 'timerValues' | 'outboundProxy' | 'speaker' | 'push' | 'dnsServers'> & { contacts: string[]; fallbackServers: string[] };

export interface AgentContext {
  readonly options: AgentOptions;
  /** host[:port] of the server: our domain */
  readonly domain: string;
  readonly aor: string;
  readonly clock: Clock;
  /** null until start() */
  readonly core: UserAgentCore | null;
  /** the SIP listener our Contact names */
  readonly contact: string;
  /** stop() has begun */
  readonly stopped: boolean;
  /** emit an agent event; a throwing listener is reported, never lets the caller's state half-updated */
  emit<K extends keyof TvAgentEvents>(event: K, ...args: TvAgentEvents[K]): void;
  /** report a failure as an `error` event; the agent carries on */
  error(err: unknown): void;
}

/** A wait on the agent's clock (it never keeps the process alive). */
export function delay(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.set(resolve, ms, undefined));
}
