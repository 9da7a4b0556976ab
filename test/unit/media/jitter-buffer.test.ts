import assert from 'node:assert/strict';
import fc from 'fast-check';
import { JitterBuffer, type JitterPacket, type PlayoutFrame } from '../../../src/media/jitter-buffer.ts';
import { ReceptionStatistics } from '../../../src/media/reception-statistics.ts';

const pkt = (seq: number, ts: number): JitterPacket => ({ sequenceNumber: seq & 0xffff, timestamp: ts >>> 0, payload: new Uint8Array([seq & 0xff]) });
const seqs = (frames: PlayoutFrame[]): Array<number | string> => frames.map((f) => (f.kind === 'packet' ? f.packet.sequenceNumber : `lost ${f.sequenceNumber}`));

describe('media/jitter-buffer', () => {
  it('holds the first packet for the playout delay, then plays it', () => {
    const jb = new JitterBuffer({ playoutDelayMs: 40 });
    assert.equal(jb.push(pkt(10, 1000), 0), 'buffered');
    assert.deepEqual(jb.pop(39), []);
    assert.deepEqual(seqs(jb.pop(40)), [10]);
  });

  it('reorders packets by sequence number', () => {
    const jb = new JitterBuffer({ playoutDelayMs: 60 });
    jb.push(pkt(1, 0), 0);
    jb.push(pkt(3, 320), 41);
    jb.push(pkt(2, 160), 42);
    jb.push(pkt(4, 480), 60);
    assert.deepEqual(seqs(jb.pop(200)), [1, 2, 3, 4]);
    assert.equal(jb.stats().played, 4);
  });

  it('reorders across the 16-bit sequence wrap and the 32-bit timestamp wrap', () => {
    const jb = new JitterBuffer({ playoutDelayMs: 60 });
    const ts0 = 2 ** 32 - 320;
    jb.push(pkt(65534, ts0), 0);
    jb.push(pkt(0, ts0 + 320), 40);
    jb.push(pkt(65535, ts0 + 160), 41);
    jb.push(pkt(1, ts0 + 480), 60);
    assert.deepEqual(seqs(jb.pop(200)), [65534, 65535, 0, 1]);
  });

  it('drops a duplicate and counts it', () => {
    const jb = new JitterBuffer();
    jb.push(pkt(5, 0), 0);
    assert.equal(jb.push(pkt(5, 0), 1), 'duplicate');
    assert.equal(jb.stats().duplicates, 1);
  });

  it('conceals a missing packet as lost when the next one is due, and drops it as late if it comes after', () => {
    const jb = new JitterBuffer({ playoutDelayMs: 40 });
    jb.push(pkt(1, 0), 0);
    jb.push(pkt(3, 320), 40);
    assert.deepEqual(seqs(jb.pop(40)), [1]);
    assert.deepEqual(seqs(jb.pop(60)), []); // 2 is not due before 60 ms, and 3 is not due either
    assert.deepEqual(seqs(jb.pop(80)), ['lost 2', 3]);
    assert.equal(jb.push(pkt(2, 160), 81), 'late');
    const s = jb.stats();
    assert.deepEqual([s.lost, s.late, s.played], [1, 1, 2]);
  });

  it('in adaptive mode grows the delay by a frame after a late packet', () => {
    const jb = new JitterBuffer({ playoutDelayMs: 40, adaptive: true });
    jb.push(pkt(1, 0), 0);
    jb.pop(40);
    jb.push(pkt(3, 320), 70);
    jb.pop(80);
    jb.push(pkt(2, 160), 85);
    assert.equal(jb.playoutDelayMs, 60);
  });

  it('bounds its size: overflow beyond maxPackets is dropped and counted', () => {
    const jb = new JitterBuffer({ maxPackets: 3, maxGap: 100 });
    for (let i = 0; i < 5; i++) jb.push(pkt(i, i * 160), 0);
    assert.deepEqual([jb.stats().buffered, jb.stats().overflow], [3, 2]);
  });

  it('re-anchors on a sequence jump (sender restart) instead of concealing thousands of frames', () => {
    const jb = new JitterBuffer({ playoutDelayMs: 20 });
    jb.push(pkt(100, 0), 0);
    jb.pop(20);
    jb.push(pkt(30000, 999999), 40);
    const out = jb.pop(60);
    assert.deepEqual(seqs(out), [30000]);
  });

  it('plays every packet exactly once in order, whatever the arrival order within the delay (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.array(fc.double({ min: 0, max: 39, noNaN: true }), { minLength: 1, maxLength: 60 }), (seq0, ts0, jitters) => {
      const jb = new JitterBuffer({ playoutDelayMs: 60, maxPackets: 100 });
      const arrivals = jitters.map((j, i) => ({ p: pkt(seq0 + i, ts0 + i * 160), t: i * 20 + j }));
      // keep the first packet first so that it anchors the clock at its own send time + jitter
      const rest = arrivals.slice(1).sort((a, b) => a.t - b.t);
      const played: PlayoutFrame[] = [];
      for (const a of [arrivals[0], ...rest]) { played.push(...jb.pop(a.t)); jb.push(a.p, a.t); }
      for (let t = 0; t < 100 && played.length < jitters.length; t++) played.push(...jb.pop(jitters.length * 20 + 200 + t * 20));
      assert.deepEqual(seqs(played), arrivals.map((a) => a.p.sequenceNumber));
    }), { numRuns: 200 });
  });
});

describe('media/reception-statistics (RFC 3550 A.1, A.3, A.8)', () => {
  it('counts no loss for an in-order stream across the sequence wrap, with extended highest seq', () => {
    const s = new ReceptionStatistics(1, 65530);
    for (let i = 0; i < 20; i++) s.update((65530 + i) & 0xffff, i * 160, i * 20);
    const r = s.report();
    assert.equal(r.cumulativeLost, 0);
    assert.equal(r.fractionLost, 0);
    assert.equal(r.extendedHighestSeq, 65536 + ((65530 + 19) & 0xffff));
    assert.equal(r.jitter, 0);
  });

  it('computes fraction lost per interval and cumulative loss (A.3)', () => {
    const s = new ReceptionStatistics(1, 0);
    for (let i = 0; i < 100; i++) if (i % 4 !== 3 || i < 2) s.update(i, i * 160, i * 20);
    const r1 = s.report();
    // counted from seq 1 (the probation ends there) to the highest received, 98: expected 98;
    // missing 3, 7, … 95 (24 packets; 99 is missing too but above the highest received)
    assert.equal(r1.cumulativeLost, 24);
    assert.equal(r1.fractionLost, Math.floor((24 * 256) / 98));
    for (let i = 100; i < 200; i++) s.update(i, i * 160, i * 20);
    const r2 = s.report();
    assert.equal(r2.fractionLost, Math.floor((1 * 256) / 101)); // 99 lost in this interval of 101
    assert.equal(r2.cumulativeLost, 25); // 99 now counts as lost too
  });

  it('estimates jitter per A.8: alternating ±5 ms arrival offsets converge near 40 timestamp units (5 ms)', () => {
    const s = new ReceptionStatistics(1, 0);
    for (let i = 0; i < 500; i++) s.update(i, i * 160, i * 20 + (i % 2 ? 5 : 0));
    // |D| is 5 ms = 40 units every packet: J → 40
    assert.ok(Math.abs(s.jitter - 40) < 1, `${s.jitter}`);
    assert.ok(Math.abs(s.jitterMs - 5) < 0.2);
  });

  it('does not count a 32-bit timestamp wrap as jitter', () => {
    const s = new ReceptionStatistics(1, 0);
    const ts0 = 2 ** 32 - 1600;
    for (let i = 0; i < 30; i++) s.update(i, (ts0 + i * 160) >>> 0, i * 20);
    assert.ok(s.jitter < 1e-6);
  });

  it('resynchronises after a large sequence jump confirmed by two sequential packets (A.1)', () => {
    const s = new ReceptionStatistics(1, 0);
    for (let i = 0; i < 10; i++) s.update(i, i * 160, i * 20);
    assert.equal(s.update(40000, 0, 300), false);
    assert.equal(s.update(40001, 160, 320), true);
    assert.equal(s.cumulativeLost, 0);
  });
});
