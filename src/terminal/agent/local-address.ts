// Which of our addresses to advertise (Contact, Via, SDP c=) when none is given: the one of the interface that
// routes to the server. A UDP socket connected to the server's address and port has that as its local address —
// connect() on a datagram socket only picks a route; no packet is sent.
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';

/** The local address the kernel would send from towards `address`:`port`; loopback when there is no route. */
export function localAddressFor(address: string, port: number): Promise<string> {
  const v6 = isIPv6(address);
  const fallback = v6 ? '::1' : '127.0.0.1';
  return new Promise((resolve) => {
    const s = dgram.createSocket(v6 ? 'udp6' : 'udp4');
    const done = (ip: string): void => {
      try {
        s.close();
      } catch {
        // already closed
      }
      resolve(ip);
    };
    s.once('error', () => done(fallback));
    try {
      s.connect(port, address, onConnect);
    } catch {
      done(fallback); // a bad port or address
    }
    function onConnect(): void {
      try {
        const ip = s.address().address;
        done(ip === '0.0.0.0' || ip === '::' ? fallback : ip);
      } catch {
        done(fallback);
      }
    }
  });
}
