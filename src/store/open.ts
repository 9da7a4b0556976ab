// Choose and open a store backend by URL:
//   sqlite:PATH  sqlite::memory:  postgres://…  postgresql://…  mssql://user:pass@host:port/db
// The PostgreSQL and SQL Server drivers are imported only when such a URL is opened.

import { TvphoneError } from '../errors.ts';
import { redactUrl, type OpenStoreOptions } from './options.ts';
import type { Store } from './store.ts';

export { redactUrl, type OpenStoreOptions } from './options.ts';

type Kind = { kind: 'sqlite'; path: string } | { kind: 'postgres' } | { kind: 'mssql' };

function classify(url: string): Kind {
  if (url.startsWith('sqlite:')) {
    let path = url.slice('sqlite:'.length);
    if (path.startsWith('//')) path = path.slice(2); // sqlite:///abs/path
    if (path === '') throw new TvphoneError('ERR_STORE_URL', 'store URL "sqlite:" names no file (use sqlite:PATH or sqlite::memory:)');
    return { kind: 'sqlite', path };
  }
  if (/^postgres(ql)?:\/\//i.test(url)) return { kind: 'postgres' };
  if (/^mssql:\/\//i.test(url)) return { kind: 'mssql' };
  throw new TvphoneError('ERR_STORE_URL', `store URL ${redactUrl(url)} has an unknown scheme (use sqlite:, postgres:// or mssql://)`);
}

/** Throws ERR_STORE_URL for a URL no backend takes, without opening anything (to fail before a prompt). */
export function checkStoreUrl(url: string): void {
  classify(url);
}

export async function openStore(url: string, opts: OpenStoreOptions = {}): Promise<Store> {
  const k = classify(url);
  if (k.kind === 'sqlite' && opts.worker === true) {
    const { WorkerSqliteStore } = await import('./sqlite/worker-store.ts');
    return WorkerSqliteStore.open(k.path, opts);
  }
  if (k.kind === 'sqlite') {
    const { SqliteStore } = await import('./sqlite/sqlite-store.ts');
    return SqliteStore.open(k.path, opts);
  }
  if (k.kind === 'postgres') {
    const { PostgresStore } = await import('./postgres/postgres-store.ts');
    return PostgresStore.open(url, opts);
  }
  const { MssqlStore } = await import('./mssql/mssql-store.ts');
  return MssqlStore.open(url, opts);
}

/** Apply pending migrations (`tvphone db migrate`); returns the schema version reached. */
export async function migrate(url: string): Promise<number> {
  const store = await openStore(url, { migrate: true });
  try {
    return await store.schemaVersion();
  } finally {
    await store.close();
  }
}
