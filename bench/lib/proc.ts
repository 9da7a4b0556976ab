// Process and host helpers for the load benchmark: free loopback ports, a server's CPU time from /proc,
// the host's busy share, and a SIP readiness probe. Linux only (reads /proc), loopback only.
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

export const LOOPBACK = '127.0.0.1';

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => { s.close(); resolve(false); });
    s.bind(port, LOOPBACK, () => s.close(() => resolve(true)));
  });
}

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, LOOPBACK, () => srv.close(() => resolve(true)));
  });
}

/** The kernel's ephemeral range (outgoing connections and port-0 binds take ports from it). */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(lo) && Number.isInteger(hi)) return [lo, hi];
  } catch { /* not Linux: below */ }
  return [32768, 60999];
}

/**
 * `count` consecutive ports free for both UDP and TCP on 127.0.0.1 (a child given a port to listen on: baresip's TLS
 * takes the one after its SIP port). They are taken below the ephemeral range when there is room, so that no
 * connection another process opens meanwhile takes them (bounded number of tries).
 */
export async function freePorts(count: number): Promise<number> {
  const [lo] = ephemeralRange();
  const floor = 10_000;
  for (let i = 0; i < 50 && lo - floor > 1000; i++) {
    const base = floor + Math.floor(Math.random() * (lo - floor - count));
    let ok = true;
    for (let k = 0; k < count && ok; k++) ok = (await udpFree(base + k)) && (await tcpFree(base + k));
    if (ok) return base;
  }
  for (let i = 0; i < 20; i++) { // no room below the ephemeral range: a port-0 bind's port, and those after it
    const base = await new Promise<number>((resolve, reject) => {
      const s = createSocket('udp4');
      s.once('error', reject);
      s.bind(0, LOOPBACK, () => { const p = s.address().port; s.close(() => resolve(p)); });
    });
    let ok = await tcpFree(base);
    for (let k = 1; k < count && ok; k++) ok = (await udpFree(base + k)) && (await tcpFree(base + k));
    if (ok) return base;
  }
  throw new Error(`no ${count} free loopback port(s) found`);
}

/** A port free for both UDP and TCP on 127.0.0.1 (freePorts(1)). */
export function freePort(): Promise<number> {
  return freePorts(1);
}

let clkTck = 0;
/** Kernel clock ticks per second (utime/stime unit in /proc/PID/stat). */
export function clockTicks(): number {
  if (clkTck === 0) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** Fields of /proc/PID/stat after the "(comm)" field; index 0 = state (field 3). */
function statFields(pid: number): string[] | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** PID plus its direct children (Kamailio forks its workers; tvphone is one process with threads). */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(Number(name));
    if (f && Number(f[1]) === pid) out.push(Number(name));
  }
  return out;
}

/** utime+stime in seconds of PID and its direct children (threads included: /proc/PID/stat sums them). */
export function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const p of pids) {
    const f = statFields(p);
    // fields 14 (utime) and 15 (stime) of proc(5) = indices 11 and 12 after the comm field
    if (f) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / clockTicks();
}

/** Resident set size in KiB summed over pids. */
export function rssKb(pids: number[]): number {
  let kb = 0;
  for (const p of pids) {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch { /* gone */ }
  }
  return kb;
}

/** [busy, total] jiffies of all cores from /proc/stat. */
export function hostCpu(): [number, number] {
  const l = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq] = l as [number, number, number, number, number, number, number];
  const busy = user + nice + system + irq + softirq;
  return [busy, busy + idle + iowait];
}

export function busyPct(a: [number, number], b: [number, number]): number {
  const t = b[1] - a[1];
  return t > 0 ? Math.round((1000 * (b[0] - a[0])) / t) / 10 : 0;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Sends OPTIONS to sip:HOST:PORT over UDP every 200 ms until any SIP response arrives (true) or timeoutMs
 * passes (false). Any status counts: it only proves the server parses and answers.
 */
export async function waitSipReady(port: number, timeoutMs: number, isAlive: () => boolean): Promise<boolean> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, LOOPBACK, () => r()));
  const local = sock.address().port;
  let answered = false;
  sock.on('message', (m) => {
    if (m.subarray(0, 8).toString() === 'SIP/2.0 ') answered = true;
  });
  const end = Date.now() + timeoutMs;
  try {
    for (let i = 0; !answered && Date.now() < end && isAlive(); i++) {
      const msg =
        `OPTIONS sip:${LOOPBACK}:${port} SIP/2.0\r\n` +
        `Via: SIP/2.0/UDP ${LOOPBACK}:${local};branch=z9hG4bKbenchready${process.pid}x${i}\r\n` +
        `From: <sip:bench@${LOOPBACK}>;tag=ready${i}\r\nTo: <sip:${LOOPBACK}:${port}>\r\n` +
        `Call-ID: ready-${process.pid}-${i}@bench\r\nCSeq: ${i + 1} OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`;
      sock.send(msg, port, LOOPBACK);
      await sleep(200);
    }
  } finally {
    sock.close();
  }
  return answered;
}

/** Stop functions of servers and sipp processes still running, for a clean exit on SIGINT/SIGTERM. */
export const live = new Set<() => Promise<void>>();

/** On SIGINT/SIGTERM: stop everything in `live` (bounded), then exit 130. Call once from a main script. */
export function stopAllOnSignal(): void {
  const handler = (): void => {
    const all = [...live].map((stop) => stop().catch(() => undefined));
    void Promise.race([Promise.all(all), sleep(10000)]).then(() => process.exit(130));
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
}
