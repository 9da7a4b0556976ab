// Throughput of the SIP path below the TU: parse → Via stamp → transaction match/create → respond → serialize.
// No sockets: a null transport serializes what is sent. Run: node bench/transaction.ts
import { parseMessage } from '../src/sip/parser.ts';
import { createResponse } from '../src/sip/response.ts';
import { serializeMessage } from '../src/sip/serializer.ts';
import type { SipMessage } from '../src/sip/message.ts';
import type { MessageListener, Source, Target, Transport } from '../src/transport/transport.ts';
import { stampTopVia } from '../src/transport/via-stamp.ts';
import { TransactionLayer } from '../src/transaction/transaction-layer.ts';

class NullTransport implements Transport {
  bytes = 0;
  listeners: MessageListener[] = [];
  send(msg: SipMessage, _t: Target): Uint8Array {
    const bytes = serializeMessage(msg);
    this.bytes += bytes.length;
    return bytes;
  }
  sentBy(t: Target) {
    return { transport: t.transport, host: '127.0.0.1', port: 5060 };
  }
  onMessage(l: MessageListener): void {
    this.listeners.push(l);
  }
  onConnectionClosed(): void {}
}

function register(i: number): Buffer {
  return Buffer.from(
    `REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.${i % 250}:5060;rport;branch=z9hG4bK${i}x\r\n` +
    `Max-Forwards: 70\r\nFrom: <sip:u${i}@example.com>;tag=${i}\r\nTo: <sip:u${i}@example.com>\r\nCall-ID: c${i}@h\r\n` +
    `CSeq: 1 REGISTER\r\nContact: <sip:u${i}@10.0.0.1:5060>\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n`);
}

function run(label: string, n: number, transport: 'udp' | 'tcp'): void {
  const t = new NullTransport();
  const layer = new TransactionLayer(t, { onRequest: (req, st) => st.respond(createResponse(req, 200, undefined, 'x')) });
  const local = { id: 0, transport, host: '127.0.0.1', port: 5060 };
  const msgs = Array.from({ length: n }, (_, i) => register(i));
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const m = parseMessage(msgs[i]);
    const source: Source = { transport, address: '192.0.2.1', port: 40000 + (i % 1000), connectionId: transport === 'udp' ? null : 1, local };
    if (m.isRequest()) stampTopVia(m, source.address, source.port);
    layer.receive(m, source);
  }
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  console.log(`${label}: ${n} REGISTER→200 in ${ms.toFixed(0)} ms = ${Math.round(n / (ms / 1000))}/s (live server transactions ${layer.serverCount})`);
  layer.close();
}

run('warm-up', 20_000, 'udp');
run('UDP (Timer J pending)', 100_000, 'udp');
run('TCP (Timer J = 0)', 100_000, 'tcp');
