// Which URIs name this server: the profile's domains, else whatever address it is reached at
// (the listeners' addresses, every local interface address when a listener is bound to 0.0.0.0 or ::).
import { networkInterfaces } from 'node:os';
import { parseUri } from '../sip/uri.ts';

export class LocalDomains {
  #names = new Set<string>();
  readonly #ports = new Set<number>();
  readonly #listeners: ReadonlyArray<{ host: string; port: number }>;
  configured: readonly string[] = [];

  constructor(domains: readonly string[], listeners: ReadonlyArray<{ host: string; port: number }>) {
    this.#listeners = listeners;
    for (const l of listeners) this.#ports.add(l.port);
    this.reconfigure(domains);
  }

  /** The profile's domains (again, on SIGHUP); the listeners' addresses stay ours. */
  reconfigure(domains: readonly string[]): void {
    const names = new Set<string>();
    this.configured = domains.map((d) => d.toLowerCase());
    for (const d of this.configured) names.add(d);
    names.add('localhost');
    for (const l of this.#listeners) {
      if (l.host === '0.0.0.0' || l.host === '::') {
        for (const addrs of Object.values(networkInterfaces())) for (const a of addrs ?? []) names.add(a.address.toLowerCase());
      } else names.add(l.host.toLowerCase());
    }
    this.#names = names;
  }

  /** The domain used in AoRs we build (missed-call notices, NOTIFY): the first configured domain, else `fallback`. */
  primary(fallback: string): string {
    return this.configured[0] ?? fallback;
  }

  /** True when `host` (a name or IP, IPv6 with or without brackets) is ours. */
  isLocalHost(host: string): boolean {
    const h = host.startsWith('[') ? host.slice(1, -1).toLowerCase() : host.toLowerCase();
    return this.#names.has(h);
  }

  /** True when the URI's host is ours and, for an address without configured domains, the port is one we listen on. */
  isLocalUri(uri: string): boolean {
    let u;
    try {
      u = parseUri(uri);
    } catch {
      return false;
    }
    if (u.scheme === 'tel') return true; // tel: is resolved by us (trunks route it, RFC 3966)
    if (!this.isLocalHost(u.host)) return false;
    if (this.configured.includes(u.host.toLowerCase())) return true;
    return u.port === null || this.#ports.has(u.port);
  }
}
