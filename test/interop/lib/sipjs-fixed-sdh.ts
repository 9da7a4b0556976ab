// A SIP.js session description handler for Node (no WebRTC): it offers and answers a fixed PCMU SDP and remembers the
// peer's. The signalling is under test, not the media.
import type { SessionDescriptionHandler } from 'sip.js';
import { LOOPBACK } from './proc.ts';

export const fixedSdp = (port: number): string =>
  ['v=0', `o=- ${port} 1 IN IP4 ${LOOPBACK}`, 's=-', `c=IN IP4 ${LOOPBACK}`, 't=0 0', `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');

export class FixedSdh implements SessionDescriptionHandler {
  remote: string | null = null;
  readonly #port: number;
  constructor(port: number) {
    this.#port = port;
  }
  close(): void {}
  getDescription(): Promise<{ body: string; contentType: string }> {
    return Promise.resolve({ body: fixedSdp(this.#port), contentType: 'application/sdp' });
  }
  hasDescription(contentType: string): boolean {
    return contentType === 'application/sdp';
  }
  setDescription(s: string): Promise<void> {
    this.remote = s;
    return Promise.resolve();
  }
  sendDtmf(): boolean {
    return false;
  }
}
