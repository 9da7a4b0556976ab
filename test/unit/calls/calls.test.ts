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
