// The TV's inbox: the messages (RFC 3428) the server delivers — text shown and appended to messages.log,
// pictures saved in the download folder, voice messages fetched (RFC 4483, voice-messages.ts), missed-call notices listed — each answered 200 only once on disk,
// so the server keeps it until then. Repeats (the same X-Tvphone-Message-Id) are not shown again.
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseMissedCallNotice } from '../../formats/missed-call-notice.ts';
import type { SipRequest } from '../../sip/message.ts';
import { createResponse } from '../../sip/response.ts';
import type { ServerTransaction } from '../../transaction/server-transaction.ts';
import type { AgentContext } from './context.ts';
import { userOf } from './user-of.ts';
import { VoiceMessages } from './voice-messages.ts';

const MAX_SEEN_IDS = 1000;
const SEEN_FILE = '.tvphone-seen-ids';
const MESSAGE_LOG = 'messages.log';
const PICTURE_EXT: Record<string, string> = { 'image/jpeg': '.jpg', 'image/png': '.png', 'image/gif': '.gif', 'image/webp': '.webp' };

export class Inbox {
  readonly #ctx: AgentContext;
  readonly #voice: VoiceMessages;
  /** the ids of stored messages already shown, oldest first; kept in SEEN_FILE across restarts */
  #seen: string[] = [];
  #seenSet = new Set<string>();

  constructor(ctx: AgentContext, voice: VoiceMessages) {
    this.#ctx = ctx;
    this.#voice = voice;
  }

  get #dir(): string {
    return this.#ctx.options.downloadDir;
  }

  /** Read the ids seen before a restart. */
  async load(): Promise<void> {
    try {
      const text = await readFile(join(this.#dir, SEEN_FILE), 'utf8');
      this.#seen = text.split('\n').filter(Boolean).slice(-MAX_SEEN_IDS);
      this.#seenSet = new Set(this.#seen);
    } catch {
      this.#seen = [];
    }
  }

  /** A MESSAGE outside a dialog: shown or saved, then answered 200. */
  async onMessage(req: SipRequest, st: ServerTransaction): Promise<void> {
    const ctx = this.#ctx;
    const stored = req.header('x-tvphone-message-id');
    const id = stored ?? `${req.callId}-${req.header('cseq') ?? ''}`;
    if (stored !== undefined && this.#seenSet.has(stored)) return void st.respond(createResponse(req, 200));
    const contentType = req.header('content-type') ?? 'text/plain';
    const from = userOf(req.header('from') ?? '');
    const date = req.header('date');
    const dir = this.#dir;
    const notice = parseMissedCallNotice(contentType, req.body);
    const mediaType = contentType.split(';')[0].trim().toLowerCase();
    const now = new Date(ctx.clock.now());
    if (notice !== null) {
      const lines = notice.calls.map((c) => `${now.toISOString()} missed ${c.count} call(s) from ${c.from} (last ${c.last})\n`).join('');
      await appendFile(join(dir, MESSAGE_LOG), lines);
      await this.#accepted(stored, req, st);
      ctx.emit('missed-calls', { id, calls: notice.calls });
      return;
    }
    if (VoiceMessages.isVoiceMessage(req)) {
      // RFC 4483: fetched and on disk before the 200; a failed fetch is answered 503, so the server tries again
      let vm;
      try {
        vm = await this.#voice.receive(req, id, from, date);
      } catch (err) {
        ctx.error(err);
        return void st.respond(createResponse(req, 503, 'Voice Message Not Fetched'));
      }
      await appendFile(join(dir, MESSAGE_LOG), `${date ?? now.toUTCString()} ${from}: [${vm.video ? 'video' : 'voice'} message, ${(vm.durationMs / 1000).toFixed(1)} s] ${basename(vm.file)}\n`);
      await this.#accepted(stored, req, st);
      ctx.emit('voice-message', { id, from, file: vm.file, durationMs: vm.durationMs, video: vm.video, ...(date ? { date } : {}) });
      return;
    }
    if (mediaType.startsWith('text/')) {
      const text = new TextDecoder('utf-8').decode(req.body);
      await appendFile(join(dir, MESSAGE_LOG), `${date ?? now.toUTCString()} ${from}: ${text.replace(/\r?\n/g, ' ')}\n`);
      await this.#accepted(stored, req, st);
      ctx.emit('message', { id, from, contentType, bytes: req.body.length, text, ...(date ? { date } : {}) });
      return;
    }
    const ext = PICTURE_EXT[mediaType] ?? '.bin';
    const safe = `${id}-${from}`.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100);
    const file = join(dir, safe + ext);
    await writeFile(file, req.body);
    await appendFile(join(dir, MESSAGE_LOG), `${date ?? now.toUTCString()} ${from}: [${mediaType}] ${basename(file)}\n`);
    await this.#accepted(stored, req, st);
    ctx.emit('message', { id, from, contentType, bytes: req.body.length, file, ...(date ? { date } : {}) });
  }

  /** On disk: remember a stored message's id, then answer 200 (the server deletes it on our 2xx). */
  async #accepted(stored: string | undefined, req: SipRequest, st: ServerTransaction): Promise<void> {
    if (stored !== undefined) await this.#rememberSeen(stored);
    st.respond(createResponse(req, 200));
  }

  async #rememberSeen(id: string): Promise<void> {
    this.#seen.push(id);
    this.#seenSet.add(id);
    const file = join(this.#dir, SEEN_FILE);
    if (this.#seen.length > MAX_SEEN_IDS * 2) {
      // bounded: keep the newest ids
      this.#seen = this.#seen.slice(-MAX_SEEN_IDS);
      this.#seenSet = new Set(this.#seen);
      await writeFile(file, this.#seen.join('\n') + '\n');
    } else await appendFile(file, id + '\n');
  }
}
