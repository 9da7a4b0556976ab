// The bench's `memory` part (issue 18: "100,000 registered users with one binding each in ≤ 150 MB RSS"): one
// `tvphone serve --auth none` on SQLite takes a real REGISTER of each of N fresh users over UDP from sipp
// (sipp/reg.xml, one binding each: the Contact is sipp's own address), at BENCH_MEMORY_RATE a second; the server's
// RSS before (idle, its baseline), at the end, its peak, and again after BENCH_MEMORY_SETTLE_S of quiet.
// BENCH_MEMORY_BUILD picks what runs: dist (default: the compiled package, what an installed tvphone runs; built
// first with `npm run build`) or src (the checkout's TypeScript, stripped at load). The idle RSS of the other one is
// measured too (one more start, a few seconds), since type stripping alone is tens of MB.
import { runSipp, SIPP_DIR } from './lib/sipp.ts';
import { buildDist, startTvphone } from './lib/tvphone.ts';
import { readFileSync } from 'node:fs';
import { rssKb, sleep } from './lib/proc.ts';

type Build = 'src' | 'dist';

export interface MemoryResult {
  part: 'memory'; server: string; build: Build; users: number; registered: number; rate: number; elapsed_s: number;
  rss_idle_mb: number; rss_end_mb: number; rss_settled_mb: number; peak_rss_mb: number | null;
  /** the settled RSS split: anonymous memory (heaps, malloc) and file pages (mostly the node binary) */
  anon_settled_mb: number | null; file_settled_mb: number | null;
  /** the idle RSS of each build (the measured one's is rss_idle_mb) */
  rss_idle_src_mb: number | null; rss_idle_dist_mb: number | null;
  rss_per_user_b: number | null; target_mb: 150; within_target: boolean | null;
  /** the server's CPU during the REGISTERs, per REGISTER (what a smaller heap costs in collections) */
  server_cpu_us_per_op: number | null; note?: string;
}

const mb = (kb: number) => Math.round(kb / 102.4) / 10;

/** RssAnon and RssFile of /proc/PID/status, in kB (null once the process is gone). */
function rssSplitKb(pid: number): { anon: number; file: number } | null {
  try {
    const st = readFileSync(`/proc/${pid}/status`, 'utf8');
    const v = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(st)?.[1] ?? NaN);
    return { anon: v('RssAnon'), file: v('RssFile') };
  } catch {
    return null;
  }
}

/** The idle server's RSS: started, given IDLE_MS to settle, stopped. */
const IDLE_MS = 2000;
async function idleRssKb(build: Build): Promise<number> {
  const srv = await startTvphone('sqlite', { name: `tvphone sqlite (${build})`, build });
  try {
    await sleep(IDLE_MS);
    return rssKb([srv.pid]);
  } finally {
    await srv.stop();
  }
}

export async function runMemory(o: { quick: boolean; workDir: string; log: (s: string) => void }): Promise<MemoryResult> {
  const n = Number(process.env['BENCH_MEMORY_USERS'] ?? (o.quick ? 5000 : 100_000));
  const rate = Number(process.env['BENCH_MEMORY_RATE'] ?? 1000);
  const settleS = Number(process.env['BENCH_MEMORY_SETTLE_S'] ?? 5);
  const asked = (process.env['BENCH_MEMORY_BUILD'] ?? 'dist') as Build;
  if (asked !== 'src' && asked !== 'dist') throw new Error(`BENCH_MEMORY_BUILD=${String(asked)}: use dist or src`);
  const notes: string[] = [];
  const buildError = buildDist(); // even for src: the idle figure of dist is reported next to it
  if (buildError !== null) notes.push(`${buildError}: dist/ not measured`);
  const build: Build = buildError === null ? asked : 'src';
  const other: Build = build === 'dist' ? 'src' : 'dist';
  const otherIdle = other === 'dist' && buildError !== null ? null : await idleRssKb(other);
  const srv = await startTvphone('sqlite', { name: `tvphone sqlite (${build})`, build });
  try {
    await sleep(IDLE_MS);
    const idle = rssKb([srv.pid]);
    o.log(`memory: ${build}: ${n} REGISTERs at ${rate}/s; idle RSS ${mb(idle)} MB (${other}: ${otherIdle === null ? '-' : mb(otherIdle)} MB)`);
    const rows = Array.from({ length: n }, (_, i) => `m${process.pid}u${String(i + 1).padStart(7, '0')}`);
    const r = await runSipp({ name: `memory-${n}`, scenario: SIPP_DIR + 'reg.xml', target: srv.target, rate, count: n, rows, workDir: o.workDir, serverPid: srv.pid });
    const end = rssKb([srv.pid]);
    await sleep(settleS * 1000);
    const settled = rssKb([srv.pid]);
    const split = rssSplitKb(srv.pid);
    const full = n >= 100_000;
    if (!full) notes.push(`${n} users (BENCH_MEMORY_USERS): the 150 MB target is for 100,000`);
    const idleOf = (b: Build) => (b === build ? mb(idle) : otherIdle === null ? null : mb(otherIdle));
    return {
      part: 'memory', server: srv.name, build, users: n, registered: r.successful, rate, elapsed_s: r.elapsed_s,
      rss_idle_mb: mb(idle), rss_end_mb: mb(end), rss_settled_mb: mb(settled), peak_rss_mb: r.peak_rss_kb === null ? null : mb(r.peak_rss_kb),
      anon_settled_mb: split === null ? null : mb(split.anon), file_settled_mb: split === null ? null : mb(split.file),
      rss_idle_src_mb: idleOf('src'), rss_idle_dist_mb: idleOf('dist'),
      rss_per_user_b: r.successful > 0 ? Math.round(((settled - idle) * 1024) / r.successful) : null,
      target_mb: 150, within_target: full ? mb(settled) <= 150 : null, server_cpu_us_per_op: r.server_cpu_us_per_op,
      ...(notes.length ? { note: notes.join('; ') } : {}),
    };
  } finally {
    await srv.stop();
  }
}
