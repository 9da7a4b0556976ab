import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FU_A, H264Depacketizer, joinAnnexB, nalType, packetizeH264, splitAnnexB, STAP_A, type AccessUnit } from '../../../src/media/h264-rtp.ts';

const nal = (type: number, len: number, nri = 3): Uint8Array<ArrayBuffer> => {
  const n = new Uint8Array(len);
  n[0] = (nri << 5) | type;
  for (let i = 1; i < len; i++) n[i] = (i * 7 + type) & 0xff || 1;
  return n;
};

/** Sends access units through packetizeH264 as RTP would (one timestamp each, marker on the last packet). */
function rtp(units: Uint8Array[][], mtu: number, seq0 = 65530): Array<{ sequenceNumber: number; timestamp: number; marker: boolean; payload: Uint8Array }> {
  const out = [];
  let seq = seq0;
  for (const [i, au] of units.entries()) {
    const ps = packetizeH264(au, mtu);
    for (const [j, payload] of ps.entries()) out.push({ sequenceNumber: seq++ & 0xffff, timestamp: i * 6000, marker: j === ps.length - 1, payload });
  }
  return out;
}

function depacketize(packets: ReturnType<typeof rtp>, d = new H264Depacketizer()): AccessUnit[] {
  return packets.flatMap((p) => d.push(p));
}

// a NAL unit of any type 1-23 with a valid header (F = 0) and no start-code emulation (as after RFC 6184 §1.3's emulation prevention)
const arbNal = fc.tuple(fc.integer({ min: 1, max: 23 }), fc.integer({ min: 0, max: 3 }), fc.uint8Array({ minLength: 0, maxLength: 3000 }))
  .map(([type, nri, body]) => Uint8Array.from([(nri << 5) | type, ...body.map((b) => (b === 0 ? 0x55 : b))]));

describe('media/h264-rtp (RFC 6184 packetization-mode 1)', () => {
  it('any access units at any MTU come out of the depacketiser identical (a keyframe first)', () => {
    fc.assert(fc.property(
      fc.array(fc.array(arbNal, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 5 }), fc.integer({ min: 3, max: 1500 }),
      (units, mtu) => {
        units[0].push(nal(5, 40)); // the first unit holds an IDR so the depacketiser does not wait for one
        const out = depacketize(rtp(units, mtu));
        assert.deepEqual(out.map((u) => u.nals), units);
        for (const p of rtp(units, mtu)) assert.ok(p.payload.length <= mtu, `payload ${p.payload.length} > mtu ${mtu}`);
      },
    ), { numRuns: 200 });
  });

  it('§5.6: a NAL unit that fits is sent as it is; §5.8: a larger one as FU-A with S on the first and E on the last fragment', () => {
    assert.deepEqual(packetizeH264([nal(1, 100)], 1200, false), [nal(1, 100)]);
    const big = nal(5, 3000, 3);
    const ps = packetizeH264([big], 1200);
    assert.equal(ps.length, 3);
    for (const [i, p] of ps.entries()) {
      assert.equal(p[0], 0x60 | FU_A, 'FU indicator: F and NRI of the NAL unit, type 28');
      assert.equal(p[1] & 0x1f, 5, 'FU header: the NAL unit type');
      assert.equal((p[1] & 0x80) !== 0, i === 0, 'S bit');
      assert.equal((p[1] & 0x40) !== 0, i === 2, 'E bit');
      assert.ok(p.length <= 1200);
    }
    assert.equal(ps.reduce((s, p) => s + p.length - 2, 0), 2999, 'the NAL header byte is not sent (§5.8)');
  });

  it('§5.7.1: SPS and PPS go together in one STAP-A with 16-bit sizes, NRI the highest of them', () => {
    const sps = nal(7, 12, 3);
    const pps = nal(8, 4, 2);
    const [stap, idr] = packetizeH264([sps, pps, nal(5, 2000)], 1200);
    assert.equal(stap[0], 0x60 | STAP_A);
    assert.deepEqual([...stap.subarray(1, 3)], [0, 12]);
    assert.deepEqual(stap.subarray(3, 15), sps);
    assert.deepEqual([...stap.subarray(15, 17)], [0, 4]);
    assert.deepEqual(stap.subarray(17), pps);
    assert.equal(idr[0] & 0x1f, FU_A);
  });

  it('a lost FU-A fragment drops the frame, asks for a keyframe, and drops P-frames until the next IDR', () => {
    const units = [[nal(7, 10), nal(8, 4), nal(5, 3000)], [nal(1, 2500)], [nal(1, 2500)], [nal(7, 10), nal(8, 4), nal(5, 3000)], [nal(1, 100)]];
    const packets = rtp(units, 1000);
    const d = new H264Depacketizer();
    // unit 0 is packets 0-4 (a STAP-A, 4 FU-A for the IDR), unit 1 packets 5-7: lose its first fragment
    const lost = packets.filter((_, i) => i !== 5);
    const out = depacketize(lost, d);
    assert.equal(d.takeKeyframeRequest(), true);
    assert.equal(d.takeKeyframeRequest(), false, 'asked once');
    assert.deepEqual(out.map((u) => u.timestamp), [0, 18000, 24000]);
    assert.deepEqual(out.map((u) => u.keyframe), [true, true, false]);
    assert.deepEqual(d.stats, { frames: 3, keyframes: 2, droppedFrames: 2, lostPackets: 1, malformed: 0 });
  });

  it('a frame whose marker packet was lost is dropped when the next timestamp begins', () => {
    const split = [{ sequenceNumber: 1, timestamp: 0, marker: true, payload: nal(5, 50) }, { sequenceNumber: 2, timestamp: 6000, marker: false, payload: nal(1, 50) }, { sequenceNumber: 4, timestamp: 12000, marker: true, payload: nal(1, 50) }];
    const d = new H264Depacketizer();
    const out = depacketize([{ ...split[0], sequenceNumber: 1 }, split[1], split[2]], d);
    assert.deepEqual(out.map((u) => u.timestamp), [0]);
    assert.equal(d.stats.droppedFrames, 2);
    assert.equal(d.stats.lostPackets, 1);
  });

  it('drops duplicates, refuses STAP-B/MTAP/FU-B (not in mode 1), bounds a frame\'s size', () => {
    const d = new H264Depacketizer({ maxFrameBytes: 1000 });
    assert.deepEqual(d.push({ sequenceNumber: 1, timestamp: 0, marker: true, payload: nal(5, 10) }).length, 1);
    assert.deepEqual(d.push({ sequenceNumber: 1, timestamp: 0, marker: true, payload: nal(5, 10) }), []);
    assert.deepEqual(d.push({ sequenceNumber: 2, timestamp: 10, marker: true, payload: nal(25, 10) }), []);
    assert.equal(d.stats.malformed, 1);
    const huge = packetizeH264([nal(5, 5000)], 1200);
    const out = huge.flatMap((payload, i) => d.push({ sequenceNumber: 3 + i, timestamp: 20, marker: i === huge.length - 1, payload }));
    assert.deepEqual(out, []);
    assert.equal(d.stats.droppedFrames, 2);
  });

  it('Annex B: 3- and 4-byte start codes split, trailing zeros dropped; streamed input keeps the unfinished NAL unit', () => {
    const bytes = Uint8Array.from([0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 0, 1, 0x65, 4, 5]);
    const { nals } = splitAnnexB(bytes);
    assert.deepEqual(nals.map((n) => [...n]), [[0x67, 1, 2], [0x68, 3], [0x65, 4, 5]]);
    const part = splitAnnexB(bytes, false);
    assert.equal(part.nals.length, 2);
    assert.deepEqual([...part.rest], [0, 0, 1, 0x65, 4, 5]);
    assert.deepEqual(splitAnnexB(joinAnnexB(nals)).nals, nals);
    assert.equal(nalType(nals[2]), 5);
  });

  it('Annex B round trip for any NAL units, fed in any chunks', () => {
    fc.assert(fc.property(fc.array(arbNal, { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 5000 }), (nals, chunk) => {
      const stream = joinAnnexB(nals);
      const got: Uint8Array[] = [];
      let rest: Uint8Array = new Uint8Array(0);
      for (let o = 0; o < stream.length; o += chunk) {
        const buf = new Uint8Array(rest.length + Math.min(chunk, stream.length - o));
        buf.set(rest);
        buf.set(stream.subarray(o, o + chunk), rest.length);
        const r = splitAnnexB(buf, false);
        got.push(...r.nals.map((n) => n.slice()));
        rest = r.rest.slice();
      }
      got.push(...splitAnnexB(rest).nals);
      assert.deepEqual(got, nals);
    }), { numRuns: 200 });
  });
});
