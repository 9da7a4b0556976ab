// The TV's screen in a terminal: plain ANSI, no library. Pure: applyEvent folds the agent's events into what is
// shown — contacts with their online state, missed calls (one line per caller), messages, the call in progress —
// in plain words and local time; pressKey folds a key into it and says what the agent should do; render() draws
// it as one string the CLI writes out. The CLI only reads keys (splitKeys) and runs the actions.
//
// Keys: ↑ ↓ choose a contact · Enter call it · m message it (a one-line input: Enter sends, Esc cancels) ·
// a answer · h hang up · o hold/resume · c camera off/on (a video call) · v add or remove the video · 0-9 * # DTMF in a call · d dismiss missed calls · i call details (RTCP) ·
// p play a voice message · q quit. Letters work in either case.
import type { MediaStats } from '../media/rtp-session.ts';
import type { TvAgentEvents } from './events.ts';

export interface MissedFrom {
  count: number;
  /** epoch ms of the latest missed call */
  last: number;
}

export interface ScreenState {
  user: string;
  registered: boolean;
  contacts: Map<string, boolean>;
  /** the contact the arrows point at (index into contacts) */
  selected: number;
  /** missed calls by caller, merged (insertion order: first missed first) */
  missed: Map<string, MissedFrom>;
  /**
   * calls missed while on (the caller gave up), by caller: when each rang. The server lists them in its next
   * missed-call notice too (after a reconnect): those are not counted twice.
   */
  liveMissed: Map<string, number[]>;
  /** epoch ms the ringing incoming call began */
  ringingSince: number | null;
  messages: string[];
  /** voice messages received, oldest first: who, when, how long, and whether it was played */
  voiceMessages: Array<{ id: string; from: string; at: number; durationMs: number; played: boolean }>;
  /** what the call line says; null: no call */
  call: string | null;
  /** what the video line says (a video call); null: no video */
  video: string | null;
  /** where the call is: nothing, ringing here, ringing there, answered */
  phase: 'idle' | 'incoming' | 'outgoing' | 'active';
  /** epoch ms the call in progress was answered */
  answeredAt: number | null;
  /** the peer of the call in progress (or of the last one) */
  peer: string | null;
  /** the one-line message input, when open */
  input: { to: string; text: string } | null;
  /** the details view (RTCP figures) is shown */
  details: boolean;
  /** RTCP figures: of the call in progress (set by the CLI while details are shown) or of the last call */
  stats: MediaStats | null;
  status: string;
}

/** What a key asks the agent to do (the CLI does it); null when the key only changed the screen. */
export type KeyAction =
  | { do: 'call'; user: string }
  | { do: 'message'; to: string; text: string }
  | { do: 'answer' }
  | { do: 'hangup' }
  | { do: 'hold' }
  | { do: 'camera' }
  | { do: 'video' }
  | { do: 'dtmf'; digits: string }
  | { do: 'play-voice-message' }
  | { do: 'quit' };

const MAX_LINES = 10;

export function initialScreen(user: string, contacts: string[]): ScreenState {
  return {
    user, registered: false, contacts: new Map(contacts.map((c) => [c, false])), selected: 0, missed: new Map(), liveMissed: new Map(), ringingSince: null, messages: [], voiceMessages: [], call: null, video: null,
    phase: 'idle', answeredAt: null, peer: null, input: null, details: false, stats: null, status: 'starting',
  };
}

function push(list: string[], line: string): void {
  list.push(line);
  if (list.length > MAX_LINES) list.splice(0, list.length - MAX_LINES);
}

const pad2 = (n: number): string => String(n).padStart(2, '0');
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A time in local time: "10:05" today, "1 May 10:05" another day. */
export function localTime(ms: number, now: number = Date.now()): string {
  const d = new Date(ms);
  const n = new Date(now);
  const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  const today = d.getFullYear() === n.getFullYear() && d.getMonth() === n.getMonth() && d.getDate() === n.getDate();
  return today ? hm : `${d.getDate()} ${MONTHS[d.getMonth()]} ${hm}`;
}

/** "45 s", "3 min 12 s", "1 h 2 min". */
export function spokenDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function addMissed(s: ScreenState, from: string, count: number, last: number): void {
  const m = s.missed.get(from);
  if (m === undefined) s.missed.set(from, { count, last });
  else {
    m.count += count;
    m.last = Math.max(m.last, last);
  }
}

/** Why an outgoing call did not happen, in words (the final status of our INVITE). */
function notConnected(peer: string, status: number | undefined): string {
  switch (status) {
    case 404: case 604: return `there is no user ${peer}`;
    case 486: case 600: return `${peer} is busy`;
    case 603: return `${peer} declined the call`;
    case 480: return `${peer} is not available now (the call is kept as missed)`;
    case 408: return `${peer} is not answering`;
    default: return `the call to ${peer} did not go through${status !== undefined ? ` (${status})` : ''}`;
  }
}

function callEnded(s: ScreenState, x: TvAgentEvents['call-ended'][0], now: number): void {
  const was = s.phase;
  const peer = x.peer;
  s.call = null;
  s.video = null;
  s.phase = 'idle';
  s.answeredAt = null;
  if (x.rtcp !== null) s.stats = x.rtcp;
  switch (x.reason) {
    case 'local-hangup': case 'remote-hangup':
      s.status = `call with ${peer} ended, ${spokenDuration(x.durationMs)}`;
      break;
    case 'no-media': case 'session-expired':
      s.status = `call with ${peer} ended: the connection was lost, ${spokenDuration(x.durationMs)}`;
      break;
    case 'no-answer': s.status = `${peer} is not answering`; break;
    case 'busy': s.status = `${peer} is busy`; break;
    case 'rejected': s.status = was === 'incoming' ? `you declined the call from ${peer}` : notConnected(peer, x.status); break;
    case 'cancelled':
      // the caller gave up before we answered: a missed call, on the screen at once
      if (was === 'incoming') {
        const at = s.ringingSince ?? now;
        addMissed(s, peer, 1, at);
        s.liveMissed.set(peer, [...(s.liveMissed.get(peer) ?? []), at].slice(-100));
        s.status = `missed call from ${peer} at ${localTime(at, now)}`;
      } else s.status = `call to ${peer} cancelled`;
      break;
    case 'no-ack': s.status = `call with ${peer} lost: its TV did not confirm the answer`; break;
    default: s.status = `call with ${peer} failed${x.status !== undefined ? ` (${x.status})` : ''}`;
  }
}

/** The video of a call in plain words: who sees whom. */
function videoLine(sending: boolean, receiving: boolean): string {
  if (sending && receiving) return 'video both ways';
  if (sending) return 'video: they see you';
  if (receiving) return 'video: you see them, your camera is off';
  return 'video paused';
}

/** Fold one agent event into the screen state (mutates and returns it). `now`: epoch ms, for times shown. */
export function applyEvent<K extends keyof TvAgentEvents>(s: ScreenState, event: K, e: TvAgentEvents[K][0], now: number = Date.now()): ScreenState {
  const x = e as Record<string, unknown>;
  switch (event) {
    case 'registered': s.registered = true; s.status = `online as ${String(x.aor).replace(/^sip:/, '')}`; break;
    case 'registration-failed':
      s.registered = false;
      s.status = `cannot sign in (${String(x.status)} ${String(x.reason)}), trying again in ${spokenDuration(Number(x.retryInMs))}`;
      break;
    case 'connection-lost': s.registered = false; s.status = 'connection to the server lost, reconnecting'; break;
    case 'server-changed': s.registered = false; s.status = `server unreachable: trying ${String(x.address)}:${String(x.port)}`; break;
    case 'unregistered': s.registered = false; s.status = 'signed out'; break;
    case 'standby': s.registered = false; s.status = 'standby: a call wakes the TV'; break;
    case 'woken': s.status = 'woken by a call, signing in'; break;
    case 'public-address': s.status = `reachable from outside at ${String(x.address)}`; break;
    case 'presence': s.contacts.set(String(x.contact), x.online === true); break;
    case 'missed-calls': {
      const calls = x.calls as { from: string; count: number; last: string }[];
      for (const c of calls) {
        const last = Date.parse(c.last) || now;
        // the ones already shown as they happened (a minute's leeway for the server's and our clocks)
        const live = s.liveMissed.get(c.from) ?? [];
        const shown = live.filter((t) => t <= last + 60_000);
        if (shown.length > 0) s.liveMissed.set(c.from, live.filter((t) => t > last + 60_000));
        const count = c.count - shown.length;
        if (count > 0) addMissed(s, c.from, count, last);
      }
      break;
    }
    case 'message': {
      const at = typeof x.date === 'string' && Date.parse(x.date) ? Date.parse(x.date) : now;
      push(s.messages, `${localTime(at, now)} ${String(x.from)}: ${x.text !== undefined ? String(x.text) : `[picture] ${String(x.file)}`}`);
      break;
    }
    case 'voice-message': {
      const at = typeof x.date === 'string' && Date.parse(x.date) ? Date.parse(x.date) : now;
      s.voiceMessages.push({ id: String(x.id), from: String(x.from), at, durationMs: Number(x.durationMs), played: false });
      if (s.voiceMessages.length > MAX_LINES) s.voiceMessages.splice(0, s.voiceMessages.length - MAX_LINES);
      s.status = `${x.video === true ? 'video' : 'voice'} message from ${String(x.from)} — press p to play it${x.video === true ? ' (its sound)' : ''}`;
      break;
    }
    case 'voice-message-played': {
      const vm = s.voiceMessages.find((v) => v.id === String(x.id));
      if (vm) vm.played = true;
      s.status = `played the voice message from ${String(x.from)}, ${spokenDuration(Number(x.durationMs))}`;
      break;
    }
    case 'message-sent': {
      const st = Number(x.status);
      s.status = st === 202 ? `message kept for ${String(x.to)} (offline): delivered when the TV is on`
        : st >= 200 && st < 300 ? `message to ${String(x.to)} delivered`
        : st === 404 ? `message not sent: there is no user ${String(x.to)}`
        : `message to ${String(x.to)} not sent (${st} ${String(x.reason)})`;
      break;
    }
    case 'call-incoming':
      s.phase = 'incoming'; s.peer = String(x.from); s.ringingSince = now;
      s.call = `${String(x.from)} is calling — press a to answer, h to decline`;
      break;
    case 'call-outgoing': s.phase = 'outgoing'; s.peer = String(x.to); s.call = `calling ${String(x.to)}…`; break;
    case 'call-ringing': s.call = `calling ${s.peer ?? ''}… (ringing)`; break;
    case 'call-answered': s.phase = 'active'; s.answeredAt = now; s.peer = String(x.peer); s.call = `in call with ${String(x.peer)}`; break;
    case 'video-started': case 'video-changed': s.video = videoLine(x.sending === true, x.receiving === true); break;
    case 'video-stats': {
      const seen = x.receiving === true && typeof x.width === 'number' ? `, ${String(x.width)}x${String(x.height)} at ${String(x.fps)} frames a second` : '';
      const lost = typeof x.lost === 'number' && x.lost > 0 ? `, ${String(x.lost)} packets lost` : '';
      s.video = `${videoLine(x.sending === true, x.receiving === true)}${seen}${lost}`;
      break;
    }
    case 'video-stopped': s.video = null; s.status = x.by === 'local' ? 'video off: voice only' : 'the other side stopped the video: voice only'; break;
    case 'call-held': s.call = `${(s.call ?? '').replace(/ \[on hold\]$/, '')}${x.held ? ' [on hold]' : ''}`.trim(); break;
    case 'dtmf': s.status = `${s.status.startsWith('keys pressed by the other side: ') ? s.status : 'keys pressed by the other side: '}${String(x.digit)}`; break;
    case 'call-ended': callEnded(s, e as TvAgentEvents['call-ended'][0], now); break;
    case 'error': s.status = `error: ${String(x.message)}`; break;
  }
  return s;
}

const UP = '\x1b[A';
const DOWN = '\x1b[B';
const ESCAPE = '\x1b';

/**
 * One key per element from a chunk the terminal sent: "123#" typed fast is four keys; an escape sequence
 * (arrows: ESC [ A, ESC O A) is one key.
 */
export function splitKeys(chunk: string): string[] {
  const keys: string[] = [];
  for (let i = 0; i < chunk.length;) {
    const m = /^\x1b(?:\[[0-9;]*[A-Za-z~]|O[A-Za-z])/.exec(chunk.slice(i));
    const k = m !== null ? m[0].replace(/^\x1bO/, '\x1b[') : String.fromCodePoint(chunk.codePointAt(i)!);
    keys.push(k);
    i += m !== null ? m[0].length : k.length;
  }
  return keys;
}

/** Fold one key into the screen; what the agent should do, if anything. */
export function pressKey(s: ScreenState, key: string): KeyAction | null {
  if (s.input !== null) return typing(s, s.input, key);
  const contacts = [...s.contacts.keys()];
  if (key === UP || key === DOWN) {
    if (contacts.length > 0) s.selected = (s.selected + (key === UP ? contacts.length - 1 : 1)) % contacts.length;
    return null;
  }
  if (key === '\r' || key === '\n') {
    const user = contacts[s.selected];
    if (user === undefined || s.phase !== 'idle') return null;
    return { do: 'call', user };
  }
  if (key === '\u0003') return { do: 'quit' };
  if (/^[0-9*#]$/.test(key)) return s.phase === 'active' ? { do: 'dtmf', digits: key } : null;
  switch (key.toLowerCase()) {
    case 'a': return s.phase === 'incoming' ? { do: 'answer' } : null;
    case 'h': return s.phase !== 'idle' ? { do: 'hangup' } : null;
    case 'o': return s.phase === 'active' ? { do: 'hold' } : null;
    case 'c': return s.phase === 'active' && s.video !== null ? { do: 'camera' } : null;
    case 'v': return s.phase === 'active' ? { do: 'video' } : null;
    case 'm': {
      const to = contacts[s.selected];
      if (to === undefined) s.status = 'no contact to write to (give --contacts)';
      else s.input = { to, text: '' };
      return null;
    }
    case 'd': s.missed.clear(); return null;
    case 'p': return s.phase === 'idle' ? { do: 'play-voice-message' } : null;
    case 'i': s.details = !s.details; return null;
    case 'q': return { do: 'quit' };
    default: return null;
  }
}

function typing(s: ScreenState, input: { to: string; text: string }, key: string): KeyAction | null {
  if (key === ESCAPE || key === '\u0003') {
    s.input = null;
    return null;
  }
  if (key === '\r' || key === '\n') {
    s.input = null;
    const text = input.text.trim();
    return text === '' ? null : { do: 'message', to: input.to, text };
  }
  if (key === '\x7f' || key === '\b') input.text = [...input.text].slice(0, -1).join('');
  else if (!key.startsWith(ESCAPE) && key >= ' ' && input.text.length < 1000) input.text += key;
  return null;
}

const ESC = '\x1b[';
const bold = (t: string): string => `${ESC}1m${t}${ESC}0m`;
const green = (t: string): string => `${ESC}32m${t}${ESC}0m`;
const grey = (t: string): string => `${ESC}90m${t}${ESC}0m`;
const inverse = (t: string): string => `${ESC}7m${t}${ESC}0m`;

function missedLine(from: string, m: MissedFrom, now: number): string {
  return m.count === 1 ? `missed call from ${from} at ${localTime(m.last, now)}` : `${m.count} missed calls from ${from}, last at ${localTime(m.last, now)}`;
}

function detailsLines(r: MediaStats | null): string[] {
  if (r === null) return [grey('  (no call yet)')];
  const lines = [
    `  sent ${r.sent.packets} packets (${r.sent.octets} bytes${r.sent.dtmfPackets ? `, ${r.sent.dtmfPackets} DTMF` : ''})`,
    `  received ${r.received.packets} packets, lost ${r.received.lost}, jitter ${r.received.jitterMs.toFixed(1)} ms, late ${r.received.late}, concealed ${r.received.concealed}`,
  ];
  if (r.remote) lines.push(`  the other side reports lost ${r.remote.cumulativeLost}, jitter ${r.remote.jitterMs.toFixed(1)} ms${r.remote.rttMs !== undefined ? `, round trip ${r.remote.rttMs.toFixed(0)} ms` : ''}`);
  return lines;
}

const KEYS_IDLE = 'keys: ↑↓ choose · Enter call · m message · p play voice message · d dismiss missed · i details · q quit';
const KEYS_CALL = 'keys: a answer · h hang up · o hold/resume · c camera · v video · 0-9*# tones · i details · q quit';

/** The whole screen: clear, home, then the sections. `now`: epoch ms, for the times shown. */
export function render(s: ScreenState, now: number = Date.now()): string {
  // clear and home on the first line itself, so the title is the terminal's top row
  const out: string[] = [`${ESC}2J${ESC}H` + bold(`tvphone TV — ${s.user}`) + `  ${s.registered ? green('● online') : grey('○ offline')}`];
  out.push('');
  out.push(bold('Contacts'));
  if (s.contacts.size === 0) out.push(grey('  (none)'));
  let i = 0;
  for (const [c, on] of s.contacts) {
    const line = `${on ? green('●') : grey('○')} ${c}`;
    out.push(i++ === s.selected ? `> ${inverse(line)}` : `  ${line}`);
  }
  out.push('', bold('Missed calls'));
  if (s.missed.size === 0) out.push(grey('  (none)'));
  for (const [from, m] of s.missed) out.push(`  ${missedLine(from, m, now)}`);
  if (s.voiceMessages.length > 0) {
    out.push('', bold('Voice messages'));
    for (const v of s.voiceMessages) out.push(`  ${v.played ? ' ' : '●'} ${localTime(v.at, now)} ${v.from}, ${spokenDuration(v.durationMs)}`);
  }
  out.push('', bold('Messages'));
  out.push(...(s.messages.length ? s.messages.map((m) => `  ${m}`) : [grey('  (none)')]));
  const running = s.phase === 'active' && s.answeredAt !== null ? `, ${spokenDuration(Math.max(0, now - s.answeredAt))}` : '';
  out.push('', bold('Call'), `  ${s.call !== null ? s.call.replace(/( \[on hold\])?$/, `${running}$1`) : grey('(no call)')}`);
  if (s.call !== null && s.video !== null) out.push(`  ${s.video}`);
  if (s.details) out.push('', bold('Call details'), ...detailsLines(s.stats));
  if (s.input !== null) out.push('', `message to ${s.input.to}: ${s.input.text}_  ${grey('(Enter send · Esc cancel)')}`);
  out.push('', grey(s.status), grey(s.phase === 'idle' ? KEYS_IDLE : KEYS_CALL));
  return out.join('\n') + '\n';
}
