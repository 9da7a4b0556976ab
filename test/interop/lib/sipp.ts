import assert from 'node:assert/strict';
// Runs one sipp scenario (test/interop/sipp/ or sipp-extra/) on 127.0.0.1, bounded, and reads its final
// statistics screen (-trace_screen) for the successful/failed call counts.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, LOOPBACK, run, sleep, type Proc } from './proc.ts';

export const SCENARIOS = new URL('../sipp/', import.meta.url).pathname;
export const EXTRA_SCENARIOS = new URL('../sipp-extra/', import.meta.url).pathname;

export interface SippResult {
  code: number | null;
  successful: number;
  failed: number;
  /** the screen log and stderr, for assertion messages */
  log: string;
}

export interface SippRun {
  port: number;
  proc: Proc;
  result: Promise<SippResult>;
}

let seq = 0;

/**
 * Starts sipp with scenario file `scenario` (a name in test/interop/sipp/ or an absolute path).
 * target null = a UAS that waits for requests. -m defaults to 1; timeoutS bounds the scenario itself.
 */
export async function startSipp(o: {
  workDir: string;
  scenario: string;
  target: string | null;
  args?: string[];
  timeoutS?: number;
  transport?: 'u1' | 't1';
  /** local port (default: a free one) */
  port?: number;
}): Promise<SippRun> {
  const port = o.port ?? await freePort();
  const timeoutS = o.timeoutS ?? 10;
  const screen = join(o.workDir, `sipp-${process.pid}-${++seq}.screen`);
  const file = o.scenario.startsWith('/') ? o.scenario : join(SCENARIOS, o.scenario);
  const args = [
    ...(o.target ? [o.target] : []), '-sf', file, '-i', LOOPBACK, '-p', String(port), '-nostdin',
    '-t', o.transport ?? 'u1', '-timeout', `${timeoutS}s`, '-timeout_error', '-recv_timeout', String(timeoutS * 1000),
    '-trace_screen', '-screen_file', screen, '-m', '1', ...(o.args ?? []),
  ];
  const proc = run('sipp', args, { timeoutMs: (timeoutS + 8) * 1000, cwd: o.workDir });
  const result = proc.done.then((exit) => {
    const text = existsSync(screen) ? readFileSync(screen, 'latin1') : '';
    const count = (name: string): number => {
      const all = [...text.matchAll(new RegExp(`${name}\\s*\\|\\s*\\d+\\s*\\|\\s*(\\d+)`, 'g'))];
      return all.length ? Number(all[all.length - 1]![1]) : -1;
    };
    return {
      code: exit.code,
      successful: count('Successful call'),
      failed: count('Failed call'),
      log: `sipp ${args.join(' ')}\nexit ${exit.code}${exit.timedOut ? ' (killed: timeout)' : ''}\n${exit.stderr.slice(-3000)}\n${text.slice(-4000)}`,
    };
  });
  if (!o.target) await sleep(300); // a UAS binds its socket at start
  return { port, proc, result };
}

/** Runs a UAC scenario to the end. */
export async function sipp(o: Parameters<typeof startSipp>[0]): Promise<SippResult> {
  return (await startSipp(o)).result;
}

/** The run exited 0 with `calls` successful calls and none failed (its log in the message otherwise). */
export function assertSippOk(r: SippResult, calls = 1): void {
  assert.equal(r.code, 0, r.log);
  assert.equal(r.successful, calls, r.log);
  assert.equal(r.failed, 0, r.log);
}
