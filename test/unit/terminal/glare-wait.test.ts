import assert from 'node:assert/strict';
import { glareWaitMs } from '../../../src/terminal/agent/session-manager.ts';

describe('TV agent: the wait after a 491 (RFC 3261 §14.1)', () => {
  it('the owner of the Call-ID waits 2.1 to 4 s, the other side 0 to 2 s, in units of 10 ms', () => {
    assert.deepEqual([glareWaitMs(true, () => 0), glareWaitMs(true, () => 0.999999)], [2100, 4000]);
    assert.deepEqual([glareWaitMs(false, () => 0), glareWaitMs(false, () => 0.999999)], [0, 2000]);
    for (let i = 0; i < 200; i++) {
      const owner = glareWaitMs(true);
      const other = glareWaitMs(false);
      assert.ok(owner >= 2100 && owner <= 4000 && owner % 10 === 0, String(owner));
      assert.ok(other >= 0 && other <= 2000 && other % 10 === 0, String(other));
    }
  });
});
