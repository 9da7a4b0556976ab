// The bench's `connections` part (issue 16/18 sizing): N idle TVs on TCP against one `tvphone serve --auth none`
// (SQLite), each registered once, then only CRLF keep-alives (RFC 5626 §4.4.1) and registration refreshes.
// Figures: the server's RSS per connection ((RSS with N registered − RSS idle) / N; target ≤ 10 kB, Kamailio 3.0
// published 4.5 kB), its RSS with the N registered users (100k in ≤ 150 MB, extrapolated when N < 100k), and its CPU
// for the keep-alive + refresh traffic as % of one core over a measurement window.
// The load generator is a second process (bench/lib/tv-swarm.ts: raw net.Socket clients over several 127.0.0.x
// source addresses); N is capped by the open-file limit, which the report states.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { FD_RESERVE, fdLimitWarning } from '../src/config/fd-limit.ts';
import { startTvphone } from './lib/tvphone.ts';
import { cpuSeconds, rssKb, hostCpu, busyPct, sleep, live } from './lib/proc.ts';

const SWARM = new URL('./lib/tv-swarm.ts', import.meta.url).pathname;
const BARE = new URL('./lib/bare-tcp-registrar.ts', import.meta.url).pathname;

export interface ConnectionsResult {
  part: 'connections'; server: string; role: 'tvphone' | 'reference';
  asked: number; n: number; registered: number; fd_limit_soft: number | null; fd_limit_hard: number | null;
  max_connections: number; fd_check_at_start: string | null; fd_check_for_asked: string | null;
  keepalive_s: number; refresh_s: number; window_s: number;
  /** the TVs whose traffic the N connections carry: N, or (the open-file limit's second run) the asked number */
  traffic_of: number;
  ramp_s: number | null; rss_idle_kb: number; rss_kb: number; rss_end_kb: number;
  rss_per_connection_b: number | null; rss_100k_estimate_mb: number | null;
  cpu_pct_of_core: number | null; keepalives_per_s: number | null; pongs_per_s: number | null; refreshes_per_s: number | null;
  host_cpu_busy_pct: number | null; errors: number; closed: number; note?: string;
}

/** [soft, hard] "Max open files" of /proc/self/limits; null where unlimited or unreadable */
export function openFileLimits(text?: string): [number | null, number | null] {
  let t = text;
  try { t ??= readFileSync('/proc/self/limits', 'utf8'); } catch { return [null, null]; }
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(t);
  const n = (s: string | undefined): number | null => (s && /^\d+$/.test(s) ? Number(s) : null);
  return [n(m?.[1]), n(m?.[2])];
}

interface Counters { refused?: Record<string, number>; t: number; connected: number; registered: number; reg_failed: number; closed: number; errors: number; keepalives: number; pongs: number; refreshes: number; refresh_ok: number }

/** measurements so far in this process (each takes fresh 127.0.x.y sources) */
let runs = 0;

interface Subject { name: string; pid: number; port: number; logFile?: string; stop(): Promise<void> }

/** The reference of the same run: bench/lib/bare-tcp-registrar.ts, with the same open-file limit as the server. */
async function startBare(): Promise<Subject> {
  const child = spawn('/bin/sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', process.execPath, BARE], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('bare registrar did not start in 10 s')), 10000);
    createInterface({ input: child.stdout! }).once('line', (l) => { clearTimeout(t); resolve(Number(l)); });
  });
  const stop = async (): Promise<void> => {
    live.delete(stop);
    child.stdin?.end();
    child.kill('SIGTERM');
    await Promise.race([new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r))), sleep(5000)]);
  };
  live.add(stop);
  return { name: 'bare node:net registrar', pid: child.pid!, port, stop };
}

/** The bare Node reference first, then tvphone, under the same swarm; each result says its server. */
export async function runConnections(o: { quick: boolean; log: (s: string) => void }): Promise<ConnectionsResult[]> {
  const out: ConnectionsResult[] = [];
  out.push(await measureConnections(o, 'reference'));
  const tv = await measureConnections(o, 'tvphone');
  out.push(tv);
  // fewer connections than asked (the open-file limit): once more with each TV's intervals shortened by n/asked, so
  // that the N connections carry the keep-alives and refreshes of the asked number of TVs (the CPU target's load)
  if (tv.n < tv.asked) out.push(await measureConnections(o, 'tvphone', tv.asked));
  return out;
}

async function measureConnections(o: { quick: boolean; log: (s: string) => void }, role: 'tvphone' | 'reference', trafficOf?: number): Promise<ConnectionsResult> {
  const env = process.env;
  const asked = Number(env['BENCH_CONNECTIONS'] ?? (o.quick ? 2000 : 100_000));
  let keepaliveS = Number(env['BENCH_KEEPALIVE_S'] ?? 120);
  let refreshS = Number(env['BENCH_REFRESH_S'] ?? 600);
  const windowS = Number(env['BENCH_CONN_WINDOW_S'] ?? (o.quick ? 20 : 60));
  const [soft, hard] = openFileLimits();
  // the server runs with its soft limit raised to the hard one; it needs FD_RESERVE beyond the connections
  const serverFds = hard ?? soft ?? Infinity;
  const n = Math.max(1, Math.min(asked, serverFds - FD_RESERVE - 64));
  const maxConnections = n + 32;
  const traffic = trafficOf ?? n;
  if (traffic > n) {
    keepaliveS = Math.round((keepaliveS * n * 10) / traffic) / 10;
    refreshS = Math.round((refreshS * n * 10) / traffic) / 10;
  }
  const res: ConnectionsResult = {
    part: 'connections', server: role === 'tvphone' ? 'tvphone sqlite' : 'bare node:net registrar', role, asked, n, registered: 0, fd_limit_soft: soft, fd_limit_hard: hard, max_connections: maxConnections,
    fd_check_at_start: null, fd_check_for_asked: fdLimitWarning(asked, hard), keepalive_s: keepaliveS, refresh_s: refreshS, traffic_of: traffic,
    window_s: windowS, ramp_s: null, rss_idle_kb: 0, rss_kb: 0, rss_end_kb: 0, rss_per_connection_b: null,
    rss_100k_estimate_mb: null, cpu_pct_of_core: null, keepalives_per_s: null, pongs_per_s: null, refreshes_per_s: null,
    host_cpu_busy_pct: null, errors: 0, closed: 0,
  };
  if (traffic > n) {
    res.note = `the keep-alives and refreshes of ${traffic} TVs over ${n} connections (intervals × ${n}/${traffic}): the CPU figure is the one for ${traffic} TVs; the RSS figures are not per-TV`;
  } else if (n < asked) {
    res.note = `${asked} asked, ${n} measured: the open-file limit is ${soft}/${hard} (soft/hard) and cannot be raised here ` +
      `(ulimit -n / LimitNOFILE needs CAP_SYS_RESOURCE above the hard limit); the server needs ${FD_RESERVE} more descriptors than connections`;
  }
  o.log(`connections on ${res.server}: ${n} TVs (asked ${asked}; open files ${soft}/${hard}), keep-alive ${keepaliveS} s, refresh ${refreshS} s, window ${windowS} s`);
  const srv: Subject = role === 'reference' ? await startBare() : await startTvphone('sqlite', {
    tcp: true, raiseFdLimit: true, name: 'tvphone sqlite (connections)',
    profile: {
      // the TVs come from several 127.0.0.x sources: none of them may meet the per-source rate limit
      security: { trusted: ['127.0.0.0/8'] },
      transport: { maxConnections, maxConnectionsPerSource: maxConnections, tcpIdleSeconds: Math.max(600, keepaliveS * 3) },
      registrar: { maxExpires: Math.max(7200, refreshS + 120) },
    },
  });
  const swarms: ChildProcess[] = [];
  try {
    if (srv.logFile) res.fd_check_at_start = /maxConnections is \d+[^"]*/.exec(readFileSync(srv.logFile, 'utf8'))?.[0] ?? null;
    await sleep(3000);
    res.rss_idle_kb = rssKb([srv.pid]);
    // one swarm process per (hard limit − 200) sockets; one source address per 20,000 (ports 32768–60999 each)
    const perProc = Math.max(1000, (hard ?? 20000) - 200);
    const procs = Math.ceil(n / perProc);
    const nSources = Math.max(2, Math.ceil(n / 20000));
    // fresh source addresses for each measurement: the last one's closed ports wait in TIME_WAIT on theirs
    const sources = Array.from({ length: nSources }, (_, i) => `127.0.${1 + (runs % 200)}.${i + 2}`);
    runs++;
    const rampBudgetS = Math.ceil(n / 100) + 30;
    const maxS = rampBudgetS + windowS + 30;
    const latest: Counters[] = [];
    for (let p = 0; p < procs; p++) {
      const cnt = Math.min(perProc, n - p * perProc);
      const cfg = { port: srv.port, n: cnt, offset: p * perProc, sources, keepaliveS, refreshS, maxS, concurrency: 200, domain: '127.0.0.1' };
      const child = spawn('/bin/sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', process.execPath, SWARM, JSON.stringify(cfg)],
        { stdio: ['pipe', 'pipe', 'inherit'] });
      swarms.push(child);
      const stop = async (): Promise<void> => { child.stdin?.end(); child.kill('SIGTERM'); };
      live.add(stop);
      child.once('exit', () => live.delete(stop));
      createInterface({ input: child.stdout! }).on('line', (l) => { try { latest[p] = JSON.parse(l) as Counters; } catch { /* partial */ } });
    }
    const total = (): Counters => {
      const z: Counters = { t: Date.now(), connected: 0, registered: 0, reg_failed: 0, closed: 0, errors: 0, keepalives: 0, pongs: 0, refreshes: 0, refresh_ok: 0 };
      z.refused = {};
      for (const c of latest) {
        if (!c) continue;
        for (const k of Object.keys(z) as Array<keyof Counters>) if (k !== 't' && k !== 'refused') z[k] += c[k];
        for (const [code, v] of Object.entries(c.refused ?? {})) z.refused[code] = (z.refused[code] ?? 0) + v;
      }
      return z;
    };
    const t0 = Date.now();
    let lastLog = 0;
    while (Date.now() - t0 < rampBudgetS * 1000) {
      await sleep(500);
      const c = total();
      if (c.registered + c.reg_failed + c.errors >= n) break;
      if (Date.now() - lastLog > 5000) { lastLog = Date.now(); o.log(`connections: ${c.connected} connected, ${c.registered} registered, ${c.errors} errors`); }
    }
    res.ramp_s = Math.round((Date.now() - t0) / 100) / 10;
    const afterRamp = total();
    res.registered = afterRamp.registered;
    o.log(`connections: ${afterRamp.registered}/${n} registered in ${res.ramp_s} s (${afterRamp.reg_failed} refused ${JSON.stringify(afterRamp.refused)}, ${afterRamp.errors} errors)`);
    if (afterRamp.reg_failed > 0) res.note = `${res.note ? `${res.note}; ` : ''}REGISTERs refused: ${JSON.stringify(afterRamp.refused)}`;
    await sleep(5000); // the registration burst's garbage and the store's writes settle
    const c0 = total();
    const cpu0 = cpuSeconds([srv.pid]);
    const h0 = hostCpu();
    res.rss_kb = rssKb([srv.pid]);
    const w0 = Date.now();
    let peak = res.rss_kb;
    while (Date.now() - w0 < windowS * 1000) { await sleep(1000); peak = Math.max(peak, rssKb([srv.pid])); }
    const secs = (Date.now() - w0) / 1000;
    const cpu = cpuSeconds([srv.pid]) - cpu0;
    const c1 = total();
    res.rss_end_kb = rssKb([srv.pid]);
    res.host_cpu_busy_pct = busyPct(h0, hostCpu());
    res.cpu_pct_of_core = Math.round((1000 * cpu) / secs) / 10;
    const rate = (k: Exclude<keyof Counters, 'refused'>): number => Math.round((10 * (c1[k] - c0[k])) / secs) / 10;
    res.keepalives_per_s = rate('keepalives');
    res.pongs_per_s = rate('pongs');
    res.refreshes_per_s = rate('refresh_ok');
    res.errors = c1.errors;
    res.closed = c1.closed;
    if (res.registered > 0) {
      const perConnKb = Math.max(res.rss_kb, res.rss_end_kb) - res.rss_idle_kb;
      res.rss_per_connection_b = Math.round((perConnKb * 1024) / res.registered);
      res.rss_100k_estimate_mb = Math.round((res.rss_idle_kb + (perConnKb * 100_000) / res.registered) / 1024);
    }
    o.log(`connections: RSS idle ${res.rss_idle_kb} kB, with ${res.registered} ${res.rss_kb}→${res.rss_end_kb} kB (peak ${peak}), ` +
      `${res.rss_per_connection_b} B/connection; CPU ${res.cpu_pct_of_core}% of a core for ${res.keepalives_per_s} keep-alives/s + ${res.refreshes_per_s} refreshes/s`);
  } catch (e) {
    res.note = `${res.note ? `${res.note}; ` : ''}failed: ${(e as Error).message.split('\n')[0]}`;
  } finally {
    for (const s of swarms) { s.stdin?.end(); s.kill('SIGTERM'); }
    await Promise.race([Promise.all(swarms.map((s) => new Promise((r) => (s.exitCode !== null ? r(null) : s.once('exit', r))))), sleep(5000)]);
    await srv.stop();
  }
  return res;
}
