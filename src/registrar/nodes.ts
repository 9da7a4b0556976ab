// Several nodes on one database (issue 18): each node writes a heartbeat row; a binding whose flow is a connection on
// another node is reached through that node, with a signed flow token in the Route (RFC 5626 §5.2: the edge proxy
// names the flow in a URI it alone can verify; here any node of the cluster signs with the database's shared key).
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { Clock, TimerHandle } from '../clock.ts';
import type { Logger } from '../log/logger.ts';
import type { Binding, NodeRecord, Store } from '../store/store.ts';
import type { Target as Destination } from '../transport/transport.ts';
import type { Flow, TransportName } from '../flow.ts';
import { parseSipUri } from '../sip/uri.ts';
import type { NextHop } from '../transaction/locate.ts';
import { bindingTarget, reachedOverFlow } from './lookup.ts';

/** the Route URI parameter that carries the flow token */
export const FLOW_PARAM = 'tvf';
const TRANSPORTS: ReadonlySet<string> = new Set(['udp', 'tcp', 'tls', 'ws', 'wss']);

export interface NodesOptions {
  store: Pick<Store, 'heartbeat' | 'listNodes'>;
  clock: Clock;
  log?: Logger;
  /** this node */
  id: string;
  sipUri: string | null;
  heartbeatSeconds: number;
  leaseSeconds: number;
  /** the key the nodes share (a server secret kept in the database) */
  key: Uint8Array;
  /** whether a connection of this node is still open */
  hasConnection(connectionId: number): boolean;
}

export class Nodes {
  readonly id: string;
  readonly #o: NodesOptions;
  #known = new Map<string, NodeRecord>();
  #timer: TimerHandle | null = null;
  #beating = false;
  #lastRefresh = -Infinity;
  readonly #warned = new Set<string>();
  /** o.key as a KeyObject, as in nonce.ts: a raw key costs createHmac four times as much */
  readonly #key: KeyObject;

  constructor(o: NodesOptions) {
    if (o.key.byteLength < 16) throw new RangeError('a flow token key needs 16 bytes or more');
    this.id = o.id;
    this.#o = o;
    this.#key = createSecretKey(o.key);
  }

  /** The first heartbeat (a start) and the node list; then one every heartbeatSeconds. */
  async start(): Promise<void> {
    await this.#beat(true);
    this.#timer = this.#o.clock.set(tick, this.#o.heartbeatSeconds * 1000, this);
  }

  stop(): void {
    if (this.#timer !== null) this.#o.clock.clear(this.#timer);
    this.#timer = null;
  }

  /** @internal the timer's callback */
  tick(): void {
    this.#timer = this.#o.clock.set(tick, this.#o.heartbeatSeconds * 1000, this);
    void this.#beat(false);
  }

  async #beat(starting: boolean): Promise<void> {
    if (this.#beating) return;
    this.#beating = true;
    const { store, clock, log } = this.#o;
    try {
      await store.heartbeat(this.id, this.#o.sipUri, clock.now(), starting);
      this.#known = new Map((await store.listNodes(clock.now())).map((n) => [n.node, n]));
    } catch (err) {
      if (starting) throw err;
      log?.warn({ err }, 'node heartbeat not written; tried again on the next beat');
    } finally {
      this.#beating = false;
    }
  }

  /**
   * Reads the node list again when one of `nodes` is not in it or looks dead (a node started after the last beat);
   * at most once per second, so that unknown names sent by no node cost nothing. Never rejects.
   */
  async refreshFor(nodes: ReadonlyArray<string | null | undefined>): Promise<void> {
    const now = this.#o.clock.now();
    const stale = nodes.some((n) => {
      if (n === undefined || n === null || n === this.id) return false;
      const r = this.#known.get(n);
      return r === undefined || r.heartbeatAt <= now - this.#o.leaseSeconds * 1000;
    });
    if (!stale || now - this.#lastRefresh < 1000) return;
    this.#lastRefresh = now;
    try {
      this.#known = new Map((await this.#o.store.listNodes(now)).map((n) => [n.node, n]));
    } catch (err) {
      this.#o.log?.warn({ err }, 'node list not read');
    }
  }

  /** the nodes as last read (at most heartbeatSeconds old) */
  get known(): NodeRecord[] {
    return [...this.#known.values()];
  }

  /**
   * Where a binding is reached from here: bindingTarget's next hop when it is not reached over its flow or the flow is
   * this node's; through the node holding the flow otherwise; null when that node is dead (its lease ran out) or
   * cannot be reached.
   */
  targetOf(b: Binding): NextHop | null {
    const via = this.routeOf(b.node, b.flow, b.contact, b.path);
    if (via === 'here') return bindingTarget(b);
    return via === null ? null : { uri: b.contact, path: [via] };
  }

  /**
   * How a request to `uri` over a flow of node `node` (a binding's, a subscription's) leaves this node: 'here' when
   * it does not go over the flow (lookup.ts reachedOverFlow: a connection, or a UDP NAT binding) or the flow is this
   * node's; the Route to the node holding the flow, with its flow token; null when that node is dead (its lease ran
   * out) or cannot be reached (no node.sipUri).
   */
  routeOf(node: string | null | undefined, flow: Flow, uri: string, path: readonly string[] = []): string | 'here' | null {
    if (node === undefined || node === null || node === this.id || !reachedOverFlow({ contact: uri, path: [...path], flow })) return 'here';
    const owner = this.#known.get(node);
    const alive = owner !== undefined && owner.heartbeatAt > this.#o.clock.now() - this.#o.leaseSeconds * 1000;
    if (!alive || owner.sipUri === null) {
      if (!this.#warned.has(node)) {
        this.#warned.add(node);
        this.#o.log?.warn({ node, alive }, alive ? 'flows on a node with no node.sipUri: not reachable from here' : 'flows on a dead node are not used');
      }
      return null;
    }
    // a UDP flow has no connection ('-'): the owner sends from the address the TV's NAT let the REGISTER out to
    const token = Buffer.from(`${flow.transport} ${flow.address} ${flow.port} ${flow.connectionId ?? '-'}`).toString('base64url');
    return `<${owner.sipUri};lr;${FLOW_PARAM}=${token}.${this.#sign(token, uri)}>`;
  }

  /**
   * The connection a Route URI of ours names for a request sent to `requestUri` by another node (RFC 5626 §5.3 edge
   * proxy: the flow token), when its signature holds: 'gone' when that connection has closed; null when no URI holds
   * one (then it is no request of a node).
   */
  flowOf(routeUris: readonly string[] | undefined, requestUri: string): Destination | 'gone' | null {
    for (const uri of routeUris ?? []) {
      let value: string | null | undefined;
      try {
        value = parseSipUri(uri).params.get(FLOW_PARAM);
      } catch {
        continue;
      }
      if (typeof value !== 'string') continue;
      const dot = value.indexOf('.');
      if (dot < 0) continue;
      const flow = value.slice(0, dot);
      const got = Buffer.from(value.slice(dot + 1));
      const want = Buffer.from(this.#sign(flow, requestUri));
      if (got.length !== want.length || !timingSafeEqual(got, want)) continue;
      const [transport, address, port, id] = Buffer.from(flow, 'base64url').toString('utf8').split(' ');
      if (!TRANSPORTS.has(transport) || !/^\d+$/.test(port ?? '') || !/^(\d+|-)$/.test(id ?? '')) continue;
      if (id === '-') {
        if (transport !== 'udp') continue;
        return { transport: 'udp', address, port: Number(port), connectionId: null };
      }
      if (!this.#o.hasConnection(Number(id))) return 'gone';
      return { transport: transport as TransportName, address, port: Number(port), connectionId: Number(id) };
    }
    return null;
  }

  #sign(flow: string, contact: string): string {
    return createHmac('sha256', this.#key).update('flow\n').update(flow).update('\n').update(contact).digest('base64url').slice(0, 22);
  }
}

function tick(n: Nodes): void {
  n.tick();
}
