// Starts and stops the reference Kamailio 5.6 (bench/kamailio/kamailio.cfg) on a free loopback port.
// Its SQLite database is created fresh in a temp dir from bench/kamailio/sql/*.sql (Kamailio's own schema).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { freePort, waitSipReady, sleep, live, LOOPBACK } from './proc.ts';

const HERE = new URL('../kamailio/', import.meta.url).pathname;

export interface KamailioOptions {
  /** every initial INVITE relayed to this loopback port (the trunk part's carrier), as a proxy in front of a trunk */
  relayToPort?: number;
  /** usrloc db_mode=1: every REGISTER written through to SQLite before the 200 */
  db?: boolean;
  /** MESSAGE to a user without contact -> msilo m_store into SQLite, 202; m_dump on REGISTER */
  msilo?: boolean;
  /** digest auth on REGISTER; users a0000001..aN with password "pw" */
  authUsers?: number;
  /** SQLite journal_mode=WAL (default DELETE) */
  wal?: boolean;
  /** UDP workers (default 2); the SQLite variants need 1 (Kamailio 5.6 sets no SQLite busy timeout) */
  children?: number;
}

export interface ServerHandle {
  name: string;
  pid: number;
  port: number;
  /** the target for sipp: 127.0.0.1:PORT */
  target: string;
  /** make these users known before they get MESSAGEs (tvphone answers 404 for unknown users; msilo needs none) */
  addUsers?(users: string[]): Promise<void>;
  /** several nodes on one database: the load is spread over them (each its own target and process) */
  nodes?: Array<{ target: string; pid: number }>;
  /** the database's server processes now (PostgreSQL backends of this server's database) */
  dbPids?(): Promise<number[]>;
  /** the database's committed transactions and rows written so far (PostgreSQL's pg_stat_database) */
  dbCounters?(): Promise<{ commits: number; rowsWritten: number }>;
  stop(): Promise<void>;
}

/** Kamailio binary, or null when not installed. */
export function kamailioAvailable(): boolean {
  return spawnSync('kamailio', ['-v'], { stdio: 'ignore' }).status === 0;
}

function createDb(path: string, authUsers: number, wal: boolean): void {
  const db = new DatabaseSync(path);
  try {
    for (const f of ['standard-create.sql', 'usrloc-create.sql', 'msilo-create.sql', 'auth_db-create.sql']) {
      db.exec(readFileSync(join(HERE, 'sql', f), 'utf8'));
    }
    if (authUsers > 0) {
      // plaintext passwords; auth_db computes HA1 (calculate_ha1=yes)
      const ins = db.prepare("INSERT INTO subscriber(username,domain,password) VALUES(?, '127.0.0.1', 'pw')");
      db.exec('BEGIN');
      for (let i = 1; i <= authUsers; i++) ins.run(`a${String(i).padStart(7, '0')}`);
      db.exec('COMMIT');
    }
    if (wal) db.exec('PRAGMA journal_mode=WAL');
  } finally {
    db.close();
  }
}

export async function startKamailio(opts: KamailioOptions = {}): Promise<ServerHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'tvphone-bench-kam-'));
  const dbPath = join(dir, 'kamailio.db');
  createDb(dbPath, opts.authUsers ?? 0, opts.wal === true);
  const port = await freePort();
  const args = [
    '-f', join(HERE, 'kamailio.cfg'), '-DD', '-E', '-m', process.env['BENCH_KAMAILIO_SHM_MB'] ?? '1024', '-M', '16',
    '-l', `udp:${LOOPBACK}:${port}`, '-l', `tcp:${LOOPBACK}:${port}`,
    '-A', `CHILDREN=${opts.children ?? 2}`,
    '-A', `DBURL="sqlite://${dbPath}"`,
    '-A', `CTL_SOCKET="unix:${join(dir, 'kamailio_ctl')}"`,
  ];
  if (opts.db) args.push('-A', 'WITH_DB');
  if (opts.relayToPort !== undefined) args.push('-A', `RELAY_TO="sip:${LOOPBACK}:${opts.relayToPort}"`);
  if (opts.msilo) args.push('-A', 'WITH_MSILO');
  if (opts.authUsers) args.push('-A', 'WITH_AUTH');
  if (opts.wal) args.push('-A', `DBJOURNAL="${dbPath}=WAL;"`);

  const check = spawnSync('kamailio', [...args, '-c'], { encoding: 'utf8', timeout: 15000 });
  if (check.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`kamailio config check failed:\n${(check.stderr ?? '').split('\n').slice(-15).join('\n')}`);
  }
  const logFd = openSync(join(dir, 'kamailio.log'), 'a');
  const child: ChildProcess = spawn('kamailio', args, { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  let exited = false;
  const exitP = new Promise<void>((r) => child.once('exit', () => { exited = true; r(); }));
  const pid = child.pid!;
  const name = ['kamailio', opts.db ? 'usrloc-sqlite' : 'usrloc-mem', opts.msilo ? '+msilo' : '', opts.wal ? '+wal' : '', opts.authUsers ? '+auth' : '']
    .filter(Boolean).join(' ').replace(' +', '+');
  const stop = async (): Promise<void> => {
    live.delete(stop);
    if (!exited) {
      child.kill('SIGTERM'); // the main process stops its children
      await Promise.race([exitP, sleep(5000)]);
      if (!exited) child.kill('SIGKILL');
      await Promise.race([exitP, sleep(2000)]);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  live.add(stop);
  if (!(await waitSipReady(port, 10000, () => !exited))) {
    const log = readFileSync(join(dir, 'kamailio.log'), 'utf8').split('\n').slice(-20).join('\n');
    await stop();
    throw new Error(`kamailio did not come up on udp:${LOOPBACK}:${port}:\n${log}`);
  }
  return { name, pid, port, target: `${LOOPBACK}:${port}`, stop };
}
