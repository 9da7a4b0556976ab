// tvphone as users get it: the shipped sip-profiles/default.json with only its listeners (UDP and TCP on 127.0.0.1,
// port 0) and its store (a fresh one per server) replaced. Interop tests start the server this way, so that what a
// client needs is what the default gives it: never tune auth or registrar settings for one client.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startTestServer, type TestServer } from './test-server.ts';
import type { Logger } from '../../src/log/logger.ts';

export const DEFAULT_PROFILE_FILE = fileURLToPath(new URL('../../sip-profiles/default.json', import.meta.url));

/** The shipped default profile, parsed. */
export function shippedDefaultProfile(): Record<string, unknown> {
  return JSON.parse(readFileSync(DEFAULT_PROFILE_FILE, 'utf8')) as Record<string, unknown>;
}

/**
 * Starts the server with the shipped default profile's auth, registrar, message, presence, security and voicemail settings
 * (a test may turn voicemail on). Only where it
 * listens may be given (e.g. a 4-digit port for sipsak); the default is UDP and TCP on 127.0.0.1, port 0.
 */
export async function startDefaultProfileServer(o: {
  listeners?: Array<Record<string, unknown>>; log?: Logger; voicemail?: Record<string, unknown>;
  /** carriers and the dial plan (what an operator adds for trunks; auth stays the default's) */
  trunks?: unknown[]; routes?: unknown[]; admin?: Record<string, unknown>;
  /** RFC 8599 wake and hold: the test push gateway's URL and the hold (the shipped profile has push off) */
  push?: Record<string, unknown>;
} = {}): Promise<TestServer> {
  const { auth, registrar, messages, presence, voicemail, security } = shippedDefaultProfile();
  const realm = (auth as { realm?: string }).realm;
  if (realm !== undefined && realm !== 'tvphone') throw new Error(`the test helpers make HA1s for realm tvphone, the default profile says ${realm}`);
  // voicemail: the shipped section on loopback and a free port (as the listeners), with what a test changes over it
  const vm = { ...(voicemail as Record<string, unknown>), httpHost: '127.0.0.1', httpPort: 0, ...o.voicemail };
  return startTestServer({ auth: 'digest', log: o.log, profile: {
    auth, registrar, messages, presence, security, voicemail: vm, ...(o.listeners ? { listeners: o.listeners } : {}),
    ...(o.trunks ? { trunks: o.trunks } : {}), ...(o.routes ? { routes: o.routes } : {}), ...(o.admin ? { admin: o.admin } : {}),
    ...(o.push ? { push: o.push } : {}),
  } });
}
