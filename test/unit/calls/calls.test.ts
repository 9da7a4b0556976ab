import assert from 'node:assert/strict';
import { Calls } from '../../../src/calls/calls.ts';
import { FakeClock } from '../../../src/clock.ts';
import { createLogger } from '../../../src/log/logger.ts';
import type { CallUpdate, NewCall } from '../../../src/store/store.ts';

describe('calls: user_call and one info line per call', () => {
  let lines: Array<Record<string, unknown>>;
  let rows: Array<{ id: number; call?: NewCall; updates: CallUpdate[] }>;
  let calls: Calls;

  beforeEach(() => {
    lines = [];
    rows = [];
    const store = {
      recordCall: async (call: NewCall) => rows.push({ id: rows.length + 1, call, updates: [] }),
      updateCall: async (id: number, u: CallUpdate) => void rows[id - 1]!.updates.push(u),
    };
    calls = new Calls({ store, clock: new FakeClock(Date.UTC(2026, 11, 1)), log: createLogger('info', { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) }) });
  });

  const call = (callId: string): NewCall => ({ userId: '1001', otherUserId: '1002', callDate: 0, callId, outcome: 'pending' });
  const logged = () => lines.map((l) => [l.msg, l.caller, l.callee, l.outcome, l.status, l.durationS]);

  it('records a call to an offline user and logs it', async () => {
    await calls.offline({ caller: '1001', callee: '1002', callId: 'c0' });
    assert.equal(rows[0]!.call!.outcome, 'offline');
    assert.deepEqual(logged(), [['call', '1001', '1002', 'offline', 480, undefined]]);
  });

  it('records a voicemail call as missed until its message is kept, then as voicemail; with no message it stays missed', async () => {
    const parties = { caller: '1001', callee: '1002', callId: 'v1' };
    const id = await calls.voicemail(parties);
    assert.deepEqual([rows[0]!.call!.outcome, rows[0]!.call!.status], ['offline', 200], 'a kill mid-recording leaves a missed call');
    await calls.voicemailEnded(id, parties, { messageId: 9, durationMs: 4200 });
    assert.equal(rows[0]!.updates.at(-1)!.outcome, 'voicemail');
    assert.equal(rows[0]!.updates.at(-1)!.durationMs, 4200);
    const id2 = await calls.voicemail({ ...parties, callId: 'v2' });
    await calls.voicemailEnded(id2, { ...parties, callId: 'v2' }, { messageId: null, durationMs: 0, status: 503 });
    assert.deepEqual([rows[1]!.updates.at(-1)!.outcome, rows[1]!.updates.at(-1)!.status], ['offline', 503]);
    assert.deepEqual(logged().map((l) => l[3]), ['voicemail', 'offline']);
  });

  it('logs an answered call once, when it ends, with its duration', async () => {
    const id = await calls.started(call('c1'));
    await calls.update(id, { outcome: 'answered', status: 200, answeredAt: 1 });
    assert.deepEqual(lines, []);
    await calls.update(id, { endedAt: 192_001, durationMs: 192_000 });
    assert.deepEqual(logged(), [['call', '1001', '1002', 'answered', 200, 192]]);
    assert.equal(rows[0]!.updates.length, 2, 'both updates reach user_call');
  });

  it('logs a call that was not answered at its outcome', async () => {
    const id = await calls.started(call('c2'));
    await calls.update(id, { outcome: 'busy', status: 486 });
    assert.deepEqual(logged(), [['call', '1001', '1002', 'busy', 486, null]]);
  });
});
