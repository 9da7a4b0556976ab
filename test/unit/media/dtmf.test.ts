import assert from 'node:assert/strict';
import { decodeTelephoneEvent, digitToEvent, encodeTelephoneEvent, eventToDigit, TelephoneEventReceiver, telephoneEventPackets } from '../../../src/media/dtmf.ts';

describe('media/dtmf (RFC 4733 telephone-event)', () => {
  it('maps digits to events per RFC 4733 §3.2 (* = 10, # = 11, A-D = 12-15, flash = 16)', () => {
    assert.deepEqual(['0', '9', '*', '#', 'A', 'd', '!'].map(digitToEvent), [0, 9, 10, 11, 12, 15, 16]);
    assert.equal(eventToDigit(11), '#');
    assert.equal(eventToDigit(40), undefined);
    assert.throws(() => digitToEvent('x'), RangeError);
  });

  it('encodes the 4-byte payload: event, E bit, R = 0, volume, 16-bit duration', () => {
    // '5', end, volume 10, duration 800 → 05 8a 03 20
    assert.deepEqual([...encodeTelephoneEvent({ event: 5, end: true, volume: 10, duration: 800 })], [0x05, 0x8a, 0x03, 0x20]);
    assert.deepEqual([...encodeTelephoneEvent({ event: 11, end: false, volume: 63, duration: 160 })], [0x0b, 0x3f, 0x00, 0xa0]);
  });

  it('decodes captured bytes and ignores the reserved bit', () => {
    assert.deepEqual(decodeTelephoneEvent(new Uint8Array([0x01, 0xca, 0x01, 0x40])), { event: 1, end: true, volume: 10, duration: 320 });
    assert.equal(decodeTelephoneEvent(new Uint8Array([1, 2])), undefined);
  });

  it('produces a 100 ms event as 4 updates (marker on the first) and the end packet three times (§2.5.1.4)', () => {
    const pk = telephoneEventPackets('#', 100);
    assert.equal(pk.length, 4 + 3);
    assert.deepEqual(pk.map((p) => p.marker), [true, false, false, false, false, false, false]);
    assert.deepEqual(pk.map((p) => decodeTelephoneEvent(p.payload)?.duration), [160, 320, 480, 640, 800, 800, 800]);
    assert.deepEqual(pk.map((p) => p.end), [false, false, false, false, true, true, true]);
    assert.ok(pk.every((p) => p.payload[0] === 11));
  });

  it('reports each event once even though updates and three end packets arrive', () => {
    const rx = new TelephoneEventReceiver();
    const got: string[] = [];
    for (const [ts, d] of [[1000, '1'], [2600, '2']] as const) for (const p of telephoneEventPackets(d, 60)) { const g = rx.receive(ts, p.payload); if (g) got.push(g); }
    assert.deepEqual(got, ['1', '2']);
  });
});
