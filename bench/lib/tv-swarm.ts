// The connections part's load generator, a process of its own: N idle TVs, each one raw TCP connection to the
// server from one of several 127.0.0.x source addresses, each REGISTERed once (hand-written REGISTER, `--auth none`),
// then idle: CRLFCRLF keep-alives (RFC 5626 §4.4.1) and registration refreshes, both at random phases so that a
// short measurement window sees the steady rate. Bounded: it closes everything and exits after `maxS` seconds, on
// "stop" or on end of stdin. Reports one JSON line of counters per second on stdout.
//
// Usage: node bench/lib/tv-swarm.ts '{"port":5060,"n":1000,"offset":0,"sources":["127.0.0.2"],"keepaliveS":120,
//   "refreshS":600,"maxS":300,"concurrency":200,"domain":"127.0.0.1"}'
import net from 'node:net';

interface SwarmConfig {
  host?: string; port: number; n: number; offset: number; sources: string[];
  keepaliveS: number; refreshS: number; maxS: number; concurrency: number; domain: string;
}
const cfg = JSON.parse(process.argv[2] ?? '{}') as SwarmConfig;
const host = cfg.host ?? '127.0.0.1';
if (!/^127\./.test(host) || cfg.sources.some((s) => !/^127\./.test(s))) throw new Error('tv-swarm: loopback only (127.0.0.0/8)');

const refused: Record<string, number> = {};
const c = { connected: 0, registered: 0, reg_failed: 0, closed: 0, errors: 0, keepalives: 0, pongs: 0, refreshes: 0, refresh_ok: 0 };
const sockets: net.Socket[] = [];
const timers = new Set<NodeJS.Timeout>();
let stopping = false;
const PING = Buffer.from('\r\n\r\n', 'latin1');

function register(s: net.Socket, i: number, cseq: number): void {
  const user = `tv${String(i).padStart(7, '0')}`;
  const local = `${s.localAddress}:${s.localPort}`;
  s.write(
    `REGISTER sip:${cfg.domain} SIP/2.0\r\n` +
    `Via: SIP/2.0/TCP ${local};branch=z9hG4bK-s${i}-${cseq};rport\r\n` +
    `Max-Forwards: 70\r\nFrom: <sip:${user}@${cfg.domain}>;tag=t${i}\r\nTo: <sip:${user}@${cfg.domain}>\r\n` +
    `Call-ID: swarm-${i}@bench\r\nCSeq: ${cseq} REGISTER\r\n` +
    `Contact: <sip:${user}@${local};transport=tcp>\r\nExpires: ${cfg.refreshS + 60}\r\nContent-Length: 0\r\n\r\n`, 'latin1');
}

/** a timer kept in `timers` so that stop() clears every one */
function later(ms: number, f: () => void): void {
  const t = setTimeout(() => { timers.delete(t); if (!stopping) f(); }, ms);
  timers.add(t);
}

function open(i: number): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port: cfg.port, localAddress: cfg.sources[i % cfg.sources.length]! });
    let cseq = 1;
    let registered = false;
    let settled = false;
    const done = (): void => { if (!settled) { settled = true; resolve(); } };
    s.setNoDelay(true);
    s.on('connect', () => { c.connected++; register(s, i, cseq); });
    s.on('data', (d: Buffer) => {
      const text = d.toString('latin1');
      for (const m of text.matchAll(/^SIP\/2\.0 (\d{3})/gm)) {
        const ok = m[1] === '200';
        if (!registered) {
          registered = true;
          if (ok) c.registered++; else { c.reg_failed++; refused[m[1]!] = (refused[m[1]!] ?? 0) + 1; }
          done();
          if (!ok) continue;
          // RFC 5626 §4.4.1: keep-alives every 80–100 % of the interval; first ones at a random phase
          const ka = (): void => { c.keepalives++; s.write(PING); later(cfg.keepaliveS * 1000 * (0.8 + 0.2 * Math.random()), ka); };
          later(Math.random() * cfg.keepaliveS * 1000, ka);
          const refresh = (): void => { c.refreshes++; register(s, i, ++cseq); later(cfg.refreshS * 1000, refresh); };
          later(Math.random() * cfg.refreshS * 1000, refresh);
        } else if (ok) c.refresh_ok++;
      }
      // a pong is a lone CRLF between messages (RFC 5626 §3.5.1)
      if (text === '\r\n') c.pongs++;
    });
    s.on('error', () => { c.errors++; done(); });
    s.on('close', () => { c.closed++; done(); });
    sockets.push(s);
  });
}

function report(): void { process.stdout.write(`${JSON.stringify({ t: Date.now(), ...c, refused })}\n`); }
const reporter = setInterval(report, 1000);

function stop(): void {
  if (stopping) return;
  stopping = true;
  clearInterval(reporter);
  for (const t of timers) clearTimeout(t);
  report();
  for (const s of sockets) s.destroy();
  setTimeout(() => process.exit(0), 200).unref();
}
setTimeout(stop, cfg.maxS * 1000).unref();
process.stdin.on('data', (d) => { if (d.toString().includes('stop')) stop(); });
process.stdin.on('end', stop);
process.on('SIGTERM', stop);

// connect with at most `concurrency` TVs between connect and their first answer (the server's accept backlog)
let next = cfg.offset;
const end = cfg.offset + cfg.n;
async function worker(): Promise<void> {
  while (!stopping && next < end) await open(next++);
}
await Promise.all(Array.from({ length: Math.min(cfg.concurrency, cfg.n) }, worker));
