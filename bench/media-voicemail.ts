// The voicemail part of npm run bench:media: N concurrent voicemail calls recorded by one MediaServer (the server's
// own answer path, SDP, jitter buffer, Recording, 2 s checkpoints into a real SQLite store, the commit at the end).
//
// Setup, in this process: a MediaServer over a SQLite store in a temp dir, with a one-frame greeting so recording
// starts at once; N callers, each a raw node:dgram socket sending pre-built PCMU packets (a 440 Hz tone, 20 ms, on
// its absolute schedule: frame n due at t0 + 20·n ms) to the port of the server's SDP answer. The calls are
// answered through MediaServer.answer with an INVITE built as a UA would send it and ACKed; after the measured window
// the server is closed, which ends the calls (BYE) and commits every recording.
//
// Reference, in the same run: the same N raw senders to N raw receiving sockets that only read the RTP header: bare
// RTP receive. Ratio = CPU per recorded call-second ÷ CPU per received stream-second of the reference (the senders'
// cost is in both). A step passes when no packet of the recorded calls is lost or late (the server's own RTP
// statistics: RFC 3550 A.3 loss, arrival after the playout slot) and every call is committed as a voice message.
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock } from '../src/clock.ts';
import { silentLogger } from '../src/log/logger.ts';
import { encodeG711 } from '../src/media/g711.ts';
import { createOffer } from '../src/media/sdp.ts';
import { generateTone } from '../src/media/tone.ts';
import { MediaServer, type VoicemailOutcome } from '../src/media-server/media-server.ts';
import { parseMessage } from '../src/sip/parser.ts';
import type { SipRequest, SipResponse } from '../src/sip/message.ts';
import { openStore } from '../src/store/open.ts';
import type { ServerTransaction } from '../src/transaction/server-transaction.ts';

export interface VoicemailStepResult {
  calls: number;
  recordedSeconds: number;
  committed: number;
  lost: number;
  late: number;
  cpuPctTotal: number;
  /** CPU % of one core per recorded call (= CPU seconds per recorded call-second × 100) */
  cpuPctPerCall: number;
}

const PAYLOAD = encodeG711('PCMU', generateTone({ frequency: 440, samples: 160 * 50 }));

/** A paced sender of PCMU packets from `sock` to 127.0.0.1:`port` (RFC 3550 header, seq and timestamp advancing). */
function paced(socks: dgram.Socket[], ports: () => number[]): { stop: () => void } {
  const timers: NodeJS.Timeout[] = [];
  let stopped = false;
  socks.forEach((sock, i) => {
    const start = performance.now() + Math.random() * 20;
    const ssrc = 0x1000 + i;
    let n = 0;
    const tick = (): void => {
      if (stopped) return;
      const now = performance.now();
      while (start + n * 20 <= now) {
        const b = Buffer.alloc(172);
        b[0] = 0x80;
        b[1] = 0; // PT 0 (PCMU)
        b.writeUInt16BE(n & 0xffff, 2);
        b.writeUInt32BE((n * 160) >>> 0, 4);
        b.writeUInt32BE(ssrc, 8);
        b.set(PAYLOAD.subarray((n % 50) * 160, (n % 50) * 160 + 160), 12);
        sock.send(b, ports()[i], '127.0.0.1');
        n++;
      }
      timers[i] = setTimeout(tick, Math.max(0, start + n * 20 - performance.now()));
    };
    timers[i] = setTimeout(tick, Math.max(0, start - performance.now()));
  });
  return { stop: () => { stopped = true; timers.forEach((t) => clearTimeout(t)); } };
}

async function boundSockets(n: number): Promise<dgram.Socket[]> {
  const out: dgram.Socket[] = [];
  for (let i = 0; i < n; i++) {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    out.push(s);
  }
  return out;
}

const closeAll = (socks: dgram.Socket[]) => Promise.all(socks.map((s) => new Promise<void>((r) => s.close(() => r()))));

function invite(i: number, rtpPort: number): SipRequest {
  const sdp = createOffer({ ip: '127.0.0.1', port: rtpPort });
  const text = [
    'INVITE sip:2000@127.0.0.1 SIP/2.0', `Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-bench-${i}`, 'Max-Forwards: 70',
    `From: <sip:caller${i}@127.0.0.1>;tag=f${i}`, 'To: <sip:2000@127.0.0.1>', `Call-ID: bench-vm-${i}-${Date.now()}@127.0.0.1`, 'CSeq: 1 INVITE',
    'Contact: <sip:caller@127.0.0.1:5999>', 'Content-Type: application/sdp', `Content-Length: ${Buffer.byteLength(sdp)}`, '', sdp,
  ].join('\r\n');
  return parseMessage(Buffer.from(text)) as SipRequest;
}

function ackFor(req: SipRequest, res: SipResponse): SipRequest {
  const text = [
    'ACK sip:bench@127.0.0.1 SIP/2.0', 'Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-ack', 'Max-Forwards: 70',
    `From: ${req.header('from')}`, `To: ${res.header('to')}`, `Call-ID: ${req.callId}`, 'CSeq: 1 ACK', 'Content-Length: 0', '', '',
  ].join('\r\n');
  return parseMessage(Buffer.from(text)) as SipRequest;
}

export async function voicemailStep(calls: number, seconds: number, warmupMs: number): Promise<VoicemailStepResult> {
  const dir = mkdtempSync(join(tmpdir(), 'tvphone-bench-vm-'));
  const store = await openStore(`sqlite:${join(dir, 'bench.db')}`, { create: true });
  const server = new MediaServer({
    config: { maxSeconds: seconds + warmupMs / 1000 + 30, silenceSeconds: 0, rtpTimeoutSeconds: 10, maxCalls: calls },
    clock: systemClock, log: silentLogger(), store,
    limits: () => ({ quota: { count: 1e9, bytes: 1e15 }, expiryMs: 86_400_000 }),
    mediaAddress: () => '127.0.0.1', contact: () => 'sip:bench@127.0.0.1:5060', transport: { send: () => undefined },
    timerValues: { t1: 500, t2: 4000 }, sendInDialog: async () => null, greeting: new Int16Array(160),
  });
  const socks = await boundSockets(calls);
  const serverPorts: number[] = [];
  const outcomes: Array<Promise<VoicemailOutcome>> = [];
  for (let i = 0; i < calls; i++) {
    const req = invite(i, socks[i].address().port);
    let res: SipResponse | null = null;
    const st = {
      request: req, source: { transport: 'udp', address: '127.0.0.1', port: 5999, connectionId: null, local: { id: 0, transport: 'udp', host: '127.0.0.1', port: 5060 } },
      target: { transport: 'udp', address: '127.0.0.1', port: 5999 },
      respond: (r: SipResponse) => { res = r; return true; },
    } as unknown as ServerTransaction;
    const { outcome } = await server.answer(req, st, { caller: `caller${i}`, callee: '2000', callId: req.callId, callRecordId: null });
    outcomes.push(outcome);
    const answer = res as SipResponse | null;
    if (answer === null) throw new Error('no 200');
    server.ack(ackFor(req, answer));
    serverPorts[i] = Number(/m=audio (\d+)/.exec(new TextDecoder().decode(answer.body))![1]);
  }
  const senders = paced(socks, () => serverPorts);
  await sleep(warmupMs);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const cpu = process.cpuUsage(c0);
  const wall = (performance.now() - t0) * 1000;
  await server.close();
  senders.stop();
  const done = await Promise.all(outcomes);
  await closeAll(socks);
  const vms = await store.listVoicemails({ toUser: '2000' });
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  const pct = ((cpu.user + cpu.system) / wall) * 100;
  return {
    calls, committed: vms.length, recordedSeconds: done.reduce((s, o) => s + o.durationMs, 0) / 1000,
    lost: done.reduce((s, o) => s + (o.received?.lost ?? 0), 0), late: done.reduce((s, o) => s + (o.received?.late ?? 0), 0),
    cpuPctTotal: pct, cpuPctPerCall: pct / calls,
  };
}

/** Bare RTP receive: the same paced senders to sockets that read the header's sequence number only. */
export async function receiveReferenceStep(streams: number, seconds: number, warmupMs: number): Promise<{ cpuPctTotal: number; cpuPctPerStream: number; packets: number }> {
  const tx = await boundSockets(streams);
  const rx = await boundSockets(streams);
  let packets = 0;
  for (const s of rx) s.on('message', (m) => { if (m.readUInt16BE(2) >= 0) packets++; });
  const rxPorts = rx.map((s) => s.address().port);
  const senders = paced(tx, () => rxPorts);
  await sleep(warmupMs);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const cpu = process.cpuUsage(c0);
  const wall = (performance.now() - t0) * 1000;
  senders.stop();
  await closeAll([...tx, ...rx]);
  const pct = ((cpu.user + cpu.system) / wall) * 100;
  return { cpuPctTotal: pct, cpuPctPerStream: pct / streams, packets };
}
