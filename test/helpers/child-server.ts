// Runs `tvphone serve` as a child process (the pinned node, bin/tvphone) on 127.0.0.1, for tests that kill
// the server (SIGKILL) or read its JSON log lines. The listening ports are read from the "tvphone serving"
// log line, so port 0 works; a restart may ask for the same ports again.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = fileURLToPath(new URL('../../bin/tvphone', import.meta.url));

export interface ChildServerOptions {
  /** sqlite:FILE or postgres://… */
  dbUrl: string;
  udpPort?: number;
  tcpPort?: number;
  /** default 'none' */
  auth?: 'none' | 'digest';
  /**
   * the profile to run (written to a temp file); default {} = the built-in defaults, so that the test does not
   * depend on sip-profiles/default.json. --listen, --db and --auth override it.
   */
  profile?: Record<string, unknown>;
  /** extra environment (TVPHONE_LOG …) */
  env?: Record<string, string>;
  /** how long to wait for "tvphone serving" (default 15 s) */
  startTimeoutMs?: number;
}

export interface ChildServer {
  readonly process: ChildProcess;
  readonly udpPort: number;
  readonly tcpPort: number;
  /** every JSON log line so far (non-JSON stdout lines are kept as { raw }) */
  readonly logs: Array<Record<string, unknown>>;
  /** stderr text so far */
  stderr(): string;
  /** SIGKILL, and wait for the exit */
  kill(): Promise<void>;
  /** SIGTERM (clean stop), and wait for the exit; SIGKILL after `timeoutMs` */
  stop(timeoutMs?: number): Promise<void>;
  /** resolves with the first log line that passes `test` (already logged or still to come) */
  waitForLog(test: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

export async function startChildServer(o: ChildServerOptions): Promise<ChildServer> {
  const profileDir = mkdtempSync(join(tmpdir(), 'tvphone-child-'));
  const profileFile = join(profileDir, 'profile.json');
  // every test client is on 127.0.0.1: one source to the per-source limits, which the load tests are not about
  writeFileSync(profileFile, JSON.stringify({ name: 'child-test', security: { trusted: ['127.0.0.0/8'] }, ...o.profile }));
  const args = [BIN, 'serve', '--profile', profileFile,
    '--listen', `udp:127.0.0.1:${o.udpPort ?? 0}`, '--listen', `tcp:127.0.0.1:${o.tcpPort ?? 0}`,
    '--db', o.dbUrl, '--auth', o.auth ?? 'none'];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TVPHONE_LOG: 'info', ...o.env },
  });
  const logs: Array<Record<string, unknown>> = [];
  const waiters: Array<{ test: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }> = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    if (stderr.length < 1 << 20) stderr += d;
  });
  const rl = createInterface({ input: child.stdout! });
  rl.on('line', (line) => {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      entry = { raw: line };
    }
    if (logs.length < 100_000) logs.push(entry);
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i].test(entry)) waiters.splice(i, 1)[0].resolve(entry);
    }
  });
  const exited = once(child, 'exit');
  void exited.then(() => rmSync(profileDir, { recursive: true, force: true }));

  const waitForLog = (test: (l: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> => {
    const have = logs.find(test);
    if (have) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const w = {
        test,
        resolve: (l: Record<string, unknown>) => {
          clearTimeout(t);
          child.off('exit', onExit);
          resolve(l);
        },
      };
      const onExit = () => {
        clearTimeout(t);
        waiters.splice(waiters.indexOf(w), 1);
        reject(new Error(`the server exited before the awaited log line; stderr: ${stderr.slice(-2000)}`));
      };
      const t = setTimeout(() => {
        child.off('exit', onExit);
        waiters.splice(waiters.indexOf(w), 1);
        reject(new Error(`timed out waiting for a log line; stderr: ${stderr.slice(-2000)}`));
      }, timeoutMs);
      child.once('exit', onExit);
      waiters.push(w);
    });
  };

  const kill = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await exited;
  };

  let serving: Record<string, unknown>;
  try {
    serving = await waitForLog((l) => l.msg === 'tvphone serving', o.startTimeoutMs ?? 15_000);
  } catch (err) {
    await kill('SIGKILL');
    throw err;
  }
  const listeners = serving.listeners as string[];
  const portOf = (t: string) => Number(listeners.find((l) => l.startsWith(`${t}:`))!.split(':').at(-1));

  return {
    process: child,
    udpPort: portOf('udp'),
    tcpPort: portOf('tcp'),
    logs,
    stderr: () => stderr,
    kill: () => kill('SIGKILL'),
    async stop(timeoutMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(t);
    },
    waitForLog,
  };
}
