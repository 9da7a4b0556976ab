// The TV's voice messages: a delivery MESSAGE names the recording by content indirection (RFC 4483, a
// message/external-body part with an HTTP URL); the WAV is fetched and saved in the download folder before the
// MESSAGE is answered 200 (delivered = acknowledged: a failed fetch is answered 503 and the server tries again).
// Listed (newest last) and played (key p) through the agent's speaker sink, in 20 ms frames at the media clock.
// A video message (video/x-matroska: H.264 and PCM) is saved as .mkv, listed as video, and its audio track played
// (decoded by ffmpeg); its pictures are not shown (the agent has no screen for video yet).
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseExternalBody } from '../../formats/external-body.ts';
import type { AudioSink } from '../../media/audio-io.ts';
import { audioTrackOf, probeDurationMs } from '../../media/ffmpeg.ts';
import { toTelephonyPcm } from '../../media/resample.ts';
import { readWav } from '../../media/wav.ts';
import type { SipRequest } from '../../sip/message.ts';
import type { AgentContext } from './context.ts';

/** the largest recording fetched (an hour of 8 kHz 16-bit PCM and then some) */
const MAX_FETCH_BYTES = 64 * 1024 * 1024;
const FETCH_TIMEOUT_MS = 15_000;
/** voice messages kept in the list (the files stay on disk) */
const MAX_LISTED = 500;
const FILE = /^voicemail-(.+)\.(wav|mkv)$/;
/** the EBML header that starts a Matroska file (RFC 9559 §8) */
const EBML = [0x1a, 0x45, 0xdf, 0xa3];

export interface VoiceMessage {
  id: string;
  from: string;
  file: string;
  durationMs: number;
  date?: string;
  played: boolean;
  /** a video message (a .mkv of H.264 video and the audio) */
  video: boolean;
}

export class VoiceMessages {
  readonly #ctx: AgentContext;
  readonly #list: VoiceMessage[] = [];
  #playing: Promise<VoiceMessage | null> | null = null;

  constructor(ctx: AgentContext) {
    this.#ctx = ctx;
  }

  /** The voice messages saved before a restart (files named voicemail-<id>-<from>.wav), oldest first. */
  async load(): Promise<void> {
    let names: string[] = [];
    try {
      names = (await readdir(this.#ctx.options.downloadDir)).filter((n) => FILE.test(n)).sort();
    } catch {
      return;
    }
    for (const n of names.slice(-MAX_LISTED)) {
      const [stem, ext] = FILE.exec(n)!.slice(1);
      const [id, ...from] = stem.split('-');
      const file = join(this.#ctx.options.downloadDir, n);
      const video = ext === 'mkv';
      this.#add({ id, from: from.join('-'), file, durationMs: video ? await probeDurationMs(file) : await durationOf(file), played: true, video });
    }
  }

  /** Whether a delivery MESSAGE is a voice message by content indirection. */
  static isVoiceMessage(req: SipRequest): boolean {
    const ext = parseExternalBody(req.header('content-type') ?? '', req.body);
    return ext !== null && (/^audio\//i.test(ext.contentType) || /^video\//i.test(ext.contentType));
  }

  /**
   * Fetches the recording a MESSAGE names and saves it; returns it, or throws when it could not be had (the caller
   * answers 503 then, so the server delivers it again later).
   */
  async receive(req: SipRequest, id: string, from: string, date: string | undefined): Promise<VoiceMessage> {
    const ext = parseExternalBody(req.header('content-type') ?? '', req.body);
    if (ext === null) throw new Error('not a message/external-body of URL access');
    const url = new URL(ext.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`voice message URL scheme ${url.protocol} not fetched`);
    const res = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), redirect: 'error' });
    if (!res.ok) throw new Error(`voice message fetch: HTTP ${res.status}`);
    const length = Number(res.headers.get('content-length') ?? NaN);
    if (length > MAX_FETCH_BYTES) throw new Error(`voice message of ${length} bytes is too large`);
    const wav = new Uint8Array(await res.arrayBuffer());
    if (wav.byteLength > MAX_FETCH_BYTES) throw new Error('voice message too large');
    if (ext.size !== null && wav.byteLength !== ext.size) throw new Error(`voice message: ${wav.byteLength} bytes, the MESSAGE said ${ext.size}`);
    const safe = `${id}-${from}`.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100);
    const video = /^video\//i.test(ext.contentType);
    let durationMs: number;
    let file: string;
    if (video) {
      if (!EBML.every((b, i) => wav[i] === b)) throw new Error('video message is no Matroska file');
      file = join(this.#ctx.options.downloadDir, `voicemail-${safe}.mkv`);
      await writeFile(file, wav);
      durationMs = await probeDurationMs(file);
    } else {
      const audio = readWav(wav); // throws on what is no WAV
      file = join(this.#ctx.options.downloadDir, `voicemail-${safe}.wav`);
      await writeFile(file, wav);
      durationMs = Math.round((audio.samples.length / audio.channels / audio.sampleRate) * 1000);
    }
    const vm: VoiceMessage = { id, from, file, durationMs, played: false, video, ...(date ? { date } : {}) };
    this.#add(vm);
    return vm;
  }

  list(): VoiceMessage[] {
    return this.#list.map((v) => ({ ...v }));
  }

  /**
   * Plays a voice message (by id; default the oldest one not played yet, else the newest) through `speaker` in 20 ms
   * frames at real-time pace; resolves with it once played, null when there is none. One at a time: a second call
   * while one plays returns the one playing.
   */
  play(id?: string, speaker?: AudioSink): Promise<VoiceMessage | null> {
    this.#playing ??= this.#play(id, speaker).finally(() => { this.#playing = null; });
    return this.#playing;
  }

  async #play(id: string | undefined, speaker: AudioSink | undefined): Promise<VoiceMessage | null> {
    const vm = id !== undefined ? this.#list.find((v) => v.id === id) : (this.#list.find((v) => !v.played) ?? this.#list.at(-1));
    if (vm === undefined) return null;
    const pcm = vm.video ? await audioTrackOf(vm.file) : toTelephonyPcm(readWav(await readFile(vm.file)));
    const started = performance.now();
    for (let at = 0, n = 0; at < pcm.length && !this.#ctx.stopped; at += 160, n++) {
      // absolute-time pacing, as the media sessions send: frame n is due at start + 20·n ms
      const wait = started + n * 20 - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      try { speaker?.write(pcm.subarray(at, Math.min(at + 160, pcm.length))); } catch { /* a failing sink does not stop playing */ }
    }
    vm.played = true;
    return { ...vm };
  }

  #add(vm: VoiceMessage): void {
    this.#list.push(vm);
    if (this.#list.length > MAX_LISTED) this.#list.splice(0, this.#list.length - MAX_LISTED);
  }
}

async function durationOf(file: string): Promise<number> {
  try {
    const a = readWav(await readFile(file));
    return Math.round((a.samples.length / a.channels / a.sampleRate) * 1000);
  } catch {
    return 0;
  }
}

