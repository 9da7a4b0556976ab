// `npm run bench`: tvphone's load benchmark against Kamailio 5.6 under the same sipp load, on loopback.
//
// Parts (BENCH_ONLY=reg,call,msg,deliver,trunk,cluster,connections,memory,soak selects; default all but soak):
//   reg      REGISTERs of fresh users -> 200. Reference: Kamailio usrloc in memory (and write-through to SQLite).
//   reg-auth REGISTER -> 401 -> REGISTER with MD5 digest -> 200 of AUTH_USERS known users, tvphone with --auth digest
//            (the shipped default's auth settings). Reference: Kamailio auth_db (SQLite subscriber) + usrloc in memory.
//   call     proxied calls INVITE/180/200/ACK/pause/BYE with Record-Route to registered sipp UAS callees.
//            Reference: Kamailio tm proxy, usrloc in memory.
//   msg      MESSAGE to an offline user -> 202. Reference: Kamailio msilo into SQLite (1 worker).
//   deliver  10,000 stored MESSAGEs for one offline user; a sipp UAS registers as that user; time until all
//            are 2xx'd. tvphone (reference row: Kamailio msilo m_dump).
//   trunk    the call part's calls dialled as national numbers (0…) from local users, out through a trunk (IP peer,
//            route prefix 0 → E.164) to a sipp carrier UAS. Reference: Kamailio tm relaying every INVITE to that UAS;
//            and, as the second ratio, tvphone's own local call part of the same run (target CPU/call ≤ 1.2×).
//   cluster  the reg and call loads spread over 2 nodes on one fresh PostgreSQL database (one sipp per node) against
//            1 node on the same PostgreSQL. On two shared cores this shows a second node's overhead, not its gain.
//   connections  N idle TCP TVs (bench/connections.ts): RSS per connection, CPU of keep-alives + refreshes.
//   memory   100,000 users REGISTERed over UDP by sipp, one binding each (bench/memory.ts): the server's RSS (≤ 150 MB),
//            of the compiled dist/ (BENCH_MEMORY_BUILD=dist, the default) or of the checkout's src/ (=src).
//   soak     BENCH_SOAK_S > 0: REGISTER + calls + MESSAGEs at 80 % of the sustainable rates; failed calls, RSS slope.
//   PostgreSQL: the reg and msg parts run on tvphone with --db postgres://... too when TVPHONE_TEST_PG_URL or
//   BENCH_PG_URL is set; SQL Server likewise with --db mssql://... when BENCH_MSSQL_URL or MSSQL_URL is set.
// For each part and server: a bounded step-up sweep (rate doubles, then bisects) finds the highest sustainable
// rate (failures < 0.5 %, achieved >= 95 % of asked, p99 <= 200 ms) and the server's CPU time per operation
// (utime+stime of the server process and its children over the run at that rate, from /proc/PID/stat); then, for
// reg, reg-auth and call, one more step at 80 % of that rate gives the p99 latency under load (issue 17: REGISTER ≤ 20 ms).
// Output: progress on stderr; on stdout one JSON line per result, then a table with the tvphone/Kamailio ratios.
//
// Env knobs: BENCH_QUICK=1 (about a 1-minute smoke run), BENCH_RUN_S (seconds per step, 5), BENCH_MAX_S (overall
// time budget, 600; steps that would start after it are skipped and said so), BENCH_DELIVER_N (10000),
// BENCH_SUBJECT=kamailio (harness self-test: Kamailio also plays the server under test), BENCH_KEEP=1 (keep the
// sipp work dir and print it), PAUSE_MS (call length, 1000), BENCH_SERVERS=postgres,… (only the servers whose name
// contains one of these).
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSipp, startSippUas, readRtt, SIPP_DIR, type SippResult } from './lib/sipp.ts';
import { startKamailio, kamailioAvailable, type ServerHandle, type KamailioOptions } from './lib/kamailio.ts';
import { startTvphone, tvphoneServeAvailable } from './lib/tvphone.ts';
import { createBenchDatabase } from './lib/pg.ts';
import { slope } from './lib/stats.ts';
import { runConnections, type ConnectionsResult } from './connections.ts';
import { runMemory, type MemoryResult } from './memory.ts';
import { cpuSeconds, processTree, rssKb, sleep, stopAllOnSignal, LOOPBACK } from './lib/proc.ts';

const env = process.env;
const QUICK = env['BENCH_QUICK'] === '1';
const RUN_S = Number(env['BENCH_RUN_S'] ?? (QUICK ? 2 : 5));
const MAX_S = Number(env['BENCH_MAX_S'] ?? (QUICK ? 120 : 900));
const DELIVER_N = Number(env['BENCH_DELIVER_N'] ?? (QUICK ? 1000 : 10000));
const PAUSE_MS = Number(env['PAUSE_MS'] ?? (QUICK ? 200 : 1000));
const CALLEES = QUICK ? 200 : 1000;
const PG_URL = env['BENCH_PG_URL'] ?? env['TVPHONE_TEST_PG_URL'];
const MSSQL_URL = env['BENCH_MSSQL_URL'] ?? env['MSSQL_URL'];
/** the soak's length (issue 16: 1800 for 30 minutes); 0 = no soak */
const SOAK_S = Number(env['BENCH_SOAK_S'] ?? 0);
/** which loads the soak runs (all three by default; one alone tells whose memory grows) */
const SOAK_LOADS = new Set((env['BENCH_SOAK_LOADS'] ?? 'reg,call,msg').split(',').map((x) => x.trim()));
const ONLY = new Set((env['BENCH_ONLY'] ?? 'reg,reg-auth,call,msg,deliver,trunk,cluster,connections,memory').split(',').map((s) => s.trim()).filter(Boolean));
/** only the servers whose name contains one of these (BENCH_SERVERS=postgres: the PostgreSQL rows alone); default all */
const SERVERS = (env['BENCH_SERVERS'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const MAX_FAIL_PCT = 0.5;
const MIN_ACHIEVED = 0.95;
const MAX_P99_MS = 200;

stopAllOnSignal();
const t0 = Date.now();
const elapsedS = (): number => (Date.now() - t0) / 1000;
const log = (s: string): void => { process.stderr.write(`[bench ${elapsedS().toFixed(0).padStart(3)}s] ${s}\n`); };
const work = mkdtempSync(join(tmpdir(), 'tvphone-bench-'));
let runNo = 0;
const notes: string[] = [];

type Part = 'reg' | 'reg-auth' | 'call' | 'msg' | 'deliver' | 'trunk';
/** a sweep's row label: the load's part, or the cluster part's loads ('cluster reg', 'cluster call') */
type Label = Part | 'cluster reg' | 'cluster call';
/** `trunkPort`: the trunk part's carrier UAS, started before the server that sends to it */
interface ServerSpec {
  name: string; role: 'tvphone' | 'reference'; start: (o?: { trunkPort?: number }) => Promise<ServerHandle>;
  /** one uncounted step at the start rate first: a pooled network database opens its connections in it (on Babelfish each costs ~0.5 s of CPU) */
  warmup?: boolean;
}
interface SweepResult {
  part: Label; server: string; role: 'tvphone' | 'reference';
  max_rate: number | null; cpu_us_per_op: number | null; best?: Omit<SippResult, 'rtdTimes'>; steps: number; note?: string;
  /** the p99 latency (RTD1) of one step at 80 % of max_rate (reg, reg-auth, call) */
  p99_at_80pct_ms?: number | null;
}

function sustainable(r: SippResult, rate: number): boolean {
  return r.fail_pct < MAX_FAIL_PCT && r.achieved_cps >= MIN_ACHIEVED * rate && (r.p99_rt_ms ?? 0) <= MAX_P99_MS;
}

/** the soak's REGISTERs refresh this many TVs' bindings over and over */
const SOAK_TVS = 10_000;
/** the port of the soak TVs' Contacts (nothing is sent to them: no call or message is for them) */
const SOAK_TV_PORT = 9;

/** the users the reg-auth part registers over and over (a0000001…, password pw: Kamailio's subscriber rows and tvphone's users) */
const AUTH_USERS = 10_000;

/** offline users the msg part sends to (each keeps at most its quota; 10,000 × quota is far beyond a sweep) */
const RECIPIENTS = 10_000;

const users = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${String(i + 1).padStart(7, '0')}`);

/** Several sipp runs at once (one per node) read as one: counts and rates add, latency is the worst node's. */
export function mergeSipp(rs: SippResult[]): SippResult {
  const sum = (f: (r: SippResult) => number | null): number => rs.reduce((a, r) => a + (f(r) ?? 0), 0);
  const max = (f: (r: SippResult) => number | null): number | null =>
    rs.some((r) => f(r) !== null) ? Math.max(...rs.map((r) => f(r) ?? -Infinity)) : null;
  const attempted = sum((r) => r.attempted);
  const successful = sum((r) => r.successful);
  const cpu = rs.every((r) => r.server_cpu_s !== null) ? sum((r) => r.server_cpu_s) : null;
  return {
    attempted, successful, failed: attempted - successful,
    fail_pct: attempted > 0 ? Math.round((100000 * (attempted - successful)) / attempted) / 1000 : 100,
    achieved_cps: Math.round(10 * sum((r) => r.achieved_cps)) / 10,
    sipp_cps: Math.round(10 * sum((r) => r.sipp_cps)) / 10,
    mean_rt_ms: successful > 0 ? Math.round((1000 * sum((r) => (r.mean_rt_ms ?? 0) * r.successful)) / successful) / 1000 : null,
    p50_rt_ms: max((r) => r.p50_rt_ms), p99_rt_ms: max((r) => r.p99_rt_ms),
    retrans: sum((r) => r.retrans),
    elapsed_s: max((r) => r.elapsed_s) ?? 0,
    server_cpu_s: cpu === null ? null : Math.round(cpu * 100) / 100,
    server_cpu_us_per_op: cpu === null || attempted === 0 ? null : Math.round((cpu * 1e7) / attempted) / 10,
    peak_rss_kb: rs.every((r) => r.peak_rss_kb !== null) ? sum((r) => r.peak_rss_kb) : null,
    db_cpu_us_per_op: rs.some((r) => r.db_cpu_us_per_op !== null) && attempted > 0
      ? Math.round((10 * sum((r) => (r.db_cpu_us_per_op ?? 0) * r.attempted)) / attempted) / 10 : null,
    host_cpu_busy_pct: max((r) => r.host_cpu_busy_pct) ?? 0,
    sipp_rc: rs.find((r) => r.sipp_rc !== 0)?.sipp_rc ?? 0,
    rtdTimes: rs.flatMap((r) => r.rtdTimes ?? []).sort((a, b) => a - b),
  };
}

/** One step: `part` at `rate` against `srv`; on several nodes, one sipp per node at its share of the rate. */
type StepContext = { callees?: string[]; recipients?: string[]; authUsers?: string[]; uasPort?: number };

async function step(part: Part, srv: ServerHandle, rate: number, ctx: StepContext): Promise<SippResult> {
  const nodes = srv.nodes ?? [];
  const before = srv.dbCounters ? await srv.dbCounters() : null;
  const dbPids = srv.dbPids ? await srv.dbPids() : undefined;
  // every node gets rate/n (the rows stay disjoint: each run's tag is its own); the database's CPU is measured
  // once, by the first node's run (the runs cover the same window)
  const r = nodes.length < 2 ? await stepOn(part, srv, rate, ctx, dbPids)
    : mergeSipp(await Promise.all(nodes.map((n, i) => stepOn(part, { ...srv, target: n.target, pid: n.pid }, Math.max(1, Math.round(rate / nodes.length)), ctx, i === 0 ? dbPids : undefined))));
  if (before && srv.dbCounters && r.attempted > 0) {
    await sleep(1200); // PostgreSQL's backends report their counters at most once a second
    const after = await srv.dbCounters();
    r.db_commits_per_op = Math.round((100 * (after.commits - before.commits)) / r.attempted) / 100;
    r.db_rows_written_per_op = Math.round((100 * (after.rowsWritten - before.rowsWritten)) / r.attempted) / 100;
  }
  return r;
}

/** One step: `part` at `rate` against `srv`. Call steps use the callee set registered by the sweep. */
async function stepOn(part: Part, srv: ServerHandle, rate: number, ctx: StepContext, dbPids?: number[]): Promise<SippResult> {
  const count = Math.max(200, Math.round(rate * RUN_S));
  const name = `${part}-${++runNo}-${rate}`;
  const tag = `b${process.pid}n${runNo}`;
  const base = { name, target: srv.target, rate, count, workDir: work, serverPid: srv.pid, ...(dbPids ? { dbPids } : {}) };
  if (part === 'reg') return runSipp({ ...base, scenario: SIPP_DIR + 'reg.xml', rows: users(`${tag}u`, count) });
  if (part === 'reg-auth') {
    // field1 is the whole [authentication] keyword (sipp/reg-auth.xml); the known users in turn
    const rows = Array.from({ length: count }, (_, i) => {
      const u = ctx.authUsers![(i + runNo * 7919) % ctx.authUsers!.length]!;
      return `${u};[authentication username=${u} password=pw]`;
    });
    return runSipp({ ...base, scenario: SIPP_DIR + 'reg-auth.xml', rows });
  }
  if (part === 'msg') {
    // MESSAGEs to offline users that exist (created before the sweep), cycling through them
    const rows = Array.from({ length: count }, (_, i) => ctx.recipients![(i + runNo * 7919) % ctx.recipients!.length]!);
    return runSipp({ ...base, scenario: SIPP_DIR + 'msg.xml', rows });
  }
  // call: cycle through the registered callees; trunk: national numbers; RTD1 = INVITE -> 200
  const rows = part === 'trunk'
    ? Array.from({ length: count }, (_, i) => `030${String(i % 100000).padStart(7, '0')}`)
    : Array.from({ length: count }, (_, i) => ctx.callees![i % ctx.callees!.length]!);
  return runSipp({ ...base, scenario: SIPP_DIR + 'uac-call.xml', rows, extra: ['-d', String(PAUSE_MS)], callMs: PAUSE_MS + 2000 });
}

/** Ladder: rate doubles from `start` until a step is not sustainable (or `max`), then bisects `refine` times. */
async function sweep(part: Part, spec: ServerSpec, start: number, max: number, label: Label = part): Promise<SweepResult> {
  const res: SweepResult = { part: label, server: spec.name, role: spec.role, max_rate: null, cpu_us_per_op: null, steps: 0 };
  if (elapsedS() > MAX_S) {
    res.note = 'skipped: time budget spent';
    log(`${part} ${spec.name}: ${res.note}`);
    return res;
  }
  let srv: ServerHandle;
  let uas: Awaited<ReturnType<typeof startSippUas>> | null = null;
  try {
    if (part === 'trunk') uas = await startSippUas({ name: `carrier-${++runNo}`, scenario: SIPP_DIR + 'uas.xml', workDir: work, timeoutS: Math.max(60, MAX_S + 60) });
    srv = await spec.start(uas ? { trunkPort: uas.port } : {});
  } catch (e) {
    if (uas) await uas.stop();
    res.note = `server did not start: ${(e as Error).message.split('\n')[0]}`;
    log(`${part} ${spec.name}: ${res.note}`);
    return res;
  }
  const ctx: StepContext = {};
  try {
    if (part === 'reg-auth') {
      ctx.authUsers = users('a', AUTH_USERS); // Kamailio has them (authUsers); tvphone imports them
      await srv.addUsers?.(ctx.authUsers);
    }
    if (part === 'msg') {
      ctx.recipients = users(`b${process.pid}n${++runNo}o`, RECIPIENTS);
      await srv.addUsers?.(ctx.recipients);
    }
    if (part === 'call') {
      uas = await startSippUas({ name: `uas-${++runNo}`, scenario: SIPP_DIR + 'uas.xml', workDir: work, timeoutS: Math.max(60, MAX_S + 60) });
      ctx.callees = users(`b${process.pid}n${runNo}c`, CALLEES);
      const reg = await runSipp({
        name: `callee-reg-${runNo}`, target: srv.target, scenario: SIPP_DIR + 'reg.xml', rows: ctx.callees,
        rate: 500, count: CALLEES, workDir: work, keys: { contact_hostport: `${LOOPBACK}:${uas.port}` },
      });
      if (reg.successful !== CALLEES) throw new Error(`callee registration failed: ${reg.successful}/${CALLEES}`);
    }
    if (spec.warmup) {
      const w = await step(part, srv, start, ctx);
      log(`${part} ${spec.name} warm-up @${start}/s (not counted): ok ${w.successful}/${w.attempted}, p99 ${w.p99_rt_ms} ms`);
    }
    let good: SippResult | null = null;
    let bad: number | null = null;
    let retried = false;
    const ok = async (rate: number): Promise<boolean> => {
      if (elapsedS() > MAX_S) { res.note = 'sweep cut short: time budget spent'; return false; }
      let r = await step(part, srv, rate, ctx);
      res.steps++;
      let pass = sustainable(r, rate);
      log(`${part} ${spec.name} @${rate}/s: ok ${r.successful}/${r.attempted}, achieved ${r.achieved_cps}/s, p99 ${r.p99_rt_ms} ms, ` +
        `cpu ${r.server_cpu_us_per_op} us/op, host ${r.host_cpu_busy_pct}% -> ${pass ? 'sustainable' : 'NOT sustainable'}`);
      if (!pass && !retried && !QUICK) { // one retry per sweep: a single noisy step on a shared host
        retried = true;
        await sleep(2000);
        r = await step(part, srv, rate, ctx);
        res.steps++;
        pass = sustainable(r, rate);
        log(`${part} ${spec.name} @${rate}/s retry: ok ${r.successful}/${r.attempted}, achieved ${r.achieved_cps}/s, p99 ${r.p99_rt_ms} ms -> ${pass ? 'sustainable' : 'NOT sustainable'}`);
      }
      if (pass && (!good || rate > (good as SippResult & { rate?: number }).rate!)) good = Object.assign(r, { rate });
      await sleep(1000); // let the server's transactions drain
      return pass;
    };
    let rate = start;
    let last: number | null = null;
    for (; rate <= max; rate *= 2) {
      if (!(await ok(rate))) { bad = rate; break; }
      last = rate;
    }
    const refine = QUICK ? 0 : 2;
    // a step the time budget cut off is no verdict on the server (its note says so)
    if (bad !== null && last === null && !res.note) res.note = `not sustainable at the lowest rate asked (${start}/s)`;
    if (bad !== null && last !== null && !res.note) {
      let lo = last ?? 0;
      let hi = bad;
      for (let i = 0; i < refine && hi - lo > Math.max(10, lo * 0.1); i++) {
        const mid = Math.round((lo + hi) / 2 / 10) * 10;
        if (mid <= lo || mid >= hi) break;
        if (await ok(mid)) lo = mid; else hi = mid;
        if (res.note) break;
      }
    }
    const g = good as (SippResult & { rate: number }) | null;
    if (g) {
      res.max_rate = g.rate;
      res.cpu_us_per_op = g.server_cpu_us_per_op;
      const { rtdTimes: _t, ...rest } = g;
      res.best = rest;
    }
    if (bad === null && !res.note && g) res.note = `sustained the top of the ladder (${max}/s): a floor, not a ceiling`;
    // latency under load (issue 17): one step at 80 % of the highest sustainable rate
    if (g && (part === 'reg' || part === 'reg-auth' || part === 'call') && elapsedS() <= MAX_S) {
      const at = Math.max(1, Math.round(0.8 * g.rate));
      await sleep(1000);
      const r = await step(part, srv, at, ctx);
      res.steps++;
      res.p99_at_80pct_ms = r.p99_rt_ms;
      log(`${part} ${spec.name} @${at}/s (80 %): ok ${r.successful}/${r.attempted}, p50 ${r.p50_rt_ms} ms, p99 ${r.p99_rt_ms} ms`);
    }
  } catch (e) {
    res.note = `failed: ${(e as Error).message.split('\n')[0]}`;
    log(`${part} ${spec.name}: ${res.note}`);
  } finally {
    if (uas) await uas.stop();
    await srv.stop();
  }
  return res;
}

interface DeliverResult {
  part: 'deliver'; server: string; role: 'tvphone' | 'reference'; stored: number; delivered: number;
  seconds: number | null; per_s: number | null; cpu_us_per_op: number | null; note?: string;
}

/** Store N MESSAGEs for one offline user, register a sipp UAS as that user, time until all are 2xx'd. */
async function deliver(spec: ServerSpec, n: number): Promise<DeliverResult> {
  const res: DeliverResult = { part: 'deliver', server: spec.name, role: spec.role, stored: 0, delivered: 0, seconds: null, per_s: null, cpu_us_per_op: null };
  if (elapsedS() > MAX_S) { res.note = 'skipped: time budget spent'; log(`deliver ${spec.name}: ${res.note}`); return res; }
  let srv: ServerHandle;
  try { srv = await spec.start(); } catch (e) {
    res.note = `server did not start: ${(e as Error).message.split('\n')[0]}`;
    return res;
  }
  let uas: Awaited<ReturnType<typeof startSippUas>> | null = null;
  try {
    const user = `b${process.pid}backlog`;
    await srv.addUsers?.([user]);
    // store phase: as fast as the server takes them, at most 50 outstanding (-l 50)
    const st = await runSipp({
      name: `deliver-store-${++runNo}`, target: srv.target, scenario: SIPP_DIR + 'msg.xml', rows: [user],
      rate: 2000, count: n, workDir: work, extra: ['-l', '50'],
    });
    res.stored = st.successful;
    log(`deliver ${spec.name}: stored ${st.successful}/${n} in ${st.elapsed_s} s`);
    if (st.successful === 0) throw new Error('nothing was stored');
    const timeoutS = QUICK ? 60 : 180;
    const spawnedAt = Date.now();
    uas = await startSippUas({ name: `deliver-uas-${runNo}`, scenario: SIPP_DIR + 'msg-uas.xml', workDir: work, timeoutS, count: st.successful });
    const pids = processTree(srv.pid);
    const cpu0 = cpuSeconds(pids);
    const regAt = Date.now();
    const reg = await runSipp({
      name: `deliver-reg-${runNo}`, target: srv.target, scenario: SIPP_DIR + 'reg.xml', rows: [user], rate: 1, count: 1,
      workDir: work, keys: { contact_hostport: `${LOOPBACK}:${uas.port}` },
    });
    if (reg.successful !== 1) throw new Error('REGISTER of the backlog user failed');
    // wait until every stored message is 2xx'd, or no progress for 15 s, or the timeout
    let seen = 0; let lastChange = Date.now();
    const end = regAt + timeoutS * 1000;
    while (Date.now() < end) {
      const got = readRtt(uas.dir).length;
      if (got !== seen) { seen = got; lastChange = Date.now(); }
      if (seen >= st.successful || Date.now() - lastChange > 15000) break;
      await sleep(250);
    }
    const cpu = cpuSeconds(pids) - cpu0;
    const rtt = readRtt(uas.dir).map((x) => x[0]).sort((a, b) => a - b);
    res.delivered = rtt.length;
    if (rtt.length > 0) {
      // rtt times are ms since the UAS sipp started (spawnedAt, a few ms early: slightly overstates the time)
      res.seconds = Math.round((spawnedAt + rtt[rtt.length - 1]! - regAt)) / 1000;
      res.per_s = Math.round((10 * rtt.length) / res.seconds) / 10;
      res.cpu_us_per_op = Math.round((cpu * 1e7) / rtt.length) / 10;
    }
    if (res.delivered < res.stored) res.note = `only ${res.delivered}/${res.stored} delivered`;
    log(`deliver ${spec.name}: ${res.delivered}/${res.stored} delivered in ${res.seconds} s (${res.per_s}/s, cpu ${res.cpu_us_per_op} us/msg)`);
  } catch (e) {
    res.note = `failed: ${(e as Error).message.split('\n')[0]}`;
    log(`deliver ${spec.name}: ${res.note}`);
  } finally {
    if (uas) await uas.stop();
    await srv.stop();
  }
  return res;
}

function soakLines(r: SoakResult): string[] {
  return [
    `soak ${r.seconds} s on ${r.server} at ${r.share_of_sustainable * 100} % of sustainable (reg ${r.rates.reg}/s + call ${r.rates.call}/s + msg ${r.rates.msg}/s): ` +
      `failed calls ${r.call.failed}/${r.call.attempted}, REGISTERs ${r.reg.failed}/${r.reg.attempted}, MESSAGEs ${r.msg.failed}/${r.msg.attempted}`,
    `  RSS ${r.rss_start_kb} → ${r.rss_end_kb} kB (max ${r.rss_max_kb}), slope after warm-up ${fmt(r.rss_slope_kb_per_min, 1)} kB/min over ${r.samples} samples; server CPU ${fmt(r.cpu_pct_of_core, 1)} % of a core`,
    ...(r.note ? [`  note: ${r.note}`] : []),
  ];
}

/** The connections part's figures against the issue's targets, for the table. */
function connectionsLines(c: ConnectionsResult): string[] {
  const kb = (b: number | null): string => (b === null ? '-' : (b / 1024).toFixed(1));
  return [
    `connections on ${c.server}: ${c.registered}/${c.n} idle TCP TVs registered (asked ${c.asked}) in ${fmt(c.ramp_s, 1)} s; keep-alive every ${c.keepalive_s} s, refresh every ${c.refresh_s} s, window ${c.window_s} s`,
    `  server RSS ${c.rss_idle_kb} kB idle, ${c.rss_kb}→${c.rss_end_kb} kB with them: ${kb(c.rss_per_connection_b)} kB per registered connection (target <= 10 kB; Kamailio 3.0 published 4.5 kB)`,
    `  RSS for 100k registered users, extrapolated from N=${c.registered}: ${fmt(c.rss_100k_estimate_mb)} MB (target <= 150 MB)`,
    `  server CPU for ${fmt(c.keepalives_per_s, 1)} keep-alives/s (${fmt(c.pongs_per_s, 1)} pongs/s) + ${fmt(c.refreshes_per_s, 1)} refreshes/s: ${fmt(c.cpu_pct_of_core, 1)} % of one core (host ${fmt(c.host_cpu_busy_pct)} % busy)` +
      (c.traffic_of > c.n ? ` — the traffic of ${c.traffic_of} TVs (target < 50 %)` : ''),
    ...(c.role === 'tvphone' ? [`  open files ${c.fd_limit_soft}/${c.fd_limit_hard} (soft/hard); transport.maxConnections ${c.max_connections}; fd check at start: ${c.fd_check_at_start ?? 'no warning'}`] : []),
    ...(c.fd_check_for_asked && c.role === 'tvphone' ? [`  fd check for ${c.asked}: ${c.fd_check_for_asked}`] : []),
    ...(c.note ? [`  note: ${c.note}`] : []),
  ];
}

interface SoakResult {
  part: 'soak'; server: string; seconds: number; share_of_sustainable: number;
  rates: { reg: number; call: number; msg: number }; sustainable_from: Record<string, string>;
  reg: { attempted: number; failed: number }; call: { attempted: number; failed: number }; msg: { attempted: number; failed: number };
  rss_start_kb: number | null; rss_end_kb: number | null; rss_max_kb: number | null;
  /** least-squares slope of RSS over the soak after its first fifth (warm-up), kB per minute */
  rss_slope_kb_per_min: number | null; samples: number; cpu_pct_of_core: number | null; note?: string;
}

/**
 * Issue 16's soak: REGISTER refreshes of SOAK_TVS TVs, calls and MESSAGEs to offline users at the same time, each at
 * `share`/3 of its own sustainable rate (together ≈ `share` of the server), in back-to-back bounded sipp runs of
 * ≤ 30 s, for `seconds`; RSS sampled every second.
 */
async function soak(seconds: number, sustainable: { reg: number; call: number; msg: number }, from: Record<string, string>, share: number): Promise<SoakResult> {
  const rates = {
    reg: Math.max(1, Math.round((sustainable.reg * share) / 3)),
    call: Math.max(1, Math.round((sustainable.call * share) / 3)),
    msg: Math.max(1, Math.round((sustainable.msg * share) / 3)),
  };
  const res: SoakResult = {
    part: 'soak', server: 'tvphone sqlite', seconds, share_of_sustainable: share, rates, sustainable_from: from,
    reg: { attempted: 0, failed: 0 }, call: { attempted: 0, failed: 0 }, msg: { attempted: 0, failed: 0 },
    rss_start_kb: null, rss_end_kb: null, rss_max_kb: null, rss_slope_kb_per_min: null, samples: 0, cpu_pct_of_core: null,
  };
  const srv = await startTvphone('sqlite');
  let uas: Awaited<ReturnType<typeof startSippUas>> | null = null;
  const samples: Array<[number, number]> = [];
  let sampler: NodeJS.Timeout | null = null;
  try {
    const recipients = users(`b${process.pid}s${++runNo}o`, RECIPIENTS);
    await srv.addUsers?.(recipients);
    uas = await startSippUas({ name: `soak-uas-${++runNo}`, scenario: SIPP_DIR + 'uas.xml', workDir: work, timeoutS: seconds + 120 });
    const callees = users(`b${process.pid}s${runNo}c`, CALLEES);
    const reg = await runSipp({ name: `soak-callee-reg-${runNo}`, target: srv.target, scenario: SIPP_DIR + 'reg.xml', rows: callees,
      rate: 500, count: CALLEES, workDir: work, keys: { contact_hostport: `${LOOPBACK}:${uas.port}` } });
    if (reg.successful !== CALLEES) throw new Error(`callee registration failed: ${reg.successful}/${CALLEES}`);
    const tvs = users(`b${process.pid}s${runNo}t`, SOAK_TVS);
    log(`soak: ${seconds} s at reg ${rates.reg}/s + call ${rates.call}/s + msg ${rates.msg}/s (${share * 100} % of sustainable, a third each)`);
    const s0 = Date.now();
    const cpu0 = cpuSeconds([srv.pid]);
    const sample = (): void => { samples.push([(Date.now() - s0) / 60000, rssKb([srv.pid])]); };
    sample();
    sampler = setInterval(sample, 1000);
    let chunk = 0;
    while ((Date.now() - s0) / 1000 < seconds - 1) {
      const len = Math.min(30, Math.ceil(seconds - (Date.now() - s0) / 1000));
      ++runNo;
      chunk++;
      const base = (load: string, rate: number) => ({ name: `soak-${load}-${runNo}`, target: srv.target, rate, count: Math.max(1, Math.round(rate * len)), workDir: work });
      const none = Promise.resolve(mergeSipp([]));
      const [r, c, m] = await Promise.all([
        // refreshes over a fixed set of TVs: a soak's memory must level off, so its population does not grow
        // each TV's Contact the same in every run (sipp's own port changes): a refresh, not one binding more per run
        SOAK_LOADS.has('reg') ? runSipp({ ...base('reg', rates.reg), scenario: SIPP_DIR + 'reg.xml', rows: tvs, keys: { contact_hostport: `${LOOPBACK}:${SOAK_TV_PORT}` } }) : none,
        SOAK_LOADS.has('call') ? runSipp({ ...base('call', rates.call), scenario: SIPP_DIR + 'uac-call.xml', rows: callees, extra: ['-d', String(PAUSE_MS)], callMs: PAUSE_MS + 2000 }) : none,
        SOAK_LOADS.has('msg') ? runSipp({ ...base('msg', rates.msg), scenario: SIPP_DIR + 'msg.xml', rows: Array.from({ length: Math.round(rates.msg * len) }, (_, i) => recipients[(i + runNo * 7919) % recipients.length]!) }) : none,
      ]);
      for (const [k, x] of [['reg', r], ['call', c], ['msg', m]] as const) { res[k].attempted += x.attempted; res[k].failed += x.failed; }
      log(`soak chunk ${chunk} (${len} s): reg ${r.successful}/${r.attempted}, call ${c.successful}/${c.attempted}, msg ${m.successful}/${m.attempted}; RSS ${samples[samples.length - 1]?.[1]} kB`);
    }
    clearInterval(sampler);
    sampler = null;
    sample();
    res.cpu_pct_of_core = Math.round((1000 * (cpuSeconds([srv.pid]) - cpu0)) / ((Date.now() - s0) / 1000)) / 10;
    res.samples = samples.length;
    res.rss_start_kb = samples[0]![1];
    res.rss_end_kb = samples[samples.length - 1]![1];
    res.rss_max_kb = Math.max(...samples.map((x) => x[1]));
    const steady = samples.filter((x) => x[0] >= samples[samples.length - 1]![0] / 5);
    const sl = slope(steady);
    res.rss_slope_kb_per_min = sl === null ? null : Math.round(sl * 10) / 10;
    if (res.call.failed > 0) res.note = `${res.call.failed} failed calls (the soak asks for 0)`;
  } catch (e) {
    res.note = `failed: ${(e as Error).message.split('\n')[0]}`;
    log(`soak: ${res.note}`);
  } finally {
    if (sampler) clearInterval(sampler);
    if (uas) await uas.stop();
    await srv.stop();
  }
  return res;
}

function fmt(v: number | null | undefined, d = 0): string {
  return v === null || v === undefined || Number.isNaN(v) ? '-' : v.toFixed(d);
}
function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  return a && b ? Math.round((1000 * a) / b) / 1000 : null;
}

async function main(): Promise<number> {
  if (!kamailioAvailable()) notes.push('kamailio not installed: no reference rows (apt-get install kamailio kamailio-sqlite-modules)');
  const selfTest = env['BENCH_SUBJECT'] === 'kamailio';
  const haveTvphone = !selfTest && tvphoneServeAvailable();
  if (!selfTest && !haveTvphone) notes.push('`tvphone serve` is not available in this checkout: tvphone rows skipped');
  const kam = (name: string, o: KamailioOptions, role: 'tvphone' | 'reference' = 'reference'): ServerSpec =>
    ({ name, role, start: async () => startKamailio(o) });
  const subject = (name: string, o: KamailioOptions): ServerSpec | null =>
    selfTest ? kam(`${name} (self-test)`, o, 'tvphone') : null;
  const tvSqlite: ServerSpec = { name: 'tvphone sqlite', role: 'tvphone', start: (o) => startTvphone('sqlite', o) };
  // the cluster part: a fresh database per sweep; 1 node (the reference) against 2 nodes sharing it
  const pgFresh = async (start: (url: string) => Promise<ServerHandle>): Promise<ServerHandle> => {
    const db = await createBenchDatabase(PG_URL!);
    try {
      const h = await start(db.url);
      return { ...h, dbPids: () => db.backendPids(), dbCounters: () => db.counters(), stop: async () => { await h.stop(); await db.drop(); } };
    } catch (e) {
      await db.drop();
      throw e;
    }
  };
  const tvPg: ServerSpec | null = PG_URL ? { name: 'tvphone postgres', role: 'tvphone', warmup: true, start: () => pgFresh((url) => startTvphone({ url })) } : null;
  const tvMssql: ServerSpec | null = MSSQL_URL ? { name: 'tvphone mssql', role: 'tvphone', warmup: true, start: () => startTvphone({ url: MSSQL_URL }) } : null;
  const haveKam = kamailioAvailable();
  const pgOneNode: ServerSpec | null = PG_URL ? { name: 'tvphone postgres 1 node', role: 'reference', start: () => pgFresh((url) => startTvphone({ url }, { name: 'tvphone postgres 1 node' })) } : null;
  const pgTwoNodes: ServerSpec | null = PG_URL ? {
    name: 'tvphone postgres 2 nodes', role: 'tvphone', start: () => pgFresh(async (url) => {
      const a = await startTvphone({ url }, { nodeId: 'bench-a', name: 'tvphone node a' });
      let b: Awaited<ReturnType<typeof startTvphone>>;
      try { b = await startTvphone({ url }, { nodeId: 'bench-b', name: 'tvphone node b' }); } catch (e) { await a.stop(); throw e; }
      return {
        ...a, name: 'tvphone postgres 2 nodes', nodes: [{ target: a.target, pid: a.pid }, { target: b.target, pid: b.pid }],
        stop: async () => { await Promise.all([a.stop(), b.stop()]); },
      };
    }),
  } : null;

  log(`work dir ${work}; quick=${QUICK} run=${RUN_S}s/step budget=${MAX_S}s parts=${[...ONLY].join(',')}`);
  const results: SweepResult[] = [];
  const emit = (r: object): void => { process.stdout.write(`${JSON.stringify(r)}\n`); };
  const plan: Array<[Part, ServerSpec | null, number, number, Label?]> = [];
  const tvAuth: ServerSpec = { name: 'tvphone sqlite digest', role: 'tvphone', start: () => startTvphone('sqlite', { auth: 'digest', name: 'tvphone sqlite digest' }) };
  const regMax = QUICK ? 4000 : 25600;
  if (ONLY.has('reg')) {
    plan.push(['reg', haveKam ? kam('kamailio usrloc memory', { children: 2 }) : null, QUICK ? 500 : 400, regMax]);
    if (!QUICK) plan.push(['reg', haveKam ? kam('kamailio usrloc sqlite write-through', { db: true, children: 1 }) : null, 100, 6400]);
    plan.push(['reg', haveTvphone ? tvSqlite : subject('kamailio usrloc sqlite', { db: true, children: 1 }), QUICK ? 100 : 100, regMax]);
    if (haveTvphone && tvPg) plan.push(['reg', tvPg, 100, regMax]);
    // from 25/s: on Babelfish (CI's SQL Server) 100/s is already beyond it on two cores
    if (haveTvphone && tvMssql) plan.push(['reg', tvMssql, 25, regMax]);
  }
  if (ONLY.has('reg-auth')) {
    plan.push(['reg-auth', haveKam ? kam('kamailio auth_db usrloc memory', { children: 2, authUsers: AUTH_USERS }) : null, QUICK ? 200 : 200, regMax]);
    plan.push(['reg-auth', haveTvphone ? tvAuth : subject('kamailio auth_db', { children: 2, authUsers: AUTH_USERS }), QUICK ? 100 : 100, regMax]);
  }
  if (ONLY.has('call')) {
    plan.push(['call', haveKam ? kam('kamailio tm usrloc memory', { children: 2 }) : null, QUICK ? 100 : 100, QUICK ? 400 : 6400]);
    plan.push(['call', haveTvphone ? tvSqlite : subject('kamailio tm', { children: 2 }), QUICK ? 100 : 50, QUICK ? 400 : 6400]);
  }
  if (ONLY.has('trunk')) {
    plan.push(['trunk', haveKam ? { name: 'kamailio tm relay to the carrier', role: 'reference', start: (o) => startKamailio({ children: 2, relayToPort: o?.trunkPort }) } : null,
      QUICK ? 100 : 100, QUICK ? 400 : 6400]);
    plan.push(['trunk', haveTvphone ? tvSqlite : null, QUICK ? 100 : 50, QUICK ? 400 : 6400]);
  }
  if (ONLY.has('msg')) {
    plan.push(['msg', haveKam ? kam('kamailio msilo sqlite', { msilo: true, children: 1 }) : null, QUICK ? 100 : 50, QUICK ? 400 : 6400]);
    plan.push(['msg', haveTvphone ? tvSqlite : subject('kamailio msilo sqlite', { msilo: true, children: 1 }), QUICK ? 100 : 50, QUICK ? 400 : 6400]);
    if (haveTvphone && tvPg) plan.push(['msg', tvPg, 50, QUICK ? 400 : 6400]);
    if (haveTvphone && tvMssql) plan.push(['msg', tvMssql, 25, QUICK ? 400 : 6400]);
  }
  if (ONLY.has('cluster')) {
    if (!PG_URL) notes.push('cluster part skipped: it needs PostgreSQL (BENCH_PG_URL or TVPHONE_TEST_PG_URL)');
    else if (!haveTvphone) notes.push('cluster part skipped: no `tvphone serve`');
    else {
      plan.push(['reg', pgOneNode, 50, regMax, 'cluster reg'], ['reg', pgTwoNodes, 50, regMax, 'cluster reg']);
      plan.push(['call', pgOneNode, QUICK ? 100 : 50, QUICK ? 400 : 6400, 'cluster call'], ['call', pgTwoNodes, QUICK ? 100 : 50, QUICK ? 400 : 6400, 'cluster call']);
      notes.push('cluster: 2 nodes / 1 node on one PostgreSQL, all on this machine\'s 2 cores with sipp and PostgreSQL: ' +
        'the ratio shows what a second node costs (heartbeats, shared-database work), not the gain of a second machine');
    }
  }
  for (const [part, spec, start, max, label] of plan) {
    if (!spec || (SERVERS.length > 0 && !SERVERS.some((x) => spec.name.includes(x)))) continue;
    log(`== ${label ?? part} on ${spec.name}`);
    const r = await sweep(part, spec, start, max, label);
    results.push(r);
    emit({ part: r.part, server: r.server, role: r.role, max_sustainable_rate: r.max_rate, server_cpu_us_per_op: r.cpu_us_per_op, p99_at_80pct_ms: r.p99_at_80pct_ms ?? null, db_cpu_us_per_op: r.best?.db_cpu_us_per_op ?? null,
      db_commits_per_op: r.best?.db_commits_per_op ?? null, db_rows_written_per_op: r.best?.db_rows_written_per_op ?? null, steps: r.steps, note: r.note ?? null, best_run: r.best ?? null });
  }
  const deliveries: DeliverResult[] = [];
  if (ONLY.has('deliver')) {
    const specs: ServerSpec[] = [];
    if (haveKam) specs.push(kam('kamailio msilo m_dump', { msilo: true, children: 1 }));
    if (haveTvphone) specs.push(tvSqlite);
    else if (selfTest) specs.push(kam('kamailio msilo m_dump (self-test)', { msilo: true, children: 1 }, 'tvphone'));
    for (const s of specs) {
      log(`== deliver ${DELIVER_N} on ${s.name}`);
      const d = await deliver(s, DELIVER_N);
      deliveries.push(d);
      emit(d);
    }
  }

  let soakRes: SoakResult | null = null;
  if (SOAK_S > 0 && haveTvphone) {
    // 80 % of the sustainable rates this run measured on tvphone sqlite; the missing ones by a short ladder first
    const sustained: Record<'reg' | 'call' | 'msg', number> = { reg: 0, call: 0, msg: 0 };
    const from: Record<string, string> = {};
    for (const load of ['reg', 'call', 'msg'] as const) {
      const fromEnv = Number(env[`BENCH_SOAK_${load.toUpperCase()}_RATE`] ?? 0);
      const measured = results.find((r) => r.part === load && r.server === 'tvphone sqlite' && r.max_rate);
      if (fromEnv > 0) { sustained[load] = fromEnv; from[load] = `BENCH_SOAK_${load.toUpperCase()}_RATE`; continue; }
      if (measured) { sustained[load] = measured.max_rate!; from[load] = 'this run\'s sweep'; continue; }
      log(`soak: no sustainable ${load} rate yet: a short ladder first`);
      const r = await sweep(load, tvSqlite, load === 'reg' ? 200 : 50, load === 'reg' ? 6400 : 1600);
      results.push(r);
      emit({ part: r.part, server: r.server, role: r.role, max_sustainable_rate: r.max_rate, server_cpu_us_per_op: r.cpu_us_per_op, db_cpu_us_per_op: null, steps: r.steps, note: r.note ?? null, best_run: r.best ?? null });
      sustained[load] = r.max_rate ?? (load === 'reg' ? 200 : 50);
      from[load] = r.max_rate ? 'a short ladder before the soak' : 'the ladder\'s lowest step (none was sustainable)';
    }
    log(`== soak ${SOAK_S} s`);
    soakRes = await soak(SOAK_S, sustained, from, 0.8);
    if (SOAK_LOADS.size < 3) soakRes.note = `${soakRes.note ? `${soakRes.note}; ` : ''}only ${[...SOAK_LOADS].join(',')} (BENCH_SOAK_LOADS)`;
    emit(soakRes);
  } else if (ONLY.has('soak')) notes.push('soak: off (set BENCH_SOAK_S, e.g. BENCH_SOAK_S=1800 for the issue\'s 30 minutes)');

  let conn: ConnectionsResult[] = [];
  if (ONLY.has('connections')) {
    if (!haveTvphone) notes.push('connections part skipped: no `tvphone serve`');
    else if (elapsedS() > MAX_S && ONLY.size > 1) notes.push('connections part skipped: time budget spent');
    else {
      log('== connections');
      conn = await runConnections({ quick: QUICK, log });
      for (const c of conn) emit(c);
      const [ref, tv] = [conn.find((c) => c.role === 'reference'), conn.find((c) => c.role === 'tvphone')];
      if (ref && tv) emit({ ratio: `connections: ${tv.server} / ${ref.server}`, part: 'connections', rss_per_connection_ratio: ratio(tv.rss_per_connection_b, ref.rss_per_connection_b), cpu_ratio: ratio(tv.cpu_pct_of_core, ref.cpu_pct_of_core) });
    }
  }

  let memory: MemoryResult | null = null;
  if (ONLY.has('memory')) {
    if (!haveTvphone) notes.push('memory part skipped: no `tvphone serve`');
    else if (elapsedS() > MAX_S && ONLY.size > 1) notes.push('memory part skipped: time budget spent');
    else {
      log('== memory');
      memory = await runMemory({ quick: QUICK, workDir: work, log });
      emit(memory);
    }
  }

  // ratios: tvphone (or self-test subject) over the reference of the same part
  const rows: string[][] = [];
  const head = ['part', 'server', 'max rate/s', 'CPU us/op', 'p99 ms @80%', 'rate ratio', 'CPU ratio', 'note'];
  const p99 = (r: SweepResult): string => (r.p99_at_80pct_ms === undefined ? '' : fmt(r.p99_at_80pct_ms, 1));
  for (const part of ['reg', 'reg-auth', 'call', 'msg', 'trunk', 'cluster reg', 'cluster call'] as const) {
    const refs = results.filter((r) => r.part === part && r.role === 'reference');
    for (const r of results.filter((x) => x.part === part)) {
      if (r.role === 'reference') {
        rows.push([part, r.server, fmt(r.max_rate), fmt(r.cpu_us_per_op, 1), p99(r), '', '', r.note ?? '']);
        continue;
      }
      for (const [i, ref] of refs.entries()) {
        const rr = ratio(r.max_rate, ref.max_rate);
        const cr = ratio(r.cpu_us_per_op, ref.cpu_us_per_op);
        emit({ ratio: `${part}: ${r.server} / ${ref.server}`, part, rate_ratio: rr, cpu_per_op_ratio: cr });
        rows.push([part, i === 0 ? r.server : '', i === 0 ? fmt(r.max_rate) : '', i === 0 ? fmt(r.cpu_us_per_op, 1) : '', i === 0 ? p99(r) : '',
          `${fmt(rr, 2)} vs ${ref.server}`, fmt(cr, 2), i === 0 ? (r.note ?? '') : '']);
      }
      if (refs.length === 0) rows.push([part, r.server, fmt(r.max_rate), fmt(r.cpu_us_per_op, 1), p99(r), '-', '-', r.note ?? '']);
    }
  }
  // the trunk part's second ratio: CPU per call out through a trunk over tvphone's own local call (target ≤ 1.2)
  const localCall = results.find((r) => r.part === 'call' && r.role === 'tvphone');
  for (const t of results.filter((r) => r.part === 'trunk' && r.role === 'tvphone')) {
    if (!localCall) continue;
    const cr = ratio(t.cpu_us_per_op, localCall.cpu_us_per_op);
    emit({ ratio: `trunk: ${t.server} / ${localCall.server} local call`, part: 'trunk', rate_ratio: ratio(t.max_rate, localCall.max_rate), cpu_per_op_ratio: cr });
    rows.push(['trunk', '', '', '', '', `${fmt(ratio(t.max_rate, localCall.max_rate), 2)} vs its local call`, fmt(cr, 2), 'target CPU ratio <= 1.2']);
  }
  const dref = deliveries.find((d) => d.role === 'reference');
  for (const d of deliveries) {
    const rr = d.role === 'tvphone' && dref ? ratio(d.per_s, dref.per_s) : null;
    const cr = d.role === 'tvphone' && dref ? ratio(d.cpu_us_per_op, dref.cpu_us_per_op) : null;
    if (d.role === 'tvphone' && dref) emit({ ratio: `deliver: ${d.server} / ${dref.server}`, part: 'deliver', rate_ratio: rr, cpu_per_op_ratio: cr });
    rows.push(['deliver', d.server, `${fmt(d.per_s)} (${d.delivered}/${d.stored} in ${fmt(d.seconds, 2)} s)`, fmt(d.cpu_us_per_op, 1), '',
      rr === null ? '' : `${fmt(rr, 2)} vs ${dref!.server}`, cr === null ? '' : fmt(cr, 2), d.note ?? '']);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const out = [
    '',
    `tvphone load benchmark (sipp ${QUICK ? 'quick smoke run' : 'sweep'}, loopback; sustainable = failures < ${MAX_FAIL_PCT}%, achieved >= ${MIN_ACHIEVED * 100}% of asked, p99 <= ${MAX_P99_MS} ms)`,
    line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line),
    ...conn.flatMap(connectionsLines),
    ...(memory ? [`memory (${memory.build}; idle src ${memory.rss_idle_src_mb ?? '-'} MB, dist ${memory.rss_idle_dist_mb ?? '-'} MB): `
      + `${memory.registered}/${memory.users} users registered over UDP (${memory.rate}/s): RSS ${memory.rss_idle_mb} MB idle, `
      + `${memory.rss_end_mb} MB at the end, ${memory.rss_settled_mb} MB settled (peak ${memory.peak_rss_mb ?? '-'} MB; `
      + `${memory.rss_per_user_b ?? '-'} B a user; target <= ${memory.target_mb} MB for 100,000)${memory.note ? `; ${memory.note}` : ''}`] : []),
    ...(soakRes ? soakLines(soakRes) : []),
    ...notes.map((n) => `note: ${n}`),
    `ratios are tvphone / Kamailio, cluster rows 2 nodes / 1 node (rate: higher is better; CPU per op: lower is better). duration ${elapsedS().toFixed(0)} s`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  emit({ bench: 'done', duration_s: Math.round(elapsedS()), quick: QUICK });
  return 0;
}

let code = 1;
try {
  code = await main();
} finally {
  if (env['BENCH_KEEP'] === '1') log(`kept work dir ${work}`);
  else if (existsSync(work)) rmSync(work, { recursive: true, force: true });
}
process.exitCode = code;
