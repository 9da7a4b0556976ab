// `tvphone tv`: the TV agent in a terminal. Wires flags to TvAgent (src/terminal/tv-agent.ts) and prints its
// events — the ANSI screen (src/terminal/screen.ts), or with --json one event per line (src/terminal/events.ts).
import { promptHidden } from './password.ts';
import type { Command } from 'commander';
import { Option } from 'commander';
import { readFileSync, statSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { extname } from 'node:path';
import { TvphoneError } from '../errors.ts';
import type { TvAgentEvents } from '../terminal/events.ts';

interface TvOpts {
  user: string;
  password?: string;
  passwordStdin?: boolean;
  server: string;
  dnsServer?: string;
  transport: 'tcp' | 'udp' | 'tls';
  downloadDir: string;
  contacts?: string;
  contactsFile?: string;
  call?: string;
  autoAnswer?: boolean;
  play?: string;
  tone: string;
  record?: string;
  video?: string;
  videoCodecs?: string;
  videoKbps?: string;
  recordVideo?: string;
  showVideo?: boolean;
  duration?: string;
  ringTimeout: string;
  mediaTimeout: string;
  sessionExpires: string;
  dtmf?: string;
  message?: string[];
  sendPicture?: string[];
  json?: boolean;
  localIp?: string;
  push?: string;
  standby?: boolean;
  wakePort: string;
}

const EVENTS: (keyof TvAgentEvents)[] = [
  'registered', 'public-address', 'unregistered', 'registration-failed', 'connection-lost', 'server-changed', 'standby', 'woken', 'message', 'missed-calls', 'voice-message',
  'voice-message-played', 'presence', 'message-sent',
  'call-incoming', 'call-outgoing', 'call-ringing', 'call-answered', 'call-held', 'video-started', 'video-changed', 'video-stopped', 'dtmf', 'call-ended', 'error',
];

/** The first line of stdin (a pipe or the terminal); what follows stays unread. */
function readStdinLine(): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    const stdin = process.stdin;
    const finish = (): void => {
      stdin.off('data', onData).off('end', finish);
      stdin.pause();
      resolve(data.split(/\r?\n/)[0] ?? '');
    };
    const onData = (c: string): void => {
      data += c;
      if (/\r?\n/.test(data)) finish();
    };
    stdin.setEncoding('utf8');
    stdin.on('data', onData).on('end', finish);
  });
}

/**
 * The keyboard for the screen: stdin when it is the terminal; when stdin was a pipe (--password-stdin) the
 * terminal itself, reopened as /dev/tty. Null when there is no terminal.
 */
async function openKeyboard(): Promise<NodeJS.ReadStream | null> {
  if (process.stdin.isTTY) return process.stdin;
  try {
    const { openSync } = await import('node:fs');
    const { ReadStream } = await import('node:tty');
    return new ReadStream(openSync('/dev/tty', 'r')) as unknown as NodeJS.ReadStream;
  } catch {
    return null;
  }
}

const PICTURE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.gif', '.webp']);

/** a port of --dns-server: absent, or 1 to 65535 */
function portOk(port: string | undefined): boolean {
  return port === undefined || (/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535);
}

function mustBeFile(file: string, flag: string): void {
  let ok = false;
  try {
    ok = statSync(file).isFile();
  } catch {
    // missing or unreadable: said below
  }
  if (!ok) throw new TvphoneError('ERR_NO_FILE', `${flag}: no such file: ${file}`);
}

export function registerTvCommand(program: Command): void {
  program.command('tv').description("run the TV's SIP agent: register, show kept messages and missed calls, presence, calls")
    .requiredOption('--user <id>', 'user id (e.g. 1001)')
    .option('--password <pw>', 'password (prefer --password-stdin)')
    .option('--password-stdin', 'read the password from the first line of stdin')
    .requiredOption('--server <sip-uri>', 'the tvphone server, e.g. sip:127.0.0.1:5060, or the service\'s domain, e.g. sip:example.com (no port: its DNS SRV records, RFC 3263); several nodes of one service comma-separated, tried in order when one cannot be reached')
    .option('--dns-server <ip[:port]>', 'DNS servers to ask for the server\'s records, comma-separated (default: the system\'s)')
    .addOption(new Option('--transport <t>', 'transport to the server').choices(['tcp', 'udp', 'tls']).default('tcp'))
    .option('--local-ip <ip>', 'our address for SIP and RTP (default: the one of the interface that routes to the server)')
    .option('--download-dir <dir>', 'where pictures and messages.log go', './tvphone-downloads')
    .option('--contacts <list>', 'users to watch, comma-separated (1002,1003)')
    .option('--contacts-file <file>', 'users to watch, one per line')
    .option('--call <user>', 'place a call to this user once registered')
    .option('--auto-answer', 'answer incoming calls at once')
    .option('--play <file.wav>', 'send this WAV file as audio (looped)')
    .option('--tone <hz>', 'send a test tone of this frequency when no --play', '440')
    .option('--record <file.wav>', 'write the received audio of a call to this file')
    .option('--video <testsrc|file>', 'offer video (H.264, VP8) and send ffmpeg\'s test pattern or this file, looped (needs ffmpeg)')
    .option('--video-codecs <list>', 'video codecs offered and accepted, in order of preference: h264,vp8 (default), vp8,h264, h264 or vp8')
    .option('--video-kbps <n>', 'the most video we want to receive, kbit/s (offered as b=AS and b=TIAS; what we send follows the other side\'s)')
    .option('--record-video <file.mkv>', 'write the received video of a call to this file, without re-encoding (needs ffmpeg)')
    .option('--show-video', 'show the received video of a call in a window (needs ffplay, from ffmpeg, and a display)')
    .option('--duration <s>', 'end a call this many seconds after it was answered, or unanswered after it began ringing, then exit (for scripts)')
    .option('--ring-timeout <s>', 'cancel an outgoing call nobody answers within this many seconds', '60')
    .option('--media-timeout <s>', 'hang up a call when no audio came from the other side for this many seconds (0: never)', '30')
    .option('--session-expires <s>', 'RFC 4028 session interval: the call is refreshed every half of it and ends when a refresh fails (>= 90)', '1800')
    .option('--dtmf <digits>', 'send these DTMF digits (0-9 * # A-D, RFC 4733) once a call is answered')
    .option('--message <user-and-text...>', 'send a text message: --message USER TEXT')
    .option('--send-picture <user-and-file...>', 'send a picture: --send-picture USER FILE (.jpg, .png)')
    .option('--json', 'one JSON event per line on stdout instead of the screen')
    .option('--push <prid>', 'register with RFC 8599 push parameters (pn-provider=tvphone;pn-prid=PRID): the server can wake this TV from standby')
    .option('--standby', 'with --push: register, then go to standby (connection dropped, no refresh) until a push wakes the TV (POST /wake)')
    .option('--wake-port <port>', 'with --standby: the HTTP port on 127.0.0.1 that wake-ups are POSTed to (0: any, printed)', '0')
    .action(async (o: TvOpts) => {
      let password = o.password;
      if (o.passwordStdin) password = await readStdinLine();
      else if (password === undefined && process.stdin.isTTY && !o.json) password = await promptHidden(o.user);
      if (password === undefined) throw new TvphoneError('ERR_NO_PASSWORD', 'give --password or --password-stdin');
      const contacts = [
        ...(o.contacts ? o.contacts.split(',') : []),
        ...(o.contactsFile ? readFileSync(o.contactsFile, 'utf8').split(/\r?\n/) : []),
      ].map((c) => c.trim()).filter(Boolean);
      const tone = Number(o.tone);
      if (!(tone > 0 && tone < 4000)) throw new TvphoneError('ERR_BAD_TONE', `--tone must be between 0 and 4000 Hz, got ${o.tone}`);
      const duration = o.duration !== undefined ? Number(o.duration) : undefined;
      if (duration !== undefined && !(duration > 0)) throw new TvphoneError('ERR_BAD_DURATION', `--duration must be > 0, got ${o.duration}`);
      const ringTimeout = Number(o.ringTimeout);
      if (!(ringTimeout > 0)) throw new TvphoneError('ERR_BAD_RING_TIMEOUT', `--ring-timeout must be > 0, got ${o.ringTimeout}`);
      const mediaTimeout = Number(o.mediaTimeout);
      if (!(mediaTimeout >= 0)) throw new TvphoneError('ERR_BAD_MEDIA_TIMEOUT', `--media-timeout must be >= 0, got ${o.mediaTimeout}`);
      const sessionExpires = Number(o.sessionExpires);
      if (!Number.isInteger(sessionExpires) || sessionExpires < 90) throw new TvphoneError('ERR_BAD_SESSION_EXPIRES', `--session-expires must be a whole number >= 90, got ${o.sessionExpires}`);
      if (o.message && o.message.length < 2) throw new TvphoneError('ERR_BAD_MESSAGE', '--message needs USER TEXT');
      if (o.dtmf !== undefined && !/^[0-9*#A-D]{1,32}$/i.test(o.dtmf)) throw new TvphoneError('ERR_BAD_DTMF', `--dtmf takes 1 to 32 of 0-9 * # A-D, got ${o.dtmf}`);
      if (o.sendPicture && o.sendPicture.length !== 2) throw new TvphoneError('ERR_BAD_PICTURE', '--send-picture needs USER FILE');
      // bad input is refused before anything is bound or sent: one line, exit 1, nothing left running
      const [server, ...fallbackServers] = o.server.split(',').map((x) => x.trim());
      for (const u of [server, ...fallbackServers]) {
        if (!/^sips?:[^\s]+$/i.test(u)) throw new TvphoneError('ERR_BAD_SERVER', `--server takes a SIP URI such as sip:192.0.2.10:5060 (or several, comma-separated), got ${u}`);
      }
      const dnsServers = o.dnsServer?.split(',').map((x) => x.trim());
      for (const d of dnsServers ?? []) {
        const v6 = /^\[([0-9a-f:.]+)\](?::(\d+))?$/i.exec(d);
        const ok = isIPv6(d) || (v6 !== null ? isIPv6(v6[1]) && portOk(v6[2]) : /^[\d.]+(?::\d+)?$/.test(d) && isIPv4(d.split(':')[0]) && portOk(d.split(':')[1]));
        if (!ok) throw new TvphoneError('ERR_BAD_SERVER', `--dns-server takes IP or IP:PORT ([IPv6]:PORT), comma-separated, got ${d}`);
      }
      if (o.sendPicture) {
        const file = o.sendPicture[1];
        if (!PICTURE_EXTENSIONS.has(extname(file).toLowerCase())) {
          throw new TvphoneError('ERR_BAD_PICTURE', `--send-picture takes a .jpg, .png, .gif or .webp file, got ${file}`);
        }
        mustBeFile(file, '--send-picture');
      }
      if (o.play !== undefined) mustBeFile(o.play, '--play');
      if (o.video !== undefined && o.video !== 'testsrc') mustBeFile(o.video, '--video');
      const videoCodecs = o.videoCodecs?.split(',').map((c) => c.trim().toUpperCase());
      if (videoCodecs !== undefined && (videoCodecs.length === 0 || videoCodecs.length > 2 || new Set(videoCodecs).size !== videoCodecs.length || videoCodecs.some((c) => c !== 'H264' && c !== 'VP8'))) {
        throw new TvphoneError('ERR_BAD_VIDEO', `--video-codecs takes h264, vp8 or both in order, got ${o.videoCodecs}`);
      }
      const videoKbps = o.videoKbps !== undefined ? Number(o.videoKbps) : undefined;
      if (videoKbps !== undefined && !(Number.isInteger(videoKbps) && videoKbps >= 16 && videoKbps <= 100_000)) throw new TvphoneError('ERR_BAD_VIDEO', `--video-kbps takes 16 to 100000, got ${o.videoKbps}`);
      if (o.push !== undefined && !/^[\x21-\x7e]{1,200}$/.test(o.push)) throw new TvphoneError('ERR_BAD_PUSH', `--push takes a token of 1 to 200 printable characters, got ${o.push}`);
      if (o.standby && o.push === undefined) throw new TvphoneError('ERR_BAD_PUSH', '--standby needs --push PRID (nothing could wake the TV)');
      const wakePort = Number(o.wakePort);
      if (!Number.isInteger(wakePort) || wakePort < 0 || wakePort > 65535) throw new TvphoneError('ERR_BAD_PUSH', `--wake-port takes 0 to 65535, got ${o.wakePort}`);

      // loaded here, not at the top: the other commands start without the TV agent and the media stack
      const [{ TvAgent }, { applyEvent, initialScreen, pressKey, render, splitKeys }] = await Promise.all([import('../terminal/tv-agent.ts'), import('../terminal/screen.ts')]);
      let agent: InstanceType<typeof TvAgent>;
      try {
        agent = new TvAgent({
        user: o.user, password, server, fallbackServers, dnsServers, transport: o.transport, localIp: o.localIp, downloadDir: o.downloadDir, contacts,
        autoAnswer: o.autoAnswer ?? false, toneHz: tone, play: o.play, record: o.record, video: o.video, recordVideo: o.recordVideo, showVideo: o.showVideo ?? false,
        ...(videoCodecs !== undefined ? { videoCodecs: videoCodecs as Array<'H264' | 'VP8'> } : {}), ...(videoKbps !== undefined ? { videoBandwidthKbps: videoKbps } : {}),
        ringTimeoutMs: ringTimeout * 1000, mediaTimeoutMs: mediaTimeout * 1000, sessionExpires, push: o.push,
        });
      } catch (err) {
        throw new TvphoneError('ERR_BAD_SERVER', `--server ${o.server}: ${(err as Error).message}`);
      }
      const screen = initialScreen(o.user, contacts);
      const interactive = !o.json && process.stdout.isTTY === true;
      for (const name of EVENTS) {
        agent.on(name, ((e: Record<string, unknown>) => {
          if (o.json) process.stdout.write(JSON.stringify({ event: name, ...e }) + '\n');
          else {
            applyEvent(screen, name, e as never);
            if (interactive) process.stdout.write(render(screen));
            else process.stdout.write(`${name}: ${screen.status}${name.startsWith('call') && screen.call ? ` ${screen.call}` : ''}\n`);
          }
        }) as never);
      }

      let done!: () => void;
      const finished = new Promise<void>((resolve) => { done = resolve; });
      let stopping = false;
      const stop = (): void => {
        if (stopping) return;
        stopping = true;
        agent.stop().then(done, done);
      };
      process.on('SIGINT', stop).on('SIGTERM', stop);

      // --duration: hang up S seconds after a call is answered — or, unanswered, S seconds after it began — then exit
      if (duration !== undefined) {
        let timer: ReturnType<typeof setTimeout> | null = null;
        const arm = (): void => {
          if (timer !== null) clearTimeout(timer);
          timer = setTimeout(() => void agent.hangup(), duration * 1000);
          timer.unref();
        };
        agent.on('call-outgoing', arm).on('call-incoming', arm).on('call-answered', arm);
        agent.on('call-ended', () => {
          if (timer !== null) clearTimeout(timer);
          stop();
        });
      }
      // --dtmf: the digits, half a second into each answered call
      if (o.dtmf !== undefined) {
        const digits = o.dtmf.toUpperCase();
        agent.on('call-answered', () => setTimeout(() => {
          try {
            agent.sendDtmf(digits);
          } catch (err) {
            process.stderr.write(`tvphone: ${(err as Error).message}\n`);
          }
        }, 500).unref());
      }
      try {
        await agent.start();
      } catch (err) {
        await agent.stop().catch(() => {});
        throw new TvphoneError('ERR_TV_START', `cannot start the TV agent: ${(err as Error).message}`);
      }

      // a one-shot send that fails exits 1 (after de-registering)
      const sent = async (what: string, send: () => Promise<number>): Promise<void> => {
        let status: number;
        try {
          status = await send();
        } catch (err) {
          status = 0;
          process.stderr.write(`tvphone: ${what} not sent: ${(err as Error).message}\n`);
        }
        if (status < 200 || status >= 300) {
          if (status !== 0) process.stderr.write(`tvphone: ${what} not sent (${status})\n`);
          process.exitCode = 1;
        }
      };
      // --standby: the TV is switched to standby; a push delivered to the wake listener (a TV's network wake-up) brings it back
      if (o.standby) {
        const url = await agent.listenForWake('127.0.0.1', wakePort);
        if (o.json) process.stdout.write(JSON.stringify({ event: 'wake-listener', url }) + '\n');
        else process.stdout.write(`wake-ups: POST ${url}\n`);
        agent.standby();
      }
      if (o.message) await sent('message', () => agent.sendMessage(o.message![0], o.message!.slice(1).join(' ')));
      if (o.sendPicture) await sent('picture', () => agent.sendPicture(o.sendPicture![0], o.sendPicture![1]));
      if (o.call) void agent.dial(o.call);
      else if ((o.message || o.sendPicture) && duration === undefined && !o.autoAnswer && contacts.length === 0) stop(); // a one-shot send

      const keyboard = interactive ? await openKeyboard() : null;
      let redraw: ReturnType<typeof setInterval> | null = null;
      if (keyboard !== null) {
        const show = (): void => {
          if (screen.details) screen.stats = agent.callStats() ?? screen.stats;
          process.stdout.write(render(screen));
        };
        const run = (k: string): void => {
          const act = pressKey(screen, k);
          if (act === null) return;
          switch (act.do) {
            case 'call': void agent.dial(act.user); break;
            case 'message': void agent.sendMessage(act.to, act.text).catch((err: unknown) => { screen.status = `message not sent: ${(err as Error).message}`; show(); }); break;
            case 'answer': agent.answer(); break;
            case 'hangup': void agent.hangup(); break;
            case 'hold': void agent.hold(!agent.onHold); break;
            case 'camera': void agent.camera(agent.cameraOff); break;
            case 'video': void (agent.hasVideo ? agent.removeVideo() : agent.addVideo()); break;
            case 'dtmf':
              try {
                agent.sendDtmf(act.digits);
              } catch {
                screen.status = 'this call takes no key tones';
              }
              break;
            case 'play-voice-message':
              screen.status = 'playing the voice message…';
              void agent.playVoiceMessage().then((vm) => { if (vm === null) { screen.status = 'no voice messages'; show(); } }).catch((err: unknown) => { screen.status = `cannot play: ${(err as Error).message}`; show(); });
              break;
            case 'quit': stop(); break;
          }
        };
        keyboard.setRawMode(true);
        keyboard.setEncoding('utf8');
        keyboard.resume();
        // a chunk of several characters is several key presses (DTMF typed fast, a paste)
        keyboard.on('data', (chunk: string) => {
          for (const k of splitKeys(chunk)) run(k);
          show();
        });
        // the call's running time and, with details, its RTCP figures
        redraw = setInterval(() => { if (screen.phase !== 'idle' || screen.details) show(); }, 1000);
        redraw.unref();
        show();
      }
      await finished;
      process.off('SIGINT', stop).off('SIGTERM', stop);
      if (redraw !== null) clearInterval(redraw);
      if (keyboard !== null) {
        keyboard.setRawMode(false);
        if (keyboard === process.stdin) keyboard.pause();
        else keyboard.destroy();
      }
    });
}
