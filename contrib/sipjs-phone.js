// The SIP.js 0.21 settings of a web page that uses tvphone over WebSocket (RFC 7118): contrib/sipjs-example.html runs
// them in a browser, test/interop/sipjs-websocket.test.ts runs the same against the server. SIP.js's own WebSocket
// transport does the rest: its Contact (sip:…@….invalid;transport=ws) is never dialled, tvphone reaches the page
// over the WebSocket it registered on. In a browser, 'sip.js' is mapped to a copy of its lib/ folder (import map).
import { UserAgent } from 'sip.js';

/**
 * UserAgent options. `server`: the WebSocket URL of a tvphone ws/wss listener (wss:// on the Internet: a browser
 * page served over https may only open wss). `domain`: the SIP domain of the user (a profile `domains` entry, or
 * the server's address); by default the host of `server`.
 */
export function tvphoneUserAgentOptions({ server, user, password, domain = new URL(server).hostname }) {
  return {
    uri: UserAgent.makeURI(`sip:${user}@${domain}`),
    transportOptions: { server },
    authorizationUsername: user,
    authorizationPassword: password,
  };
}

/**
 * Registerer options: re-REGISTER well inside tvphone's idle timeout (transport.tcpIdleSeconds, 600 by default),
 * so the WebSocket, and the user's online state with it, stays up.
 */
export const tvphoneRegistererOptions = { expires: 300 };
