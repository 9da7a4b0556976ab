// `tvphone serve`: runs the server in the foreground, JSON log lines (pino), clean stop on SIGINT/SIGTERM.
import type { Command } from 'commander';
import { Option } from 'commander';
import { fileURLToPath } from 'node:url';
import { loadProfile, parseListenSpec, type Profile } from '../config/profile.ts';
import { resolveDatabaseUrl, envLogLevel } from '../config/env.ts';
import type { Logger } from '../log/logger.ts';
import type { CredentialStore } from '../store/store.ts';
import { dbOption } from './options.ts';

const DEFAULT_PROFILE_FILE = fileURLToPath(new URL('../../sip-profiles/default.json', import.meta.url));

interface ServeOpts {
  profile?: string;
  listen: string[];
  db?: string;
  domain: string[];
  auth?: 'digest' | 'none';
  admin?: string;
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function registerServeCommand(program: Command): void {
  program.command('serve').description('run the registrar and proxy in the foreground (stop with SIGINT/SIGTERM)')
    .option('--profile <file>', 'sip-profiles/*.json to run', DEFAULT_PROFILE_FILE)
    .option('--listen <transport:host:port>', 'listen here instead of the profile listeners (repeatable: udp:0.0.0.0:5060, tcp:[::]:5060, ws:0.0.0.0:8080)', collect, [])
    .addOption(dbOption())
    .option('--domain <name>', "the server's own domain (repeatable); default: whatever address it is reached at", collect, [])
    .addOption(new Option('--auth <mode>', 'digest (default) or none: for closed networks and benchmarks, any user may register').choices(['digest', 'none']))
    .option('--admin <host:port>', 'serve /metrics, /presence and /health over HTTP here (e.g. 127.0.0.1:9060; keep it on loopback); overrides the profile admin.listen')
    .action(async (opts: ServeOpts) => {
      const profile = loadServeProfile(opts);
      // loaded here, not at the top: the other commands start without the server, pino and the SIP stack
      const [{ createLogger, createTerminalLogger }, { startServer }] = await Promise.all([import('../log/logger.ts'), import('../server.ts')]);
      // a person at a terminal reads text; a service manager or a pipe gets JSON lines
      const log = process.stdout.isTTY ? await createTerminalLogger(envLogLevel()) : createLogger(envLogLevel());
      // The signal handlers come first: a SIGTERM while the server starts stops it once it has started.
      let signalled: string | null = null;
      let stop: ((signal: string) => void) | null = null;
      const onSignal = (signal: string) => (stop ? stop(signal) : (signalled ??= signal));
      const onInt = () => onSignal('SIGINT');
      const onTerm = () => onSignal('SIGTERM');
      // SIGHUP: read the profile again and apply what a running server can change; a bad profile changes nothing
      let reload: (() => void) | null = null;
      const onHup = () => (reload ? reload() : log.warn('SIGHUP while starting: ignored'));
      process.on('SIGINT', onInt).on('SIGTERM', onTerm).on('SIGHUP', onHup);
      let server: Awaited<ReturnType<typeof startServer>>;
      try {
        server = await startServer({ profile, log, dbUrl: resolveDatabaseUrl(opts.db, profile.store.url), loadProfile: () => loadServeProfile(opts) });
      } catch (err) {
        process.off('SIGINT', onInt).off('SIGTERM', onTerm).off('SIGHUP', onHup);
        throw err;
      }
      await warnOtherRealms(server.store, profile, log);
      reload = () => {
        let next: Profile;
        try {
          next = loadServeProfile(opts);
        } catch (err) {
          log.error({ reason: (err as Error).message }, 'profile not reloaded: the running one stays');
          return;
        }
        const { applied, needsRestart } = server.reload(next);
        log.info({ changed: applied }, applied.length ? 'profile reloaded' : 'profile reloaded: nothing to change');
        if (needsRestart.length) log.warn({ settings: needsRestart }, 'these settings take effect at the next restart');
      };
      await new Promise<void>((resolve) => {
        stop = (signal: string) => {
          log.info({ signal }, 'stopping');
          process.off('SIGINT', onInt).off('SIGTERM', onTerm).off('SIGHUP', onHup);
          server.close().then(resolve, (err) => { log.error({ err }, 'error while stopping'); resolve(); });
        };
        if (signalled !== null) stop(signalled);
      });
    });
}

/**
 * A user's HA1 is made with one realm (RFC 7616 §3.4.2): after auth.realm changes, every user whose credentials
 * were made with another realm fails digest authentication, so say so once at start (one grouped read of those users).
 */
async function warnOtherRealms(store: Pick<CredentialStore, 'usersByRealm'>, profile: Profile, log: Logger): Promise<void> {
  if (profile.auth.mode !== 'digest') return;
  let byRealm: Array<{ realm: string; users: number }>;
  try {
    byRealm = await store.usersByRealm(profile.auth.realm);
  } catch {
    return; // a store that is down at start is logged by the server; this check is not worth a second line
  }
  const other = byRealm.filter((r) => r.realm !== profile.auth.realm);
  const users = other.reduce((n, r) => n + r.users, 0);
  if (users === 0) return;
  const realms = other.map((r) => `"${r.realm}" (${r.users})`).join(', ');
  log.warn({ realm: profile.auth.realm, users, otherRealms: Object.fromEntries(other.map((r) => [r.realm, r.users])) },
    `${users} users have HA1s made for realm ${realms}, not the profile auth.realm "${profile.auth.realm}": they cannot authenticate `
    + 'until auth.realm is set back or their passwords are set again (tvphone users passwd --profile …)');
}

/** The profile file with the command-line flags applied to its settings before it is validated. */
function loadServeProfile(o: ServeOpts): Profile {
  const file = o.profile ?? DEFAULT_PROFILE_FILE;
  return loadProfile(file, (p) => {
    const flags = o.listen.length > 0 || o.domain.length > 0 || o.auth !== undefined || o.admin !== undefined;
    const raw: Record<string, unknown> = { ...p };
    if (o.listen.length) raw.listeners = o.listen.map(parseListenSpec);
    if (o.domain.length) raw.domains = o.domain;
    if (o.auth !== undefined) raw.auth = { ...(typeof p.auth === 'object' && p.auth !== null ? p.auth : {}), mode: o.auth };
    if (o.admin !== undefined) raw.admin = { ...(typeof p.admin === 'object' && p.admin !== null ? p.admin : {}), listen: o.admin };
    return { raw, label: flags ? `${file} (with command-line flags)` : file };
  });
}
