// Reading a password: from --password, from the first line of standard input, or from the terminal without echo.
import { TvphoneError } from '../errors.ts';

export interface PasswordOpts {
  password?: string;
  passwordStdin?: boolean;
}

/**
 * --password as given; with --password-stdin (or when standard input is not a terminal) its first line; else a
 * prompt on the terminal that echoes nothing (as passwd(1)), asked twice so that a typo cannot lock the user out.
 */
export async function readPassword(opts: PasswordOpts, prompt: string): Promise<string> {
  if (opts.password !== undefined && opts.passwordStdin) throw new TvphoneError('ERR_USAGE', 'give --password or --password-stdin, not both');
  if (opts.password !== undefined) return opts.password;
  if (opts.passwordStdin || !process.stdin.isTTY) {
    const pw = await readFirstLine(process.stdin);
    if (!pw) throw new TvphoneError('ERR_USAGE', 'no password on standard input');
    return pw;
  }
  const pw = await readHidden(prompt);
  if (!pw) throw new TvphoneError('ERR_USAGE', 'empty password');
  if ((await readHidden('again: ')) !== pw) throw new TvphoneError('ERR_USAGE', 'the passwords differ');
  return pw;
}

/** The first line of a stream (without its CR LF / LF); what follows is left unread. */
async function readFirstLine(input: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of input) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    const nl = text.indexOf('\n');
    if (nl >= 0) return text.slice(0, nl).replace(/\r$/, ''); // leaving the loop stops reading
  }
  return text.replace(/\r$/, '');
}

/** One line typed on the terminal in raw mode: nothing is echoed; Backspace edits, Ctrl-C and Ctrl-D give up. */
function readHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  return new Promise<string>((resolve, reject) => {
    let pw = '';
    const done = (err: Error | null) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(pw);
    };
    const onData = (data: string) => {
      for (const ch of data) {
        if (ch === '\r' || ch === '\n') return done(null);
        if (ch === '\u0003' || (ch === '\u0004' && pw === '')) return done(new TvphoneError('ERR_USAGE', 'no password given'));
        if (ch === '\u007f' || ch === '\b') pw = [...pw].slice(0, -1).join('');
        else if (ch >= ' ') pw += ch;
      }
    };
    stdin.setEncoding('utf8');
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}
