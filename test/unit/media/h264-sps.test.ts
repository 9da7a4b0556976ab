import assert from 'node:assert/strict';
import { h264SpsSize } from '../../../src/media/h264-rtp.ts';

// SPSs of one testsrc frame each, encoded here by Debian's ffmpeg 5.1 (libx264) at the size and profile named
const SPS: Array<[string, string, { width: number; height: number }]> = [
  ['baseline 320x240', 'Z0LADNkBQfsBEAAAAwAQAAADAeDxQqSA', { width: 320, height: 240 }],
  ['main 352x288 (CIF)', 'Z01ADOygsEtgIgAAAwACAAADADweKFMs', { width: 352, height: 288 }],
  ['high 1280x720', 'Z2QAH6zZQFAFuwEQAAADABAAAAMB4PGDGWA=', { width: 1280, height: 720 }],
  ['high 1920x1080 (1088 cropped)', 'Z2QAKKzZQHgCJ+XARAAAAwAEAAADAHg8YMZY', { width: 1920, height: 1080 }],
  ['high 4:4:4 1918x1078 (cropped both ways, crop unit 1)', 'Z/QAKJGbKA8ARPcXgIgAAAMACAAAAwDweMGMsA==', { width: 1918, height: 1078 }],
];

describe('media/h264-rtp: the picture size of an SPS (ITU-T H.264 §7.3.2.1.1)', () => {
  for (const [name, b64, size] of SPS) {
    it(name, () => assert.deepEqual(h264SpsSize(new Uint8Array(Buffer.from(b64, 'base64'))), size));
  }

  it('is undefined for what is not an SPS, or an SPS cut short', () => {
    const sps = new Uint8Array(Buffer.from(SPS[2][1], 'base64'));
    assert.equal(h264SpsSize(sps.subarray(0, 6)), undefined);
    assert.equal(h264SpsSize(new Uint8Array([0x68, 0xce, 0x3c, 0x80])), undefined); // a PPS
    assert.equal(h264SpsSize(new Uint8Array([0x67])), undefined);
  });
});
