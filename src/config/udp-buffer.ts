// The UDP receive buffer the kernel granted against what the profile asked (transport.udpReceiveBufferBytes): a
// burst that does not fit while the event loop is busy (a garbage collection, a commit's reply) is dropped by the
// kernel and comes back only as the peer's retransmission, T1 = 500 ms later (RFC 3261 §17.1.1.1).

/**
 * A warning when the socket got less than asked (Linux reports twice what it granted, for its own bookkeeping, and
 * grants at most net.core.rmem_max); null when it got what was asked or nothing was asked.
 */
export function udpBufferWarning(listener: string, asked: number, reported: number, platform: string = process.platform): string | null {
  if (asked <= 0) return null;
  const granted = platform === 'linux' ? Math.floor(reported / 2) : reported;
  if (granted >= asked) return null;
  return `the UDP receive buffer of ${listener} is ${granted} bytes, not the ${asked} of transport.udpReceiveBufferBytes: ` +
    `the kernel grants at most net.core.rmem_max, and a burst beyond it is dropped until the peer retransmits; ` +
    `raise it (sysctl -w net.core.rmem_max=${asked}, kept in /etc/sysctl.d/) or lower udpReceiveBufferBytes`;
}
