import assert from 'node:assert/strict';
import fc from 'fast-check';
import { at, isoText } from '../../../src/store/ops.ts';

describe('store: date-time parameters as text (isoText)', () => {
  it('is Date#toISOString for any sequence of times, repeats and alternations included (property)', () => {
    const time = fc.integer({ min: -62_135_596_800_000, max: 253_402_300_799_999 });
    fc.assert(fc.property(fc.array(fc.oneof(time, fc.constantFrom(0, 1, 1_764_000_000_000)), { minLength: 1, maxLength: 40 }), (ms) => {
      for (const t of [...ms, ...ms.slice().reverse(), ...ms]) assert.equal(isoText(at(t)), new Date(t).toISOString());
    }), { numRuns: 300 });
  });

  it('gives each of two alternating instants its own text (a write\'s now and a binding\'s expiry)', () => {
    const now = Date.UTC(2026, 11, 4, 18, 15, 52, 7);
    const expiry = now + 3_600_000;
    const seen = [now, now, expiry, now, expiry, expiry, now, now + 1].map((t) => isoText(new Date(t)));
    assert.deepEqual(seen, [now, now, expiry, now, expiry, expiry, now, now + 1].map((t) => new Date(t).toISOString()));
  });
});
