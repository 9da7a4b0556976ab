// A headless linphonec 5.1 (Debian 12 linphone-cli, liblinphone/belle-sip 5.1) on 127.0.0.1 for the interop
// suite. Each instance gets its own HOME (liblinphone keeps its chat/friends database in
// $HOME/.local/share/linphone and stays in GlobalStartup, with no SIP port open, when that folder is
// missing), its own linphonerc (-c) with one proxy/account on tvphone's UDP listener and UDP only on a free
// loopback port, no STUN/ICE/upnp, video off; audio is a WAV file played and a WAV file recorded
// ("soundcard use files", "play", "record"), so no sound device is needed. Commands go to linphonec's
// stdin, one per line. -d 6 -l writes belle-sip's trace: every SIP message sent and received, parsed
// here into `sip()` so tests can assert the SIP flow from linphonec's side.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, LOOPBACK, run, sleep, type Exit, type Proc } from './proc.ts';

export interface LinphonecOptions {
  /** parent work directory; the instance lives in dir/name */
  dir: string;
  name: string;
  user: string;
  password: string;
  realm: string;
  /** tvphone's UDP port on 127.0.0.1 */
  serverPort: number;
  /** -a: answer incoming calls automatically */
  autoAnswer?: boolean;
  /** WAV file sent as the microphone (file mode) */
  play?: string;
  /** WAV file the received audio is written to (file mode) */
  record?: string;
  /**
   * video on (-V): the StaticImage camera (liblinphone's still picture) sends, received video is decoded to
   * MSExtDisplay (no window: frames go to the application, none here), calls start and accept with video
   */
  video?: boolean;
  /** hard limit for the process (default 30 s) */
  timeoutMs?: number;
}

/** One SIP message from the belle-sip trace. */
export interface TracedMessage {
  dir: 'sent' | 'received';
  /** "udp://127.0.0.1:5060" as belle-sip writes it (lower-cased) */
  peer: string;
  startLine: string;
  method: string | null;
  status: number | null;
  /** CSeq method (requests and responses) */
  cseqMethod: string;
  header(name: string): string | undefined;
  headers(name: string): string[];
  body: string;
  text: string;
}

export interface Linphonec {
  proc: Proc;
  /** linphonec's SIP (UDP) port */
  port: number;
  dir: string;
  logFile: string;
  aor: string;
  /** sends one command line to linphonec's stdin */
  command(line: string): void;
  /** the SIP messages in the trace so far, in order */
  sip(): TracedMessage[];
  /** the first traced message (from index `from`) that passes `test`; rejects after ms */
  waitForSip(test: (m: TracedMessage) => boolean, ms: number, from?: number): Promise<TracedMessage>;
  /** resolves once the account's REGISTER got its 200 */
  registered(ms?: number): Promise<TracedMessage>;
  /** 'quit', then the exit (SIGTERM after ms) */
  quit(ms?: number): Promise<Exit>;
}

const STAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}:\d{3} /;
const SENT = /message sent to \[([^\]]+)\], size: \[\d+\] bytes$/;
const RECEIVED = /received \[\d+\] new bytes from \[([^\]]+)\]:$/;

/** Parses the SIP messages out of a belle-sip trace (-d 6): each follows a "message sent"/"received" line. */
export function parseTrace(log: string): TracedMessage[] {
  const lines = log.split('\n');
  const out: TracedMessage[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const s = SENT.exec(line);
    const r = s ? null : RECEIVED.exec(line);
    if (!s && !r) continue;
    const msg: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !STAMP.test(lines[j]!); j++) msg.push(lines[j]!.replace(/\r$/, ''));
    i = j - 1;
    const blank = msg.indexOf('');
    const head = blank < 0 ? msg : msg.slice(0, blank);
    const startLine = head[0] ?? '';
    if (!/SIP\/2\.0/.test(startLine)) continue; // a keep-alive or a fragment
    const hs = head.slice(1).map((h) => {
      const k = h.indexOf(':');
      return [h.slice(0, k).trim().toLowerCase(), h.slice(k + 1).trim()] as const;
    });
    const all = (name: string): string[] => hs.filter(([n]) => n === name.toLowerCase()).map(([, v]) => v);
    const status = /^SIP\/2\.0 (\d{3})/.exec(startLine);
    out.push({
      dir: s ? 'sent' : 'received',
      peer: (s ?? r)![1]!.toLowerCase(),
      startLine,
      method: status ? null : startLine.split(' ')[0]!,
      status: status ? Number(status[1]) : null,
      cseqMethod: (all('cseq')[0] ?? '').split(/\s+/)[1] ?? '',
      header: (n) => all(n)[0],
      headers: all,
      body: blank < 0 ? '' : msg.slice(blank + 1).join('\r\n').replace(/(\r\n)+$/, ''),
      text: msg.join('\r\n'),
    });
  }
  return out;
}

function linphonerc(o: LinphonecOptions, port: number, rtpPort: number, videoPort: number): string {
  const codec = (i: number, mime: string, rate: number, enabled: boolean): string =>
    `[audio_codec_${i}]\nmime=${mime}\nrate=${rate}\nchannels=1\nenabled=${enabled ? 1 : 0}\n`;
  return [
    '[sip]',
    `sip_port=${port}`,
    'sip_tcp_port=0',
    'sip_tls_port=0',
    `bind_address=${LOOPBACK}`,
    'use_ipv6=0',
    'ipv6_migration_done=1',
    'register_only_when_network_is_up=0',
    'register_only_when_upnp_is_ok=0',
    `contact=sip:${o.user}@${LOOPBACK}`,
    'default_proxy=0',
    'inc_timeout=30',
    '',
    '[net]',
    'firewall_policy=0',
    'mtu=1300',
    '',
    '[sound]',
    'echocancellation=0',
    '',
    '[rtp]',
    `audio_rtp_port=${rtpPort}`,
    `bind_address=${LOOPBACK}`,
    'audio_jitt_comp=60',
    'nortp_timeout=30',
    '',
    ...(o.video
      ? [`video_rtp_port=${videoPort}`, '', '[video]', 'display=1', 'capture=1', 'automatically_initiate=1', 'automatically_accept=1',
        'device=StaticImage: Static picture', 'size=qvga', 'displaytype=MSExtDisplay', 'self_view=0', '']
      : ['[video]', 'display=0', 'capture=0', '']),
    '[proxy_0]',
    `reg_proxy=<sip:${LOOPBACK}:${o.serverPort};transport=udp>`,
    `reg_identity=sip:${o.user}@${LOOPBACK}`,
    'reg_expires=600',
    'reg_sendregister=1',
    'publish=0',
    'dial_escape_plus=0',
    '',
    '[auth_info_0]',
    `username=${o.user}`,
    `passwd=${o.password}`,
    `realm=${o.realm}`,
    '',
    // G.711 only, so the recording is 8 kHz and the TV agent's PCMU is chosen either way
    codec(0, 'PCMU', 8000, true),
    codec(1, 'PCMA', 8000, true),
    codec(2, 'opus', 48000, false),
    codec(3, 'speex', 16000, false),
    codec(4, 'speex', 8000, false),
    codec(5, 'GSM', 8000, false),
    codec(6, 'G722', 8000, false),
    codec(7, 'G729', 8000, false),
    codec(8, 'speex', 32000, false),
    '',
  ].join('\n');
}

export async function startLinphonec(o: LinphonecOptions): Promise<Linphonec> {
  const dir = join(o.dir, o.name);
  const home = join(dir, 'home');
  mkdirSync(join(home, '.local', 'share', 'linphone'), { recursive: true });
  const port = await freePort();
  const rtpPort = await freePort();
  const videoPort = o.video ? await freePort() : 0;
  const rc = join(dir, 'linphonerc');
  const logFile = join(dir, 'linphonec.log');
  writeFileSync(rc, linphonerc(o, port, rtpPort, videoPort));
  writeFileSync(logFile, '');
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_DATA_HOME: join(home, '.local', 'share'), XDG_CONFIG_HOME: join(home, '.config') };
  delete env.DISPLAY;
  const args = ['-c', rc, '-d', '6', '-l', logFile, ...(o.autoAnswer ? ['-a'] : []), ...(o.video ? ['-V'] : [])];
  const proc = run('linphonec', args, { timeoutMs: o.timeoutMs ?? 30_000, cwd: dir, stdin: true, env });
  const command = (line: string): void => proc.write(`${line}\n`);
  if (o.play || o.record) {
    command('soundcard use files');
    if (o.play) command(`play ${o.play}`);
    if (o.record) command(`record ${o.record}`);
  }
  const sip = (): TracedMessage[] => parseTrace(readFileSync(logFile, 'latin1'));
  const lp: Linphonec = {
    proc, port, dir, logFile, aor: `sip:${o.user}@${LOOPBACK}`,
    command,
    sip,
    async waitForSip(test, ms, from = 0) {
      const end = Date.now() + ms;
      for (;;) {
        const hit = sip().slice(from).find(test);
        if (hit) return hit;
        if (proc.child.exitCode !== null || proc.child.signalCode !== null) throw new Error(`linphonec ${o.name} exited; trace: ${summary(sip())}`);
        if (Date.now() > end) throw new Error(`linphonec ${o.name}: no such SIP message within ${ms} ms; trace: ${summary(sip())}`);
        await sleep(50);
      }
    },
    registered(ms = 8000) {
      return lp.waitForSip((m) => m.dir === 'received' && m.cseqMethod === 'REGISTER' && m.status === 200, ms);
    },
    async quit(ms = 5000) {
      command('quit');
      const t = setTimeout(() => proc.kill(), ms);
      const exit = await proc.done;
      clearTimeout(t);
      return exit;
    },
  };
  return lp;
}

/** "→ REGISTER, ← 401 REGISTER, …" for failure messages. */
export function summary(ms: TracedMessage[]): string {
  return ms.map((m) => `${m.dir === 'sent' ? '→' : '←'} ${m.method ?? m.status} ${m.method ? '' : m.cseqMethod}`.trim()).join(', ');
}
