// Locating a SIP server by its name (RFC 3263 §4): the SRV records of the transport asked, ordered by RFC 2782,
// then each target's A/AAAA records. Numeric hosts and the URIs of a request are locate.ts's; this file is the part
// that asks the DNS. The TV agent's server list (terminal/agent/servers.ts) and the trunks' carriers use it.
// Not done: NAPTR (§4.1) — every caller here names its transport, and §4.1 then goes straight to SRV.
import { lookup, Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { defaultPort, type Target, type TransportName } from '../transport/transport.ts';

/** The DNS lookups RFC 3263 needs: node:dns/promises `Resolver` has them (tests point it at a DNS of their own). */
export interface DnsLookups {
  resolveSrv(name: string): Promise<{ name: string; port: number; priority: number; weight: number }[]>;
  resolve4(name: string, o: { ttl: true }): Promise<{ address: string; ttl: number }[]>;
  resolve6(name: string, o: { ttl: true }): Promise<{ address: string; ttl: number }[]>;
  /**
   * when given, a name's addresses come from here instead of resolve4/resolve6: the system's resolver (getaddrinfo: the
   * hosts file, then DNS), which gives no TTL
   */
  lookup?(name: string): Promise<string[]>;
}

/**
 * The lookups of a `Resolver` on `servers` (`Resolver.setServers` form: "127.0.0.1:5353", "[::1]:53"). With none, SRV
 * records come from the system's name servers and addresses from the system's resolver, as every other program of the
 * host finds them (the hosts file included).
 */
export function dnsLookups(servers: readonly string[] = []): DnsLookups {
  const r = new Resolver({ timeout: 2_000, tries: 2 });
  if (servers.length > 0) {
    r.setServers([...servers]);
    return r;
  }
  return {
    resolveSrv: (name) => r.resolveSrv(name),
    resolve4: (name, o) => r.resolve4(name, o),
    resolve6: (name, o) => r.resolve6(name, o),
    lookup: async (name) => (await lookup(name, { all: true })).map((a) => a.address),
  };
}

/** A server named in a URI: its host, the port if the URI has one, the transport to reach it by. */
export interface ServerName {
  host: string;
  port: number | null;
  transport: TransportName;
}

/** Where a server name leads: the targets to try in order, and how long that holds (the records' TTL). */
export interface Location {
  targets: Target[];
  /** ms; Infinity for a numeric host (nothing to look up again) */
  ttlMs: number;
}

export interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

/**
 * RFC 2782: lowest priority first; within one priority, a weighted random order — weight-0 records first, a uniform
 * random number in [0, sum of weights], the first record whose running sum is at least that number, then again with
 * the rest. `random` is [0, 1) (tests fix it).
 */
export function orderSrv(records: readonly SrvRecord[], random: () => number = Math.random): SrvRecord[] {
  const out: SrvRecord[] = [];
  for (const p of [...new Set(records.map((r) => r.priority))].sort((a, b) => a - b)) {
    const group = records.filter((r) => r.priority === p).sort((a, b) => (a.weight === 0 ? 0 : 1) - (b.weight === 0 ? 0 : 1));
    while (group.length > 0) {
      const sum = group.reduce((s, r) => s + r.weight, 0);
      const n = Math.floor(random() * (sum + 1));
      let running = 0;
      let i = group.findIndex((r) => (running += r.weight) >= n);
      if (i < 0) i = group.length - 1;
      out.push(...group.splice(i, 1));
    }
  }
  return out;
}

/** RFC 3263 §4.2: the SRV service of a transport; TLS is `_sips._tcp`, even for a sip URI. */
export function srvName(host: string, transport: TransportName): string {
  const service = transport === 'tls' || transport === 'wss' ? '_sips._tcp' : transport === 'udp' ? '_sip._udp' : '_sip._tcp';
  return `${service}.${host}`;
}

export interface ServerLocatorOptions {
  /** default: the system's (dnsLookups()) */
  dns?: DnsLookups;
  /** [0, 1): RFC 2782's weighted choice (tests fix it) */
  random?: () => number;
  /**
   * the longest an answer is kept, ms (default 300 000): node:dns gives the TTL of A/AAAA records but not of SRV ones,
   * so this bounds how long an SRV answer is trusted
   */
  maxTtlMs?: number;
}

/** the shortest an answer is kept, so that a TTL of 0 does not send a lookup with every request */
const MIN_TTL_MS = 1_000;

export class ServerLocator {
  readonly #dns: DnsLookups;
  readonly #random: () => number;
  readonly #maxTtlMs: number;

  constructor(o: ServerLocatorOptions = {}) {
    this.#dns = o.dns ?? dnsLookups();
    this.#random = o.random ?? Math.random;
    this.#maxTtlMs = o.maxTtlMs ?? 300_000;
  }

  /**
   * RFC 3263 §4.2: a numeric host is the target (no lookup); a name with a port, its A/AAAA records; a name without,
   * the SRV records of the transport (each target's A/AAAA, in RFC 2782 order), and when there are none its A/AAAA
   * records on the transport's default port. An SRV target "." says the service is not offered there: no targets.
   * Empty `targets` when nothing was found. For TLS every target carries the name as `serverName` (RFC 5922 §4: the
   * certificate is checked against the domain we meant to reach, not the SRV target).
   */
  async locate(s: ServerName): Promise<Location> {
    const host = s.host.replace(/^\[|\]$/g, '').replace(/\.$/, '');
    const withName = (t: Target): Target => (s.transport === 'tls' && isIP(host) === 0 ? { ...t, serverName: host } : t);
    if (isIP(host) !== 0) return { targets: [{ transport: s.transport, address: host, port: s.port ?? defaultPort(s.transport) }], ttlMs: Infinity };
    if (s.port === null) {
      const srv = await this.#dns.resolveSrv(srvName(host, s.transport)).catch(() => []);
      if (srv.length > 0) {
        const usable = srv.filter((r) => r.name !== '' && r.name !== '.');
        const resolved = await Promise.all(orderSrv(usable, this.#random).map(async (r) => ({ r, a: await this.addresses(r.name) })));
        const targets = dedupe(resolved.flatMap(({ r, a }) => a.addresses.map((address) => withName({ transport: s.transport, address, port: r.port }))));
        return { targets, ttlMs: this.#ttl(resolved.map(({ a }) => a.ttlMs)) };
      }
    }
    const a = await this.addresses(host);
    const port = s.port ?? defaultPort(s.transport);
    return { targets: a.addresses.map((address) => withName({ transport: s.transport, address, port })), ttlMs: this.#ttl([a.ttlMs]) };
  }

  /** RFC 3263 §4.2: a name's A records, then its AAAA records, and their TTL (the system resolver's: maxTtlMs). */
  async addresses(host: string): Promise<{ addresses: string[]; ttlMs: number }> {
    if (this.#dns.lookup !== undefined) return { addresses: [...new Set(await this.#dns.lookup(host).catch(() => []))], ttlMs: this.#maxTtlMs };
    const [v4, v6] = await Promise.all([
      this.#dns.resolve4(host, { ttl: true }).catch(() => []),
      this.#dns.resolve6(host, { ttl: true }).catch(() => []),
    ]);
    const records = [...v4, ...v6];
    return { addresses: [...new Set(records.map((r) => r.address))], ttlMs: this.#ttl(records.map((r) => r.ttl * 1000)) };
  }

  #ttl(list: readonly number[]): number {
    return Math.max(MIN_TTL_MS, Math.min(this.#maxTtlMs, ...list));
  }
}

function dedupe(targets: readonly Target[]): Target[] {
  const seen = new Set<string>();
  return targets.filter((t) => {
    const k = `${t.transport}|${t.address}|${t.port}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
}
