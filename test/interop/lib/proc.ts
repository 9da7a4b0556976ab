// External peers for the interop suite (sipp, baresip, sipsak, sipvicious): free loopback ports, child
// processes bounded by a timeout and killed by killAll() in afterEach, and a check that a tool is installed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

// the same search as the benchmark's (one implementation for both)
import { LOOPBACK, freePort, freePorts } from '../../../bench/lib/proc.ts';

export { LOOPBACK, freePort, freePorts };

/**
 * A port below 10000 free for UDP and TCP on 127.0.0.1 (random tries in 2000..9999, at most 50): for sipsak
 * 0.9.8.1, which drops the last digit of a 5-digit port when it writes the Request-URI.
 */
export async function freeFourDigitPort(): Promise<number> {
  const free = (port: number): Promise<boolean> => new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, LOOPBACK, () => s.close(() => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, LOOPBACK, () => srv.close(() => resolve(true)));
    }));
  });
  for (let i = 0; i < 50; i++) {
    const port = 2000 + Math.floor(Math.random() * 8000);
    if (await free(port)) return port;
  }
  throw new Error('no free 4-digit loopback port found in 50 tries');
}

/** true when `cmd` is on PATH (so a suite can skip instead of failing on a host without the peer). */
export function installed(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** killed because it outlived its timeout */
  timedOut: boolean;
}

export interface Proc {
  child: ChildProcess;
  done: Promise<Exit>;
  /** output so far */
  stdout(): string;
  stderr(): string;
  /** resolves when stdout+stderr matches re, or rejects after ms */
  waitFor(re: RegExp, ms: number): Promise<void>;
  write(s: string): void;
  kill(): void;
}

const live = new Set<Proc>();
const MAX_OUTPUT = 4 << 20;

/** Spawns cmd with a hard timeout (SIGTERM, then SIGKILL 2 s later); the process is tracked for killAll(). */
export function run(cmd: string, args: string[], o: { timeoutMs: number; cwd?: string; stdin?: boolean; env?: NodeJS.ProcessEnv }): Proc {
  const child = spawn(cmd, args, { cwd: o.cwd, env: o.env ?? process.env, stdio: [o.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let timedOut = false;
  const watchers = new Set<() => void>();
  const onData = (which: 'out' | 'err') => (d: Buffer) => {
    if (which === 'out' && out.length < MAX_OUTPUT) out += d.toString('latin1');
    if (which === 'err' && err.length < MAX_OUTPUT) err += d.toString('latin1');
    for (const w of [...watchers]) w();
  };
  child.stdout!.on('data', onData('out'));
  child.stderr!.on('data', onData('err'));
  let killTimer: NodeJS.Timeout | null = null;
  const hard = setTimeout(() => {
    timedOut = true;
    p.kill();
  }, o.timeoutMs);
  const done = new Promise<Exit>((resolve) => {
    child.once('error', (e) => {
      err += String(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(hard);
      if (killTimer) clearTimeout(killTimer);
      live.delete(p);
      for (const w of [...watchers]) w();
      resolve({ code, signal, stdout: out, stderr: err, timedOut });
    });
  });
  let exited = false;
  void done.then(() => {
    exited = true;
  });
  const p: Proc = {
    child,
    done,
    stdout: () => out,
    stderr: () => err,
    waitFor(re, ms) {
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (re.test(out) || re.test(err)) {
            cleanup();
            resolve();
          } else if (exited || child.exitCode !== null || child.signalCode !== null) {
            cleanup();
            reject(new Error(`${cmd} exited before printing ${re}: ${out.slice(-2000)} ${err.slice(-2000)}`));
          }
        };
        const t = setTimeout(() => {
          cleanup();
          reject(new Error(`${cmd}: no ${re} within ${ms} ms; output: ${out.slice(-2000)} ${err.slice(-2000)}`));
        }, ms);
        const cleanup = (): void => {
          clearTimeout(t);
          watchers.delete(check);
        };
        watchers.add(check);
        check();
      });
    },
    write(s) {
      child.stdin?.write(s);
    },
    kill() {
      if (exited || child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      killTimer ??= setTimeout(() => child.kill('SIGKILL'), 2000);
    },
  };
  live.add(p);
  return p;
}

/** Kills every process started by run() that is still alive and waits for them to exit (afterEach). */
export async function killAll(): Promise<void> {
  const ps = [...live];
  for (const p of ps) p.kill();
  await Promise.all(ps.map((p) => p.done));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
