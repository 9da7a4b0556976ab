// `tvphone users greeting USER FILE.wav` / `--remove`: a user's own voicemail greeting, played to its callers instead
// of the built-in prompt (then the beep). The file is checked and converted here, once (media-server/user-greeting.ts);
// a file that will not do is one line and exit 1 (main.ts).
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { TvphoneError } from '../errors.ts';
import { greetingWav, MAX_GREETING_SECONDS } from '../media-server/user-greeting.ts';
import { withStore, type DbOpts } from './admin.ts';
import { dbOption, profileOption } from './options.ts';

async function readGreetingFile(file: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new TvphoneError('ERR_FILE', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return greetingWav(bytes);
  } catch (err) {
    if (err instanceof TvphoneError) throw new TvphoneError(err.code, `${file}: ${err.message}`);
    throw err;
  }
}

export function registerGreetingCommand(users: Command): void {
  users.command('greeting <user> [file]')
    .description(`set the user's voicemail greeting from a WAV file (G.711 or PCM, mono or stereo, at most ${MAX_GREETING_SECONDS} s; kept as 8 kHz mono), or --remove it`)
    .addOption(dbOption()).addOption(profileOption()).option('--remove', 'remove the greeting: callers hear the built-in one again')
    .action(async (user: string, file: string | undefined, opts: DbOpts & { remove?: boolean }) => {
      if (opts.remove) {
        if (file !== undefined) throw new TvphoneError('ERR_USAGE', 'give either a WAV file or --remove, not both');
        const removed = await withStore(opts, false, async (store) => {
          if (!await store.userExists(user)) throw new TvphoneError('ERR_NO_USER', `no user ${user}`);
          return store.removeGreeting(user);
        });
        return void console.log(removed ? `greeting of ${user} removed: callers hear the built-in one` : `${user} had no greeting of its own`);
      }
      if (file === undefined) throw new TvphoneError('ERR_USAGE', 'give a WAV file, or --remove');
      const wav = await readGreetingFile(file);
      const ok = await withStore(opts, false, (store) => store.setGreeting(user, wav, Date.now()));
      if (!ok) throw new TvphoneError('ERR_NO_USER', `no user ${user}`);
      console.log(`greeting of ${user} set: ${((wav.byteLength - 44) / 16000).toFixed(1)} s`);
    });
}
