// The databases several nodes share in the cluster tests (issue 18): a SQLite file always, and a fresh PostgreSQL
// database when TVPHONE_TEST_PG_URL is set (CI's cluster).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase } from './pg-database.ts';

export interface SharedDatabase {
  url: string;
  drop(): Promise<void>;
}

export function sharedDatabases(): Array<{ name: string; open: () => Promise<SharedDatabase> }> {
  const pg = process.env.TVPHONE_TEST_PG_URL;
  return [
    {
      name: 'a SQLite file',
      open: async () => {
        const dir = mkdtempSync(join(tmpdir(), 'tvphone-cluster-'));
        return { url: `sqlite:${join(dir, 'shared.db')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
      },
    },
    ...(pg ? [{ name: 'PostgreSQL', open: (): Promise<SharedDatabase> => createTestDatabase(pg) }] : []),
  ];
}
