// sip-profiles/*.json: listeners, domains, auth policy, store, registrar and message limits, trunks.
// Validated at start; a bad profile is refused with its file, the field and the reason.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { TvphoneError } from '../errors.ts';
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

export interface TrunkConfig {
  name: string;
  host: string;
  port: number;
  transport: TrunkTransportName;
  username?: string;
  password?: string;
  register: boolean;
  expires: number;
  retrySeconds: number;
  /** numbers that route there: regular expressions on the Request-URI user part */
  routes: string[];
  /** source addresses (IP or CIDR) allowed to send calls in */
  allow: string[];
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
  store: { url: string; groupCommitMs: number };
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
  transport: { tcpIdleSeconds: number; maxConnections: number };
  trunks: TrunkConfig[];
  /** operator HTTP endpoint (/metrics, /presence, /health); null = off. `listen` is kept as written. */
  admin: AdminConfig | null;
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
  store: { url: 'sqlite:./data/tvphone.db', groupCommitMs: 1 },
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
  transport: { tcpIdleSeconds: 600, maxConnections: 10000 },
  trunks: [],
  admin: null,
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
export function loadProfile(file: string): Profile {
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
  return validateProfile(raw, file);
}

/** Validates a parsed profile object, filling defaults for what it leaves out. */
export function validateProfile(raw: unknown, file: string): Profile {
  const v = new Validator(file);
  const top = v.object(raw, '');
  v.known(top, '', ['name', 'listeners', 'domains', 'auth', 'store', 'retryAfterSeconds', 'registrar', 'messages', 'presence', 'transport', 'trunks', 'admin', '$comment']);
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
  v.known(store, 'store', ['url', 'groupCommitMs']);
  const reg = v.object(top.registrar ?? {}, 'registrar');
  v.known(reg, 'registrar', ['defaultExpires', 'minExpires', 'maxExpires', 'maxContacts', 'belowMinExpires']);
  const msg = v.object(top.messages ?? {}, 'messages');
  v.known(msg, 'messages', ['maxBytes', 'quotaCount', 'quotaBytes', 'expirySeconds', 'retentionSeconds']);
  const pres = v.object(top.presence ?? {}, 'presence');
  v.known(pres, 'presence', ['policy', 'maxExpires']);
  const tr = v.object(top.transport ?? {}, 'transport');
  v.known(tr, 'transport', ['tcpIdleSeconds', 'maxConnections']);

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
    store: { url, groupCommitMs: v.int(store.groupCommitMs ?? d.store.groupCommitMs, 'store.groupCommitMs', 0, 100) },
    retryAfterSeconds: v.int(top.retryAfterSeconds ?? d.retryAfterSeconds, 'retryAfterSeconds', 1, 86400),
    registrar,
    messages: {
      maxBytes: v.int(msg.maxBytes ?? d.messages.maxBytes, 'messages.maxBytes', 1, 64 * 1024 * 1024),
      quotaCount: v.int(msg.quotaCount ?? d.messages.quotaCount, 'messages.quotaCount', 1, 10_000_000),
      quotaBytes: v.int(msg.quotaBytes ?? d.messages.quotaBytes, 'messages.quotaBytes', 1, 2 ** 40),
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
    },
    trunks: top.trunks === undefined ? [] : v.array(top.trunks, 'trunks').map((t, i) => v.trunk(t, `trunks[${i}]`)),
    admin: top.admin === undefined || top.admin === null ? null : v.admin(top.admin, 'admin'),
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
    this.known(a, field, ['listen']);
    const listen = this.string(a.listen, `${field}.listen`);
    const m = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(listen);
    if (!m) this.fail(`${field}.listen`, `expected HOST:PORT (IPv6 in brackets), e.g. 127.0.0.1:9060, got ${JSON.stringify(listen)}`);
    const bracketed = m[1].startsWith('[');
    const host = bracketed ? m[1].slice(1, -1) : m[1];
    if (bracketed && isIP(host) !== 6) this.fail(`${field}.listen`, `not an IPv6 address in brackets: ${m[1]}`);
    this.host(host, `${field}.listen`);
    return { listen, host, port: this.int(Number(m[2]), `${field}.listen`, 0, 65535) };
  }
  trunk(x: unknown, field: string): TrunkConfig {
    const t = this.object(x, field);
    this.known(t, field, ['name', 'host', 'port', 'transport', 'username', 'password', 'register', 'expires', 'retrySeconds', 'routes', 'allow']);
    const routes = t.routes === undefined ? [] : this.array(t.routes, `${field}.routes`).map((r, i) => {
      const s = this.string(r, `${field}.routes[${i}]`);
      try {
        new RegExp(s);
      } catch (err) {
        this.fail(`${field}.routes[${i}]`, `not a valid regular expression: ${(err as Error).message}`);
      }
      return s;
    });
    const register = t.register === undefined ? false : this.bool(t.register, `${field}.register`);
    if (register && t.username === undefined) this.fail(`${field}.username`, 'a trunk that registers needs a username');
    return {
      name: this.string(t.name, `${field}.name`),
      host: this.host(t.host, `${field}.host`),
      port: this.int(t.port ?? 5060, `${field}.port`, 1, 65535),
      transport: this.oneOf(t.transport ?? 'udp', `${field}.transport`, ['udp', 'tcp', 'tls'] as const),
      username: t.username === undefined ? undefined : this.string(t.username, `${field}.username`),
      password: t.password === undefined ? undefined : this.string(t.password, `${field}.password`),
      register,
      expires: this.int(t.expires ?? 3600, `${field}.expires`, 60, 86400),
      retrySeconds: this.int(t.retrySeconds ?? 30, `${field}.retrySeconds`, 1, 86400),
      routes,
      allow: t.allow === undefined ? [] : this.array(t.allow, `${field}.allow`).map((a, i) => {
        const s = this.string(a, `${field}.allow[${i}]`);
        const [ip, bits] = s.split('/');
        if (isIP(ip) === 0 || (bits !== undefined && !/^\d{1,3}$/.test(bits))) this.fail(`${field}.allow[${i}]`, `not an IP address or CIDR: ${s}`);
        return s;
      }),
    };
  }
}
