// Options of openStore() and URL redaction, shared by open.ts and the backends.

import type { StateChangeListener } from './health.ts';

export interface OpenStoreOptions {
  /** apply pending migrations at open (default true); false refuses a database that is behind */
  migrate?: boolean;
  /**
   * SQLite: create a missing file and its folder (default true); false refuses a missing file with
   * ERR_STORE_MISSING, so a command that only reads does not leave an empty database behind a mistyped path.
   * PostgreSQL and SQL Server never create the database itself.
   */
  create?: boolean;
  /** SQLite, PostgreSQL: how long writes gather before one commit (default 0: the writes of one tick) */
  groupCommitMs?: number;
  /** PostgreSQL: lanes of per-user writes, each one group transaction at a time (default 1) */
  writeLanes?: number;
  /** SQLite: how long a write waits for another process's lock, retried off the event loop, before 503 (default 3000) */
  lockWaitMs?: number;
  /**
   * SQLite: run the database in a worker thread (the server does), so that a slow or hung disk never blocks the event
   * loop; a call not answered within `commitDeadlineMs` fails as unavailable (503). One-shot commands open it in-thread.
   */
  worker?: boolean;
  /** SQLite in a worker: how long a call may take before it fails as unavailable (default 2000) */
  commitDeadlineMs?: number;
  /** PostgreSQL / SQL Server: most pooled connections (default 10) */
  poolSize?: number;
  /** PostgreSQL / SQL Server: connect and statement timeout in ms (default 5000 / 10000) */
  connectTimeoutMs?: number;
  statementTimeoutMs?: number;
  /** called once when the database becomes unreachable, and once when it is back */
  onStateChange?: StateChangeListener;
}

/** The URL with its password replaced by `***`, fit for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) {
      u.password = '***';
      return u.toString();
    }
    return url;
  } catch {
    // not a URL the parser accepts: blank anything between "scheme://user:" and "@"
    return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
  }
}
