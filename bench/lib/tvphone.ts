// Starts and stops `tvphone serve` (the server under test) on a free loopback port with a durable store.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitSipReady, sleep, live, LOOPBACK } from './proc.ts';
import type { ServerHandle } from './kamailio.ts';

const BIN = new URL('../../bin/tvphone', import.meta.url).pathname;
/** the V8 flags of bin/tvphone's #! line: what `tvphone serve` runs with when installed */
const NODE_FLAGS = (readFileSync(BIN, 'utf8').split('\n', 1)[0].match(/\bnode((?:\s+--\S+)*)\s*$/)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
/** more V8 flags for the server only (`BENCH_SERVER_FLAGS='--cpu-prof --cpu-prof-dir=/tmp/p'`): NODE_OPTIONS refuses some */
const EXTRA_FLAGS = (process.env['BENCH_SERVER_FLAGS'] ?? '').split(/\s+/).filter(Boolean);
/** the entry of the compiled package (dist/, what an installed tvphone runs) */
const DIST_BIN = new URL('./tvphone-dist.js', import.meta.url).pathname;
const ROOT = new URL('../../', import.meta.url).pathname;

/** Compiles src/ into the checkout's dist/ (`npm run build`); null when it worked, else why not. */
export function buildDist(): string | null {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/build.js')], { cwd: ROOT, encoding: 'utf8', timeout: 180000 });
  return r.status === 0 ? null : `npm run build failed (${r.status ?? r.signal}): ${(r.stderr + r.stdout).trim().split('\n').slice(-3).join(' ')}`;
}

/** True when this checkout's `tvphone serve --help` works (the server exists). */
export function tvphoneServeAvailable(): boolean {
  const r = spawnSync(process.execPath, [BIN, 'serve', '--help'], { encoding: 'utf8', timeout: 20000 });
  return r.status === 0 && /--listen/.test(r.stdout + r.stderr);
}

export interface TvphoneOptions {
  /** a carrier (sipp UAS) on loopback: calls to 0… go out to it through a trunk (IP peer, E.164) */
  trunkPort?: number;
  /** also listen on TCP at the same port */
  tcp?: boolean;
  /** one node of several on one database: its id (its sipUri is this server's TCP listener) */
  nodeId?: string;
  /** profile sections merged over the bench profile (e.g. transport limits) */
  profile?: Record<string, unknown>;
  /** raise the soft open-file limit to the hard one before the server starts (`ulimit -n`) */
  raiseFdLimit?: boolean;
  /** the name the handle carries */
  name?: string;
  /** --auth (default none: any user may register) */
  auth?: 'none' | 'digest';
  /** how long to wait for the first SIP answer (default 20 s) */
  readyTimeoutMs?: number;
  /** extra environment of the server (TVPHONE_LOG …) */
  env?: Record<string, string>;
  /** src (default): the checkout's TypeScript through bin/tvphone; dist: the compiled package (buildDist() first) */
  build?: 'src' | 'dist';
}

/** Store: 'sqlite' (a fresh file in a temp dir) or a postgres:// URL. */
export async function startTvphone(store: 'sqlite' | { url: string }, o: TvphoneOptions = {}): Promise<ServerHandle & { dir: string; logFile: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tvphone-bench-srv-'));
  const port = await freePort();
  const tcp = o.tcp === true || o.nodeId !== undefined;
  const db = store === 'sqlite' ? `sqlite:${join(dir, 'tvphone.db')}` : store.url;
  // the backlog part keeps 10,000 messages for one user: lift the per-user quota of the default profile
  const profile = join(dir, 'bench-profile.json');
  writeFileSync(profile, JSON.stringify({
    messages: { quotaCount: 1_000_000, quotaBytes: 2 ** 40 },
    // the load generators are one source on loopback: the per-source rate limit would measure itself
    security: { trusted: [LOOPBACK] },
    ...(o.trunkPort === undefined ? {} : {
      trunks: [{ name: 'carrier', host: LOOPBACK, port: o.trunkPort, register: false }],
      routes: [{ prefix: '0', trunks: ['carrier'], e164: { countryCode: '49' } }],
    }),
    ...(o.nodeId === undefined ? {} : { node: { id: o.nodeId, sipUri: `sip:${LOOPBACK}:${port};transport=tcp` } }),
    ...o.profile,
  }));
  const args = [...NODE_FLAGS, ...EXTRA_FLAGS, o.build === 'dist' ? DIST_BIN : BIN, 'serve', '--profile', profile, '--auth', o.auth ?? 'none', '--listen', `udp:${LOOPBACK}:${port}`,
    ...(tcp ? ['--listen', `tcp:${LOOPBACK}:${port}`] : []), '--db', db, '--domain', LOOPBACK];
  const logFile = join(dir, 'tvphone.log');
  const logFd = openSync(logFile, 'a');
  // `ulimit -n HARD; exec node …`: the shell is replaced by node, so the child's PID is the server's
  const [cmd, argv] = o.raiseFdLimit
    ? ['/bin/sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', process.execPath, ...args]]
    : [process.execPath, args];
  const child = spawn(cmd, argv, {
    stdio: ['ignore', logFd, logFd],
    env: { ...process.env, TVPHONE_LOG: process.env['TVPHONE_LOG'] ?? 'warn', ...o.env },
  });
  closeSync(logFd);
  let exited = false;
  const exitP = new Promise<void>((r) => child.once('exit', () => { exited = true; r(); }));
  const stop = async (): Promise<void> => {
    live.delete(stop);
    if (!exited) {
      child.kill('SIGTERM');
      await Promise.race([exitP, sleep(8000)]);
      if (!exited) child.kill('SIGKILL');
      await Promise.race([exitP, sleep(2000)]);
    }
    if (process.env['BENCH_KEEP'] !== '1') rmSync(dir, { recursive: true, force: true });
  };
  live.add(stop);
  if (!(await waitSipReady(port, o.readyTimeoutMs ?? 20000, () => !exited))) {
    const log = readFileSync(join(dir, 'tvphone.log'), 'utf8').split('\n').slice(-20).join('\n');
    await stop();
    throw new Error(`tvphone serve did not answer on udp:${LOOPBACK}:${port}:\n${log}`);
  }
  const name = o.name ?? (store === 'sqlite' ? 'tvphone sqlite' : 'tvphone postgres');
  const addUsers = async (users: string[]): Promise<void> => {
    const csv = join(dir, `users-${users.length}-${Date.now()}.csv`);
    writeFileSync(csv, users.map((u) => `${u},pw`).join('\n') + '\n');
    const r = spawnSync(process.execPath, [BIN, 'users', 'import', csv, '--weak-ok', '--db', db], { encoding: 'utf8', timeout: 120000 });
    if (r.status !== 0) throw new Error(`users import failed: ${r.stderr}`);
  };
  return { name, pid: child.pid!, port, target: `${LOOPBACK}:${port}`, addUsers, stop, dir, logFile };
}
