// One bounded sipp run (UAC side) and a background sipp UAS, both loopback only.
// Every run is bounded by -m COUNT, by sipp's -timeout, and by a kill timer here.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { LOOPBACK, cpuSeconds, processTree, rssKb, hostCpu, busyPct, freePort, sleep, live } from './proc.ts';

export const SIPP_DIR = new URL('../sipp/', import.meta.url).pathname;

/** Options every sipp gets: loopback, no stdin, large buffers, bounded waits. */
function commonArgs(recvTimeoutMs: number): string[] {
  return [
    '-i', LOOPBACK, '-t', 'u1', '-nostdin',
    '-buff_size', '4194304', '-max_recv_loops', '10000', '-max_sched_loops', '10000',
    '-recv_timeout', String(recvTimeoutMs), '-deadcall_wait', '2000',
    '-watchdog_minor_threshold', '2000', '-watchdog_major_threshold', '10000',
  ];
}

export interface SippRun {
  name: string;
  target: string;
  scenario: string;
  /** CSV lines after the SEQUENTIAL header (fields separated by ';') */
  rows: string[];
  rate: number;
  count: number;
  workDir: string;
  keys?: Record<string, string>;
  extra?: string[];
  localPort?: number;
  recvTimeoutMs?: number;
  /** PID of the server under test: CPU time of it and its children over the run, peak RSS */
  serverPid?: number;
  /** call length in ms added to the time bound (call scenario pause) */
  callMs?: number;
  /** database server processes (e.g. PostgreSQL backends of the server's database): their CPU per operation */
  dbPids?: number[];
}

export interface SippResult {
  attempted: number;
  successful: number;
  failed: number;
  fail_pct: number;
  achieved_cps: number;
  sipp_cps: number;
  mean_rt_ms: number | null;
  p50_rt_ms: number | null;
  p99_rt_ms: number | null;
  retrans: number;
  elapsed_s: number;
  server_cpu_s: number | null;
  server_cpu_us_per_op: number | null;
  peak_rss_kb: number | null;
  /** CPU of `dbPids` over the run per attempted operation (null without dbPids) */
  db_cpu_us_per_op: number | null;
  /** committed database transactions and rows written per attempted operation (set by the caller; null unmeasured) */
  db_commits_per_op?: number | null;
  db_rows_written_per_op?: number | null;
  host_cpu_busy_pct: number;
  sipp_rc: number | null;
  /** RTD1 completion times, epoch ms (for the delivery timing) */
  rtdTimes?: number[];
}

function runProcess(cmd: string, args: string[], cwd: string, killAfterMs: number, logFile: string): Promise<number | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const p = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout.on('data', (d: Buffer) => { if (chunks.length < 200) chunks.push(d); });
    p.stderr.on('data', (d: Buffer) => { if (chunks.length < 200) chunks.push(d); });
    const stop = async (): Promise<void> => { p.kill('SIGTERM'); };
    live.add(stop);
    p.on('close', () => live.delete(stop));
    const t1 = setTimeout(() => p.kill('SIGTERM'), killAfterMs);
    const t2 = setTimeout(() => p.kill('SIGKILL'), killAfterMs + 5000);
    p.on('error', () => { clearTimeout(t1); clearTimeout(t2); resolve(null); });
    p.on('close', (code) => {
      clearTimeout(t1); clearTimeout(t2);
      writeFileSync(logFile, Buffer.concat(chunks));
      resolve(code);
    });
  });
}

/** RTD samples from sipp's *_rtt.csv files: [epoch ms of completion, response time ms, rtd number]. */
export function readRtt(dir: string): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('_rtt.csv')) continue;
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      const c = line.split(';');
      if (c.length < 3 || !/^\d/.test(c[0]!)) continue;
      out.push([Number(c[0]), Number(c[1]), Number(c[2])]);
    }
  }
  return out;
}

function timeMs(t: string): number {
  // sipp writes "HH:MM:SS:uuuuuu" for durations
  const a = t.split(':').map(Number);
  return a.length === 4 ? a[0]! * 3600000 + a[1]! * 60000 + a[2]! * 1000 + a[3]! / 1000 : NaN;
}

export async function runSipp(r: SippRun): Promise<SippResult> {
  const dir = join(r.workDir, r.name);
  mkdirSync(dir, { recursive: true });
  const csv = join(dir, 'users.csv');
  writeFileSync(csv, `SEQUENTIAL\n${r.rows.join('\n')}\n`);
  const recvTimeoutMs = r.recvTimeoutMs ?? 10000;
  const durS = Math.ceil(r.count / r.rate);
  const globalTimeoutS = durS + Math.ceil((r.callMs ?? 0) / 1000) + Math.ceil(recvTimeoutMs / 1000) + 10;
  const localPort = r.localPort ?? (await freePort());
  const stat = join(dir, 'stat.csv');
  const args = [
    r.target, '-sf', r.scenario, '-inf', csv, ...commonArgs(recvTimeoutMs),
    '-p', String(localPort), '-r', String(r.rate), '-m', String(r.count),
    '-timeout', `${globalTimeoutS}s`,
    '-trace_stat', '-stf', stat, '-fd', '1',
    '-trace_err', '-error_file', join(dir, 'err.log'),
    '-trace_rtt', '-rtt_freq', '1',
    ...Object.entries({ contact_hostport: `${LOOPBACK}:${localPort}`, ...r.keys }).flatMap(([k, v]) => ['-key', k, v]),
    ...(r.extra ?? []),
  ];
  const pids = r.serverPid ? processTree(r.serverPid) : [];
  const cpu0 = r.serverPid ? cpuSeconds(pids) : 0;
  const db0 = r.dbPids ? cpuSeconds(r.dbPids) : 0;
  let peakRss = 0;
  const sampler = r.serverPid ? setInterval(() => { peakRss = Math.max(peakRss, rssKb(pids)); }, 200) : null;
  const h0 = hostCpu();
  const rc = await runProcess('sipp', args, dir, (globalTimeoutS + 15) * 1000, join(dir, 'sipp.out'));
  const h1 = hostCpu();
  if (sampler) clearInterval(sampler);
  const cpuS = r.serverPid ? cpuSeconds(pids) - cpu0 : null;
  const dbS = r.dbPids ? cpuSeconds(r.dbPids) - db0 : null;

  if (!existsSync(stat)) {
    const out = existsSync(join(dir, 'sipp.out')) ? readFileSync(join(dir, 'sipp.out'), 'utf8').slice(-800) : '';
    throw new Error(`sipp produced no statistics (rc=${rc}) in ${dir}:\n${out}`);
  }
  const lines = readFileSync(stat, 'utf8').trim().split('\n');
  const head = lines[0]!.split(';');
  const last = lines[lines.length - 1]!.split(';');
  const col = (n: string): string => last[head.indexOf(n)] ?? '';
  const attempted = Number(col('TotalCallCreated'));
  const successful = Number(col('SuccessfulCall(C)'));
  const failed = attempted - successful;
  const epoch = (v: string): number => Number(v.split('\t').pop());
  const elapsed = epoch(col('CurrentTime')) - epoch(col('StartTime'));

  const rtt = readRtt(dir).filter((x) => x[2] === 1);
  const rts = rtt.map((x) => x[1]).sort((a, b) => a - b);
  const times = rtt.map((x) => x[0]).sort((a, b) => a - b);
  const pct = (p: number): number | null => (rts.length ? rts[Math.floor((rts.length - 1) * p)]! : null);
  const achieved = times.length > 1 && times[times.length - 1]! > times[0]!
    ? ((times.length - 1) * 1000) / (times[times.length - 1]! - times[0]!) : 0;
  return {
    attempted, successful, failed,
    fail_pct: attempted > 0 ? Math.round((100000 * failed) / attempted) / 1000 : 100,
    achieved_cps: Math.round(achieved * 10) / 10,
    sipp_cps: Number(col('CallRate(C)')) || 0,
    mean_rt_ms: rts.length ? Math.round((1000 * rts.reduce((a, b) => a + b, 0)) / rts.length) / 1000 : timeMs(col('ResponseTime1(C)')) || null,
    p50_rt_ms: pct(0.5), p99_rt_ms: pct(0.99),
    retrans: Number(col('Retransmissions(C)')) || 0,
    elapsed_s: Math.round(elapsed * 1000) / 1000,
    server_cpu_s: cpuS === null ? null : Math.round(cpuS * 100) / 100,
    server_cpu_us_per_op: cpuS === null || attempted === 0 ? null : Math.round((cpuS * 1e7) / attempted) / 10,
    peak_rss_kb: r.serverPid ? peakRss : null,
    db_cpu_us_per_op: dbS === null || attempted === 0 ? null : Math.round((dbS * 1e7) / attempted) / 10,
    host_cpu_busy_pct: busyPct(h0, h1),
    sipp_rc: rc,
    rtdTimes: times,
  };
}

export interface SippUas {
  pid: number;
  port: number;
  dir: string;
  /** resolves with sipp's exit code when it ends (count reached, timeout, or stop) */
  done: Promise<number | null>;
  stop(): Promise<void>;
}

/** A sipp UAS on a free loopback port, bounded by -timeout (and -m when count is given). */
export async function startSippUas(o: { name: string; scenario: string; workDir: string; timeoutS: number; count?: number }): Promise<SippUas> {
  const dir = join(o.workDir, o.name);
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const args = [
    '-sf', o.scenario, '-p', String(port), ...commonArgs(10000),
    '-timeout', `${o.timeoutS}s`, '-trace_err', '-error_file', join(dir, 'err.log'),
    '-trace_rtt', '-rtt_freq', '1',
    ...(o.count ? ['-m', String(o.count)] : []),
  ];
  const p = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'ignore', 'ignore'] });
  let exited = false;
  const done = new Promise<number | null>((resolve) => {
    p.once('error', () => { exited = true; resolve(null); });
    p.once('close', (c) => { exited = true; resolve(c); });
  });
  const kill = setTimeout(() => p.kill('SIGKILL'), (o.timeoutS + 15) * 1000);
  void done.then(() => clearTimeout(kill));
  // wait until the UDP socket is bound (sipp binds at start; bounded)
  for (let i = 0; i < 50 && !exited; i++) {
    await sleep(100);
    try {
      if (readFileSync('/proc/net/udp', 'utf8').includes(`:${port.toString(16).toUpperCase().padStart(4, '0')} `)) break;
    } catch { break; }
  }
  const stop = async (): Promise<void> => {
    live.delete(stop);
    if (!exited) {
      p.kill('SIGTERM');
      await Promise.race([done, sleep(3000)]);
      if (!exited) p.kill('SIGKILL');
      await Promise.race([done, sleep(2000)]);
    }
  };
  live.add(stop);
  return { pid: p.pid ?? -1, port, dir, done, stop };
}
