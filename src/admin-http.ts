// The operator's HTTP endpoint, as Kamailio's xhttp_prom and FreeSWITCH's mod_prometheus give one: GET /metrics
// (Prometheus text format), GET /presence[/USER] (JSON, like `tvphone presence --json`), GET /trunks (JSON, read by
// `tvphone trunks status`), GET /health.
// A composition-root piece: server.ts hands it the layers' counters as plain objects, read only at scrape time,
// so the per-message path does no more than increment a number. Off unless the profile or --admin sets it.
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from './log/logger.ts';
import type { Presence, Store } from './store/store.ts';
import type { TrunkStatusRow } from './trunks/trunks.ts';

/** What the layers already expose; server.ts passes the objects themselves (getters are read at scrape time). */
export interface AdminSources {
  transport: {
    readonly counters: Readonly<{ received: number; sent: number; parseErrors: number; dropped: number; connectionsOpened: number; connectionsClosed: number }>;
    readonly connectionCount: number;
  };
  transactions: {
    readonly counters: Readonly<{ serverTransactions: number; clientTransactions: number; strayResponses: number; strayAcks: number; rejectedFull: number; unmatchable: number }>;
    readonly serverCount: number;
    readonly clientCount: number;
  };
  proxy: {
    readonly counters: Readonly<{
      relayed: number; branches: number; cancelsSent: number; timerC: number; statelessAcks: number;
      strayResponsesForwarded: number; strayResponsesDropped: number; recorderErrors: number;
    }>;
    readonly activeRelays: number;
    readonly trackedDialogs: number;
  };
  silo: { readonly runningDumps: number };
  /** the brute-force and flood defence (routing/guard.ts; absent: no security metrics) */
  security?: { readonly counters: Readonly<{ authFailures: number; sourceBans: number; userBans: number; bannedRequests: number; limitedRequests: number }> };
  store: Pick<Store, 'getPresence' | 'listPresence' | 'userExists'>;
  /** false while the store is known to be down (the server's onStateChange) */
  storeUp: () => boolean;
  /** the carriers' registration and ping state (absent: no /trunks, no trunk metrics) */
  trunks?: { status(): TrunkStatusRow[] };
  /** reads the profile again and applies it, as SIGHUP (POST /reload; absent: 404); throws on a bad profile */
  reload?: () => unknown;
  /** this node's id when it is one of several on the database (issue 18): every metric carries node="<id>" */
  node?: string;
}

export interface AdminHttpOptions {
  host: string;
  port: number;
  sources: AdminSources;
  log?: Logger;
  /** when set, every request must carry `Authorization: Bearer <token>` (else 401) */
  token?: string | null;
}

export interface AdminHttp {
  /** the bound address (port resolved when 0 was asked) */
  readonly address: { host: string; port: number };
  readonly registry: Registry;
  /** stops listening and drops open connections; idempotent */
  close(): Promise<void>;
}

const ALLOW = 'GET, HEAD';
/** a store that does not answer the health probe within this is reported down */
const HEALTH_PROBE_MS = 2000;

/** One row of `tvphone presence --json`. */
export interface PresenceRow { user: string; state: 'online' | 'offline'; ip: string | null; since: string | null }

export function presenceRow(p: Presence): PresenceRow {
  return { user: p.userId, state: p.netstate === 1 ? 'online' : 'offline', ip: p.ip, since: new Date(p.since).toISOString() };
}

/** The private registry: tvphone's metrics read from `s` at scrape time, plus prom-client's process metrics. */
export function createMetricsRegistry(s: AdminSources): Registry {
  const registry = new Registry();
  const counter = (name: string, help: string, read: () => number) => new Counter({
    name, help, registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
  const labelled = (name: string, help: string, label: string, reads: Record<string, () => number>) => new Counter({
    name, help, labelNames: [label], registers: [registry],
    collect() {
      this.reset();
      for (const [value, read] of Object.entries(reads)) this.inc({ [label]: value }, read());
    },
  });
  const gauge = (name: string, help: string, read: () => number) => new Gauge({
    name, help, registers: [registry],
    collect() {
      this.set(read());
    },
  });
  const labelledGauge = (name: string, help: string, label: string, reads: Record<string, () => number>) => new Gauge({
    name, help, labelNames: [label], registers: [registry],
    collect() {
      for (const [value, read] of Object.entries(reads)) this.set({ [label]: value }, read());
    },
  });

  const t = s.transport;
  counter('tvphone_transport_received_total', 'SIP messages received (datagrams and stream frames)', () => t.counters.received);
  counter('tvphone_transport_sent_total', 'SIP messages sent', () => t.counters.sent);
  counter('tvphone_transport_parse_errors_total', 'received messages that did not parse', () => t.counters.parseErrors);
  counter('tvphone_transport_dropped_total', 'messages or connections dropped by the transport', () => t.counters.dropped);
  counter('tvphone_transport_connections_opened_total', 'TCP/TLS connections opened', () => t.counters.connectionsOpened);
  counter('tvphone_transport_connections_closed_total', 'TCP/TLS connections closed', () => t.counters.connectionsClosed);
  gauge('tvphone_transport_open_connections', 'TCP/TLS connections open now', () => t.connectionCount);

  const tl = s.transactions;
  labelled('tvphone_transactions_created_total', 'transactions created (RFC 3261 §17)', 'type', {
    server: () => tl.counters.serverTransactions, client: () => tl.counters.clientTransactions,
  });
  labelledGauge('tvphone_transactions_live', 'transactions alive now', 'type', { server: () => tl.serverCount, client: () => tl.clientCount });
  counter('tvphone_transactions_stray_responses_total', 'responses that matched no client transaction', () => tl.counters.strayResponses);
  counter('tvphone_transactions_stray_acks_total', 'ACKs that matched no server transaction', () => tl.counters.strayAcks);
  counter('tvphone_transactions_rejected_full_total', 'requests answered 503 because the transaction table was full', () => tl.counters.rejectedFull);
  counter('tvphone_transactions_unmatchable_total', 'messages dropped because their Via or CSeq could not be read', () => tl.counters.unmatchable);

  const p = s.proxy;
  counter('tvphone_proxy_relayed_total', 'requests relayed by the proxy (RFC 3261 §16)', () => p.counters.relayed);
  counter('tvphone_proxy_branches_total', 'client branches forwarded', () => p.counters.branches);
  counter('tvphone_proxy_cancels_sent_total', 'CANCELs sent to pending branches', () => p.counters.cancelsSent);
  counter('tvphone_proxy_timer_c_total', 'Timer C expiries (§16.8)', () => p.counters.timerC);
  counter('tvphone_proxy_stateless_acks_total', 'ACKs for 2xx forwarded statelessly', () => p.counters.statelessAcks);
  labelled('tvphone_proxy_stray_responses_total', 'responses that matched no relay', 'action', {
    forwarded: () => p.counters.strayResponsesForwarded, dropped: () => p.counters.strayResponsesDropped,
  });
  counter('tvphone_proxy_recorder_errors_total', 'user_call writes that failed', () => p.counters.recorderErrors);
  gauge('tvphone_proxy_active_relays', 'response contexts in progress', () => p.activeRelays);
  gauge('tvphone_proxy_tracked_dialogs', 'answered calls waiting for their BYE', () => p.trackedDialogs);

  gauge('tvphone_silo_running_dumps', 'stored-message deliveries running now', () => s.silo.runningDumps);
  gauge('tvphone_store_up', '1 while the database answers, 0 while it is known to be down', () => (s.storeUp() ? 1 : 0));

  const g = s.security;
  if (g !== undefined) {
    counter('tvphone_security_auth_failures_total', 'refused credentials counted towards a ban (guesses)', () => g.counters.authFailures);
    labelled('tvphone_security_bans_total', 'bans started (security.authFailures, userAuthFailures)', 'of', {
      source: () => g.counters.sourceBans, user: () => g.counters.userBans,
    });
    labelled('tvphone_security_refused_requests_total', 'requests turned away (403 / 503 or dropped)', 'why', {
      banned: () => g.counters.bannedRequests, rate: () => g.counters.limitedRequests,
    });
  }

  const trunks = s.trunks;
  if (trunks !== undefined) {
    new Gauge({
      name: 'tvphone_trunk_up', help: '1 while the trunk is registered (or does not register) and its OPTIONS ping is not down',
      labelNames: ['trunk'], registers: [registry],
      collect() {
        this.reset();
        for (const r of trunks.status()) this.set({ trunk: r.name }, r.up ? 1 : 0);
      },
    });
    const perTrunk = (name: string, help: string, read: (r: TrunkStatusRow) => number) => new Counter({
      name, help, labelNames: ['trunk'], registers: [registry],
      collect() {
        this.reset();
        for (const r of trunks.status()) this.inc({ trunk: r.name }, read(r));
      },
    });
    perTrunk('tvphone_trunk_registrations_total', 'REGISTERs to the carrier answered 2xx', (r) => r.registrations);
    perTrunk('tvphone_trunk_registration_failures_total', 'REGISTERs to the carrier that failed (a non-2xx final response or no answer)', (r) => r.failures);
    new Gauge({
      name: 'tvphone_trunk_calls_active', help: 'calls through the trunk now (ringing or answered)',
      labelNames: ['trunk'], registers: [registry],
      collect() {
        this.reset();
        for (const r of trunks.status()) this.set({ trunk: r.name }, r.activeCalls);
      },
    });
  }

  collectDefaultMetrics({ register: registry });
  if (s.node !== undefined) registry.setDefaultLabels({ node: s.node });
  return registry;
}

/** Starts the endpoint; rejects when the address cannot be bound. */
export async function startAdminHttp(o: AdminHttpOptions): Promise<AdminHttp> {
  const registry = createMetricsRegistry(o.sources);
  const expected = o.token ? Buffer.from(`Bearer ${o.token}`) : null;
  const server = http.createServer((req, res) => {
    req.resume(); // a GET carries no body worth reading
    if (expected !== null && !sameSecret(req.headers.authorization, expected)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="tvphone"');
      return send(res, 401, { error: 'a bearer token is needed (admin.tokenEnv / admin.tokenFile)' });
    }
    handle(req, res, o.sources, registry, o.log ?? null).catch((err: unknown) => {
      o.log?.error({ err }, 'admin http');
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.maxConnections = 64;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => o.log?.warn({ err }, 'admin http'));
  const a = server.address() as AddressInfo;
  const loopback = a.address === '::1' || a.address.startsWith('127.') || a.address === '::ffff:127.0.0.1';
  if (!loopback) {
    o.log?.warn({ listen: a.address, token: expected !== null }, expected !== null
      ? 'admin HTTP listens beyond loopback: keep it behind a firewall (a bearer token is required)'
      : 'admin HTTP listens beyond loopback with no token: anyone who reaches it reads presence and metrics (set admin.tokenEnv)');
  }
  o.log?.info({ listen: `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` }, 'admin HTTP serving /metrics /presence /trunks /health');

  let closing: Promise<void> | null = null;
  return {
    address: { host: a.address, port: a.port },
    registry,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, s: AdminSources, registry: Registry, log: Logger | null): Promise<void> {
  const path0 = (req.url ?? '/').split('?')[0];
  if (path0 === '/reload') {
    // `tvphone trunks reload`: the same as SIGHUP; a bad profile changes nothing and says why
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return send(res, 405, { error: 'POST /reload' });
    }
    if (s.reload === undefined) return send(res, 404, { error: 'this server was not started from a profile file' });
    try {
      const result = s.reload();
      log?.info({ result }, 'profile reloaded (POST /reload)');
      return send(res, 200, result);
    } catch (err) {
      log?.error({ reason: (err as Error).message }, 'profile not reloaded: the running one stays');
      return send(res, 422, { error: (err as Error).message });
    }
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', ALLOW);
    return send(res, 405, { error: `method ${req.method} not allowed` });
  }
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/metrics') {
    const text = await registry.metrics();
    res.writeHead(200, { 'Content-Type': registry.contentType, 'Cache-Control': 'no-store' });
    res.end(text);
    return;
  }
  if (path === '/trunks') {
    if (s.trunks === undefined) return send(res, 404, { error: 'no trunks here' });
    return send(res, 200, s.trunks.status());
  }
  if (path === '/health') {
    const up = s.storeUp() && await probe(s.store);
    return send(res, up ? 200 : 503, { status: up ? 'ok' : 'store down' });
  }
  if (path === '/presence') {
    const rows = await storeCall(() => s.store.listPresence());
    if (rows === undefined) return send(res, 503, { error: 'store unavailable' });
    return send(res, 200, rows.map(presenceRow));
  }
  const m = /^\/presence\/([^/]+)$/.exec(path);
  if (m) {
    let user: string;
    try {
      user = decodeURIComponent(m[1]);
    } catch {
      return send(res, 400, { error: 'bad user in path' });
    }
    const found = await storeCall(async () => {
      const p = await s.store.getPresence(user);
      if (p) return presenceRow(p);
      // a user that never registered has no user_property row yet: offline
      return (await s.store.userExists(user)) ? { user, state: 'offline', ip: null, since: null } satisfies PresenceRow : null;
    });
    if (found === undefined) return send(res, 503, { error: 'store unavailable' });
    if (found === null) return send(res, 404, { error: `no user ${user}` });
    return send(res, 200, found);
  }
  return send(res, 404, { error: 'not found (try /metrics, /presence, /presence/USER, /trunks, /health)' });
}

/** undefined when the store failed */
async function storeCall<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch {
    return undefined;
  }
}

/** A cheap read with a deadline: a store that hangs is as down as one that fails. */
async function probe(store: Pick<Store, 'userExists'>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), HEALTH_PROBE_MS);
  });
  try {
    return await Promise.race([store.userExists('').then(() => true, () => false), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(body) + '\n');
}

/** Constant-time comparison of an Authorization header with the expected `Bearer <token>`. */
function sameSecret(given: string | undefined, expected: Buffer): boolean {
  if (given === undefined) return false;
  const g = Buffer.from(given);
  return g.length === expected.length && timingSafeEqual(g, expected);
}
