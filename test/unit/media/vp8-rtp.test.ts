// VP8 over RTP (RFC 7741): the payload descriptor, reassembly in order and after a loss, IVF, and the SDP answer
// that takes VP8 only where asked to (the media server), never by default (the TV agent sends H.264 only).
import assert from 'node:assert/strict';
import { createAnswer, parseVideo } from '../../../src/media/sdp.ts';
import { isVp8Keyframe, packetizeVp8, parseVp8Descriptor, readIvf, Vp8Depacketizer, vp8FrameSize, writeIvf } from '../../../src/media/vp8-rtp.ts';

/** a keyframe: frame tag with P = 0, the start code 9d 01 2a, 320x240 */
const key = (n: number) => Uint8Array.from([0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00, ...Array.from({ length: n }, (_, i) => i & 0xff)]);
const inter = (n: number) => Uint8Array.from([0x31, 0x02, 0x00, ...Array.from({ length: n }, (_, i) => (i * 3) & 0xff)]);

function packets(frame: Uint8Array, ts: number, seq: number, mtu = 100) {
  const parts = packetizeVp8(frame, mtu);
  return parts.map((payload, k) => ({ sequenceNumber: seq + k, timestamp: ts, marker: k === parts.length - 1, payload }));
}

describe('media: VP8 over RTP (RFC 7741)', function () {
  it('reads the payload descriptor: X with a 15-bit PictureID (M), TL0PICIDX and TID/KEYIDX; S and PID', function () {
    assert.deepEqual(parseVp8Descriptor(Uint8Array.of(0x10, 0xaa)), { length: 1, start: true, partition: 0 });
    // X | S, PID 2; I L T; M with 15 bits; TL0PICIDX; TID
    assert.deepEqual(parseVp8Descriptor(Uint8Array.of(0x92, 0xe0, 0x81, 0x23, 0x07, 0x40, 0xaa)), { length: 6, start: true, partition: 2 });
    assert.equal(parseVp8Descriptor(Uint8Array.of(0x90, 0x80)), null, 'truncated: no PictureID byte');
    assert.equal(parseVp8Descriptor(Uint8Array.of(0x10)), null, 'no payload after the descriptor');
  });

  it('tells a keyframe and its picture size from the frame header (RFC 6386 §9.1)', function () {
    assert.equal(isVp8Keyframe(key(5)), true);
    assert.equal(isVp8Keyframe(inter(5)), false);
    assert.deepEqual(vp8FrameSize(key(5)), { width: 320, height: 240 });
    assert.equal(vp8FrameSize(inter(5)), null);
  });

  it('reassembles frames split over packets, in order, each ending at the marker', function () {
    const d = new Vp8Depacketizer();
    const out = [...packets(key(250), 1000, 1), ...packets(inter(120), 4000, 4)].flatMap((p) => d.push(p));
    assert.deepEqual(out.map((u) => [u.timestamp, u.keyframe, u.nals[0].length]), [[1000, true, 260], [4000, false, 123]]);
    assert.deepEqual(out[0].nals[0], key(250));
    assert.deepEqual([d.stats.frames, d.stats.keyframes, d.stats.droppedFrames], [2, 1, 0]);
  });

  it('drops a frame with a lost packet and the frames after it until a keyframe, and wants one (PLI)', function () {
    const d = new Vp8Depacketizer();
    const first = packets(key(250), 1000, 1);
    const out = first.flatMap((p) => d.push(p));
    const broken = packets(inter(250), 2000, 4);
    out.push(...d.push(broken[0]), ...d.push(broken[2])); // broken[1] lost
    assert.equal(d.takeKeyframeRequest(), true);
    out.push(...packets(inter(10), 3000, 7).flatMap((p) => d.push(p)));
    out.push(...packets(key(10), 4000, 8).flatMap((p) => d.push(p)));
    assert.deepEqual(out.map((u) => u.timestamp), [1000, 4000]);
    assert.equal(d.stats.lostPackets, 1);
    assert.ok(d.stats.droppedFrames >= 2);
  });

  it('writes IVF with 90 kHz timestamps and reads it back', function () {
    const b = writeIvf([{ pts: 0, data: key(3) }, { pts: 6000, data: inter(2) }], 320, 240);
    const r = readIvf(b);
    assert.deepEqual([r.width, r.height, r.rate, r.scale], [320, 240, 90_000, 1]);
    assert.deepEqual(r.frames.map((f) => [f.pts, f.data.length]), [[0, 13], [6000, 5]]);
    assert.throws(() => readIvf(Uint8Array.of(1, 2, 3)), TypeError);
  });

  it('answers VP8 recvonly when asked to accept it, and refuses it (port 0) by default', function () {
    const offer = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 4000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000',
      'm=video 4002 RTP/AVP 100', 'a=rtpmap:100 VP8/90000', ''].join('\r\n');
    assert.equal(parseVideo(offer), undefined);
    assert.deepEqual([parseVideo(offer, ['H264', 'VP8'])?.codec, parseVideo(offer, ['H264', 'VP8'])?.payloadType], ['VP8', 100]);
    const taken = createAnswer(offer, { ip: '127.0.0.1', port: 5000, video: { port: 5002, direction: 'recvonly', accept: ['H264', 'VP8'] } });
    assert.equal(taken.video?.remote.codec, 'VP8');
    assert.match(taken.sdp, /m=video 5002 RTP\/AVP 100\r\na=rtpmap:100 VP8\/90000\r\n/);
    const refused = createAnswer(offer, { ip: '127.0.0.1', port: 5000, video: { port: 5002, direction: 'sendrecv' } });
    assert.equal(refused.video, undefined);
    assert.match(refused.sdp, /m=video 0 /);
  });
});
