// A proxy on a TransactionLayer over a FakeTransport with FakeTimers, wired by a tiny routing script.
import assert from 'node:assert/strict';
import type { SipRequest, SipResponse } from '../../../src/sip/message.ts';
import { parseMessage } from '../../../src/sip/parser.ts';
import { createResponse, errorResponse } from '../../../src/sip/response.ts';
import { parseSipUri } from '../../../src/sip/uri.ts';
import type { Binding, CallUpdate, NewCall } from '../../../src/store/store.ts';
import type { Flow } from '../../../src/flow.ts';
import { FakeTransport } from '../../../src/transport/fake-transport.ts';
import type { Source } from '../../../src/transport/transport.ts';
import { FakeClock as FakeTimers } from '../../../src/clock.ts';
import { TransactionLayer } from '../../../src/transaction/transaction-layer.ts';
import type { ServerTransaction } from '../../../src/transaction/server-transaction.ts';
import { Proxy, type RelayOptions } from '../../../src/proxy/proxy.ts';
import type { ProxyTarget } from '../../../src/proxy/target-set.ts';
import { bindingTarget } from '../../../src/registrar/lookup.ts';

export const PROXY_HOST = '127.0.0.1';
export const CALLER = { address: '192.0.2.1', port: 5060 };

export function binding(contact: string, address: string, port = 5060, extra: Partial<Binding> = {}, flow: Partial<Flow> = {}): Binding {
  return {
    userId: 'bob', contact, expiresAt: Date.now() + 3600_000, q: null, callId: 'reg-1', cseq: 1, path: [],
    instance: null, regId: null, flow: { transport: 'udp', address, port, connectionId: null, ...flow }, userAgent: null,
    updatedAt: 0, ...extra,
  };
}

export interface RecordedCalls {
  started: NewCall[];
  updates: { id: number; update: CallUpdate }[];
}

export interface Harness {
  timers: FakeTimers;
  fake: FakeTransport;
  layer: TransactionLayer;
  proxy: Proxy;
  calls: RecordedCalls;
  errors: unknown[];
  /** what the routing script does with each new request; tests replace it */
  route: (req: SipRequest, st: ServerTransaction) => void;
  /** the targets and options `route` relays new requests to by default */
  targets: Array<Binding | ProxyTarget>;
  relayOptions: RelayOptions;
  /** every response that went back to the caller, in order */
  toCaller(): SipResponse[];
  /** requests the proxy sent to an address, in order */
  sentTo(address: string, method?: string): SipRequest[];
  /** deliver a response from a callee to a forwarded request */
  answer(fwd: SipRequest, status: number, from: string, toTag?: string, extra?: [string, string][]): SipResponse;
  /** let microtasks run (recorder promises, async errors) */
  settle(): Promise<void>;
}

/** our listener: 127.0.0.1:5060 */
export function isLocal(uri: string): boolean {
  try {
    const u = parseSipUri(uri);
    return u.host === PROXY_HOST && (u.port === null || u.port === 5060);
  } catch {
    return false;
  }
}

export function setup(): Harness {
  const timers = new FakeTimers(1_700_000_000_000);
  const fake = new FakeTransport({ host: PROXY_HOST, port: 5060 });
  const errors: unknown[] = [];
  const calls: RecordedCalls = { started: [], updates: [] };
  let nextId = 1;
  const h = {} as Harness;
  const layer = new TransactionLayer(fake, {
    onRequest: (req, st) => h.route(req, st),
    onAck: (ack) => {
      if (h.proxy.validate(ack) !== null) return;
      h.proxy.preprocessRoute(ack);
      h.proxy.relayInDialog(ack, null);
    },
    onStrayResponse: (res) => h.proxy.forwardStrayResponse(res),
  }, { timers, onError: (e) => errors.push(e) });
  const proxy = new Proxy({
    transactions: layer,
    replies: { retryAfterSeconds: 5 },
    isLocal,
    callRecorder: {
      started: async (call) => {
        calls.started.push(call);
        return nextId++;
      },
      update: async (id, update) => {
        calls.updates.push({ id, update });
      },
    },
  });
  Object.assign(h, {
    timers, fake, layer, proxy, calls, errors,
    targets: [binding('sip:bob@10.0.0.5:5070', '192.0.2.10'), binding('sip:bob@10.0.0.6:5070', '192.0.2.11')],
    relayOptions: {},
    route(req: SipRequest, st: ServerTransaction) {
      const proxy = h.proxy;
      const bad = proxy.validate(req);
      if (bad !== null) {
        st.respond(errorResponse(req, bad, { retryAfterSeconds: 5 }));
        return;
      }
      proxy.preprocessRoute(req);
      if (req.method === 'CANCEL') {
        proxy.cancel(req, st);
        return;
      }
      if (req.header('to')?.includes('tag=')) {
        proxy.relayInDialog(req, st);
        return;
      }
      proxy.relay(req, st, h.targets.map((t) => ('flow' in t ? bindingTarget(t) : t)), h.relayOptions);
    },
    toCaller() {
      return fake.sent.filter((s) => s.target.address === CALLER.address && !s.msg.isRequest()).map((s) => s.msg as SipResponse);
    },
    sentTo(address: string, method?: string) {
      return fake.sent
        .filter((s) => s.target.address === address && s.msg.isRequest() && (method === undefined || (s.msg as SipRequest).method === method))
        .map((s) => s.msg as SipRequest);
    },
    answer(fwd: SipRequest, status: number, from: string, toTag?: string, extra: [string, string][] = []) {
      const res = createResponse(fwd, status, undefined, status === 100 ? undefined : toTag);
      for (const [n, v] of extra) res.addHeader(n, v);
      fake.deliver(res, { address: from, port: 5060 });
      return res;
    },
    async settle() {
      for (let i = 0; i < 20; i++) await Promise.resolve();
    },
  });
  return h;
}

export function invite(opts: { uri?: string; maxForwards?: number | null; extra?: string[]; branch?: string; callId?: string } = {}): string {
  return [
    `INVITE ${opts.uri ?? 'sip:bob@example.com'} SIP/2.0`,
    `Via: SIP/2.0/UDP ${CALLER.address}:5060;branch=${opts.branch ?? 'z9hG4bKcaller1'};rport`,
    ...(opts.maxForwards === null ? [] : [`Max-Forwards: ${opts.maxForwards ?? 70}`]),
    'From: "Alice" <sip:alice@example.com>;tag=alicetag',
    'To: <sip:bob@example.com>',
    `Call-ID: ${opts.callId ?? 'call-1@192.0.2.1'}`,
    'CSeq: 1 INVITE',
    'Contact: <sip:alice@192.0.2.1:5060>',
    ...(opts.extra ?? []),
    'Content-Length: 0',
    '', '',
  ].join('\r\n');
}

export function parse(text: string): SipRequest {
  return parseMessage(Buffer.from(text)) as SipRequest;
}

/** deliver a request from the caller */
export function fromCaller(h: Harness, text: string, src: Partial<Source> = {}): void {
  h.fake.deliver(text, { address: CALLER.address, port: CALLER.port, ...src });
}

export function statuses(list: SipResponse[]): number[] {
  return list.map((r) => r.status);
}

export function only(list: SipRequest[]): SipRequest {
  assert.equal(list.length, 1, `expected one request, got ${list.length}`);
  return list[0]!;
}
