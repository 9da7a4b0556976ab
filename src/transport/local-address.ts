// Which of our addresses a peer reaches us at, for a listener bound to 0.0.0.0 or ::. The Via sent-by, Record-Route
// and Contact we write must name an address the peer can send to (RFC 3261 §18.1.1, §16.6 step 4), never a wildcard,
// and not 127.0.0.1 for a phone on the LAN. Pure: the interfaces are passed in (os.networkInterfaces() read at start).
import { isIPv4, isIPv6 } from 'node:net';

export interface InterfaceAddress {
  address: string;
  netmask: string;
  family: 'IPv4' | 'IPv6';
  internal: boolean;
}

function v4(a: string): number {
  const p = a.split('.');
  return ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
}

function v6(a: string): bigint {
  const [head, tail = ''] = a.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = a.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
}

function sameSubnet(remote: string, i: InterfaceAddress): boolean {
  if (i.family === 'IPv4') return isIPv4(remote) && ((v4(remote) ^ v4(i.address)) & v4(i.netmask)) === 0;
  return isIPv6(remote) && ((v6(remote) ^ v6(i.address.split('%')[0])) & v6(i.netmask)) === 0n;
}

function isLoopback(a: string): boolean {
  return a === '::1' || (isIPv4(a) && a.startsWith('127.'));
}

/**
 * The local address that `remote` most likely reaches us at: loopback for a loopback peer, the address of the interface
 * whose subnet holds the peer, else the first external address of the family (the one the default route usually uses).
 */
export function localAddressFor(remote: string, family: 'IPv4' | 'IPv6', interfaces: readonly InterfaceAddress[]): string {
  const loopback = family === 'IPv4' ? '127.0.0.1' : '::1';
  const peer = remote.startsWith('[') ? remote.slice(1, -1) : remote;
  if (isLoopback(peer)) return loopback;
  const candidates = interfaces.filter((i) => i.family === family && !i.internal && !i.address.startsWith('fe80'));
  return (candidates.find((i) => sameSubnet(peer, i)) ?? candidates[0])?.address ?? loopback;
}
