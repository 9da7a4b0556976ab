// `users import FILE.csv`: user,password rows read as CSV (RFC 4180 quoting, CRLF or LF) by csv-parse.
import { parse } from 'csv-parse/sync';
import { TvphoneError } from '../errors.ts';
import { USER_RE } from './user-name.ts';

export interface UsersCsv {
  /** one row per user, in file order; a user given twice is here once, with its last password */
  rows: Array<{ user: string; password: string; line: number }>;
  /** users given more than once: the lines they are on */
  repeated: Array<{ user: string; lines: number[] }>;
}

/**
 * Parses `user,password` rows (a first row `user,password` is a header; blank lines and lines starting with #
 * are skipped); a bad row is named by file and line. A password with a comma or a quote is quoted: "pa,""ss".
 */
export function parseUsersCsv(text: string, file: string): UsersCsv {
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    records = parse(text, {
      bom: true, comment: '#', comment_no_infix: true, skip_empty_lines: true, record_delimiter: ['\r\n', '\n'],
      relax_column_count: true, info: true,
    }) as unknown as Array<{ record: string[]; info: { lines: number } }>;
  } catch (err) {
    const e = err as Error & { lines?: number };
    throw new TvphoneError('ERR_CSV', `${file}:${e.lines ?? 1}: ${e.message.replace(/ at line \d+/, '')}`, { cause: err });
  }
  const byUser = new Map<string, { user: string; password: string; line: number }>();
  const lines = new Map<string, number[]>();
  records.forEach(({ record, info }, i) => {
    const line = info.lines;
    if (record.every((f) => f.trim() === '')) return;
    const user = (record[0] ?? '').trim();
    if (i === 0 && user.toLowerCase() === 'user') return;
    if (record.length !== 2) {
      throw new TvphoneError('ERR_CSV', `${file}:${line}: expected user,password (${record.length} fields; quote a password with a comma: "pa,ss")`);
    }
    const password = record[1];
    if (!USER_RE.test(user)) throw new TvphoneError('ERR_CSV', `${file}:${line}: bad user name "${user}"`);
    if (!password) throw new TvphoneError('ERR_CSV', `${file}:${line}: empty password for ${user}`);
    byUser.delete(user); // a repeated user moves to where it was last given
    byUser.set(user, { user, password, line });
    lines.set(user, [...(lines.get(user) ?? []), line]);
  });
  const repeated = [...lines].filter(([, l]) => l.length > 1).map(([user, l]) => ({ user, lines: l }));
  return { rows: [...byUser.values()], repeated };
}
