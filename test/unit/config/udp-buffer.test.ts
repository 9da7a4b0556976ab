import assert from 'node:assert/strict';
import { udpBufferWarning } from '../../../src/config/udp-buffer.ts';

describe('config/udp-buffer: the UDP receive buffer granted against the one asked', () => {
  it('says nothing when nothing was asked or the kernel granted it (Linux reports it doubled)', () => {
    assert.equal(udpBufferWarning('udp:0.0.0.0:5060', 0, 212_992, 'linux'), null);
    assert.equal(udpBufferWarning('udp:0.0.0.0:5060', 4_194_304, 8_388_608, 'linux'), null);
    assert.equal(udpBufferWarning('udp:0.0.0.0:5060', 4_194_304, 4_194_304, 'freebsd'), null);
  });
  it('names the listener, what it got, the field and the sysctl to raise when the kernel capped it at rmem_max', () => {
    // Debian's default net.core.rmem_max 212,992: granted 212,992, reported 425,984
    const w = udpBufferWarning('udp:0.0.0.0:5060', 4_194_304, 425_984, 'linux');
    assert.ok(w !== null);
    assert.match(w, /udp:0\.0\.0\.0:5060 is 212992 bytes, not the 4194304 of transport\.udpReceiveBufferBytes/);
    assert.match(w, /sysctl -w net\.core\.rmem_max=4194304/);
    assert.notEqual(udpBufferWarning('udp:[::]:5060', 4_194_304, 4_194_303, 'freebsd'), null);
  });
});
