// The missed-call notice for a user who was offline (format: formats/missed-call-notice.ts), built from the
// calls the store recorded as missed (user_call).
import { encodeMissedCallNotice, type MissedCallGroup, type MissedCallNoticeBody } from '../formats/missed-call-notice.ts';
import type { CallRecord } from '../store/store.ts';

/** Group missed calls per caller, in order of each caller's first call. */
export function groupMissedCalls(calls: readonly CallRecord[]): MissedCallGroup[] {
  const sorted = [...calls].sort((a, b) => a.callDate - b.callDate || a.id - b.id);
  const groups = new Map<string, { from: string; count: number; first: number; last: number }>();
  for (const c of sorted) {
    const g = groups.get(c.userId);
    if (g) {
      g.count++;
      g.last = c.callDate;
    } else groups.set(c.userId, { from: c.userId, count: 1, first: c.callDate, last: c.callDate });
  }
  return [...groups.values()].map((g) => ({
    from: g.from,
    count: g.count,
    first: new Date(g.first).toISOString(),
    last: new Date(g.last).toISOString(),
  }));
}

/** The notice for `toUser` from its unnotified missed calls (store.listCalls({missedBy, unnotified})); `boundary` for tests. */
export function buildMissedCallNotice(toUser: string, calls: readonly CallRecord[], boundary?: string): MissedCallNoticeBody {
  return encodeMissedCallNotice(toUser, groupMissedCalls(calls), boundary);
}
