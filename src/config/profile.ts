// sip-profiles/*.json: listeners, domains, auth policy, store, registrar and message limits, trunks.
// Validated at start; a bad profile is refused with its file, the field and the reason.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { TvphoneError } from '../errors.ts';
import { envSecret } from './env.ts';
import type { TransportName } from '../flow.ts';

export type { TransportName } from '../flow.ts';

/** What a trunk may use: a WebSocket (RFC 7118) is only accepted from browsers, never dialled. */
export type TrunkTransportName = 'udp' | 'tcp' | 'tls';

export interface ListenerConfig {
  transport: TransportName;
  host: string;
  port: number;
  /** for tls and wss: PEM files */
  cert?: string;
  key?: string;
  /** for ws and wss: the HTTP path WebSocket handshakes are accepted on (any when absent) */
  path?: string;
}

/**
 * One carrier account (FreeSWITCH's gateway, Kamailio's uacreg row, Asterisk's pjsip endpoint + registration):
 * inline in the profile's `trunks[]` or one a file under `trunks/` next to the profile. Secrets are resolved at
 * load (passwordEnv, passwordFile) so nothing below config/ reads the environment or files.
 */
export interface TrunkConfig {
  /** letters, digits, `.`, `_`, `-`: it is the user part of our Contact (`trunk-NAME`) and the metric label */
  name: string;
  /** the file it was written in (a trunks/*.json file, or the profile) */
  file: string;
  /** the carrier: IP address or host name, port, transport */
  host: string;
  port: number;
  transport: TrunkTransportName;
  /** tls: the PEM CA bundle trusted for the carrier (added to the system roots); the certificate is always verified */
  caFile?: string;
  ca?: Buffer;
  /** RFC 3261 §8.1.2: every request goes here instead of the carrier (same transport) */
  outboundProxy?: { host: string; port: number };
  /**
   * RFC 3263 §4.2: the next hop (the outbound proxy, else the carrier) is a name given without a port: its SRV records
   * are asked first (`port` is then only the default, used when there are none)
   */
  srv?: boolean;
  /** the account: To/From user of the REGISTER; authUsername the digest username when it differs; realm when fixed */
  username?: string;
  authUsername?: string;
  realm?: string;
  /** the digest secret, resolved: a password (from password, passwordEnv or passwordFile) or HA1 values for `realm` */
  secret: TrunkSecret | null;
  /** RFC 3261 §10.2: register with the carrier; false = an IP-authenticated (peer) trunk */
  register: boolean;
  /** asked Expires; the refresh follows what the 200 granted */
  expires: number;
  /** first wait after a failed REGISTER (doubling up to 10 × this); after a 403, forbiddenRetrySeconds */
  retrySeconds: number;
  forbiddenRetrySeconds: number;
  /** From user and domain of requests to the carrier (default username and the carrier host) */
  fromUser?: string;
  fromDomain?: string;
  /** how the caller's number is presented on outgoing calls: From user, P-Asserted-Identity, or withheld (RFC 3323) */
  callerId: 'from' | 'pai' | 'privacy';
  /** OPTIONS every this many seconds to see whether the carrier answers; 0 = off */
  ping: number;
  /** most simultaneous calls through the trunk; 0 = no limit */
  maxCalls: number;
  /** route choice among trunks of one route: lower priority first, then by weight */
  priority: number;
  weight: number;
  /** codec names offered to the carrier, in order (e.g. PCMA, PCMU); empty = what the caller offers */
  codecs: string[];
  /** source addresses (IP or CIDR) allowed to send calls in */
  allow: string[];
  /** inbound numbers: an exact number or a pattern (a regular expression on the Request-URI user) → local user */
  dids: DidConfig[];
}

export type TrunkSecret =
  | { kind: 'password'; password: string; source: 'password' | 'passwordEnv' | 'passwordFile' }
  | { kind: 'ha1'; md5?: string; sha256?: string };

export interface DidConfig {
  number?: string;
  pattern?: string;
  /** the local user, `$1`… for the pattern's groups */
  user: string;
}

/** The dial plan's outbound routes, tried in order: the first whose prefix or pattern matches the dialled number. */
export interface RouteConfig {
  prefix?: string;
  pattern?: string;
  /** trunk names, by preference (the trunks' priority/weight order them further) */
  trunks: string[];
  /** digits removed from the front, then `prepend` added */
  strip: number;
  prepend: string;
  /** convert to E.164 (+CC…): national 0… gets the country code, 00… becomes + */
  e164: { countryCode: string } | null;
}

export interface Profile {
  /** the file it came from, for messages */
  file: string;
  name: string;
  listeners: ListenerConfig[];
  /** the server's own domains; empty = whatever address it is reached at */
  domains: string[];
  /** realm: the digest realm HA1 values are computed with; fixed so that it does not depend on the address used */
  /** algorithms: the digest challenges offered, most preferred first (RFC 8760 §2.4); algorithmsByUserAgent: the same
   *  for the User-Agents it names (the first entry whose `match` the User-Agent contains, case-insensitive) */
  auth: {
    mode: 'digest' | 'none'; realm: string; nonceTtlSeconds: number; algorithms: DigestAlgorithmName[];
    algorithmsByUserAgent: UserAgentAlgorithms[];
  };
  /**
   * commitDeadlineMs: SQLite (run in a worker thread by the server): a store call not answered in time is answered 503;
   * worker: false runs SQLite on the event loop instead (a hung disk then stops the server; the in-process test servers)
   */
  store: { url: string; groupCommitMs: number; commitDeadlineMs: number; worker: boolean };
  /** Retry-After seconds of every 503 and of a 480 to an offline user (replies.ts) */
  retryAfterSeconds: number;
  /** belowMinExpires: 'raise' a shorter expiry to minExpires (Kamailio) or 'reject' it with 423 (RFC 3261 §10.3 step 6) */
  registrar: { defaultExpires: number; minExpires: number; maxExpires: number; maxContacts: number; belowMinExpires: 'raise' | 'reject' };
  messages: {
    maxBytes: number;
    quotaCount: number;
    quotaBytes: number;
    expirySeconds: number;
    retentionSeconds: number;
  };
  presence: { policy: 'same-domain' | 'any'; maxExpires: number };
  /**
   * maxConnectionsPerSource: inbound stream connections from one address; tlsHandshakeSeconds: a TLS handshake's deadline;
   * udpReceiveBufferBytes: SO_RCVBUF of each UDP listener (0: the kernel's default)
   */
  transport: { tcpIdleSeconds: number; maxConnections: number; maxConnectionsPerSource: number; tlsHandshakeSeconds: number; udpReceiveBufferBytes: number };
  /** the carriers: the profile's inline `trunks[]` then one a file from `trunks/*.json` next to it */
  trunks: TrunkConfig[];
  /** the outbound dial plan (validated now, used by the call routing to come) */
  routes: RouteConfig[];
  /** operator HTTP endpoint (/metrics, /presence, /health); null = off. `listen` is kept as written. */
  admin: AdminConfig | null;
  /** voice messages: a call to an offline user is answered by the media server, which records it (README, Voice messages) */
  voicemail: VoicemailConfig;
  /** RFC 8599 wake and hold: a call to a TV in standby pushes it awake and is held meanwhile (README, Wake and hold) */
  push: PushConfig;
  /** the brute-force and flood defence (README, Security; issue 16 item 3) */
  security: SecurityConfig;
  /** this node among several on one database (README, Several nodes; issue 18) */
  node: NodeConfig;
}

/** A node's identity on a shared database: its id, where the other nodes reach it, and its heartbeat. */
export interface NodeConfig {
  /** unique among the nodes on one database; default the host name */
  id: string;
  /** where the other nodes send requests for the TVs connected here (sip:HOST:PORT;transport=tcp); null = one node */
  sipUri: string | null;
  /** how often the node writes its heartbeat row */
  heartbeatSeconds: number;
  /** a node whose heartbeat is older than this is dead: its connection-bound bindings are not used */
  leaseSeconds: number;
}

/** Kamailio pike + htable bans: failed authentications → a temporary ban; a request rate per source address. */
export interface SecurityConfig {
  /** this many refused credentials from one source within authWindowSeconds ban the source; 0 = never */
  authFailures: number;
  /** this many for one user from anywhere ban the user's authentication; 0 = never */
  userAuthFailures: number;
  authWindowSeconds: number;
  banSeconds: number;
  /** a banned source's requests: 'reject' (403) or 'drop' (no answer) */
  banAction: 'reject' | 'drop';
  /** out-of-dialog requests per second from one source address (a token bucket); 0 = no limit */
  maxRequestsPerSecond: number;
  /** the bucket's size: what a source may send at once */
  requestBurst: number;
  /** a request over the rate: 'reject' (503 with Retry-After) or 'drop' */
  rateAction: 'reject' | 'drop';
  /** source addresses (IP or CIDR) never limited or banned (trunk carriers' allowed addresses are exempt anyway) */
  trusted: string[];
}

export interface PushConfig {
  /** the push gateway (http: or https:), POSTed a JSON body per push; null = push off */
  url: string | null;
  /** one POST's deadline */
  timeoutMs: number;
  /** further attempts after a failed POST */
  retries: number;
  /** an INVITE to a TV in standby is held (180 to the caller) this long for the TV to register */
  holdSeconds: number;
  /** a push registration outlives its binding (expiry or lost connection) by this long */
  standbySeconds: number;
  /** held calls at once; beyond, a call to a TV in standby is not held (as for an offline user) */
  maxHeld: number;
}

export interface VoicemailConfig {
  /** false: a call to an offline user gets 480 and a missed-call notice, as before */
  enabled: boolean;
  /** longest recording; the caller then hears the end (BYE) */
  maxSeconds: number;
  /** this long of silence after the beep ends the recording; 0 = silence never does */
  silenceSeconds: number;
  /** no RTP at all for this long ends the call (a caller gone without BYE) */
  rtpTimeoutSeconds: number;
  /** concurrent voicemail calls; beyond, 503 with Retry-After */
  maxCalls: number;
  /** where the recordings are fetched over HTTP (RFC 4483 content indirection); null = the first SIP listener's host */
  httpHost: string | null;
  /** 0 = any free port (the URL is made at each delivery, so it may change across restarts) */
  httpPort: number;
  /**
   * an online user's bindings that do not answer within this many seconds are CANCELled and the media server takes the
   * call; 0 = no ring time (only bindings all failing 408/480/503 send the call there)
   */
  ringSeconds: number;
  /** a busy (486) user's call goes to the media server too (default false: the caller hears busy) */
  onBusy: boolean;
  /**
   * the number a user dials to hear its own voice messages (default "*97"): the media server answers it, announces the
   * counts and plays them; digits, * and # (a sip: user part); null = no access number
   */
  accessNumber: string | null;
  /** RFC 3842 §3 allows a NOTIFY without a subscription: a phone that never subscribes is told at each change and at its REGISTER (Asterisk's unsolicited MWI) */
  unsolicitedMwi: boolean;
}

export type DigestAlgorithmName = 'SHA-256' | 'MD5';

export interface UserAgentAlgorithms {
  /** matched case-insensitively as a substring of the User-Agent header */
  match: string;
  algorithms: DigestAlgorithmName[];
}

export interface AdminConfig {
  /** HOST:PORT as written in the profile (IPv6 in brackets) */
  listen: string;
  host: string;
  port: number;
  /** Bearer token every request must carry (from tokenEnv or tokenFile: never in the JSON); null = none */
  token: string | null;
}

export const DEFAULT_PROFILE: Omit<Profile, 'file'> = {
  name: 'default',
  listeners: [
    { transport: 'udp', host: '0.0.0.0', port: 5060 },
    { transport: 'tcp', host: '0.0.0.0', port: 5060 },
  ],
  domains: [],
  // MD5 for every phone (what Kamailio, Asterisk and FreeSWITCH offer), SHA-256 first for the UAs known to use it.
  auth: {
    mode: 'digest', realm: 'tvphone', nonceTtlSeconds: 300, algorithms: ['MD5'],
    algorithmsByUserAgent: [
      { match: 'tvphone', algorithms: ['SHA-256', 'MD5'] },
      { match: 'linphone', algorithms: ['SHA-256', 'MD5'] },
      { match: 'belle-sip', algorithms: ['SHA-256', 'MD5'] },
    ],
  },
  store: { url: 'sqlite:./data/tvphone.db', groupCommitMs: 1, commitDeadlineMs: 2000, worker: true },
  retryAfterSeconds: 5,
  registrar: { defaultExpires: 3600, minExpires: 60, maxExpires: 7200, maxContacts: 10, belowMinExpires: 'raise' },
  messages: {
    maxBytes: 1024 * 1024,
    quotaCount: 1000,
    quotaBytes: 64 * 1024 * 1024,
    expirySeconds: 7 * 24 * 3600,
    retentionSeconds: 30 * 24 * 3600,
  },
  presence: { policy: 'same-domain', maxExpires: 3600 },
  // 4 MiB: the kernel's default (208 KiB) drops REGISTERs at 80 % of the sustainable rate and calls well below it (bench README)
  transport: { tcpIdleSeconds: 600, maxConnections: 10000, maxConnectionsPerSource: 256, tlsHandshakeSeconds: 10, udpReceiveBufferBytes: 4_194_304 },
  trunks: [],
  routes: [],
  admin: null,
  voicemail: { enabled: false, maxSeconds: 120, silenceSeconds: 10, rtpTimeoutSeconds: 10, maxCalls: 50, httpHost: null, httpPort: 0, ringSeconds: 30, onBusy: false, accessNumber: '*97', unsolicitedMwi: false },
  push: { url: null, timeoutMs: 3000, retries: 2, holdSeconds: 20, standbySeconds: 7 * 24 * 3600, maxHeld: 1000 },
  security: {
    authFailures: 10, userAuthFailures: 30, authWindowSeconds: 300, banSeconds: 600, banAction: 'reject',
    maxRequestsPerSecond: 50, requestBurst: 200, rateAction: 'reject', trusted: [],
  },
  node: { id: 'local', sipUri: null, heartbeatSeconds: 5, leaseSeconds: 20 },
};

export class ProfileError extends TvphoneError {
  readonly file: string;
  readonly field: string;
  readonly reason: string;
  constructor(file: string, field: string, reason: string) {
    super('ERR_PROFILE', `${file}: ${field || '(top level)'}: ${reason}`);
    this.name = 'ProfileError';
    this.file = file;
    this.field = field;
    this.reason = reason;
  }
}

/** Reads and validates a profile file; throws ProfileError naming file, field and reason. */
export function loadProfile(file: string, adjust?: (raw: Record<string, unknown>) => { raw: Record<string, unknown>; label: string }): Profile {
  const parsed = readProfileJson(file);
  if (adjust === undefined || typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return validateProfile(parsed, file, { trunkFiles: readTrunkFiles(file) });
  }
  // command-line flags change the file's settings before they are validated (and trunk files still sit next to it)
  const { raw, label } = adjust(parsed as Record<string, unknown>);
  return validateProfile(raw, label, { trunkFiles: readTrunkFiles(file) });
}

/** A profile file's JSON, unvalidated; ProfileError naming the file when it cannot be read or parsed. */
function readProfileJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ProfileError(file, '', `cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ProfileError(file, '', `not valid JSON: ${(err as Error).message}`);
  }
  return raw;
}

/** `trunks/*.json` next to the profile, in name order, parsed (a missing folder = none). */
function readTrunkFiles(profileFile: string): { file: string; raw: unknown }[] {
  const folder = join(dirname(profileFile), 'trunks');
  let names: string[];
  try {
    names = readdirSync(folder).filter((n) => n.endsWith('.json')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw new ProfileError(folder, '', `cannot read the trunks folder (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return names.map((n) => {
    const file = join(folder, n);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ProfileError(file, '', `cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    try {
      return { file, raw: JSON.parse(text) as unknown };
    } catch (err) {
      throw new ProfileError(file, '', `not valid JSON: ${(err as Error).message}`);
    }
  });
}

/** Validates a parsed profile object, filling defaults for what it leaves out. */
export function validateProfile(raw: unknown, file: string, extra: { trunkFiles?: { file: string; raw: unknown }[] } = {}): Profile {
  const v = new Validator(file);
  const top = v.object(raw, '');
  v.known(top, '', ['name', 'listeners', 'domains', 'auth', 'store', 'retryAfterSeconds', 'registrar', 'messages', 'presence', 'transport', 'trunks', 'routes', 'admin', 'voicemail', 'push', 'security', 'node', '$comment']);
  const d = DEFAULT_PROFILE;

  const listeners = top.listeners === undefined
    ? d.listeners
    : v.array(top.listeners, 'listeners').map((l, i) => v.listener(l, `listeners[${i}]`));
  if (listeners.length === 0) v.fail('listeners', 'at least one listener is needed');
  const seen = new Set<string>();
  listeners.forEach((l, i) => {
    const key = `${l.transport === 'udp' ? 'udp' : 'stream'}:${l.host}:${l.port}`;
    if (l.port !== 0 && seen.has(key)) v.fail(`listeners[${i}]`, `${l.transport} ${l.host}:${l.port} is listed twice`);
    seen.add(key);
  });

  const auth = v.object(top.auth ?? {}, 'auth');
  v.known(auth, 'auth', ['mode', 'realm', 'nonceTtlSeconds', 'algorithms', 'algorithmsByUserAgent']);
  const store = v.object(top.store ?? {}, 'store');
  v.known(store, 'store', ['url', 'groupCommitMs', 'commitDeadlineMs', 'worker']);
  const reg = v.object(top.registrar ?? {}, 'registrar');
  v.known(reg, 'registrar', ['defaultExpires', 'minExpires', 'maxExpires', 'maxContacts', 'belowMinExpires']);
  const msg = v.object(top.messages ?? {}, 'messages');
  v.known(msg, 'messages', ['maxBytes', 'quotaCount', 'quotaBytes', 'expirySeconds', 'retentionSeconds']);
  const pres = v.object(top.presence ?? {}, 'presence');
  v.known(pres, 'presence', ['policy', 'maxExpires']);
  const tr = v.object(top.transport ?? {}, 'transport');
  v.known(tr, 'transport', ['tcpIdleSeconds', 'maxConnections', 'maxConnectionsPerSource', 'tlsHandshakeSeconds', 'udpReceiveBufferBytes']);

  const quotaBytes = v.int(msg.quotaBytes ?? d.messages.quotaBytes, 'messages.quotaBytes', 1, 2 ** 40);
  const registrar = {
    defaultExpires: v.int(reg.defaultExpires ?? d.registrar.defaultExpires, 'registrar.defaultExpires', 1, 2 ** 31 - 1),
    minExpires: v.int(reg.minExpires ?? d.registrar.minExpires, 'registrar.minExpires', 1, 2 ** 31 - 1),
    maxExpires: v.int(reg.maxExpires ?? d.registrar.maxExpires, 'registrar.maxExpires', 1, 2 ** 31 - 1),
    maxContacts: v.int(reg.maxContacts ?? d.registrar.maxContacts, 'registrar.maxContacts', 1, 1000),
    belowMinExpires: v.oneOf(reg.belowMinExpires ?? d.registrar.belowMinExpires, 'registrar.belowMinExpires', ['raise', 'reject'] as const),
  };
  if (registrar.minExpires > registrar.maxExpires) v.fail('registrar.minExpires', `must not exceed registrar.maxExpires (${registrar.maxExpires})`);
  if (registrar.defaultExpires < registrar.minExpires || registrar.defaultExpires > registrar.maxExpires) {
    v.fail('registrar.defaultExpires', `must lie between minExpires (${registrar.minExpires}) and maxExpires (${registrar.maxExpires})`);
  }

  const url = v.string(store.url ?? d.store.url, 'store.url');
  if (!/^(sqlite:|postgres(ql)?:\/\/|mssql:\/\/)/.test(url)) {
    v.fail('store.url', 'must start with sqlite:, postgres://, postgresql:// or mssql://');
  }

  const trunks = [
    ...(top.trunks === undefined ? [] : v.array(top.trunks, 'trunks').map((t, i) => v.trunk(t, `trunks[${i}]`))),
    ...(extra.trunkFiles ?? []).map((f) => new Validator(f.file).trunk(f.raw, '')),
  ];
  const names = new Map<string, string>();
  for (const [i, t] of trunks.entries()) {
    const tv = new Validator(t.file);
    const field = t.file === file ? `trunks[${i}]` : '';
    const prefix = field ? `${field}.` : '';
    const before = names.get(t.name);
    if (before !== undefined) tv.fail(`${prefix}name`, `trunk ${t.name} is already defined in ${before}`);
    names.set(t.name, t.file);
    // our Via sent-by and Contact need a listener of the trunk's transport (its port)
    if (!listeners.some((l) => l.transport === t.transport)) tv.fail(`${prefix}transport`, `no ${t.transport} listener in ${file}: add one to listeners`);
  }
  const routes = top.routes === undefined ? [] : v.array(top.routes, 'routes').map((r, i) => v.route(r, `routes[${i}]`, names));

  return {
    file,
    name: v.string(top.name ?? d.name, 'name'),
    listeners,
    domains: top.domains === undefined ? [] : v.array(top.domains, 'domains').map((x, i) => v.string(x, `domains[${i}]`).toLowerCase()),
    auth: {
      mode: v.oneOf(auth.mode ?? d.auth.mode, 'auth.mode', ['digest', 'none'] as const),
      realm: v.string(auth.realm ?? d.auth.realm, 'auth.realm'),
      nonceTtlSeconds: v.int(auth.nonceTtlSeconds ?? d.auth.nonceTtlSeconds, 'auth.nonceTtlSeconds', 10, 86400),
      algorithms: v.algorithms(auth.algorithms ?? d.auth.algorithms, 'auth.algorithms'),
      algorithmsByUserAgent: auth.algorithmsByUserAgent === undefined
        ? d.auth.algorithmsByUserAgent
        : v.array(auth.algorithmsByUserAgent, 'auth.algorithmsByUserAgent').map((e, i) => v.userAgentAlgorithms(e, `auth.algorithmsByUserAgent[${i}]`)),
    },
    store: {
      url,
      groupCommitMs: v.int(store.groupCommitMs ?? d.store.groupCommitMs, 'store.groupCommitMs', 0, 100),
      commitDeadlineMs: v.int(store.commitDeadlineMs ?? d.store.commitDeadlineMs, 'store.commitDeadlineMs', 100, 60_000),
      worker: v.bool(store.worker ?? d.store.worker, 'store.worker'),
    },
    retryAfterSeconds: v.int(top.retryAfterSeconds ?? d.retryAfterSeconds, 'retryAfterSeconds', 1, 86400),
    registrar,
    messages: {
      maxBytes: v.int(msg.maxBytes ?? d.messages.maxBytes, 'messages.maxBytes', 1, 64 * 1024 * 1024),
      quotaCount: v.int(msg.quotaCount ?? d.messages.quotaCount, 'messages.quotaCount', 1, 10_000_000),
      quotaBytes,
      expirySeconds: v.int(msg.expirySeconds ?? d.messages.expirySeconds, 'messages.expirySeconds', 60, 10 * 365 * 86400),
      retentionSeconds: v.int(msg.retentionSeconds ?? d.messages.retentionSeconds, 'messages.retentionSeconds', 0, 100 * 365 * 86400),
    },
    presence: {
      policy: v.oneOf(pres.policy ?? d.presence.policy, 'presence.policy', ['same-domain', 'any'] as const),
      maxExpires: v.int(pres.maxExpires ?? d.presence.maxExpires, 'presence.maxExpires', 60, 86400),
    },
    transport: {
      tcpIdleSeconds: v.int(tr.tcpIdleSeconds ?? d.transport.tcpIdleSeconds, 'transport.tcpIdleSeconds', 1, 86400),
      maxConnections: v.int(tr.maxConnections ?? d.transport.maxConnections, 'transport.maxConnections', 1, 1_000_000),
      maxConnectionsPerSource: v.int(tr.maxConnectionsPerSource ?? d.transport.maxConnectionsPerSource, 'transport.maxConnectionsPerSource', 1, 1_000_000),
      tlsHandshakeSeconds: v.int(tr.tlsHandshakeSeconds ?? d.transport.tlsHandshakeSeconds, 'transport.tlsHandshakeSeconds', 1, 300),
      udpReceiveBufferBytes: v.int(tr.udpReceiveBufferBytes ?? d.transport.udpReceiveBufferBytes, 'transport.udpReceiveBufferBytes', 0, 256 * 1024 * 1024),
    },
    trunks,
    routes,
    admin: top.admin === undefined || top.admin === null ? null : v.admin(top.admin, 'admin'),
    voicemail: v.voicemail(top.voicemail ?? {}, 'voicemail', quotaBytes),
    push: v.push(top.push ?? {}, 'push'),
    security: v.security(top.security ?? {}, 'security'),
    node: v.node(top.node ?? {}, 'node'),
  };
}

/** The settings that differ between two profiles, as field paths (`registrar.minExpires`, `listeners`, `domains` …). */
export function profileChanges(before: Profile, after: Profile): string[] {
  const out: string[] = [];
  const plain = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  const walk = (a: unknown, b: unknown, path: string, depth: number): void => {
    if (depth < 2 && plain(a) && plain(b)) {
      for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) if (k !== 'file') walk(a[k], b[k], path ? `${path}.${k}` : k, depth + 1);
    } else if (JSON.stringify(a) !== JSON.stringify(b)) out.push(path);
  };
  walk(before, after, '', 0);
  return out;
}

/** The PEM certificate and key of a tls or wss listener, read from the files the profile names. */
export function readListenerTls(l: ListenerConfig, profileFile: string): { cert: Buffer; key: Buffer } {
  const read = (path: string | undefined, field: string): Buffer => {
    if (!path) throw new ProfileError(profileFile, field, `a ${l.transport} listener needs it`);
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ProfileError(profileFile, field, `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  };
  return { cert: read(l.cert, 'cert'), key: read(l.key, 'key') };
}

/** Parses `udp:HOST:PORT` (IPv6 hosts in brackets) as given to `--listen`. */
export function parseListenSpec(spec: string): ListenerConfig {
  const m = /^(udp|tcp|tls|ws|wss):(\[[^\]]+\]|[^:]+):(\d+)$/.exec(spec);
  if (!m) throw new TvphoneError('ERR_LISTEN', `--listen ${spec}: expected TRANSPORT:HOST:PORT (udp, tcp, tls, ws or wss), e.g. udp:0.0.0.0:5060`);
  const port = Number(m[3]);
  if (port > 65535) throw new TvphoneError('ERR_LISTEN', `--listen ${spec}: port ${port} is above 65535`);
  const host = m[2].startsWith('[') ? m[2].slice(1, -1) : m[2];
  return { transport: m[1] as TransportName, host, port };
}

/** RFC 3261 §19.1.2: 5060, 5061 for TLS. WebSocket (RFC 6455 §3: 80, 443) would need root: 8080 and 8443 instead. */
function defaultListenerPort(transport: TransportName): number {
  switch (transport) {
    case 'tls': return 5061;
    case 'ws': return 8080;
    case 'wss': return 8443;
    default: return 5060;
  }
}

class Validator {
  readonly file: string;
  constructor(file: string) {
    this.file = file;
  }
  fail(field: string, reason: string): never {
    throw new ProfileError(this.file, field, reason);
  }
  object(x: unknown, field: string): Record<string, unknown> {
    if (typeof x !== 'object' || x === null || Array.isArray(x)) this.fail(field, 'must be an object');
    return x as Record<string, unknown>;
  }
  array(x: unknown, field: string): unknown[] {
    if (!Array.isArray(x)) this.fail(field, 'must be an array');
    return x;
  }
  string(x: unknown, field: string): string {
    if (typeof x !== 'string' || x.length === 0) this.fail(field, 'must be a non-empty string');
    return x;
  }
  int(x: unknown, field: string, min: number, max: number): number {
    if (typeof x !== 'number' || !Number.isInteger(x)) this.fail(field, `must be an integer, got ${JSON.stringify(x)}`);
    if (x < min || x > max) this.fail(field, `must be between ${min} and ${max}, got ${x}`);
    return x;
  }
  bool(x: unknown, field: string): boolean {
    if (typeof x !== 'boolean') this.fail(field, 'must be true or false');
    return x;
  }
  oneOf<T extends string>(x: unknown, field: string, values: readonly T[]): T {
    if (typeof x !== 'string' || !values.includes(x as T)) this.fail(field, `must be one of ${values.join(', ')}, got ${JSON.stringify(x)}`);
    return x as T;
  }
  userAgentAlgorithms(x: unknown, field: string): UserAgentAlgorithms {
    const e = this.object(x, field);
    this.known(e, field, ['match', 'algorithms']);
    return { match: this.string(e.match, `${field}.match`), algorithms: this.algorithms(e.algorithms, `${field}.algorithms`) };
  }
  algorithms(x: unknown, field: string): DigestAlgorithmName[] {
    const list = this.array(x, field).map((a, i) => this.oneOf(a, `${field}[${i}]`, ['SHA-256', 'MD5'] as const));
    if (list.length === 0) this.fail(field, 'at least one algorithm is needed');
    if (new Set(list).size !== list.length) this.fail(field, 'an algorithm is listed twice');
    return list;
  }
  known(obj: Record<string, unknown>, field: string, keys: string[]): void {
    for (const k of Object.keys(obj)) {
      if (!keys.includes(k) && k !== '$comment') this.fail(field ? `${field}.${k}` : k, `unknown setting (known: ${keys.filter((x) => x !== '$comment').join(', ')})`);
    }
  }
  voicemail(x: unknown, field: string, quotaBytes: number): VoicemailConfig {
    const o = this.object(x, field);
    const d = DEFAULT_PROFILE.voicemail;
    this.known(o, field, Object.keys(d));
    const maxSeconds = this.int(o.maxSeconds ?? d.maxSeconds, `${field}.maxSeconds`, 1, 3600);
    // a recording is 16-bit PCM at 8 kHz: 16000 bytes a second (plus a 44-byte WAV header)
    if (maxSeconds * 16000 + 44 > quotaBytes) this.fail(`${field}.maxSeconds`, `a recording of ${maxSeconds} s (${maxSeconds * 16000 + 44} bytes) would not fit messages.quotaBytes (${quotaBytes})`);
    return {
      enabled: this.bool(o.enabled ?? d.enabled, `${field}.enabled`),
      maxSeconds,
      silenceSeconds: this.int(o.silenceSeconds ?? d.silenceSeconds, `${field}.silenceSeconds`, 0, 3600),
      rtpTimeoutSeconds: this.int(o.rtpTimeoutSeconds ?? d.rtpTimeoutSeconds, `${field}.rtpTimeoutSeconds`, 1, 600),
      maxCalls: this.int(o.maxCalls ?? d.maxCalls, `${field}.maxCalls`, 1, 10_000),
      httpHost: o.httpHost === undefined || o.httpHost === null ? null : this.host(o.httpHost, `${field}.httpHost`),
      httpPort: this.int(o.httpPort ?? d.httpPort, `${field}.httpPort`, 0, 65535),
      ringSeconds: this.int(o.ringSeconds ?? d.ringSeconds, `${field}.ringSeconds`, 0, 600),
      onBusy: this.bool(o.onBusy ?? d.onBusy, `${field}.onBusy`),
      accessNumber: o.accessNumber === null ? null : this.accessNumber(o.accessNumber ?? d.accessNumber, `${field}.accessNumber`),
      unsolicitedMwi: this.bool(o.unsolicitedMwi ?? d.unsolicitedMwi, `${field}.unsolicitedMwi`),
    };
  }
  accessNumber(x: unknown, field: string): string {
    if (typeof x !== 'string' || !/^[0-9*#]{1,16}$/.test(x)) this.fail(field, `must be 1 to 16 digits, * or # (e.g. "*97"), or null, got ${JSON.stringify(x)}`);
    return x as string;
  }
  security(x: unknown, field: string): SecurityConfig {
    const o = this.object(x, field);
    const d = DEFAULT_PROFILE.security;
    this.known(o, field, Object.keys(d));
    const failures = this.int(o.authFailures ?? d.authFailures, `${field}.authFailures`, 0, 1_000_000);
    const userFailures = this.int(o.userAuthFailures ?? d.userAuthFailures, `${field}.userAuthFailures`, 0, 1_000_000);
    // one user's failures come from its sources too: a lower user limit would ban the user before its guesser
    if (failures > 0 && userFailures > 0 && userFailures < failures) this.fail(`${field}.userAuthFailures`, `must not be below authFailures (${failures}), got ${userFailures}`);
    const rate = this.int(o.maxRequestsPerSecond ?? d.maxRequestsPerSecond, `${field}.maxRequestsPerSecond`, 0, 1_000_000);
    const burst = this.int(o.requestBurst ?? d.requestBurst, `${field}.requestBurst`, 1, 10_000_000);
    if (rate > 0 && burst < rate) this.fail(`${field}.requestBurst`, `must be at least maxRequestsPerSecond (${rate}), got ${burst}`);
    return {
      authFailures: failures,
      userAuthFailures: userFailures,
      authWindowSeconds: this.int(o.authWindowSeconds ?? d.authWindowSeconds, `${field}.authWindowSeconds`, 1, 86400),
      banSeconds: this.int(o.banSeconds ?? d.banSeconds, `${field}.banSeconds`, 1, 7 * 86400),
      banAction: this.oneOf(o.banAction ?? d.banAction, `${field}.banAction`, ['reject', 'drop'] as const),
      maxRequestsPerSecond: rate,
      requestBurst: burst,
      rateAction: this.oneOf(o.rateAction ?? d.rateAction, `${field}.rateAction`, ['reject', 'drop'] as const),
      trusted: o.trusted === undefined ? [...d.trusted] : this.array(o.trusted, `${field}.trusted`).map((a, i) => this.cidr(a, `${field}.trusted[${i}]`)),
    };
  }
  push(x: unknown, field: string): PushConfig {
    const o = this.object(x, field);
    const d = DEFAULT_PROFILE.push;
    this.known(o, field, Object.keys(d));
    let url: string | null = null;
    if (o.url !== undefined && o.url !== null) {
      const text = this.string(o.url, `${field}.url`);
      let parsed: URL | null = null;
      try {
        parsed = new URL(text);
      } catch {
        this.fail(`${field}.url`, `not a URL: ${JSON.stringify(text)}`);
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') this.fail(`${field}.url`, `not an http: or https: URL: ${JSON.stringify(text)}`);
      url = text;
    }
    return {
      url,
      timeoutMs: this.int(o.timeoutMs ?? d.timeoutMs, `${field}.timeoutMs`, 100, 60_000),
      retries: this.int(o.retries ?? d.retries, `${field}.retries`, 0, 10),
      holdSeconds: this.int(o.holdSeconds ?? d.holdSeconds, `${field}.holdSeconds`, 1, 170),
      standbySeconds: this.int(o.standbySeconds ?? d.standbySeconds, `${field}.standbySeconds`, 0, 365 * 86400),
      maxHeld: this.int(o.maxHeld ?? d.maxHeld, `${field}.maxHeld`, 0, 100_000),
    };
  }
  node(x: unknown, field: string): NodeConfig {
    const o = this.object(x, field);
    const d = DEFAULT_PROFILE.node;
    this.known(o, field, Object.keys(d));
    const id = o.id === undefined ? hostname().slice(0, 64) || d.id : this.string(o.id, `${field}.id`);
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) this.fail(`${field}.id`, `not 1 to 64 letters, digits, dots, dashes or underscores: ${JSON.stringify(id)}`);
    let sipUri: string | null = null;
    if (o.sipUri !== undefined && o.sipUri !== null) {
      sipUri = this.string(o.sipUri, `${field}.sipUri`);
      // no user part: it names this node (RFC 3261 §19.1.1), as a Record-Route would
      if (!/^sip:[A-Za-z0-9.\-[\]:]+(;transport=(udp|tcp|tls))?$/i.test(sipUri)) {
        this.fail(`${field}.sipUri`, `not sip:HOST[:PORT][;transport=udp|tcp|tls]: ${JSON.stringify(sipUri)}`);
      }
    }
    const heartbeatSeconds = this.int(o.heartbeatSeconds ?? d.heartbeatSeconds, `${field}.heartbeatSeconds`, 1, 3600);
    const leaseSeconds = this.int(o.leaseSeconds ?? Math.max(d.leaseSeconds, heartbeatSeconds * 3), `${field}.leaseSeconds`, 2, 86400);
    if (leaseSeconds <= heartbeatSeconds) this.fail(`${field}.leaseSeconds`, `must be longer than heartbeatSeconds (${heartbeatSeconds})`);
    return { id, sipUri, heartbeatSeconds, leaseSeconds };
  }
  host(x: unknown, field: string): string {
    const h = this.string(x, field);
    if (isIP(h) === 0 && !/^[a-zA-Z0-9.-]+$/.test(h)) this.fail(field, `not an IP address or host name: ${JSON.stringify(h)}`);
    return h;
  }
  listener(x: unknown, field: string): ListenerConfig {
    const l = this.object(x, field);
    this.known(l, field, ['transport', 'host', 'port', 'cert', 'key', 'path']);
    const transport = this.oneOf(l.transport, `${field}.transport`, ['udp', 'tcp', 'tls', 'ws', 'wss'] as const);
    const out: ListenerConfig = {
      transport,
      host: this.host(l.host ?? '0.0.0.0', `${field}.host`),
      port: this.int(l.port ?? defaultListenerPort(transport), `${field}.port`, 0, 65535),
    };
    if (transport === 'tls' || transport === 'wss') {
      out.cert = this.string(l.cert, `${field}.cert`);
      out.key = this.string(l.key, `${field}.key`);
    } else if (l.cert !== undefined || l.key !== undefined) {
      this.fail(`${field}.cert`, 'a certificate is only used by a tls or wss listener');
    }
    if (transport === 'ws' || transport === 'wss') {
      if (l.path !== undefined) {
        const path = this.string(l.path, `${field}.path`);
        if (!/^\/[\x21-\x7e]*$/.test(path) || path.includes('?') || path.includes('#')) {
          this.fail(`${field}.path`, `must be an HTTP path starting with / (no query), got ${JSON.stringify(path)}`);
        }
        out.path = path;
      }
    } else if (l.path !== undefined) {
      this.fail(`${field}.path`, 'a path is only used by a ws or wss listener');
    }
    return out;
  }
  admin(x: unknown, field: string): AdminConfig {
    const a = this.object(x, field);
    this.known(a, field, ['listen', 'tokenEnv', 'tokenFile']);
    const listen = this.string(a.listen, `${field}.listen`);
    const m = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(listen);
    if (!m) this.fail(`${field}.listen`, `expected HOST:PORT (IPv6 in brackets), e.g. 127.0.0.1:9060, got ${JSON.stringify(listen)}`);
    const bracketed = m[1].startsWith('[');
    const host = bracketed ? m[1].slice(1, -1) : m[1];
    if (bracketed && isIP(host) !== 6) this.fail(`${field}.listen`, `not an IPv6 address in brackets: ${m[1]}`);
    this.host(host, `${field}.listen`);
    if (a.tokenEnv !== undefined && a.tokenFile !== undefined) this.fail(`${field}.tokenFile`, 'give only one of tokenEnv, tokenFile');
    let token: string | null = null;
    if (a.tokenEnv !== undefined) {
      const name = this.string(a.tokenEnv, `${field}.tokenEnv`);
      token = envSecret(name) ?? this.fail(`${field}.tokenEnv`, `the environment variable ${name} is not set or empty`);
    } else if (a.tokenFile !== undefined) {
      const path = this.string(a.tokenFile, `${field}.tokenFile`);
      token = this.readFile(path, `${field}.tokenFile`).toString('utf8').split(/\r?\n/)[0] || this.fail(`${field}.tokenFile`, `${path} is empty`);
    }
    if (token !== null && token.length < 16) this.fail(`${field}.${a.tokenEnv !== undefined ? 'tokenEnv' : 'tokenFile'}`, 'a token needs at least 16 characters');
    return { listen, host, port: this.int(Number(m[2]), `${field}.listen`, 0, 65535), token };
  }
  /** `field` is the trunk's path in the profile (`trunks[0]`), or '' for a trunk file of its own */
  trunk(x: unknown, field: string): TrunkConfig {
    const f = (k: string): string => (field ? `${field}.${k}` : k);
    const t = this.object(x, field);
    if (t.routes !== undefined) this.fail(f('routes'), 'routes moved to the profile\'s routes[] (prefix or pattern → trunks), see README, Trunks');
    this.known(t, field, [
      'name', 'host', 'port', 'transport', 'caFile', 'outboundProxy', 'username', 'authUsername', 'realm',
      'password', 'passwordEnv', 'passwordFile', 'ha1', 'register', 'expires', 'retrySeconds', 'forbiddenRetrySeconds',
      'fromUser', 'fromDomain', 'callerId', 'ping', 'maxCalls', 'priority', 'weight', 'codecs', 'allow', 'dids',
    ]);
    const name = this.string(t.name, f('name'));
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) this.fail(f('name'), `only letters, digits, . _ - (at most 64): it becomes the Contact user trunk-NAME, got ${JSON.stringify(name)}`);
    const transport = this.oneOf(t.transport ?? 'udp', f('transport'), ['udp', 'tcp', 'tls'] as const);
    const register = t.register === undefined ? false : this.bool(t.register, f('register'));
    const optString = (k: string): string | undefined => (t[k] === undefined ? undefined : this.string(t[k], f(k)));
    const username = optString('username');
    if (register && username === undefined) this.fail(f('username'), 'a trunk that registers needs a username');
    const realm = optString('realm');
    const secret = this.secret(t, f, realm);
    let caFile: string | undefined;
    let ca: Buffer | undefined;
    if (t.caFile !== undefined) {
      if (transport !== 'tls') this.fail(f('caFile'), 'a CA file is only used by a tls trunk');
      caFile = this.string(t.caFile, f('caFile'));
      ca = this.readFile(caFile, f('caFile'));
    }
    let outboundProxy: TrunkConfig['outboundProxy'];
    if (t.outboundProxy !== undefined) {
      const spec = this.string(t.outboundProxy, f('outboundProxy'));
      const m = /^(?:sips?:)?(\[[^\]]+\]|[^:[\];]+)(?::(\d{1,5}))?$/.exec(spec);
      if (!m) this.fail(f('outboundProxy'), `expected HOST or HOST:PORT (it takes the trunk's transport), got ${JSON.stringify(spec)}`);
      const host = this.host(m[1].replace(/^\[|\]$/g, ''), f('outboundProxy'));
      outboundProxy = { host, port: this.int(m[2] === undefined ? (transport === 'tls' ? 5061 : 5060) : Number(m[2]), f('outboundProxy'), 1, 65535) };
    }
    const expires = this.int(t.expires ?? 3600, f('expires'), 60, 86400);
    const retrySeconds = this.int(t.retrySeconds ?? 30, f('retrySeconds'), 1, 86400);
    const forbiddenRetrySeconds = this.int(t.forbiddenRetrySeconds ?? 3600, f('forbiddenRetrySeconds'), 1, 7 * 86400);
    if (forbiddenRetrySeconds < retrySeconds) this.fail(f('forbiddenRetrySeconds'), `must not be shorter than retrySeconds (${retrySeconds})`);
    const fromUser = optString('fromUser');
    if (fromUser !== undefined && !/^[A-Za-z0-9+*#._~!$&'()=,;?/-]+$/.test(fromUser)) this.fail(f('fromUser'), `not a SIP user part: ${JSON.stringify(fromUser)}`);
    const fromDomain = t.fromDomain === undefined ? undefined : this.host(t.fromDomain, f('fromDomain'));
    const host = this.host(t.host, f('host'));
    const srv = outboundProxy !== undefined ? !/:\d+$/.test(String(t.outboundProxy)) && isIP(outboundProxy.host) === 0 : t.port === undefined && isIP(host) === 0;
    return {
      name, file: this.file,
      host,
      port: this.int(t.port ?? (transport === 'tls' ? 5061 : 5060), f('port'), 1, 65535),
      transport, caFile, ca, outboundProxy, ...(srv ? { srv: true } : {}),
      username, authUsername: optString('authUsername'), realm, secret,
      register, expires, retrySeconds, forbiddenRetrySeconds, fromUser, fromDomain,
      callerId: this.oneOf(t.callerId ?? 'from', f('callerId'), ['from', 'pai', 'privacy'] as const),
      ping: t.ping === undefined || t.ping === 0 ? 0 : this.int(t.ping, f('ping'), 5, 3600),
      maxCalls: this.int(t.maxCalls ?? 0, f('maxCalls'), 0, 100_000),
      priority: this.int(t.priority ?? 10, f('priority'), 0, 1000),
      weight: this.int(t.weight ?? 1, f('weight'), 0, 1000),
      codecs: t.codecs === undefined ? [] : this.array(t.codecs, f('codecs')).map((c, i) => {
        const s = this.string(c, f(`codecs[${i}]`));
        if (!/^[A-Za-z0-9._-]+(\/\d+)?$/.test(s)) this.fail(f(`codecs[${i}]`), `not a codec name (PCMA, PCMU, G722, opus/48000 …): ${JSON.stringify(s)}`);
        return s;
      }),
      allow: t.allow === undefined ? [] : this.array(t.allow, f('allow')).map((a, i) => this.cidr(a, f(`allow[${i}]`))),
      dids: t.dids === undefined ? [] : this.array(t.dids, f('dids')).map((e, i) => this.did(e, f(`dids[${i}]`))),
    };
  }
  /** exactly one of password, passwordEnv, passwordFile, ha1 (or none) */
  secret(t: Record<string, unknown>, f: (k: string) => string, realm: string | undefined): TrunkSecret | null {
    const given = ['password', 'passwordEnv', 'passwordFile', 'ha1'].filter((k) => t[k] !== undefined);
    if (given.length > 1) this.fail(f(given[1]), `give only one of password, passwordEnv, passwordFile, ha1 (${given.join(' and ')} are set)`);
    if (t.password !== undefined) return { kind: 'password', password: this.string(t.password, f('password')), source: 'password' };
    if (t.passwordEnv !== undefined) {
      const name = this.string(t.passwordEnv, f('passwordEnv'));
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) this.fail(f('passwordEnv'), `not an environment variable name: ${JSON.stringify(name)}`);
      const value = envSecret(name);
      if (value === undefined) this.fail(f('passwordEnv'), `the environment variable ${name} is not set or empty`);
      return { kind: 'password', password: value, source: 'passwordEnv' };
    }
    if (t.passwordFile !== undefined) {
      const path = this.string(t.passwordFile, f('passwordFile'));
      // the first line, without its line end (echo secret > file)
      const value = this.readFile(path, f('passwordFile')).toString('utf8').split(/\r?\n/)[0];
      if (value.length === 0) this.fail(f('passwordFile'), `${path} is empty`);
      return { kind: 'password', password: value, source: 'passwordFile' };
    }
    if (t.ha1 !== undefined) {
      const h = this.object(t.ha1, f('ha1'));
      this.known(h, f('ha1'), ['md5', 'sha256']);
      if (realm === undefined) this.fail(f('realm'), 'an HA1 is computed for one realm: set the realm it was made with');
      const hex = (k: 'md5' | 'sha256', len: number): string | undefined => {
        if (h[k] === undefined) return undefined;
        const s = this.string(h[k], f(`ha1.${k}`));
        if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(s)) this.fail(f(`ha1.${k}`), `must be ${len} hex digits (H(username:realm:password))`);
        return s.toLowerCase();
      };
      const md5 = hex('md5', 32);
      const sha256 = hex('sha256', 64);
      if (md5 === undefined && sha256 === undefined) this.fail(f('ha1'), 'give md5, sha256 or both');
      return { kind: 'ha1', md5, sha256 };
    }
    return null;
  }
  readFile(path: string, field: string): Buffer {
    try {
      return readFileSync(path);
    } catch (err) {
      this.fail(field, `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  }
  cidr(x: unknown, field: string): string {
    const s = this.string(x, field);
    const [ip, bits, more] = s.split('/');
    const family = isIP(ip);
    if (family === 0 || more !== undefined || (bits !== undefined && (!/^\d{1,3}$/.test(bits) || Number(bits) > (family === 4 ? 32 : 128)))) {
      this.fail(field, `not an IP address or CIDR: ${s}`);
    }
    return s;
  }
  /** a number (digits, optional +) or a regular expression → a user */
  match(e: Record<string, unknown>, field: string): { number?: string; prefix?: string; pattern?: string } {
    const pattern = e.pattern === undefined ? undefined : this.string(e.pattern, `${field}.pattern`);
    if (pattern !== undefined) {
      try {
        new RegExp(pattern);
      } catch (err) {
        this.fail(`${field}.pattern`, `not a valid regular expression: ${(err as Error).message}`);
      }
    }
    const digits = (k: 'number' | 'prefix'): string | undefined => {
      if (e[k] === undefined) return undefined;
      const s = this.string(e[k], `${field}.${k}`);
      if (!/^\+?[0-9*#]+$/.test(s)) this.fail(`${field}.${k}`, `only digits, * and #, with an optional leading +: ${JSON.stringify(s)}`);
      return s;
    };
    return { number: digits('number'), prefix: digits('prefix'), pattern };
  }
  did(x: unknown, field: string): DidConfig {
    const e = this.object(x, field);
    this.known(e, field, ['number', 'pattern', 'user']);
    const m = this.match(e, field);
    if ((m.number === undefined) === (m.pattern === undefined)) this.fail(field, 'give a number or a pattern (one of them)');
    return { number: m.number, pattern: m.pattern, user: this.string(e.user, `${field}.user`) };
  }
  route(x: unknown, field: string, trunks: Map<string, string>): RouteConfig {
    const r = this.object(x, field);
    this.known(r, field, ['prefix', 'pattern', 'trunks', 'strip', 'prepend', 'e164']);
    const m = this.match(r, field);
    if (m.prefix !== undefined && m.pattern !== undefined) this.fail(field, 'give a prefix or a pattern, not both');
    const list = this.array(r.trunks, `${field}.trunks`).map((t, i) => {
      const name = this.string(t, `${field}.trunks[${i}]`);
      if (!trunks.has(name)) this.fail(`${field}.trunks[${i}]`, `no trunk named ${name}`);
      return name;
    });
    if (list.length === 0) this.fail(`${field}.trunks`, 'at least one trunk is needed');
    let e164: RouteConfig['e164'] = null;
    if (r.e164 !== undefined) {
      const e = this.object(r.e164, `${field}.e164`);
      this.known(e, `${field}.e164`, ['countryCode']);
      const cc = this.string(e.countryCode, `${field}.e164.countryCode`);
      if (!/^[1-9]\d{0,2}$/.test(cc)) this.fail(`${field}.e164.countryCode`, `an ITU country code is 1 to 3 digits (49, 1, 358), got ${JSON.stringify(cc)}`);
      e164 = { countryCode: cc };
    }
    const prepend = r.prepend === undefined ? '' : this.string(r.prepend, `${field}.prepend`);
    if (!/^\+?[0-9*#]*$/.test(prepend)) this.fail(`${field}.prepend`, `only digits, * and #, with an optional leading +: ${JSON.stringify(prepend)}`);
    return { prefix: m.prefix, pattern: m.pattern, trunks: list, strip: this.int(r.strip ?? 0, `${field}.strip`, 0, 32), prepend, e164 };
  }
}
