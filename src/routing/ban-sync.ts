// Bans shared through the database (issue 16, issue 18: changes travel through the database, no node-to-node
// protocol). Each ban this node's guard starts is written to `bans`; every node reads the bans changed since its last
// read, at start (so a restart does not lift one) and every `pollSeconds`, and at once when PostgreSQL's NOTIFY
// tvphone_bans says a node wrote one (LISTEN/NOTIFY; SQLite and SQL Server have no such push: polling only).
import type { Clock, TimerHandle } from '../clock.ts';
import type { Logger } from '../log/logger.ts';
import type { BanStore } from '../store/store.ts';
import type { Guard } from './guard.ts';

/** a node's clock may be this far behind another's: a read goes back this much before the last one */
const CLOCK_SKEW_MS = 10_000;
/** ended bans are purged this often */
const PURGE_EVERY_MS = 3600_000;

export interface BanSyncOptions {
  store: BanStore & { watchBans?: (onChange: () => void) => Promise<() => Promise<void>> };
  guard: Pick<Guard, 'importBan'>;
  clock: Clock;
  log: Logger;
  node: string;
  pollSeconds: number;
}

export class BanSync {
  readonly #o: BanSyncOptions;
  #since = 0;
  #timer: TimerHandle | null = null;
  #reading: Promise<void> | null = null;
  #again = false;
  #lastPurge = 0;
  #unwatch: (() => Promise<void>) | null = null;
  #closed = false;

  constructor(o: BanSyncOptions) {
    this.#o = o;
  }

  /** The running bans read once, then the polling (and PostgreSQL's LISTEN) begins. */
  async start(): Promise<void> {
    await this.read();
    if (this.#o.store.watchBans) {
      try {
        this.#unwatch = await this.#o.store.watchBans(() => void this.read());
      } catch (err) {
        this.#o.log.warn({ err }, 'cannot LISTEN for bans: polling only');
      }
    }
    this.#arm();
  }

  /** A ban this node's guard started: written for the others (not awaited by the request it refused). */
  record(kind: 'source' | 'user', key: string, until: number): void {
    if (this.#closed) return;
    this.#o.store.saveBan({ kind, key, until, node: this.#o.node }, this.#o.clock.now())
      .catch((err: unknown) => this.#o.log.warn({ err, kind, key }, 'ban not shared: the database refused it'));
  }

  /** Reads the bans changed since the last read (one read at a time; a call during one makes one more after it). */
  read(): Promise<void> {
    if (this.#reading) { this.#again = true; return this.#reading; }
    this.#reading = (async () => {
      do {
        this.#again = false;
        const now = this.#o.clock.now();
        try {
          for (const b of await this.#o.store.bansChanged(this.#since - CLOCK_SKEW_MS, now)) {
            this.#o.guard.importBan(b.kind, b.key, b.until, b.node);
          }
          this.#since = now;
          if (now - this.#lastPurge >= PURGE_EVERY_MS) {
            this.#lastPurge = now;
            await this.#o.store.purgeBans(now);
          }
        } catch (err) {
          this.#o.log.debug({ err }, 'bans not read');
        }
      } while (this.#again && !this.#closed);
    })().finally(() => { this.#reading = null; });
    return this.#reading;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) this.#o.clock.clear(this.#timer);
    this.#timer = null;
    await this.#reading;
    await this.#unwatch?.().catch(() => {});
    this.#unwatch = null;
  }

  #arm(): void {
    if (this.#closed) return;
    this.#timer = this.#o.clock.set(tick, this.#o.pollSeconds * 1000, this);
  }

  /** @internal the timer's callback */
  tick(): void {
    this.#timer = null;
    void this.read().finally(() => this.#arm());
  }
}

function tick(s: BanSync): void { s.tick(); }
