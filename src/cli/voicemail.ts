// `tvphone voicemail`: the voice messages the media server kept (list, export the WAV — or the Matroska file of a video
// message: H.264 as received and the PCM audio, one file any ffmpeg-based player decodes —, delete). Same store
// options as the other admin commands; errors are one line and exit 1 (main.ts).
import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { TvphoneError } from '../errors.ts';
import { VIDEO_MESSAGE_TYPE } from '../media-server/message-types.ts';
import type { VoicemailRecord } from '../store/store.ts';
import { iso, table, withStore, type DbOpts } from './admin.ts';
import { dbOption, parseLimit, profileOption } from './options.ts';

function parseId(v: string): number {
  if (!/^[1-9][0-9]{0,14}$/.test(v.trim())) throw new TvphoneError('ERR_USAGE', `a voice message id is a positive whole number, not "${v}"`);
  return Number(v);
}

function voicemailJson(v: VoicemailRecord) {
  return {
    id: v.id, to: v.toUser, caller: v.caller, from: v.fromUri, recorded: iso(v.recordedAt), durationMs: v.durationMs, codec: v.codec,
    type: v.contentType, bytes: v.bytes, state: v.state, delivered: v.deliveredAt === null ? null : iso(v.deliveredAt), callId: v.callId, callRecord: v.callRecordId,
  };
}

export function registerVoicemailCommand(program: Command): void {
  const vm = program.command('voicemail').description('voice messages recorded for offline users (delivered with the text messages)');

  vm.command('list').description('voice messages, oldest first: to, caller, time, duration, codec, delivery state')
    .addOption(dbOption()).addOption(profileOption()).option('--user <user>', 'voice messages for this user')
    .option('--limit <n>', 'at most this many', '1000').option('--json', 'one JSON array')
    .action(async (opts: DbOpts & { user?: string; limit: string }) => {
      const limit = parseLimit(opts.limit);
      const list = await withStore(opts, false, (store) => store.listVoicemails({ toUser: opts.user, limit }));
      const out = list.map(voicemailJson);
      if (opts.json) return void console.log(JSON.stringify(out));
      process.stdout.write(table([['ID', 'TO', 'CALLER', 'RECORDED', 'DURATION', 'CODEC', 'BYTES', 'STATE', 'DELIVERED'],
        ...out.map((v) => [String(v.id), v.to, v.caller, v.recorded, `${(v.durationMs / 1000).toFixed(1)}s`, v.codec, String(v.bytes), v.state, v.delivered ?? ''])]));
    });

  vm.command('export <id> <file>').description('write a voice message to a WAV file (8 kHz, 16-bit, mono); a video message to a Matroska file (.mkv: H.264 and that audio)')
    .addOption(dbOption()).addOption(profileOption())
    .action(async (id: string, file: string, opts: DbOpts) => {
      const n = parseId(id);
      const [rec, wav] = await withStore(opts, false, async (store) => [await store.getVoicemail(n), await store.voicemailAudio(n)] as const);
      if (rec === null || wav === null) throw new TvphoneError('ERR_NO_VOICEMAIL', `no voice message ${n}`);
      const video = rec.contentType === VIDEO_MESSAGE_TYPE;
      if (video && /\.wav$/i.test(file)) throw new TvphoneError('ERR_USAGE', `voice message ${n} is a video message (Matroska): name the file .mkv`);
      try {
        await writeFile(file, wav, { flag: 'wx' });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        throw new TvphoneError('ERR_FILE', e.code === 'EEXIST' ? `${file} exists: not overwritten` : `cannot write ${file}: ${e.message}`);
      }
      console.log(`${video ? 'video' : 'voice'} message ${n}: ${wav.byteLength} bytes written to ${file}${video ? ' (Matroska: H.264 video, PCM audio)' : ''}`);
    });

  vm.command('delete <id>').description('delete a voice message (a pending one is then never delivered)')
    .addOption(dbOption()).addOption(profileOption())
    .action(async (id: string, opts: DbOpts) => {
      const n = parseId(id);
      const deleted = await withStore(opts, false, (store) => store.deleteVoicemail(n));
      if (!deleted) throw new TvphoneError('ERR_NO_VOICEMAIL', `no voice message ${n}`);
      console.log(`voice message ${n} deleted`);
    });
}
