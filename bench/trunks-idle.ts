// `npm run bench:trunks`: what 500 registered trunks cost a server that does nothing else. One Kamailio 5.6 as the
// carrier's registrar (digest, 500 accounts, grants 60 s), `tvphone serve` with 500 trunks (register, expires 60,
// no ping); once all are REGED, the server's CPU time over a window (default 120 s: two refresh rounds at 80 % of 60 s)
// as a share of one core, with the refreshes seen in that window. Bounded: it gives up when not all register in time.
// Env: BENCH_TRUNKS (500), BENCH_IDLE_S (120).
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuSeconds, freePort, processTree, sleep, LOOPBACK } from './lib/proc.ts';
import { CARRIER_PASSWORD, CARRIER_REALM, kamailioCarrier } from '../test/interop/lib/kamailio-carrier.ts';

const N = Number(process.env['BENCH_TRUNKS'] ?? 500);
const IDLE_S = Number(process.env['BENCH_IDLE_S'] ?? 120);
const BIN = new URL('../bin/tvphone', import.meta.url).pathname;
const log = (s: string): void => void process.stderr.write(`[bench:trunks] ${s}\n`);

interface Row { state: string; registrations: number }

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'tvphone-bench-trunks-'));
  const carrierPort = await freePort();
  const kam = await kamailioCarrier({ port: carrierPort, algorithm: 'MD5', anyAccount: true, maxExpires: 60, children: 2, quiet: true });
  const adminPort = await freePort();
  const sipPort = await freePort();
  const profile = join(dir, 'profile.json');
  writeFileSync(profile, JSON.stringify({
    listeners: [{ transport: 'udp', host: LOOPBACK, port: sipPort }], auth: { mode: 'none' },
    store: { url: `sqlite:${join(dir, 'tvphone.db')}` }, admin: { listen: `${LOOPBACK}:${adminPort}` },
    trunks: Array.from({ length: N }, (_, i) => ({
      name: `t${i + 1}`, host: LOOPBACK, port: carrierPort, username: `acct${i + 1}`, password: CARRIER_PASSWORD, realm: CARRIER_REALM,
      register: true, expires: 60, retrySeconds: 5,
    })),
  }));
  const logFd = openSync(join(dir, 'tvphone.log'), 'a');
  const child = spawn(process.execPath, [BIN, 'serve', '--profile', profile], { stdio: ['ignore', logFd, logFd], env: { ...process.env, TVPHONE_LOG: 'warn' } });
  closeSync(logFd);
  const status = async (): Promise<Row[] | null> => {
    try {
      return await (await fetch(`http://${LOOPBACK}:${adminPort}/trunks`, { signal: AbortSignal.timeout(5000) })).json() as Row[];
    } catch {
      return null;
    }
  };
  let code = 0;
  try {
    const t0 = Date.now();
    let rows: Row[] | null = null;
    while (Date.now() - t0 < 120_000) {
      rows = await status();
      if (rows !== null && rows.length === N && rows.every((r) => r.state === 'REGED')) break;
      await sleep(500);
    }
    const reged = rows?.filter((r) => r.state === 'REGED').length ?? 0;
    log(`${reged}/${N} trunks REGED after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    if (reged !== N) throw new Error(`only ${reged} of ${N} trunks registered within 120 s:\n${readFileSync(join(dir, 'tvphone.log'), 'utf8').slice(-2000)}`);
    const before = rows!.reduce((s, r) => s + r.registrations, 0);
    const pids = processTree(child.pid!);
    const cpu0 = cpuSeconds(pids);
    await sleep(IDLE_S * 1000);
    const cpu1 = cpuSeconds(pids);
    const after = (await status()) ?? [];
    const refreshes = after.reduce((s, r) => s + r.registrations, 0) - before;
    const share = (cpu1 - cpu0) / IDLE_S;
    const allUp = after.length === N && after.every((r) => r.state === 'REGED');
    const result = { bench: 'trunks-idle', trunks: N, expires: 60, window_s: IDLE_S, server_cpu_s: Number((cpu1 - cpu0).toFixed(2)),
      core_share_pct: Number((share * 100).toFixed(2)), refreshes_in_window: refreshes, all_reged_at_end: allUp };
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.stdout.write(`${N} trunks refreshed every ~48 s: ${(share * 100).toFixed(2)} % of one core over ${IDLE_S} s (${refreshes} refreshes, ` +
      `${refreshes > 0 ? ((cpu1 - cpu0) * 1e6 / refreshes).toFixed(0) : '-'} us CPU per refresh including everything else the idle server does)\n`);
    if (!allUp) code = 1;
  } catch (err) {
    log((err as Error).message);
    code = 1;
  } finally {
    child.kill('SIGTERM');
    await Promise.race([new Promise((r) => child.once('exit', r)), sleep(8000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
    await kam.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return code;
}

process.exitCode = await main();
