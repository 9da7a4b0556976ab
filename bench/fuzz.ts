// `npm run fuzz`: a long fuzz of a running server (the robustness test's input, far more of it). One server in this
// process on 127.0.0.1 (UDP, SQLite in a temp dir, digest auth); mutated and truncated real SIP messages and random
// datagrams from one UDP socket, paced so the socket keeps up; every FUZZ_PROBE_EVERY messages an OPTIONS from a
// second socket must be answered (retransmitted as a UAC does), and the heap and RSS are sampled. Fails (exit 1) on an unanswered probe, a log line
// at error level or with a stack, or a heap that keeps growing (the last quarter's mean above the second quarter's
// by more than 50 % and 64 MB). Bounded: FUZZ_N messages (10,000,000) or FUZZ_MAX_S seconds (1800), whichever first.
import dgram from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as yieldLoop } from 'node:timers/promises';
import fc from 'fast-check';
import { validateProfile } from '../src/config/profile.ts';
import { createLogger } from '../src/log/logger.ts';
import { startServer } from '../src/server.ts';
import { mutate, mutation } from '../test/helpers/fuzz-input.ts';

const N = Number(process.env['FUZZ_N'] ?? 10_000_000);
const MAX_S = Number(process.env['FUZZ_MAX_S'] ?? 1800);
const PROBE_EVERY = Number(process.env['FUZZ_PROBE_EVERY'] ?? 200_000);
const BATCH = 64;
const log = (s: string): void => void process.stderr.write(`[fuzz] ${s}\n`);

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'tvphone-fuzz-'));
  const lines = { total: 0, errors: 0, stacks: 0, first: [] as string[] };
  const logger = createLogger('info', {
    write(l: string) {
      lines.total++;
      const bad = (JSON.parse(l) as { level: number }).level >= 50 || l.includes('"stack"');
      if (!bad) return;
      if (l.includes('"stack"')) lines.stacks++;
      else lines.errors++;
      if (lines.first.length < 5) lines.first.push(l.slice(0, 600));
    },
  });
  const profile = validateProfile({
    listeners: [{ transport: 'udp', host: '127.0.0.1', port: 0 }], auth: { mode: 'digest', realm: 'tvphone' },
    store: { url: `sqlite:${join(dir, 'fuzz.db')}` },
    // the fuzz is one address: trusted, so its input reaches routing instead of the rate limit's 503
    security: { trusted: ['127.0.0.0/8'] },
  }, 'fuzz-profile');
  const server = await startServer({ profile, log: logger });
  const port = server.listeners[0]!.port;
  const sender = dgram.createSocket('udp4');
  sender.bind(0, '127.0.0.1');
  await once(sender, 'listening');
  const probe = dgram.createSocket('udp4');
  probe.bind(0, '127.0.0.1');
  await once(probe, 'listening');
  let probeNo = 0;
  const ask = (): Promise<boolean> => new Promise((resolve) => {
    const n = ++probeNo;
    const msg = [`OPTIONS sip:127.0.0.1:${port} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${probe.address().port};branch=z9hG4bKprobe${n};rport`,
      'Max-Forwards: 70', `From: <sip:probe@127.0.0.1>;tag=p${n}`, `To: <sip:127.0.0.1:${port}>`, `Call-ID: probe-${n}@fuzz`,
      'CSeq: 1 OPTIONS', 'Content-Length: 0', '', ''].join('\r\n');
    // a UAC retransmits over UDP (RFC 3261 §17.1.2.2, Timer E: 500 ms doubling): a datagram lost in the flood is sent again
    const timers: NodeJS.Timeout[] = [];
    for (let k = 0, at = 0; at < 5000; at += 500 * 2 ** k, k++) timers.push(setTimeout(() => probe.send(msg, port, '127.0.0.1'), at));
    const t = setTimeout(() => { done(); resolve(false); }, 8000);
    const done = (): void => {
      for (const x of timers) clearTimeout(x);
      clearTimeout(t);
      probe.off('message', on);
    };
    const on = (b: Buffer): void => {
      if (!b.toString('latin1').includes(`probe-${n}@fuzz`)) return;
      done();
      resolve(true);
    };
    probe.on('message', on);
  });

  const samples: { sent: number; heapMb: number; rssMb: number }[] = [];
  const sample = (sent: number): void => {
    const m = process.memoryUsage();
    samples.push({ sent, heapMb: Math.round(m.heapUsed / 1e5) / 10, rssMb: Math.round(m.rss / 1e5) / 10 });
  };
  const t0 = Date.now();
  let sent = 0;
  let failedProbes = 0;
  let seed = 1;
  sample(0);
  try {
    while (sent < N && (Date.now() - t0) / 1000 < MAX_S) {
      // one in ten random datagrams, the rest mutated real messages (fresh fast-check samples, a new seed a batch)
      const batch = fc.sample(mutation, { numRuns: BATCH, seed: seed++ }).map(mutate);
      for (const r of fc.sample(fc.uint8Array({ minLength: 1, maxLength: 1400 }), { numRuns: Math.ceil(BATCH / 10), seed: seed++ })) batch.push(Buffer.from(r));
      for (const b of batch) sender.send(b, port, '127.0.0.1');
      sent += batch.length;
      await yieldLoop();
      if (Math.floor(sent / PROBE_EVERY) !== Math.floor((sent - batch.length) / PROBE_EVERY)) {
        if (!(await ask())) failedProbes++;
        sample(sent);
        const s = samples.at(-1)!;
        log(`${sent} sent in ${((Date.now() - t0) / 1000).toFixed(0)} s, heap ${s.heapMb} MB, rss ${s.rssMb} MB, parse errors ${server.transport.counters.parseErrors}, probes failed ${failedProbes}`);
      }
    }
    if (!(await ask())) failedProbes++;
    sample(sent);
  } finally {
    sender.close();
    probe.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const seconds = (Date.now() - t0) / 1000;
  const q = Math.max(1, Math.floor(samples.length / 4));
  const mean = (xs: typeof samples): number => xs.reduce((a, s) => a + s.heapMb, 0) / Math.max(1, xs.length);
  const second = mean(samples.slice(q, 2 * q));
  const last = mean(samples.slice(-q));
  const growing = samples.length >= 8 && last > second * 1.5 && last - second > 64;
  const result = {
    bench: 'fuzz', messages: sent, seconds: Math.round(seconds), per_s: Math.round(sent / seconds),
    parse_errors: server.transport.counters.parseErrors, probes: probeNo, probes_failed: failedProbes,
    log_lines: lines.total, error_lines: lines.errors, stack_lines: lines.stacks,
    heap_mb: { first: samples[0]!.heapMb, second_quarter_mean: Math.round(second), last_quarter_mean: Math.round(last), max: Math.max(...samples.map((s) => s.heapMb)) },
    rss_mb_max: Math.max(...samples.map((s) => s.rssMb)), heap_growing: growing,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  for (const l of lines.first) log(`bad log line: ${l}`);
  return failedProbes > 0 || lines.errors > 0 || lines.stacks > 0 || growing ? 1 : 0;
}

process.exitCode = await main();
