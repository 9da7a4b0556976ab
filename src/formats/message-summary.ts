// The message summary (RFC 3842 §5): the body of a message-summary NOTIFY, which tells a phone that messages wait
// (MWI). The builder writes the status line, the account and one summary line per message class; the parser takes
// any conforming body (header names in any case, optional whitespace, the urgent counts optional, extension
// headers after the summary lines skipped) and throws TypeError on anything else.
//
//   Messages-Waiting: yes
//   Message-Account: sip:1002@example.com
//   Voice-Message: 2/8 (0/0)

export const MESSAGE_SUMMARY_CONTENT_TYPE = 'application/simple-message-summary';
export const MESSAGE_SUMMARY_EVENT = 'message-summary';

/** RFC 3842 §5.2 / RFC 3458 §6.2: the message-context-class values */
export const MESSAGE_CLASSES = ['voice-message', 'fax-message', 'pager-message', 'multimedia-message', 'text-message', 'none'] as const;
export type MessageClass = (typeof MESSAGE_CLASSES)[number];

export interface MessageCounts {
  new: number;
  old: number;
  urgentNew: number;
  urgentOld: number;
}

export interface MessageSummary {
  /** Messages-Waiting: yes | no */
  waiting: boolean;
  /** Message-Account: the mailbox's URI, or null when absent */
  account: string | null;
  /** the summary lines, by lower-case class */
  counts: Partial<Record<MessageClass, MessageCounts>>;
}

/** A parsed body larger than this is refused (a summary is a few lines). */
const MAX_BYTES = 8192;

/** RFC 3842 §5.2 ABNF: class HCOLON newmsgs SLASH oldmsgs [ LPAREN new-urgentmsgs SLASH old-urgentmsgs RPAREN ] */
const SUMMARY_LINE = /^(\d{1,9})[ \t]*\/[ \t]*(\d{1,9})(?:[ \t]*\([ \t]*(\d{1,9})[ \t]*\/[ \t]*(\d{1,9})[ \t]*\))?$/;

const label = (c: MessageClass) => c.split('-').map((w) => w[0].toUpperCase() + w.slice(1)).join('-');

/** The body for a mailbox: Messages-Waiting is yes when any class has new messages (RFC 3842 §5.2). */
export function buildMessageSummary(s: MessageSummary): Uint8Array {
  const lines = [`Messages-Waiting: ${s.waiting ? 'yes' : 'no'}`];
  if (s.account !== null) lines.push(`Message-Account: ${s.account}`);
  for (const c of MESSAGE_CLASSES) {
    const n = s.counts[c];
    if (n === undefined) continue;
    for (const v of [n.new, n.old, n.urgentNew, n.urgentOld]) {
      if (!Number.isInteger(v) || v < 0) throw new TypeError(`message-summary: count ${v} is not a non-negative integer`);
    }
    lines.push(`${label(c)}: ${n.new}/${n.old} (${n.urgentNew}/${n.urgentOld})`);
  }
  return new TextEncoder().encode(lines.map((l) => `${l}\r\n`).join(''));
}

/** The summary of a voice mailbox: new = not yet heard, old = heard and still kept. */
export function voiceSummary(account: string, counts: MessageCounts): MessageSummary {
  return { waiting: counts.new > 0, account, counts: { 'voice-message': counts } };
}

/** Parse a message-summary body (RFC 3842 §5.2); TypeError on a body that does not follow the grammar. */
export function parseMessageSummary(body: Uint8Array | string): MessageSummary {
  const bytes = typeof body === 'string' ? body.length : body.byteLength;
  if (bytes > MAX_BYTES) throw new TypeError(`message-summary: body of ${bytes} bytes is too large`);
  const text = typeof body === 'string' ? body : new TextDecoder('utf-8', { fatal: false }).decode(body);
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new TypeError('message-summary: empty body');
  const field = (line: string): [string, string] => {
    const i = line.indexOf(':');
    if (i <= 0) throw new TypeError(`message-summary: not a header line: ${JSON.stringify(line.slice(0, 80))}`);
    return [line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim()];
  };
  // RFC 3842 §5.2: the body starts with the status line.
  const [first, status] = field(lines[0]);
  if (first !== 'messages-waiting') throw new TypeError('message-summary: the first line must be Messages-Waiting');
  const st = status.toLowerCase();
  if (st !== 'yes' && st !== 'no') throw new TypeError(`message-summary: Messages-Waiting ${JSON.stringify(status)} is neither yes nor no`);
  const out: MessageSummary = { waiting: st === 'yes', account: null, counts: {} };
  let i = 1;
  if (i < lines.length && field(lines[i])[0] === 'message-account') {
    const account = field(lines[i])[1];
    if (account === '') throw new TypeError('message-summary: empty Message-Account');
    out.account = account;
    i++;
  }
  for (; i < lines.length; i++) {
    const [name, value] = field(lines[i]);
    const cls = MESSAGE_CLASSES.find((c) => c === name);
    // RFC 3842 §5.2: opt-msg-headers (any extension header) may follow the summary lines.
    if (cls === undefined) break;
    const m = SUMMARY_LINE.exec(value);
    if (m === null) throw new TypeError(`message-summary: bad ${name} counts ${JSON.stringify(value.slice(0, 80))}`);
    out.counts[cls] = { new: Number(m[1]), old: Number(m[2]), urgentNew: Number(m[3] ?? 0), urgentOld: Number(m[4] ?? 0) };
  }
  return out;
}
