// Options shared by several commands, and what they resolve to.
import { Option } from 'commander';
import { resolveDatabaseUrl } from '../config/env.ts';
import { DEFAULT_PROFILE, loadProfile } from '../config/profile.ts';
import { TvphoneError } from '../errors.ts';

/** `--db URL` as every command takes it. */
export function dbOption(): Option {
  return new Option('--db <url>', 'database: sqlite:PATH, postgres://…, mssql://… (default: TVPHONE_DB, else the profile store.url, else sqlite:./data/tvphone.db)');
}

/** `--profile FILE` of the admin commands: where their store.url and auth.realm come from. */
export function profileOption(): Option {
  return new Option('--profile <file>', 'sip-profiles/*.json whose store.url and auth.realm to use (default: the default profile)');
}

export interface TargetOpts {
  db?: string;
  profile?: string;
  realm?: string;
}

/**
 * The database an admin command works on and the realm it makes HA1s for: --db, else TVPHONE_DB, else the
 * profile's store.url; --realm, else the profile's auth.realm (the default profile's without --profile).
 */
export function adminTarget(opts: TargetOpts): { url: string; realm: string; leaseSeconds: number } {
  const profile = opts.profile !== undefined ? loadProfile(opts.profile) : DEFAULT_PROFILE;
  return { url: resolveDatabaseUrl(opts.db, profile.store.url), realm: opts.realm ?? profile.auth.realm, leaseSeconds: profile.node.leaseSeconds };
}

/** `--limit N`: a positive whole number. */
export function parseLimit(v: string): number {
  if (!/^[1-9][0-9]*$/.test(v.trim())) throw new TvphoneError('ERR_USAGE', `--limit takes a positive whole number, not "${v}"`);
  return Number(v);
}
