// A headless baresip 1.0 user agent on 127.0.0.1 for the interop suite: its own config directory with an
// audio source read from a WAV file (aufile), a sink player (aubridge), received and sent audio dumped to
// WAV files (sndfile: dump-*-dec.wav = heard, dump-*-enc.wav = sent), and commands given with -e.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePorts, LOOPBACK, run, type Proc } from './proc.ts';

export interface BaresipOptions {
  dir: string;
  user: string;
  password: string;
  /** tvphone's UDP port on 127.0.0.1 */
  serverPort: number;
  /** WAV file sent as the microphone */
  source: string;
  /** commands run at start (e.g. '/dial sip:bob@127.0.0.1:5060') */
  commands?: string[];
  /** -t: quit after this many seconds */
  quitAfterS: number;
  answerMode?: 'auto' | 'manual';
  /** -s: print every SIP message sent and received */
  sipTrace?: boolean;
  /** contacts file lines, e.g. '"Bob" <sip:bob@127.0.0.1:5060>;presence=p2p' (the first is the current contact: /message) */
  contacts?: string[];
  /** commands typed while it runs (Baresip.command) through the stdio UI */
  interactive?: boolean;
  /** the account subscribes to its message-summary (RFC 3842) after registering: the mwi module, mwi=yes */
  mwi?: boolean;
  /**
   * video: the vp8 codec, fakevideo as camera (a generated picture) and display (none shown), and the snapshot
   * filter (the snapshot command writes the next decoded picture as a PNG in its directory)
   */
  video?: boolean;
}

export interface Baresip {
  proc: Proc;
  port: number;
  dir: string;
  /** WAV dumps written by the sndfile module, by direction */
  dumps(): { dec: string[]; enc: string[] };
  /** types a command (e.g. '/hangup', '/message hello') on its stdio UI; needs `interactive` */
  command(line: string): void;
}

export function baresipAvailable(): boolean {
  try {
    const mods = readdirSync('/usr/lib/baresip/modules');
    return ['aufile.so', 'aubridge.so', 'sndfile.so', 'g711.so', 'account.so', 'menu.so'].every((m) => mods.includes(m));
  } catch {
    return false;
  }
}

export async function startBaresip(o: BaresipOptions): Promise<Baresip> {
  const port = await freePorts(2); // baresip's SIP/TLS listens on the port after sip_listen's
  const dir = join(o.dir, o.user);
  const snd = join(dir, 'snd');
  mkdirSync(snd, { recursive: true });
  writeFileSync(join(dir, 'config'), [
    'poll_method epoll',
    `sip_listen ${LOOPBACK}:${port}`,
    `net_interface ${LOOPBACK}`,
    'call_local_timeout 30',
    'call_max_calls 2',
    `audio_source aufile,${o.source}`,
    `audio_player aubridge,sink-${o.user}`,
    `audio_alert aubridge,alert-${o.user}`,
    'audio_level no',
    'ausrc_format s16',
    'auplay_format s16',
    'auenc_format s16',
    'audec_format s16',
    'rtp_stats no',
    'rtcp_mux no',
    'jitter_buffer_delay 1-10',
    'module_path /usr/lib/baresip/modules',
    'module g711.so',
    'module aufile.so',
    'module aubridge.so',
    'module sndfile.so',
    'module_tmp account.so',
    'module_app menu.so',
    ...(o.contacts?.length ? ['module_app contact.so', 'module_app presence.so'] : []),
    ...(o.interactive ? ['module stdio.so'] : []),
    ...(o.mwi ? ['module_app mwi.so'] : []),
    ...(o.video
      ? ['module vp8.so', 'module fakevideo.so', 'module snapshot.so', 'video_source fakevideo,nil', 'video_display fakevideo,nil',
        'video_size 352x288', 'video_bitrate 300000', 'video_fps 15']
      : []),
    `snd_path ${snd}`,
    '',
  ].join('\n'));
  writeFileSync(join(dir, 'accounts'),
    `<sip:${o.user}@${LOOPBACK}:${o.serverPort};transport=udp>;auth_pass=${o.password};answermode=${o.answerMode ?? 'auto'};audio_codecs=PCMU;regint=600${o.mwi ? ';mwi=yes' : ''}\n`);
  writeFileSync(join(dir, 'contacts'), (o.contacts ?? []).map((c) => `${c}\n`).join(''));
  const args = ['-4', ...(o.sipTrace ? ['-s'] : []), '-f', dir, '-t', String(o.quitAfterS), ...(o.commands ?? []).flatMap((c) => ['-e', c])];
  const proc = run('baresip', args, { timeoutMs: (o.quitAfterS + 10) * 1000, cwd: dir, stdin: o.interactive === true });
  return {
    proc, port, dir,
    command(line) {
      proc.write(`${line}\n`);
    },
    dumps() {
      const files = readdirSync(snd);
      return {
        dec: files.filter((f) => f.endsWith('-dec.wav')).map((f) => join(snd, f)),
        enc: files.filter((f) => f.endsWith('-enc.wav')).map((f) => join(snd, f)),
      };
    },
  };
}
