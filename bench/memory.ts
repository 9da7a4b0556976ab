// The bench's `memory` part (issue 18: "100,000 registered users with one binding each in ≤ 150 MB RSS"): one
// `tvphone serve --auth none` on SQLite takes a real REGISTER of each of N fresh users over UDP from sipp
// (sipp/reg.xml, one binding each: the Contact is sipp's own address), at BENCH_MEMORY_RATE a second; the server's
// RSS before (idle, its baseline), at the end, its peak, and again after BENCH_MEMORY_SETTLE_S of quiet.
import { runSipp, SIPP_DIR } from './lib/sipp.ts';
import { startTvphone } from './lib/tvphone.ts';
import { rssKb, sleep } from './lib/proc.ts';

export interface MemoryResult {
  part: 'memory'; server: string; users: number; registered: number; rate: number; elapsed_s: number;
  rss_idle_mb: number; rss_end_mb: number; rss_settled_mb: number; peak_rss_mb: number | null;
  rss_per_user_b: number | null; target_mb: 150; within_target: boolean | null; note?: string;
}

const mb = (kb: number) => Math.round(kb / 102.4) / 10;

export async function runMemory(o: { quick: boolean; workDir: string; log: (s: string) => void }): Promise<MemoryResult> {
  const n = Number(process.env['BENCH_MEMORY_USERS'] ?? (o.quick ? 5000 : 100_000));
  const rate = Number(process.env['BENCH_MEMORY_RATE'] ?? 1000);
  const settleS = Number(process.env['BENCH_MEMORY_SETTLE_S'] ?? 5);
  const srv = await startTvphone('sqlite', { name: 'tvphone sqlite' });
  try {
    await sleep(2000);
    const idle = rssKb([srv.pid]);
    o.log(`memory: ${n} REGISTERs at ${rate}/s; idle RSS ${mb(idle)} MB`);
    const rows = Array.from({ length: n }, (_, i) => `m${process.pid}u${String(i + 1).padStart(7, '0')}`);
    const r = await runSipp({ name: `memory-${n}`, scenario: SIPP_DIR + 'reg.xml', target: srv.target, rate, count: n, rows, workDir: o.workDir, serverPid: srv.pid });
    const end = rssKb([srv.pid]);
    await sleep(settleS * 1000);
    const settled = rssKb([srv.pid]);
    const full = n >= 100_000;
    return {
      part: 'memory', server: srv.name, users: n, registered: r.successful, rate, elapsed_s: r.elapsed_s,
      rss_idle_mb: mb(idle), rss_end_mb: mb(end), rss_settled_mb: mb(settled), peak_rss_mb: r.peak_rss_kb === null ? null : mb(r.peak_rss_kb),
      rss_per_user_b: r.successful > 0 ? Math.round(((settled - idle) * 1024) / r.successful) : null,
      target_mb: 150, within_target: full ? mb(settled) <= 150 : null,
      ...(full ? {} : { note: `${n} users (BENCH_MEMORY_USERS): the 150 MB target is for 100,000` }),
    };
  } finally {
    await srv.stop();
  }
}
