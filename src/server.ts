// Composition root of the server: reads the profile, opens the store, binds the transports and wires
// transaction layer → routing script → capabilities. Start with startServer(), stop with close().
import { randomBytes } from 'node:crypto';
import { profileChanges, readListenerTls, type Profile } from './config/profile.ts';
import type { Logger } from './log/logger.ts';
import { TvphoneError } from './errors.ts';
import { openStore, redactUrl } from './store/open.ts';
import type { Store, Binding, BindingChange, Subscription } from './store/store.ts';
import { NetworkTransport } from './transport/network-transport.ts';
import type { Flow, ListenerInfo, ListenerConfig as TransportListener, Target as Destination, Transport } from './transport/transport.ts';
import type { SipRequest, SipResponse } from './sip/message.ts';
import { TransactionLayer } from './transaction/transaction-layer.ts';
import { Registrar, Authenticator, Nodes } from './registrar/index.ts';
import { Proxy } from './proxy/proxy.ts';
import { Silo, buildDeliveryRequest } from './offline/silo.ts';
import type { MediaServer } from './media-server/media-server.ts';
import { isRecordingType } from './media-server/message-types.ts';
import { indirect } from './media-server/content-indirection.ts';
import type { RecordingsHttp } from './media-server/recordings-http.ts';
import { PresenceAgent } from './presence/presence-agent.ts';
import { MESSAGE_SUMMARY_EVENT, mailboxSummary, messageSummaryPackage } from './presence/message-summary.ts';
import { UnsolicitedMwi } from './presence/unsolicited-mwi.ts';
import { Calls } from './calls/calls.ts';
import { Router, type HeldCall, type WakeAndHold } from './routing/router.ts';
import { PushGateway } from './push/push-gateway.ts';
import { HeldCalls } from './push/held-calls.ts';
import { LocalDomains } from './routing/local-domains.ts';
import { BanSync } from './routing/ban-sync.ts';
import { Guard } from './routing/guard.ts';
import { sendRequest } from './transaction/send-request.ts';
import { destinationOf, dialogTarget } from './registrar/index.ts';
import { systemClock, type Clock } from './clock.ts';
import type { AdminHttp, AdminSources } from './admin-http.ts';
import { Trunks } from './trunks/trunks.ts';
import { RouteSigner } from './proxy/route-signature.ts';
import { effectiveMaxConnections, fdLimitWarning, openFileLimit } from './config/fd-limit.ts';
import { udpBufferWarning } from './config/udp-buffer.ts';
import { rootCertificates } from 'node:tls';

/** What the server needs of its transport: the port (transport.ts), its bound listeners, close, the admin counters. */
export type ServerTransport = Transport & AdminSources['transport'] & {
  readonly listeners: ListenerInfo[];
  close(): Promise<void>;
  /** whether a stream connection is still open (a transport with no connections has none) */
  hasConnection?(connectionId: number): boolean;
  /** each UDP listener's receive buffer (NetworkTransport) */
  udpReceiveBuffers?(): Array<{ listener: ListenerInfo; bytes: number }>;
};

export interface ServerOptions<T extends ServerTransport = NetworkTransport> {
  profile: Profile;
  log: Logger;
  /** overrides the profile's store URL (--db, TVPHONE_DB) */
  dbUrl?: string;
  /** an already open store (tests) */
  store?: Store;
  /** T1/T2/T4 overrides (tests) */
  timerValues?: { t1?: number; t2?: number; t4?: number };
  /** the one clock of every part (a FakeClock in tests); default the system clock */
  clock?: Clock;
  /** an in-memory transport (a FakeTransport: tests without sockets); default the profile's listeners, bound */
  transport?: T;
  /** reads the profile again (its file and the trunk files): what `POST /reload` on the admin endpoint applies, as SIGHUP */
  loadProfile?: () => Profile;
  /** a trunk's host name to an address (tests name carriers no DNS knows); default node:dns lookup */
  resolve?: (host: string) => Promise<string | null>;
}

/**
 * The media server's modules (RTP, SDP, codecs, muxing), imported only when voicemail is on: a server without it
 * loads none of them (issue 18: the idle server's memory).
 */
async function loadVoicemail() {
  const [{ MediaServer }, { startRecordingsHttp }, { storedGreeting }, { MailboxServer }] = await Promise.all([
    import('./media-server/media-server.ts'), import('./media-server/recordings-http.ts'),
    import('./media-server/user-greeting.ts'), import('./media-server/mailbox-server.ts'),
  ]);
  return { MediaServer, startRecordingsHttp, storedGreeting, MailboxServer };
}

/** When a call that rings an online user goes to the media server (router's policy). */
function ringingOf(p: Profile): { ringSeconds: number; onBusy: boolean } {
  return { ringSeconds: p.voicemail.ringSeconds, onBusy: p.voicemail.onBusy };
}

/** What SIGHUP may change in a running server (profile field paths); the rest needs a restart. */
const RELOADABLE = [
  'name', 'registrar', 'domains', 'auth.algorithms', 'auth.algorithmsByUserAgent', 'auth.nonceTtlSeconds',
  'messages.quotaCount', 'messages.quotaBytes', 'messages.expirySeconds', 'messages.retentionSeconds', 'presence', 'retryAfterSeconds',
  'trunks', 'routes', 'voicemail.ringSeconds', 'voicemail.onBusy', 'security',
];

export interface TvphoneServer<T extends ServerTransport = NetworkTransport> {
  readonly listeners: ListenerInfo[];
  readonly store: Store;
  readonly transport: T;
  readonly transactions: TransactionLayer;
  readonly registrar: Registrar;
  /** the carriers: their registrations and pings (status for /trunks and `tvphone trunks status`) */
  readonly trunks: Trunks;
  /** the operator HTTP endpoint (/metrics, /presence, /health) when the profile sets admin.listen */
  readonly admin: AdminHttp | null;
  /** the media server and the HTTP endpoint its recordings are fetched from, when voicemail.enabled */
  readonly voicemail: { media: MediaServer; http: RecordingsHttp } | null;
  /**
   * SIGHUP: applies what a running server can change (registrar limits, domains, the auth challenges and nonce
   * lifetime, message limits, presence policy, Retry-After, the security limits) and names what needs a restart (listeners, store …).
   */
  reload(next: Profile): { applied: string[]; needsRestart: string[]; trunks: { added: string[]; removed: string[]; changed: string[] } };
  /** stops listening, finishes nothing new, closes the store; idempotent */
  close(): Promise<void>;
}

/** The message limits a voice message is kept under (the profile's messages section). */
function messageLimits(p: Profile): { quota: { count: number; bytes: number }; expiryMs: number } {
  return { quota: { count: p.messages.quotaCount, bytes: p.messages.quotaBytes }, expiryMs: p.messages.expirySeconds * 1000 };
}

export function startServer(opts: ServerOptions & { transport?: undefined }): Promise<TvphoneServer>;
export function startServer<T extends ServerTransport>(opts: ServerOptions<T> & { transport: T }): Promise<TvphoneServer<T>>;
export async function startServer(opts: ServerOptions<ServerTransport>): Promise<TvphoneServer<ServerTransport>> {
  const { profile, log } = opts;
  const clock = opts.clock ?? systemClock;
  const replies = { retryAfterSeconds: profile.retryAfterSeconds };
  // TLS files are read before anything is opened, so a bad one leaves nothing behind.
  const listeners: TransportListener[] = profile.listeners.map((l) => ({
    transport: l.transport, host: l.host, port: l.port,
    tls: l.transport === 'tls' || l.transport === 'wss' ? readListenerTls(l, profile.file) : undefined,
    path: l.path,
  }));
  const url = opts.dbUrl ?? profile.store.url;
  let storeDown = false;
  let router: Router | null = null; // set once it exists (below); the store's recovery restarts its stopped deliveries
  const store = opts.store ?? await openStore(url, {
    groupCommitMs: profile.store.groupCommitMs,
    // SQLite off the event loop: a hung disk costs 503s after the deadline, not the whole server (issue 16 item 6)
    worker: profile.store.worker,
    commitDeadlineMs: profile.store.commitDeadlineMs,
    onStateChange: (up: boolean, err?: unknown) => {
      // The outage is logged once, not per request (and its return once).
      if (!up && !storeDown) log.error({ err, db: redactUrl(url) }, 'database unavailable: answering 503');
      if (up && storeDown) log.warn({ db: redactUrl(url) }, 'database reachable again');
      if (up && storeDown) router?.storeReachable();
      storeDown = !up;
    },
  });

  // Voice messages (voicemail.enabled): the HTTP endpoint the recordings are fetched from (RFC 4483), opened first so
  // that a port in use leaves nothing behind but the store.
  const vmConfig = profile.voicemail;
  // kept in the database: a restart (or another node) keeps answering the tokens it gave out
  const vmSecret = await keptSecret(store, 'voicemail-token', clock, log);
  const vm = vmConfig.enabled ? await loadVoicemail() : null;
  let recordings: RecordingsHttp | null = null;
  if (vm !== null) {
    try {
      recordings = await vm.startRecordingsHttp({
        host: vmConfig.httpHost ?? profile.listeners[0].host, port: vmConfig.httpPort, secret: vmSecret, store, clock, log: log.child({ mod: 'voicemail-http' }),
      });
    } catch (err) {
      if (!opts.store) await store.close();
      throw new TvphoneError('ERR_LISTEN', `cannot listen for voice messages over HTTP: ${(err as Error).message}`, { cause: err });
    }
  }
  // a tls trunk's caFile is trusted next to the system roots (the carrier's certificate is always verified)
  const trunkCas = profile.trunks.flatMap((t) => (t.ca === undefined ? [] : [t.ca.toString('utf8')]));
  let transport: ServerTransport;
  try {
    transport = opts.transport ?? await NetworkTransport.listen({
      tlsClient: trunkCas.length ? { ca: [...rootCertificates, ...trunkCas].join('\n') } : undefined,
      // never more connections than the open-file limit leaves (the warning at start says so)
      listeners, idleTimeout: profile.transport.tcpIdleSeconds * 1000, maxConnections: effectiveMaxConnections(profile.transport.maxConnections, openFileLimit()),
      maxConnectionsPerSource: profile.transport.maxConnectionsPerSource, tlsHandshakeTimeout: profile.transport.tlsHandshakeSeconds * 1000,
      udpReceiveBuffer: profile.transport.udpReceiveBufferBytes,
      maxMessageSize: Math.max(65_535, profile.messages.maxBytes + 8192),
      onError: (err) => log.debug({ err }, 'transport'), log: log.child({ mod: 'sip' }),
    });
  } catch (err) {
    await recordings?.close();
    if (!opts.store) await store.close();
    throw new TvphoneError('ERR_LISTEN', `cannot listen: ${(err as Error).message}`, { cause: err });
  }
  const bound = transport.listeners;

  const domains = new LocalDomains(profile.domains, bound);
  const primaryDomain = domains.primary(bound[0].host === '0.0.0.0' || bound[0].host === '::' ? '127.0.0.1' : bound[0].host);

  // The transaction user is set once the router exists (it needs the capabilities, which need the layer).
  const transactions = new TransactionLayer(transport, {
    onRequest: (req, st) => router?.onRequest(req, st),
    onAck: (ack) => router?.onAck(ack),
    onStrayResponse: (res) => router?.onStrayResponse(res),
  }, { clock, timerValues: opts.timerValues, onError: (err) => log.debug({ err }, 'transaction layer') });

  let presence: PresenceAgent | null = null;
  const registrar = new Registrar({
    store, clock, log: log.child({ mod: 'registrar' }),
    policy: profile.registrar,
    createUsers: profile.auth.mode === 'none' ? { realm: profile.auth.realm } : undefined,
    node: profile.node.id,
    // RFC 8599: push registrations are kept whether or not push is on now (a store double may lack them)
    push: typeof store.savePushRegistration === 'function' ? { store, standbySeconds: profile.push.standbySeconds } : undefined,
    onChange: (change: BindingChange) => {
      if (change.netstateChanged) {
        log.info({ userId: change.userId, online: change.presence.netstate === 1, ip: change.presence.ip }, 'user_property netstate changed');
        presence?.netstateChanged(change);
      }
    },
  });
  transport.onConnectionClosed((id: number) => void registrar.connectionClosed(id));

  // Outbound registrations to the carriers (RFC 3261 §10.2) through the transaction layer; names resolved by node:dns.
  const trunks = new Trunks({
    trunks: profile.trunks, clock, log: log.child({ mod: 'trunks' }),
    send: (req, target) => sendRequest(transactions, req, target),
    sentBy: (target) => transport.sentBy(target), resolve: opts.resolve,
  });
  transport.onConnectionClosed((_id, remote) => trunks.connectionClosed(remote));

  const auth = new Authenticator({
    store, clock, realm: profile.auth.realm, mode: profile.auth.mode, nonceTtlMs: profile.auth.nonceTtlSeconds * 1000,
    secret: randomBytes(32), algorithms: profile.auth.algorithms, algorithmsByUserAgent: profile.auth.algorithmsByUserAgent, log: log.child({ mod: 'auth' }),
  });

  // Our Contact (NOTIFY, presence 200) and Record-Route: the address and listener the peer reaches us at.
  const ourContact = (s: Pick<Flow, 'transport' | 'address'>) => {
    const sb = transport.sentBy({ transport: s.transport, address: s.address, port: 0 });
    return `sip:tvphone@${sb.host}:${sb.port};transport=${sb.transport}`;
  };
  // A stored audio/wav message (a voice message) is delivered by content indirection (media-server/content-indirection.ts).
  // the address a peer reached over `flow` reaches us at (a listener on 0.0.0.0 is never named)
  const ourHost = (flow: Pick<Flow, 'transport' | 'address' | 'port'>) => transport.sentBy({ transport: flow.transport, address: flow.address, port: flow.port }).host;
  const httpHostFor = (binding: Binding) => {
    const h = recordings!.address.host;
    return h === '0.0.0.0' || h === '::' ? ourHost(binding.flow) : h;
  };
  let limits = messageLimits(profile);

  // several nodes on one database (issue 18): this node's heartbeat, and the way to the TVs connected to the others
  const nodes = new Nodes({
    store, clock, log: log.child({ mod: 'nodes' }), id: profile.node.id, sipUri: profile.node.sipUri,
    heartbeatSeconds: profile.node.heartbeatSeconds, leaseSeconds: profile.node.leaseSeconds,
    key: await keptSecret(store, 'node-flow', clock, log), hasConnection: (id) => transport.hasConnection?.(id) ?? false,
  });
  // A request of ours (a kept message, a NOTIFY) over a flow of `node`: over the flow itself when it is this node's, else
  // through the node holding it; null (not sent) when that node is dead
  const sendOver = async (req: SipRequest, node: string | null | undefined, flow: Flow, here: () => Destination): Promise<SipResponse | null> => {
    await nodes.refreshFor([node]);
    const via = nodes.routeOf(node, flow, req.uri);
    if (via === null) return null;
    if (via === 'here') return sendRequest(transactions, req, here());
    req.prependHeader('Route', via);
    return sendRequest(transactions, req, destinationOf({ contact: req.uri, path: [via], flow }));
  };
  // a voice mailbox's summary changed (RFC 3842): its subscribers are notified, and with voicemail.unsolicitedMwi every
  // registered binding of its owner too (Asterisk's unsolicited MWI, for phones that never SUBSCRIBE)
  const mwi = vmConfig.enabled && vmConfig.unsolicitedMwi ? new UnsolicitedMwi({
    body: (userId) => mailboxSummary(store, userId, primaryDomain), bindingsOf: (userId) => registrar.bindings(userId),
    send: (req, binding) => sendOver(req, binding.node, binding.flow, () => destinationOf(binding)), domain: primaryDomain,
    log: log.child({ mod: 'mwi' }),
  }) : null;
  const mailboxChanged = (userId: string): void => {
    void presence?.changed(MESSAGE_SUMMARY_EVENT, userId);
    if (mwi !== null) void mwi.changed(userId);
  };
  // one node at a time delivers to a user and runs the housekeeping (issue 18); a store double may have no leases
  const nodeId = profile.node.id;
  const leases = typeof store.claimLease === 'function' ? {
    claim: (name: string, ttlMs: number) => store.claimLease(`silo:${name}`, nodeId, clock.now(), ttlMs),
    release: (name: string) => store.releaseLease(`silo:${name}`, nodeId),
  } : undefined;
  const silo = new Silo({
    store, clock, log: log.child({ mod: 'offline' }), domain: primaryDomain, leases,
    send: (req, binding) => sendOver(req, binding.node, binding.flow, () => destinationOf(binding)),
    buildDelivery: (msg, binding, attempt) => {
      const req = buildDeliveryRequest(msg, binding, attempt, primaryDomain);
      if (recordings === null || !isRecordingType(msg.contentType)) return req;
      const host = httpHostFor(binding);
      const baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${recordings.address.port}`;
      return indirect(req, { id: msg.id, bytes: msg.body.byteLength, contentType: msg.contentType, baseUrl, secret: vmSecret, now: clock.now(), host: primaryDomain });
    },
    isOnline: async (userId) => (await registrar.bindings(userId)).length > 0,
    maxMessageBytes: profile.messages.maxBytes, quotaCount: profile.messages.quotaCount, quotaBytes: profile.messages.quotaBytes,
    expiryMs: profile.messages.expirySeconds * 1000, retentionMs: profile.messages.retentionSeconds * 1000,
    // RFC 3842: a voice message heard (delivered) or expired changes its mailbox's summary
    onSettled: (msg) => {
      if (isRecordingType(msg.contentType)) mailboxChanged(msg.toUser);
    },
  });

  presence = new PresenceAgent({
    store, clock, log: log.child({ mod: 'presence' }), domain: primaryDomain, contact: ourContact,
    maxExpires: profile.presence.maxExpires,
    mayWatch: profile.presence.policy === 'any' ? () => true : undefined,
    node: profile.node.id,
    // a watcher connected to another node is reached through it (issue 18)
    sendInDialog: (req, sub: Subscription) => sendOver(req, sub.node, sub.flow, () => dialogTarget(sub)),
    // the same notifier serves MWI (RFC 3842) for the users' voice mailboxes
    packages: [messageSummaryPackage({ store, domain: primaryDomain })],
  });

  const calls = new Calls({ store, clock, log: log.child({ mod: 'calls' }) });
  const media = vm === null ? null : new vm.MediaServer({
    config: vmConfig, clock, log: log.child({ mod: 'media-server' }), store,
    limits: () => limits,
    mediaAddress: (source) => (source.local.host === '0.0.0.0' || source.local.host === '::' ? ourHost(source) : source.local.host),
    contact: (source) => ourContact(source),
    transport, timerValues: transactions.values,
    sendInDialog: (req, dialog) => sendRequest(transactions, req, dialogTarget(dialog)),
    // a user's own greeting (schema 8; a store double may lack it)
    ...(typeof store.greeting === 'function' ? { greetingOf: (callee: string) => vm.storedGreeting(store, callee) } : {}),
  });
  // the voicemail access number (VoiceMailMain): a user hears its own voice messages; each heard or deleted one changes
  // its message summary, told to its MWI subscribers as a TV's acknowledgement is (RFC 3842)
  const mailbox = vm === null || vmConfig.accessNumber === null ? null : new vm.MailboxServer({
    config: vmConfig, clock, log: log.child({ mod: 'mailbox' }), store,
    onChanged: (userId) => mailboxChanged(userId),
    mediaAddress: (source) => (source.local.host === '0.0.0.0' || source.local.host === '::' ? ourHost(source) : source.local.host),
    contact: (source) => ourContact(source),
    transport, timerValues: transactions.values,
    sendInDialog: (req, dialog) => sendRequest(transactions, req, dialogTarget(dialog)),
  });
  const proxy = new Proxy({
    transactions, clock, log: log.child({ mod: 'proxy' }), replies,
    isLocal: (uri) => domains.isLocalUri(uri),
    recordRouteUri: (peer) => ourContact(peer).replace('sip:tvphone@', 'sip:') + ';lr',
    // in-dialog requests are relayed only when our Record-Route was signed for their dialog; the key is kept in the
    // database, so calls outlive a restart and every node of a cluster knows the others' routes
    routeSigner: new RouteSigner(await keptSecret(store, 'record-route', clock, log)),
    callRecorder: calls,
  });

  // recordings a killed run (or node) left in progress become voice messages (or stay missed calls): issue 13
  media?.startRecovery((r) => {
    mailboxChanged(r.toUser);
    void registrar.bindings(r.toUser).then((b) => {
      if (b.length > 0) return silo.dump(r.toUser, b[0]);
    }).catch((err: unknown) => log.warn({ err, user: r.toUser }, 'recovered voice message not delivered now (at the next REGISTER)'));
  });
  // the TCP/TLS/WS flows of an earlier run are gone: their users are offline until they register again (done before
  // the router exists, so no REGISTER of this run can be taken for one of them)
  await registrar.dropConnectionBindings({ closing: false });
  // RFC 8599 wake and hold (push.url): the gateway client and the table of held calls (tsilo)
  const pushConfig = profile.push;
  const gateway = pushConfig.url === null ? null : new PushGateway({
    url: pushConfig.url, timeoutMs: pushConfig.timeoutMs, retries: pushConfig.retries, maxInFlight: Math.max(1, pushConfig.maxHeld),
    log: log.child({ mod: 'push' }),
  });
  const wake: WakeAndHold | null = gateway === null ? null : {
    gateway,
    held: new HeldCalls<HeldCall>({ clock, max: pushConfig.maxHeld }),
    holdMs: pushConfig.holdSeconds * 1000,
  };
  if (typeof store.heartbeat === 'function') await nodes.start(); // a store double may have no nodes table
  const routingLog = log.child({ mod: 'routing' });
  // bans shared through the database (routing/ban-sync.ts): this node's written, the others' read
  let banSync: BanSync | null = null;
  const guard = new Guard({ config: profile.security, clock, log: routingLog, onBan: (kind, key, until) => banSync?.record(kind, key, until) });
  if (typeof store.bansChanged === 'function') { // a store double may have no bans table
    banSync = new BanSync({ store, guard, clock, log: log.child({ mod: 'bans' }), node: profile.node.id, pollSeconds: profile.node.heartbeatSeconds });
    await banSync.start();
  }
  router = new Router({
    auth, registrar, proxy, silo, presence, calls, voicemail: media,
    mailbox: mailbox === null ? null : { server: mailbox, accessNumber: vmConfig.accessNumber! }, domains, domain: primaryDomain, log: routingLog, replies,
    trunks, routes: profile.routes, ringing: ringingOf(profile), push: wake, guard, nodes, mailboxChanged,
    ...(mwi !== null ? { registered: (userId: string, binding: Binding) => void mwi.registered(userId, binding) } : {}),
  });
  registrar.start();
  trunks.start();
  log.info({ listeners: bound.map((l) => `${l.transport}:${l.host}:${l.port}`), db: redactUrl(url), auth: profile.auth.mode }, 'tvphone serving');
  const fdWarning = fdLimitWarning(profile.transport.maxConnections, openFileLimit());
  if (fdWarning !== null) log.warn({ maxConnections: profile.transport.maxConnections, openFileLimit: openFileLimit() }, fdWarning);
  for (const { listener: l, bytes } of transport.udpReceiveBuffers?.() ?? []) {
    const warning = udpBufferWarning(`udp:${l.host}:${l.port}`, profile.transport.udpReceiveBufferBytes, bytes);
    if (warning !== null) log.warn({ asked: profile.transport.udpReceiveBufferBytes, reported: bytes }, warning);
  }

  let admin: AdminHttp | null = null;
  let closing: Promise<void> | null = null;
  let current = profile;
  const server: TvphoneServer<ServerTransport> = {
    listeners: bound, store, transport, transactions, registrar, trunks,
    get admin() {
      return admin;
    },
    voicemail: media !== null && recordings !== null ? { media, http: recordings } : null,
    reload(next) {
      const changed = profileChanges(current, next);
      const applied = changed.filter((c) => RELOADABLE.some((p) => c === p || c.startsWith(`${p}.`)));
      const needsRestart = changed.filter((c) => !applied.includes(c));
      let trunkChanges = { added: [] as string[], removed: [] as string[], changed: [] as string[] };
      if (applied.length > 0) {
        registrar.reconfigure(next.registrar);
        domains.reconfigure(next.domains);
        auth.reconfigure({ algorithms: next.auth.algorithms, algorithmsByUserAgent: next.auth.algorithmsByUserAgent, nonceTtlMs: next.auth.nonceTtlSeconds * 1000 });
        silo.reconfigure({
          quotaCount: next.messages.quotaCount, quotaBytes: next.messages.quotaBytes,
          expiryMs: next.messages.expirySeconds * 1000, retentionMs: next.messages.retentionSeconds * 1000,
        });
        limits = messageLimits(next);
        presence?.reconfigure({ maxExpires: next.presence.maxExpires, mayWatch: next.presence.policy === 'any' ? () => true : undefined });
        replies.retryAfterSeconds = next.retryAfterSeconds;
        trunkChanges = trunks.reconfigure(next.trunks);
        router?.reconfigure({ routes: next.routes, ringing: ringingOf(next) });
        guard.reconfigure(next.security);
      }
      current = next;
      return { applied, needsRestart, trunks: trunkChanges };
    },
    close() {
      // reverse order of creation, each awaited
      closing ??= (async () => {
        await admin?.close();
        nodes.stop();
        await banSync?.close();
        // de-REGISTER at the carriers (bounded) while the transaction layer and transport still run
        await trunks.close();
        // calls held for a TV in standby get 480; pushes in flight are aborted
        router?.close();
        await gateway?.close();
        await proxy.close();
        // the calls it answered end (BYE) and their recordings are committed while the store is open
        await media?.close();
        await mailbox?.close();
        await recordings?.close();
        await presence?.close();
        await silo.close();
        await registrar.dropConnectionBindings({ closing: true });
        await registrar.close();
        await transactions.close();
        await transport.close();
        if (!opts.store) await store.close();
        log.info('tvphone stopped');
      })();
      return closing;
    },
  };
  if (profile.admin) {
    // prom-client (and its default metrics) only for a server that serves /metrics
    const { startAdminHttp } = await import('./admin-http.ts');
    try {
      admin = await startAdminHttp({
        host: profile.admin.host, port: profile.admin.port, token: profile.admin.token, log: log.child({ mod: 'admin-http' }),
        sources: {
          transport, transactions, proxy, silo, store, storeUp: () => !storeDown, trunks, security: guard,
          ...(profile.node.sipUri !== null ? { node: profile.node.id } : {}),
          ...(opts.loadProfile ? { reload: () => server.reload((opts.loadProfile as () => Profile)()) } : {}),
        },
      });
    } catch (err) {
      await server.close();
      throw new TvphoneError('ERR_LISTEN', `cannot listen for admin HTTP on ${profile.admin.listen}: ${(err as Error).message}`, { cause: err });
    }
  }
  return server;
}

/** A key from the store (schema 5), made on first use; a store that cannot keep one (a test double) gets a fresh key. */
async function keptSecret(store: Store, name: string, clock: Clock, log: Logger): Promise<Uint8Array> {
  const fresh = randomBytes(32);
  if (typeof store.serverSecret !== 'function') return fresh;
  try {
    return await store.serverSecret(name, fresh, clock.now());
  } catch (err) {
    log.warn({ err, name }, 'server key not kept in the database: a restart will not know this one');
    return fresh;
  }
}
