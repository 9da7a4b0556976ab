import assert from 'node:assert/strict';
import { localAddressFor, type InterfaceAddress } from '../../../src/transport/local-address.ts';

const IFACES: InterfaceAddress[] = [
  { address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', internal: true },
  { address: '::1', netmask: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', family: 'IPv6', internal: true },
  { address: '10.1.2.3', netmask: '255.255.0.0', family: 'IPv4', internal: false },
  { address: '192.168.7.20', netmask: '255.255.255.0', family: 'IPv4', internal: false },
  { address: 'fe80::1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', internal: false },
  { address: '2001:db8:5::10', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', internal: false },
];

describe('transport/local-address: the address a peer reaches a wildcard listener at (RFC 3261 §18.1.1)', () => {
  it('names loopback for a loopback peer', () => {
    assert.equal(localAddressFor('127.0.0.1', 'IPv4', IFACES), '127.0.0.1');
    assert.equal(localAddressFor('127.3.4.5', 'IPv4', IFACES), '127.0.0.1');
    assert.equal(localAddressFor('::1', 'IPv6', IFACES), '::1');
    assert.equal(localAddressFor('[::1]', 'IPv6', IFACES), '::1');
  });

  it('names the interface whose subnet holds the peer', () => {
    assert.equal(localAddressFor('192.168.7.99', 'IPv4', IFACES), '192.168.7.20');
    assert.equal(localAddressFor('10.1.200.1', 'IPv4', IFACES), '10.1.2.3');
    assert.equal(localAddressFor('2001:db8:5::99', 'IPv6', IFACES), '2001:db8:5::10');
  });

  it('names the first external address of the family for a peer on no local subnet, never a link-local one', () => {
    assert.equal(localAddressFor('198.51.100.7', 'IPv4', IFACES), '10.1.2.3');
    assert.equal(localAddressFor('2001:db8:99::1', 'IPv6', IFACES), '2001:db8:5::10');
  });

  it('falls back to loopback when the host has no external address', () => {
    assert.equal(localAddressFor('198.51.100.7', 'IPv4', IFACES.filter((i) => i.internal)), '127.0.0.1');
  });
});
