import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ivfFileHeader, ivfFrame, isVp8Keyframe, packetizeVp8, parseVp8Descriptor, readIvf, splitIvf, Vp8Depacketizer, vp8KeyframeSize, writeIvf, type Vp8Frame } from '../../../src/media/vp8-rtp.ts';

/** Three frames of ffmpeg's testsrc, 64×48, encoded by libvpx with a keyframe every 2 (keyframe, inter, keyframe). */
const ivf = new Uint8Array(readFileSync(new URL('../../fixtures/media/testsrc-64x48-3frames-vp8.ivf', import.meta.url)));
const { frames: fixtureFrames } = splitIvf(ivf, false);

/** RTP packets of frames, in order from `seq`, one timestamp each 6000 apart (15 fps at 90 kHz). */
function packets(frames: Uint8Array[], mtu: number, seq = 65530): Array<{ sequenceNumber: number; timestamp: number; marker: boolean; payload: Uint8Array }> {
  const out = [];
  for (const [i, f] of frames.entries()) {
    const ps = packetizeVp8(f, mtu, 0x7ffe + i);
    for (const [k, payload] of ps.entries()) out.push({ sequenceNumber: (seq++) & 0xffff, timestamp: i * 6000, marker: k === ps.length - 1, payload });
  }
  return out;
}

describe('media/vp8-rtp (RFC 7741)', () => {
  it('reads the libvpx IVF fixture: three frames, the first and third keyframes (§4.3 P bit 0), the second not', () => {
    assert.equal(fixtureFrames.length, 3);
    assert.deepEqual(fixtureFrames.map(isVp8Keyframe), [true, false, true]);
    // a VP8 keyframe carries the start code 9d 01 2a after the 3-octet frame tag (RFC 6386 §9.1)
    assert.deepEqual([...fixtureFrames[0].subarray(3, 6)], [0x9d, 0x01, 0x2a]);
    // RFC 6386 §9.1: 14-bit width and height follow it
    assert.deepEqual(vp8KeyframeSize(fixtureFrames[0]), { width: 64, height: 48 });
    assert.equal(vp8KeyframeSize(fixtureFrames[1]), undefined, 'an inter frame names no size');
  });

  it('§4.2: parses a descriptor with every optional field: X, I with M (15-bit PictureID), L, T and K', () => {
    const d = parseVp8Descriptor(Uint8Array.of(0xb3, 0xf0, 0x81, 0x23, 0x45, 0b10_1_00111, 0x9d));
    assert.deepEqual(d, { nonReference: true, start: true, partitionId: 3, pictureId: 0x0123, tl0PicIdx: 0x45, tid: 2, keyIdx: 7, length: 6 });
    assert.deepEqual(parseVp8Descriptor(Uint8Array.of(0x90, 0x80, 0x05, 0x50)), { nonReference: false, start: true, partitionId: 0, pictureId: 5, length: 3 });
    assert.deepEqual(parseVp8Descriptor(Uint8Array.of(0x10, 0x50)), { nonReference: false, start: true, partitionId: 0, length: 1 });
    assert.equal(parseVp8Descriptor(Uint8Array.of(0x80, 0x80, 0x81)), undefined, 'truncated: M says 15 bits, one octet left');
    assert.equal(parseVp8Descriptor(new Uint8Array(0)), undefined);
  });

  it('§4.2/§4.4: packetises a frame into MTU-sized packets, S and PID 0 on the first only, each with the 15-bit picture ID', () => {
    const f = fixtureFrames[0];
    const ps = packetizeVp8(f, 400, 0x1234);
    assert.equal(ps.length, Math.ceil(f.length / 396));
    assert.ok(ps.every((p) => p.length <= 400));
    assert.deepEqual(ps.map((p) => parseVp8Descriptor(p)?.start), ps.map((_, i) => i === 0));
    assert.ok(ps.every((p) => parseVp8Descriptor(p)?.pictureId === 0x1234 && parseVp8Descriptor(p)?.partitionId === 0));
    assert.throws(() => packetizeVp8(f, 4, 0), /VP8 RTP payload budget/);
  });

  it('reassembles the frames across the sequence number wrap, byte for byte, with their timestamps and keyframe flags', () => {
    const d = new Vp8Depacketizer();
    const got: Vp8Frame[] = packets(fixtureFrames, 300).flatMap((p) => d.push(p));
    assert.deepEqual(got.map((f) => f.frame), fixtureFrames);
    assert.deepEqual(got.map((f) => [f.timestamp, f.keyframe]), [[0, true], [6000, false], [12000, true]]);
    assert.deepEqual(d.stats, { frames: 3, keyframes: 1 + 1, droppedFrames: 0, lostPackets: 0, malformed: 0 });
  });

  it('a lost packet drops its frame and the inter frames after it until a keyframe, and asks once for a keyframe', () => {
    const d = new Vp8Depacketizer();
    const ps = packets(fixtureFrames, 300);
    const firstOfSecond = ps.findIndex((p) => p.timestamp === 6000);
    // lose the keyframe's last packet: the keyframe and the inter frame are dropped; the next keyframe decodes
    const got = ps.filter((_, i) => i !== firstOfSecond - 1).flatMap((p) => d.push(p));
    assert.deepEqual(got.map((f) => f.timestamp), [12000]);
    assert.equal(d.takeKeyframeRequest(), true);
    assert.equal(d.takeKeyframeRequest(), false);
    assert.deepEqual([d.stats.lostPackets, d.stats.droppedFrames], [1, 2]);
  });

  it('a frame whose first packet (S=1) is missing is dropped; inter frames before the first keyframe are not passed on', () => {
    const d = new Vp8Depacketizer();
    const ps = packets([fixtureFrames[1], fixtureFrames[0]], 300, 10);
    assert.deepEqual(ps.flatMap((p) => d.push(p)).map((f) => f.keyframe), [true]);
    const e = new Vp8Depacketizer();
    const ks = packets([fixtureFrames[0]], 300, 10);
    // the stream starts mid-frame: the frame never began
    assert.deepEqual(ks.slice(1).flatMap((p) => e.push(p)), []);
    assert.equal(e.stats.droppedFrames, 1);
  });

  it('IVF out and in: frames written with their headers split back, in pieces of any size', () => {
    const stream = new Uint8Array(Buffer.concat([ivfFileHeader(64, 48, 15), ...fixtureFrames.map((f, i) => ivfFrame(f, i))]));
    assert.deepEqual([...stream.subarray(0, 4)], [0x44, 0x4b, 0x49, 0x46]);
    const out: Uint8Array[] = [];
    let rest: Uint8Array = new Uint8Array(0);
    let headerSeen = false;
    for (let o = 0; o < stream.length; o += 37) {
      const chunk = stream.subarray(o, o + 37);
      const buf = new Uint8Array(rest.length + chunk.length);
      buf.set(rest);
      buf.set(chunk, rest.length);
      const r = splitIvf(buf, headerSeen);
      out.push(...r.frames);
      rest = r.rest;
      headerSeen = r.headerSeen;
    }
    assert.deepEqual(out, fixtureFrames);
    assert.equal(rest.length, 0);
    assert.throws(() => splitIvf(new Uint8Array(40), false), /not an IVF stream/);
  });
});

describe('media/vp8-rtp: a whole IVF file (video messages)', function () {
  it('writes the frames with their 90 kHz pts and reads them back, header fields included', function () {
    const frames = [{ pts: 0, data: Uint8Array.of(1, 2, 3) }, { pts: 6000, data: Uint8Array.of(4) }, { pts: 9000, data: new Uint8Array(300).fill(7) }];
    const file = writeIvf(frames, 320, 240);
    const back = readIvf(file);
    assert.deepEqual([back.width, back.height, back.rate, back.scale], [320, 240, 90_000, 1]);
    assert.deepEqual(back.frames.map((f) => [f.pts, Buffer.from(f.data).toString('hex')]), frames.map((f) => [f.pts, Buffer.from(f.data).toString('hex')]));
    assert.throws(() => readIvf(Uint8Array.of(1, 2, 3, 4, ...new Uint8Array(40))), /IVF/);
  });
});
