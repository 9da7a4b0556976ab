// `tvphone trunks status [--json]`: the carriers' registration state as the running server sees it, read through
// its admin HTTP endpoint (GET /trunks); `tvphone trunks reload`: the server reads its profile and trunk files again
// and applies them (POST /reload, as SIGHUP).
import type { Command } from 'commander';
import { fileURLToPath } from 'node:url';
import { loadProfile } from '../config/profile.ts';
import { TvphoneError } from '../errors.ts';
import type { TrunkStatusRow } from '../trunks/trunks.ts';

const DEFAULT_PROFILE_FILE = fileURLToPath(new URL('../../sip-profiles/default.json', import.meta.url));

interface StatusOpts {
  json?: boolean;
  profile?: string;
  admin?: string;
}

/**
 * HOST:PORT of the running server's admin endpoint (--admin, else the profile's admin.listen) and its bearer token
 * (the profile's admin.tokenEnv / tokenFile, when --profile names one or no --admin is given).
 */
function adminAddress(opts: StatusOpts): { address: string; token: string | null } {
  if (opts.admin !== undefined && opts.profile === undefined) return { address: opts.admin, token: null };
  const file = opts.profile ?? DEFAULT_PROFILE_FILE;
  const profile = loadProfile(file);
  if (opts.admin !== undefined) return { address: opts.admin, token: profile.admin?.token ?? null };
  if (profile.admin === null) {
    throw new TvphoneError('ERR_USAGE', `trunks commands reach the running server through its admin HTTP endpoint, and ${file} sets no admin.listen: `
      + 'set admin.listen (e.g. "127.0.0.1:9060") in the profile the server runs, or pass --admin HOST:PORT as given to tvphone serve --admin');
  }
  // a server listening on every address is asked on loopback
  return { address: profile.admin.listen.replace(/^0\.0\.0\.0:/, '127.0.0.1:').replace(/^\[::\]:/, '[::1]:'), token: profile.admin.token };
}

async function adminFetch(opts: StatusOpts, path: string, init: RequestInit = {}): Promise<Response> {
  const { address, token } = adminAddress(opts);
  try {
    return await fetch(`http://${address}${path}`, { ...init, signal: AbortSignal.timeout(10_000), headers: token ? { authorization: `Bearer ${token}` } : {} });
  } catch (err) {
    throw new TvphoneError('ERR_ADMIN', `cannot reach the server's admin endpoint at ${address} (${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}): is tvphone serve running with admin.listen?`);
  }
}

export function registerTrunksCommand(program: Command): void {
  const trunks = program.command('trunks').description('SIP trunks to carriers: their registration and ping state');
  trunks.command('reload').description('make the running server read its profile and trunks/*.json again and apply them (as SIGHUP; calls in progress continue)')
    .option('--json', 'print the server\'s JSON answer')
    .option('--profile <file>', 'the profile the server runs, for its admin.listen (default: sip-profiles/default.json)')
    .option('--admin <host:port>', 'the admin HTTP endpoint of the running server (as given to tvphone serve --admin)')
    .action(async (opts: StatusOpts) => {
      const res = await adminFetch(opts, '/reload', { method: 'POST' });
      const body = await res.json().catch(() => ({})) as { error?: string; applied?: string[]; needsRestart?: string[]; trunks?: { added: string[]; removed: string[]; changed: string[] } };
      if (res.status === 422) throw new TvphoneError('ERR_PROFILE', `not reloaded, the running profile stays: ${body.error ?? ''}`);
      if (!res.ok) throw new TvphoneError('ERR_ADMIN', `POST /reload answered ${res.status}${body.error ? `: ${body.error}` : ''}`);
      if (opts.json) return void console.log(JSON.stringify(body));
      const t = body.trunks ?? { added: [], removed: [], changed: [] };
      const list = (xs: string[]) => (xs.length ? xs.join(', ') : 'none');
      console.log(`reloaded: ${body.applied?.length ? body.applied.join(', ') : 'nothing changed'}`);
      console.log(`trunks added: ${list(t.added)}; removed: ${list(t.removed)}; changed: ${list(t.changed)}`);
      if (body.needsRestart?.length) console.log(`these take effect at the next restart: ${body.needsRestart.join(', ')}`);
    });
  trunks.command('status').description('show every trunk of the running server (through its admin HTTP endpoint, GET /trunks)')
    .option('--json', 'print JSON (the rows of GET /trunks)')
    .option('--profile <file>', 'the profile the server runs, for its admin.listen (default: sip-profiles/default.json)')
    .option('--admin <host:port>', 'the admin HTTP endpoint of the running server (as given to tvphone serve --admin)')
    .action(async (opts: StatusOpts) => {
      const res = await adminFetch(opts, '/trunks');
      if (!res.ok) throw new TvphoneError('ERR_ADMIN', `GET /trunks answered ${res.status}`);
      const rows = await res.json() as TrunkStatusRow[];
      if (opts.json) return void console.log(JSON.stringify(rows));
      if (rows.length === 0) return void console.log('no trunks in the running profile');
      const cells = [['TRUNK', 'CARRIER', 'STATE', 'LAST', 'NEXT ATTEMPT', 'EXPIRES', 'PING', 'REGS', 'FAILS', 'CALLS'],
        ...rows.map((r) => [
          r.name, r.carrier, r.state, r.lastStatus === null ? '' : `${r.lastStatus} ${r.lastReason ?? ''}`.trim(),
          r.nextAttemptAt ?? '', r.expiresAt ?? '', r.ping, String(r.registrations), String(r.failures),
          r.maxCalls > 0 ? `${r.activeCalls}/${r.maxCalls}` : String(r.activeCalls),
        ])];
      const widths = cells[0].map((_, i) => Math.max(...cells.map((c) => c[i].length)));
      process.stdout.write(cells.map((c) => c.map((x, i) => x.padEnd(widths[i])).join('  ').trimEnd()).join('\n') + '\n');
    });
}
