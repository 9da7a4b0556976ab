// Reading a password: from --password, from the first line of standard input, or from the terminal without echo.
import { TvphoneError } from '../errors.ts';

export interface PasswordOpts {
  password?: string;
  passwordStdin?: boolean;
  /** --weak-ok: take a password the policy refuses */
  weakOk?: boolean;
}

/** The password policy (issue 16 item 3: svcrack finds a 4-digit password in 30 s): at least this long, not only digits. */
export const MIN_PASSWORD_LENGTH = 8;

/** Why the policy refuses `pw`, or null. */
export function passwordWeakness(pw: string): string | null {
  if ([...pw].length < MIN_PASSWORD_LENGTH) return `shorter than ${MIN_PASSWORD_LENGTH} characters`;
  if (/^[0-9]+$/.test(pw)) return 'only digits';
  return null;
}

/** Throws the one-line refusal unless --weak-ok; `where` names the user (and the CSV line). */
export function checkPassword(pw: string, opts: Pick<PasswordOpts, 'weakOk'>, where: string): void {
  const why = opts.weakOk ? null : passwordWeakness(pw);
  if (why !== null) {
    throw new TvphoneError('ERR_WEAK_PASSWORD', `${where}: password too weak (${why}): use at least ${MIN_PASSWORD_LENGTH} characters, not only digits (or --weak-ok)`);
  }
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
  const [pw, again] = await readHidden([prompt, 'again: ']);
  if (!pw) throw new TvphoneError('ERR_USAGE', 'empty password');
  if (again !== pw) throw new TvphoneError('ERR_USAGE', 'the passwords differ');
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

/** One line typed on the terminal without echo (the TV agent's password prompt). */
export async function promptHidden(user: string): Promise<string> {
  return (await readHidden([`password for ${user}: `]))[0]!;
}

/**
 * Lines typed on the terminal, one per prompt, in one raw-mode session (so what is typed ahead is neither echoed nor
 * lost between the prompts): nothing is echoed; Backspace edits, Ctrl-C and Ctrl-D give up.
 */
function readHidden(prompts: readonly string[]): Promise<string[]> {
  const stdin = process.stdin;
  // raw mode first, then the prompt: what is typed the moment the prompt shows is never echoed
  stdin.setEncoding('utf8');
  stdin.setRawMode(true);
  process.stderr.write(prompts[0]!);
  return new Promise<string[]>((resolve, reject) => {
    const lines: string[] = [];
    let pw = '';
    let afterCr = false;
    const done = (err: Error | null) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      if (err) reject(err);
      else resolve(lines);
    };
    const onData = (data: string) => {
      for (const ch of data) {
        const lf = ch === '\n' && afterCr; // CR LF is one Enter
        afterCr = ch === '\r';
        if (lf) continue;
        if (ch === '\r' || ch === '\n') {
          lines.push(pw);
          pw = '';
          process.stderr.write('\n');
          if (lines.length === prompts.length) return done(null);
          process.stderr.write(prompts[lines.length]!);
        } else if (ch === '\u0003' || (ch === '\u0004' && pw === '')) {
          process.stderr.write('\n');
          return done(new TvphoneError('ERR_USAGE', 'no password given'));
        } else if (ch === '\u007f' || ch === '\b') pw = [...pw].slice(0, -1).join('');
        else if (ch >= ' ') pw += ch;
      }
    };
    stdin.resume();
    stdin.on('data', onData);
  });
}
