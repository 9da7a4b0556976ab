// The sockets of one RTP stream: RTP on an even port, its RTCP on the next one (RFC 3550 §11). One home for binding
// such a pair, for the audio (rtp-session.ts) and the video (video-session.ts) sessions.
import dgram from 'node:dgram';

export function bindSocket(socket: dgram.Socket, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => { socket.off('listening', onListening); reject(err); };
    const onListening = (): void => { socket.off('error', onError); resolve(); };
    socket.once('error', onError);
    socket.once('listening', onListening);
    socket.bind({ port, address: host, exclusive: true });
  });
}

export function closeSocket(socket: dgram.Socket | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!socket) return resolve();
    try { socket.close(() => resolve()); } catch { resolve(); }
  });
}

export interface RtpPortPair {
  rtp: dgram.Socket;
  rtcp: dgram.Socket;
  /** the RTP port (even); RTCP is on port + 1 */
  port: number;
}

/**
 * RFC 3550 §11: "RTP SHOULD use an even destination port number and the corresponding RTCP stream SHOULD use the
 * next higher (odd) destination port number". Binds RTP on `port` and RTCP on the one above; port 0 takes a free
 * even port (an odd one, or one whose neighbour is taken, is let go: 40 tries at most), a given port is tried once.
 * Resolves with the pair, or with the last error (none: no even port came) when none could be bound.
 */
export async function bindRtpPortPair(host: string, port = 0): Promise<RtpPortPair | { error: unknown }> {
  const type = host.includes(':') ? 'udp6' : 'udp4';
  let error: unknown;
  for (let attempt = 0; attempt < 40; attempt++) {
    const rtp = dgram.createSocket(type);
    const rtcp = dgram.createSocket(type);
    try {
      await bindSocket(rtp, port, host);
      const p = rtp.address().port;
      if (p % 2 !== 0 || p === 65535) { await closeSocket(rtp); await closeSocket(rtcp); continue; }
      await bindSocket(rtcp, p + 1, host);
      return { rtp, rtcp, port: p };
    } catch (err) {
      error = err;
      await closeSocket(rtp);
      await closeSocket(rtcp);
      if (port !== 0) break;
    }
  }
  return { error };
}
