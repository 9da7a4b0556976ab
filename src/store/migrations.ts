// Schema migrations: sql/<dialect>/NNN_name.sql, applied in order, each recorded in schema_version.

import { readdirSync, readFileSync } from 'node:fs';
import { TvphoneError } from '../errors.ts';
import type { Dialect } from './store.ts';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const SQL_DIR = new URL('../../sql/', import.meta.url);
const cache = new Map<Dialect, Migration[]>();

/** The migrations of one dialect, ascending; versions must run 1, 2, 3 … without a gap. */
export function loadMigrations(dialect: Dialect): Migration[] {
  const known = cache.get(dialect);
  if (known) return known;
  const dir = new URL(`${dialect}/`, SQL_DIR);
  const list = readdirSync(dir)
    .filter((f) => /^\d+_[\w-]+\.sql$/.test(f))
    .map((f) => ({ version: Number.parseInt(f, 10), name: f, sql: readFileSync(new URL(f, dir), 'utf8') }))
    .sort((a, b) => a.version - b.version);
  list.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`sql/${dialect}: migration ${m.name} should be number ${i + 1}`);
  });
  cache.set(dialect, list);
  return list;
}

/** The schema version this code knows for a dialect. */
export function codeSchemaVersion(dialect: Dialect): number {
  return loadMigrations(dialect).length;
}

/** Refuse a database whose schema is newer than this code, or (without migration) older. */
export function checkSchemaVersion(dialect: Dialect, dbVersion: number, migrated: boolean): void {
  const code = codeSchemaVersion(dialect);
  if (dbVersion > code) {
    throw new TvphoneError('ERR_STORE_SCHEMA', `schema version ${dbVersion} is newer than this tvphone (${code})`);
  }
  if (dbVersion < code && !migrated) {
    throw new TvphoneError('ERR_STORE_SCHEMA', `schema version ${dbVersion} is older than this tvphone (${code}): run \`tvphone db migrate\``);
  }
}

/** The statements of a migration file: comments removed, split at a `;` that ends a line. */
export function splitStatements(sql: string): string[] {
  return sql
    .replace(/--.*$/gm, '')
    .split(/;\s*$/m)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
