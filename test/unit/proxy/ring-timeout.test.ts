// An INVITE relay with a ring time (timeoutMs) and onAllFailed answering TAKEN: voicemail after no answer, and on
// busy when failsOver says 486 counts. The proxy CANCELs what still rings (§16.10), sends nothing more itself, and
// leaves the call record to the taker.
import assert from 'node:assert/strict';
import type { SipRequest, SipResponse } from '../../../src/sip/message.ts';
import { TAKEN, type AllFailedAnswer } from '../../../src/proxy/proxy.ts';
import { fromCaller, invite, setup, type Harness } from './helpers.ts';

const B1 = '192.0.2.10';
const B2 = '192.0.2.11';

const statuses = (list: SipResponse[]) => list.map((r) => r.status);
function only(list: SipRequest[]): SipRequest {
  assert.equal(list.length, 1, `expected one request, got ${list.length}`);
  return list[0];
}

describe('proxy: ring time and TAKEN (voicemail after no answer)', () => {
  let h: Harness;
  let taken: { finals: number[]; record: number | null }[];
  beforeEach(() => {
    h = setup();
    taken = [];
    h.relayOptions = {
      call: { userId: 'alice', otherUserId: 'bob' },
      timeoutMs: 30_000,
      onAllFailed: async (finals, _req, record): Promise<AllFailedAnswer> => {
        taken.push({ finals: finals.map((r) => r.status), record: await record });
        return TAKEN;
      },
    };
  });
  afterEach(() => h.layer.close());

  it('CANCELs the ringing branches when the ring time passes and hands the call over: the caller got the 180s only', async () => {
    fromCaller(h, invite());
    h.answer(only(h.sentTo(B1, 'INVITE')), 180, B1, 't1');
    h.answer(only(h.sentTo(B2, 'INVITE')), 180, B2, 't2');
    h.timers.advance(29_999);
    assert.equal(h.sentTo(B1, 'CANCEL').length, 0, 'still ringing before the ring time');
    h.timers.advance(1);
    await h.settle();
    assert.equal(h.sentTo(B1, 'CANCEL').length, 1);
    assert.equal(h.sentTo(B2, 'CANCEL').length, 1);
    assert.deepEqual(taken, [{ finals: [408, 408], record: 1 }]);
    // the callees' 487s are absorbed; the caller never gets a final response from the proxy
    h.answer(only(h.sentTo(B1, 'INVITE')), 487, B1, 't1');
    h.answer(only(h.sentTo(B2, 'INVITE')), 487, B2, 't2');
    await h.settle();
    assert.deepEqual(statuses(h.toCaller()).filter((s) => s !== 100), [180, 180]);
    assert.deepEqual(h.calls.updates, [], 'the call record is the taker\'s now');
  });

  it('CANCELs a branch that had sent no provisional response yet only once it sends one (§9.1)', async () => {
    h.targets = h.targets.slice(0, 1);
    fromCaller(h, invite());
    const fwd = only(h.sentTo(B1, 'INVITE'));
    h.timers.advance(30_000);
    await h.settle();
    assert.deepEqual(taken.map((t) => t.finals), [[408]]);
    assert.equal(h.sentTo(B1, 'CANCEL').length, 0);
    h.answer(fwd, 180, B1, 't1');
    assert.equal(h.sentTo(B1, 'CANCEL').length, 1);
    assert.deepEqual(statuses(h.toCaller()).filter((s) => s !== 100), [], 'the late 180 is not forwarded');
  });

  it('hands over a busy (486) call only when failsOver lists 486', async () => {
    h.targets = h.targets.slice(0, 1);
    fromCaller(h, invite());
    h.answer(only(h.sentTo(B1, 'INVITE')), 486, B1, 't1');
    await h.settle();
    assert.equal(taken.length, 0);
    assert.deepEqual(statuses(h.toCaller()).filter((s) => s !== 100), [486]);

    const g = setup();
    try {
      g.targets = g.targets.slice(0, 1);
      g.relayOptions = { ...h.relayOptions, failsOver: [408, 480, 503, 486] };
      fromCaller(g, invite({ callId: 'busy-2@192.0.2.1' }));
      g.answer(only(g.sentTo(B1, 'INVITE')), 486, B1, 't1');
      await g.settle();
      assert.deepEqual(taken.map((t) => t.finals), [[486]]);
      assert.deepEqual(statuses(g.toCaller()).filter((s) => s !== 100), []);
    } finally {
      g.layer.close();
    }
  });

  it('sends the answer of a callee that takes the call within the ring time, and no timeout fires after', async () => {
    h.targets = h.targets.slice(0, 1);
    fromCaller(h, invite());
    const fwd = only(h.sentTo(B1, 'INVITE'));
    h.answer(fwd, 180, B1, 't1');
    h.timers.advance(10_000);
    h.answer(fwd, 200, B1, 't1');
    h.timers.advance(30_000);
    await h.settle();
    assert.deepEqual(taken, []);
    assert.deepEqual(statuses(h.toCaller()).filter((s) => s !== 100), [180, 200]);
    assert.equal(h.sentTo(B1, 'CANCEL').length, 0);
  });
});
