// CPU cost of one proxied call through the proxy, transaction layer, parser and serializer, no sockets:
// INVITE → (100) → 180 → 200 → ACK → BYE → 200, over TCP (no retransmission timers), one binding, Record-Route,
// call record hooks. Only the proxy side is timed (parse of what arrives, processing, serialization of what is
// sent); the peers' work (building and serializing their messages) is outside the timed sections.
// Run: node bench/proxy.ts [calls]
import { bindingTarget } from '../src/registrar/lookup.ts';
import { parseMessage } from '../src/sip/parser.ts';
import { createResponse } from '../src/sip/response.ts';
import { serializeMessage } from '../src/sip/serializer.ts';
import type { SipMessage, SipRequest } from '../src/sip/message.ts';
import type { MessageListener, Source, Target, Transport } from '../src/transport/transport.ts';
import { stampTopVia } from '../src/transport/via-stamp.ts';
import { TransactionLayer } from '../src/transaction/transaction-layer.ts';
import { Proxy } from '../src/proxy/proxy.ts';
import type { Binding } from '../src/store/store.ts';

class NullTransport implements Transport {
  last: SipMessage | null = null;
  listeners: MessageListener[] = [];
  send(msg: SipMessage, _t: Target): Uint8Array {
    this.last = msg;
    return serializeMessage(msg);
  }
  sentBy(t: Target) {
    return { transport: t.transport, host: '127.0.0.1', port: 5060 };
  }
  onMessage(l: MessageListener): void {
    this.listeners.push(l);
  }
  onConnectionClosed(): void {}
}

const N = Number(process.argv[2] ?? 20000);
const t = new NullTransport();
let proxy: Proxy;
const layer = new TransactionLayer(t, {
  onRequest(req, st) {
    if (proxy.validate(req) !== null) throw new Error('invalid');
    proxy.preprocessRoute(req);
    if (req.header('to')?.includes('tag=')) proxy.relayInDialog(req, st);
    else proxy.relay(req, st, [bindingTarget(binding)], { call: { userId: 'alice', otherUserId: 'bob' } });
  },
  onAck(ack) {
    proxy.validate(ack);
    proxy.preprocessRoute(ack);
    proxy.relayInDialog(ack, null);
  },
});
let recorded = 0;
proxy = new Proxy({
  transactions: layer,
  replies: { retryAfterSeconds: 5 },
  isLocal: (uri) => uri.startsWith('sip:127.0.0.1'),
  callRecorder: { started: async () => ++recorded, update: async () => {} },
});
const binding: Binding = {
  userId: 'bob', contact: 'sip:bob@10.0.0.5:5070;transport=tcp', expiresAt: 0, q: null, callId: 'r', cseq: 1, path: [],
  instance: null, regId: null, flow: { transport: 'tcp', address: '192.0.2.10', port: 40000, connectionId: 2 }, userAgent: null, updatedAt: 0,
};
const local = { id: 0, transport: 'tcp' as const, host: '127.0.0.1', port: 5060 };
const caller: Source = { transport: 'tcp', address: '192.0.2.1', port: 50000, connectionId: 1, local };
const callee: Source = { transport: 'tcp', address: '192.0.2.10', port: 40000, connectionId: 2, local };

function invite(i: number): Buffer {
  return Buffer.from(
    `INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.1:50000;branch=z9hG4bKi${i};rport\r\nMax-Forwards: 70\r\n` +
    `From: <sip:alice@example.com>;tag=a${i}\r\nTo: <sip:bob@example.com>\r\nCall-ID: c${i}@192.0.2.1\r\nCSeq: 1 INVITE\r\n` +
    `Contact: <sip:alice@192.0.2.1:50000;transport=tcp>\r\nContent-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n`);
}
function inDialog(method: string, i: number, cseq: number): Buffer {
  return Buffer.from(
    `${method} sip:bob@10.0.0.5:5070;transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.1:50000;branch=z9hG4bK${method}${i};rport\r\n` +
    `Route: <sip:127.0.0.1:5060;transport=tcp;lr>\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a${i}\r\n` +
    `To: <sip:bob@example.com>;tag=b${i}\r\nCall-ID: c${i}@192.0.2.1\r\nCSeq: ${cseq} ${method}\r\nContent-Length: 0\r\n\r\n`);
}

let timed = 0n;
function enter(bytes: Buffer, from: Source): void {
  const s = process.hrtime.bigint();
  const m = parseMessage(bytes);
  if (m.isRequest()) stampTopVia(m as SipRequest, from.address, from.port);
  for (const l of t.listeners) l(m, from);
  timed += process.hrtime.bigint() - s;
}
function reply(to: SipMessage | null, status: number, tag: string): Buffer {
  return serializeMessage(createResponse(to as SipRequest, status, undefined, tag));
}

function call(i: number): void {
  enter(invite(i), caller);
  const fwd = t.last as SipRequest;
  enter(reply(fwd, 180, `b${i}`), callee);
  enter(reply(fwd, 200, `b${i}`), callee);
  enter(inDialog('ACK', i, 1), caller);
  enter(inDialog('BYE', i, 2), caller);
  const bye = t.last as SipRequest;
  enter(reply(bye, 200, `b${i}`), callee);
}

for (let i = 0; i < 2000; i++) call(-i - 1); // warm-up
timed = 0n;
const wall = process.hrtime.bigint();
for (let i = 0; i < N; i++) call(i);
const wallMs = Number(process.hrtime.bigint() - wall) / 1e6;
const ms = Number(timed) / 1e6;
await new Promise((r) => setImmediate(r));
layer.close();
console.log(JSON.stringify({
  bench: 'proxy-call', calls: N, proxySideMs: Math.round(ms), callsPerSecProxySide: Math.round(N / (ms / 1000)),
  usPerCall: Math.round((ms * 1000) / N), wallMsInclPeers: Math.round(wallMs), relaysLeft: proxy.activeRelays, dialogsLeft: proxy.trackedDialogs,
}));
