// The TV's screen in a terminal: plain ANSI, no library. A pure reducer (applyEvent) keeps what is shown —
// contacts with their online state, kept (missed) calls, messages, the call in progress — and render()
// draws it as one string the CLI writes out. Keys (read by the CLI): a = answer, h = hang up, o = hold/resume,
// 0-9 * # = DTMF, q = quit.
import type { TvAgentEvents } from './events.ts';

export interface ScreenState {
  user: string;
  registered: boolean;
  contacts: Map<string, boolean>;
  missed: string[];
  messages: string[];
  call: string | null;
  status: string;
}

const MAX_LINES = 10;

export function initialScreen(user: string, contacts: string[]): ScreenState {
  return { user, registered: false, contacts: new Map(contacts.map((c) => [c, false])), missed: [], messages: [], call: null, status: 'starting' };
}

function push(list: string[], line: string): void {
  list.push(line);
  if (list.length > MAX_LINES) list.splice(0, list.length - MAX_LINES);
}

/** Fold one agent event into the screen state (mutates and returns it). */
export function applyEvent<K extends keyof TvAgentEvents>(s: ScreenState, event: K, e: TvAgentEvents[K][0]): ScreenState {
  const x = e as Record<string, unknown>;
  switch (event) {
    case 'registered': s.registered = true; s.status = `registered as ${String(x.aor)}`; break;
    case 'registration-failed': s.registered = false; s.status = `registration failed (${String(x.status)} ${String(x.reason)}), retrying`; break;
    case 'connection-lost': s.registered = false; s.status = 'connection to the server lost, reconnecting'; break;
    case 'unregistered': s.registered = false; s.status = 'signed out'; break;
    case 'presence': s.contacts.set(String(x.contact), x.online === true); break;
    case 'missed-calls':
      for (const c of x.calls as { from: string; count: number; last: string }[]) push(s.missed, `${c.from} ×${c.count} (last ${c.last})`);
      break;
    case 'message': push(s.messages, `${String(x.from)}: ${x.text !== undefined ? String(x.text) : `[picture] ${String(x.file)}`}`); break;
    case 'message-sent': s.status = `message to ${String(x.to)}: ${String(x.status)} ${String(x.reason)}`; break;
    case 'call-incoming': s.call = `${String(x.from)} is calling — press a to answer, h to reject`; break;
    case 'call-outgoing': s.call = `calling ${String(x.to)}…`; break;
    case 'call-ringing': s.call = `${(s.call ?? 'call').replace(/ \(ringing\)$/, '')} (ringing)`; break;
    case 'call-answered': s.call = `in call with ${String(x.peer)} (${String(x.codec)}) — h to hang up`; break;
    case 'call-held': s.call = `${(s.call ?? '').replace(/ \[on hold\]$/, '')}${x.held ? ' [on hold]' : ''}`.trim(); break;
    case 'dtmf': s.status = `${s.status.startsWith('DTMF received: ') ? s.status : 'DTMF received: '}${String(x.digit)}`; break;
    case 'call-ended': {
      s.call = null;
      const r = x.rtcp as { sent: { packets: number }; received: { packets: number; lost: number; jitterMs: number } } | null;
      s.status = `call with ${String(x.peer)} ended (${String(x.reason)}${x.status !== undefined ? ` ${String(x.status)}` : ''})` +
        (r ? ` — sent ${r.sent.packets} pkts, received ${r.received.packets}, lost ${r.received.lost}, jitter ${r.received.jitterMs.toFixed(1)} ms` : '');
      break;
    }
    case 'error': s.status = `error: ${String(x.message)}`; break;
  }
  return s;
}

const ESC = '\x1b[';
const bold = (t: string): string => `${ESC}1m${t}${ESC}0m`;
const green = (t: string): string => `${ESC}32m${t}${ESC}0m`;
const grey = (t: string): string => `${ESC}90m${t}${ESC}0m`;

/** The whole screen: clear, home, then the sections. */
export function render(s: ScreenState): string {
  // clear and home on the first line itself, so the title is the terminal's top row
  const out: string[] = [`${ESC}2J${ESC}H` + bold(`tvphone TV — ${s.user}`) + `  ${s.registered ? green('● online') : grey('○ offline')}`];
  out.push('');
  out.push(bold('Contacts'));
  if (s.contacts.size === 0) out.push(grey('  (none)'));
  for (const [c, on] of s.contacts) out.push(`  ${on ? green('●') : grey('○')} ${c}`);
  out.push('', bold('Missed calls'));
  out.push(...(s.missed.length ? s.missed.map((m) => `  ${m}`) : [grey('  (none)')]));
  out.push('', bold('Messages'));
  out.push(...(s.messages.length ? s.messages.map((m) => `  ${m}`) : [grey('  (none)')]));
  out.push('', bold('Call'), `  ${s.call ?? grey('(no call)')}`);
  out.push('', grey(s.status), grey('keys: a answer · h hang up · o hold/resume · 0-9*# DTMF · q quit'));
  return out.join('\n') + '\n';
}
