import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildRtpPacket, parseRtpPacket, RtpPacketBuilder, sequenceGap } from '../../../src/media/rtp-packet.ts';
import { buildRtcpCompound, nackItems, nackSequenceNumbers, ntpFromUnixMs, ntpMiddle32, parseRtcpCompound, roundTripMs } from '../../../src/media/rtcp.ts';

/** A hex fixture: '#' comments, whitespace-separated bytes. */
const hexFixture = (name: string): Uint8Array => {
  const text = readFileSync(new URL(`../../fixtures/media/${name}`, import.meta.url), 'utf8');
  const hex = text.split('\n').filter((l) => !l.startsWith('#')).join(' ').trim().split(/\s+/);
  return Uint8Array.from(hex, (h) => parseInt(h, 16));
};

describe('media/rtp-packet (RFC 3550 §5.1)', () => {
  it('parses every header field of constructed bytes', () => {
    const p = parseRtpPacket(hexFixture('rtp-pcma-marker.hex'));
    assert.ok(p);
    assert.deepEqual([p.payloadType, p.marker, p.sequenceNumber, p.timestamp, p.ssrc], [8, true, 0x1234, 1000, 0xdeadbeef]);
    assert.equal(p.payload.length, 160);
    assert.ok(p.payload.every((b) => b === 0xd5));
  });

  it('builds exactly those bytes back', () => {
    const bytes = buildRtpPacket({ payloadType: 8, marker: true, sequenceNumber: 0x1234, timestamp: 1000, ssrc: 0xdeadbeef, payload: new Uint8Array(160).fill(0xd5) });
    assert.deepEqual(bytes, hexFixture('rtp-pcma-marker.hex'));
  });

  it('returns fresh bytes per build (a queued send is never overwritten) and wraps seq/ts', () => {
    const b = new RtpPacketBuilder();
    const a1 = b.build({ payloadType: 0, marker: false, sequenceNumber: 65535, timestamp: 2 ** 32 - 1, ssrc: 1, payload: new Uint8Array([1]) });
    const a2 = b.build({ payloadType: 0, marker: false, sequenceNumber: 65536, timestamp: 2 ** 32, ssrc: 1, payload: new Uint8Array([2]) });
    assert.deepEqual([...a1.subarray(2, 8)], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    assert.deepEqual([...a2.subarray(2, 8)], [0, 0, 0, 0, 0, 0]);
    assert.equal(a1[12], 1);
  });

  it('returns undefined (never throws) for non-RTP or truncated bytes', () => {
    assert.equal(parseRtpPacket(new Uint8Array([0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])), undefined); // version 1
    assert.equal(parseRtpPacket(new Uint8Array([0x80, 0, 0])), undefined);
    assert.equal(parseRtpPacket(new Uint8Array(0)), undefined);
    assert.equal(parseRtpPacket(new Uint8Array([0x8f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])), undefined); // CC=15, no CSRCs
  });
});

describe('media/rtp-packet: sequence gaps (RFC 3550 §A.1)', () => {
  it('counts the packets lost before one, across the 16-bit wrap; a duplicate or an older one is -1', () => {
    assert.equal(sequenceGap(undefined, 7), 0, 'the first');
    assert.equal(sequenceGap(7, 8), 0);
    assert.equal(sequenceGap(7, 10), 2);
    assert.equal(sequenceGap(65535, 0), 0, 'the wrap');
    assert.equal(sequenceGap(65534, 1), 2);
    assert.equal(sequenceGap(8, 8), -1, 'a duplicate');
    assert.equal(sequenceGap(8, 5), -1, 'older');
    assert.equal(sequenceGap(1, 65535), -1, 'older across the wrap');
  });
});

describe('media/rtcp (RFC 3550 §6)', () => {
  it('parses an SR + SDES compound: sender info and every report block field, incl. negative cumulative loss', () => {
    const items = parseRtcpCompound(hexFixture('rtcp-sr-sdes.hex'));
    assert.equal(items.length, 2);
    const sr = items[0];
    assert.ok(sr.kind === 'sr');
    assert.deepEqual([sr.ssrc, sr.ntpSeconds, sr.ntpFraction, sr.rtpTimestamp, sr.packetCount, sr.octetCount], [0x11223344, 0xe6000001, 0x80000000, 4000, 50, 8000]);
    assert.deepEqual(sr.reports, [{ ssrc: 0x55667788, fractionLost: 25, cumulativeLost: -2, extendedHighestSeq: 0x10005, jitter: 40, lsr: 0x12345678, dlsr: 0x10000 }]);
    assert.deepEqual(items[1], { kind: 'sdes', chunks: [{ ssrc: 0x11223344, cname: 'tv@x' }] });
  });

  it('RFC 4585 §6.3.1: an RR + SDES + PLI compound carries the PLI with V=2, FMT=1, PT=206, length 2 and both SSRCs', () => {
    const bytes = buildRtcpCompound({ ssrc: 0x01020304, cname: 'tv@x', reports: [], pli: { mediaSsrc: 0xa0b0c0d0 } });
    const pli = bytes.subarray(bytes.length - 12);
    assert.deepEqual([...pli], [0x81, 206, 0, 2, 1, 2, 3, 4, 0xa0, 0xb0, 0xc0, 0xd0]);
    const items = parseRtcpCompound(bytes);
    assert.deepEqual(items.map((i) => i.kind), ['rr', 'sdes', 'pli']);
    assert.deepEqual(items[2], { kind: 'pli', senderSsrc: 0x01020304, mediaSsrc: 0xa0b0c0d0 });
  });

  it('RFC 4585 §6.2.1: a Generic NACK is PT=205, FMT=1; each FCI names a PID and, in its BLP, the next 16 lost', () => {
    const bytes = buildRtcpCompound({ ssrc: 0x01020304, cname: 'tv@x', reports: [], nack: { mediaSsrc: 0xa0b0c0d0, sequenceNumbers: [100, 101, 103, 116, 117, 300] } });
    // 100 with 101 (bit 0), 103 (bit 2), 116 (bit 15); 117 is 17 on: a new entry, as is 300
    const nack = bytes.subarray(bytes.length - 24);
    assert.deepEqual([...nack], [0x81, 205, 0, 5, 1, 2, 3, 4, 0xa0, 0xb0, 0xc0, 0xd0, 0, 100, 0x80, 0x05, 0, 117, 0, 0, 0x01, 0x2c, 0, 0]);
    const items = parseRtcpCompound(bytes);
    assert.deepEqual(items[2], { kind: 'nack', senderSsrc: 0x01020304, mediaSsrc: 0xa0b0c0d0, sequenceNumbers: [100, 101, 103, 116, 117, 300] });
  });

  it('RFC 4585 §6.2.1: NACK entries across the sequence number wrap', () => {
    assert.deepEqual(nackItems([65534, 65535, 0, 2]), [{ pid: 65534, bitmask: 0b1011 }]);
    assert.deepEqual(nackSequenceNumbers(65534, 0b1011), [65534, 65535, 0, 2]);
    assert.deepEqual(nackItems([5, 5, 6]), [{ pid: 5, bitmask: 1 }]);
  });

  it('RFC 5104 §4.3.1: a FIR is PT=206, FMT=4, media SSRC 0, and an FCI of the target SSRC and its Seq nr', () => {
    const bytes = buildRtcpCompound({ ssrc: 0x01020304, cname: 'tv@x', reports: [], fir: { mediaSsrc: 0xa0b0c0d0, seq: 7 } });
    const fir = bytes.subarray(bytes.length - 20);
    assert.deepEqual([...fir], [0x84, 206, 0, 4, 1, 2, 3, 4, 0, 0, 0, 0, 0xa0, 0xb0, 0xc0, 0xd0, 7, 0, 0, 0]);
    const items = parseRtcpCompound(bytes);
    assert.deepEqual(items.map((i) => i.kind), ['rr', 'sdes', 'fir']);
    assert.deepEqual(items[2], { kind: 'fir', senderSsrc: 0x01020304, mediaSsrc: 0xa0b0c0d0, seq: 7 });
  });

  it('builds the same bytes', () => {
    const bytes = buildRtcpCompound({
      ssrc: 0x11223344, cname: 'tv@x',
      sender: { ntpSeconds: 0xe6000001, ntpFraction: 0x80000000, rtpTimestamp: 4000, packetCount: 50, octetCount: 8000 },
      reports: [{ ssrc: 0x55667788, fractionLost: 25, cumulativeLost: -2, extendedHighestSeq: 0x10005, jitter: 40, lsr: 0x12345678, dlsr: 0x10000 }],
    });
    assert.deepEqual(bytes, hexFixture('rtcp-sr-sdes.hex'));
  });

  it('round-trips an RR + SDES + BYE with a large cumulative loss (above 12 bits)', () => {
    const bytes = buildRtcpCompound({ ssrc: 7, cname: 'c', reports: [{ ssrc: 9, fractionLost: 0, cumulativeLost: 70000, extendedHighestSeq: 5, jitter: 3, lsr: 0, dlsr: 0 }], bye: { reason: 'hangup' } });
    assert.equal(bytes[1], 201);
    const items = parseRtcpCompound(bytes);
    assert.deepEqual(items.map((i) => i.kind), ['rr', 'sdes', 'bye']);
    assert.ok(items[0].kind === 'rr' && items[0].reports[0].cumulativeLost === 70000);
    assert.deepEqual(items[2], { kind: 'bye', ssrcs: [7], reason: 'hangup' });
  });

  it('returns [] (never throws) for garbage', () => {
    assert.deepEqual(parseRtcpCompound(new Uint8Array([0x80, 0xc8, 0xff, 0xff, 1, 2])), []);
    assert.deepEqual(parseRtcpCompound(new TextEncoder().encode('INVITE sip:x SIP/2.0')), []);
  });

  it('computes NTP times, LSR middle bits and RTT = A − LSR − DLSR (§6.4.1)', () => {
    const t = ntpFromUnixMs(1_000_000_000_500);
    assert.equal(t.seconds, 1_000_000_000 + 2208988800 - 2 ** 32 * Math.floor((1_000_000_000 + 2208988800) / 2 ** 32));
    assert.equal(t.fraction, 2 ** 31);
    assert.equal(ntpMiddle32(0x1234abcd, 0x56789abc), 0xabcd5678);
    // LSR at 1.0 s, DLSR 0.25 s, arrival at 1.5 s → RTT 250 ms
    assert.equal(roundTripMs(0x18000, 0x10000, 0x4000), 250);
    assert.equal(roundTripMs(0x18000, 0, 0), undefined);
  });
});
