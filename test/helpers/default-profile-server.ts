// tvphone as shipped: sip-profiles/default.json with its auth, registrar, messages and presence settings
// unchanged; only the listeners (UDP and TCP on 127.0.0.1, port 0) and store.url (a temp SQLite file) are
// replaced, so interop tests check the profile users actually run, not a test-tuned one.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ha1 } from '../../src/sip/digest.ts';
import { startTestServer, type TestServer } from './test-server.ts';

export const DEFAULT_PROFILE_FILE = new URL('../../sip-profiles/default.json', import.meta.url);

/** sip-profiles/default.json as parsed JSON (read on every call: the file is the source of truth). */
export function loadDefaultProfile(): Record<string, unknown> & { auth: { realm: string }; store: Record<string, unknown> } {
  return JSON.parse(readFileSync(DEFAULT_PROFILE_FILE, 'utf8'));
}

export interface DefaultProfileServer extends TestServer {
  /** the shipped profile's digest realm */
  realm: string;
}

/**
 * Starts tvphone with the shipped default profile. `overrides` replaces top-level profile sections other
 * than the ones this helper owns (e.g. `{ domains: [...] }`); auth is never tuned here on purpose.
 */
export async function startDefaultProfileServer(overrides: Record<string, unknown> = {}): Promise<DefaultProfileServer> {
  const shipped = loadDefaultProfile();
  const dir = mkdtempSync(join(tmpdir(), 'tvphone-default-'));
  const dbUrl = `sqlite:${join(dir, 'tvphone.db')}`;
  const realm = shipped.auth.realm;
  let ts: TestServer;
  try {
    ts = await startTestServer({
      dbUrl,
      profile: {
        ...shipped,
        ...overrides,
        listeners: [{ transport: 'udp', host: '127.0.0.1', port: 0 }, { transport: 'tcp', host: '127.0.0.1', port: 0 }],
        store: { ...shipped.store, url: dbUrl },
      },
    });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    ...ts,
    realm,
    async addUser(user, password) {
      await ts.server.store.addUser({ userId: user, realm, ha1Md5: ha1('MD5', user, realm, password), ha1Sha256: ha1('SHA-256', user, realm, password) }, Date.now());
    },
    async close() {
      await ts.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
