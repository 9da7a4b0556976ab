// Shared fixtures for the transaction unit tests: a layer on a FakeTransport with FakeTimers and a recording TU.

import type { SipRequest, SipResponse } from '../../../src/sip/message.ts';
import { parseMessage } from '../../../src/sip/parser.ts';
import { FakeTransport } from '../../../src/transport/fake-transport.ts';
import type { Source, Target, TransportName } from '../../../src/transport/transport.ts';
import type { ClientTransactionHandlers } from '../../../src/transaction/client-transaction.ts';
import type { ServerTransaction } from '../../../src/transaction/server-transaction.ts';
import { FakeClock as FakeTimers } from '../../../src/clock.ts';
import { TransactionLayer, type TransactionLayerOptions } from '../../../src/transaction/transaction-layer.ts';

export function request(method: string, opts: { branch?: string; transport?: string; cseq?: number; uri?: string; toTag?: string; via?: string } = {}): SipRequest {
  const t = (opts.transport ?? 'UDP').toUpperCase();
  const via = opts.via ?? `SIP/2.0/${t} client.example.com:5060;branch=${opts.branch ?? 'z9hG4bKabc1'};rport`;
  const text =
    `${method} ${opts.uri ?? 'sip:bob@example.com'} SIP/2.0\r\n` +
    `Via: ${via}\r\n` +
    `Max-Forwards: 70\r\n` +
    `Route: <sip:proxy.example.com;lr>\r\n` +
    `From: <sip:alice@example.com>;tag=ft1\r\n` +
    `To: <sip:bob@example.com>${opts.toTag ? ';tag=' + opts.toTag : ''}\r\n` +
    `Call-ID: call-1@example.com\r\n` +
    `CSeq: ${opts.cseq ?? 1} ${method}\r\n` +
    `Content-Length: 0\r\n\r\n`;
  return parseMessage(Buffer.from(text)) as SipRequest;
}

export interface Recorded {
  requests: { req: SipRequest; st: ServerTransaction }[];
  acks: SipRequest[];
  stray: SipResponse[];
  errors: unknown[];
}

export function setup(options: TransactionLayerOptions & { transport?: TransportName } = {}) {
  const timers = new FakeTimers();
  const fake = new FakeTransport({ transport: options.transport ?? 'udp' });
  const rec: Recorded = { requests: [], acks: [], stray: [], errors: [] };
  const layer = new TransactionLayer(
    fake,
    {
      onRequest: (req, st) => rec.requests.push({ req, st }),
      onAck: (ack) => rec.acks.push(ack),
      onStrayResponse: (res) => rec.stray.push(res),
    },
    { timers, onError: (e) => rec.errors.push(e), ...options },
  );
  return { timers, fake, layer, rec };
}

export function target(transport: TransportName = 'udp'): Target {
  return { transport, address: '192.0.2.7', port: 5060 };
}

export function source(transport: TransportName = 'udp', port = 5060): Partial<Source> {
  return { transport, address: '192.0.2.1', port, connectionId: transport === 'udp' ? null : 7 };
}

/** Handlers that record what the client transaction reports. */
export function recordingHandlers() {
  const got = { provisional: [] as SipResponse[], final: [] as SipResponse[], timeouts: [] as SipResponse[], transportErrors: [] as Error[] };
  const handlers: ClientTransactionHandlers = {
    onProvisional: (r) => got.provisional.push(r),
    onFinal: (r) => got.final.push(r),
    onTimeout: (r) => got.timeouts.push(r),
    onTransportError: (e) => got.transportErrors.push(e),
  };
  return { got, handlers };
}

/** Record the fake-clock time of every send: returns the list it fills. */
export function sendTimes(fake: FakeTransport, timers: FakeTimers): number[] {
  const times: number[] = [];
  const send = fake.send.bind(fake);
  fake.send = (msg, t, onError) => {
    times.push(timers.now());
    return send(msg, t, onError);
  };
  return times;
}
