// SQLite in a worker thread (issue 16 item 6): a hung disk must not freeze SIP. The SqliteStore, its group
// commit and its synchronous fsync run in sqlite-worker.ts; this Store forwards every call there by name
// (wire.ts) and takes the answer back by message.
//
// - commitDeadlineMs: a call not answered in time rejects with StoreUnavailableError (503) and marks the store
//   down; the next answer from the thread marks it up. One sweeping timer, not one per call. The worker does not
//   run a call it reaches after its deadline; a write already in the commit that hangs may still land after its 503.
// - maxInFlight: beyond it a call fails as unavailable at once (a hung thread does not pile up unbounded work).
// - A worker that dies rejects every pending call as unavailable and is started again, with a back-off.

import { Worker } from 'node:worker_threads';
import { StoreUnavailableError, TvphoneError } from '../../errors.ts';
import { StoreHealth } from '../health.ts';
import type { Store } from '../store.ts';
import type { SqliteStoreOptions } from './sqlite-store.ts';
import { decodeError, STORE_CALLS, type FromWorker, type StoreCall, type ToWorker, type WorkerInit } from './wire.ts';

export interface WorkerStoreOptions extends SqliteStoreOptions {
  /** how long a call may wait for the worker before it fails as unavailable (default 2000 ms); lockWaitMs is kept below it */
  commitDeadlineMs?: number;
  /** most calls waiting for the worker (default 10,000); beyond, unavailable at once */
  maxInFlight?: number;
  /** first and longest wait before a dead worker is started again (default 100 ms, doubling to 5000 ms) */
  restartMs?: { min: number; max: number };
  /** how long open() waits for the database to open and migrate (default 60 s: a hung disk fails the start, a long migration does not) */
  openDeadlineMs?: number;
}

const OPEN_DEADLINE_MS = 60_000;

/** The worker's entry: the .ts next to this file in a checkout, the .js that the build emits in dist/ (import specifiers are rewritten, URLs are not). */
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './sqlite-worker.ts' : './sqlite-worker.js', import.meta.url);
/**
 * The worker's young generation (V8's new space), in MB. What it allocates lives for one batch, yet under 1000
 * REGISTERs/s its heap grew from 12 to 139 MB (issue 18, bench/README.md memory), as the main thread's new space grew
 * to 128 MB: V8 sizes it for throughput. A small one costs more scavenges, each of which finds next to nothing alive.
 * V8 flags are per process: bin/tvphone's --max-semi-space-size (4 MB) overrides this when node is started with it.
 */
const WORKER_YOUNG_GENERATION_MB = 8;

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  /** epoch ms; the map is in call order and every call has the same deadline, so it is in deadline order too */
  deadline: number;
  method: StoreCall;
}

// The Store methods are installed on the prototype from STORE_CALLS (the static block); this merge types them.
export interface WorkerSqliteStore extends Omit<Store, 'dialect' | 'close'> {}

export class WorkerSqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  readonly path: string;
  readonly #init: WorkerInit;
  readonly #health: StoreHealth;
  readonly #deadlineMs: number;
  readonly #maxInFlight: number;
  readonly #restart: { min: number; max: number };
  #restartDelay: number;
  #restartTimer: NodeJS.Timeout | null = null;
  #worker: Worker | null = null;
  readonly #pending = new Map<number, Pending>();
  #outbox: ToWorker[] = [];
  #flushTimer: NodeJS.Immediate | null = null;
  #nextId = 1;
  #sweep: NodeJS.Timeout | null = null;
  /** the worker's own SqliteStore is up (its health messages) */
  #workerUp = true;
  #closing: Promise<void> | null = null;
  #restarts = 0;

  static {
    for (const method of STORE_CALLS) {
      Object.defineProperty(WorkerSqliteStore.prototype, method, {
        value: function (this: WorkerSqliteStore, ...args: unknown[]): Promise<unknown> { return this.#call(method, args); },
        writable: true, configurable: true,
      });
    }
  }

  private constructor(path: string, opts: WorkerStoreOptions) {
    this.path = path;
    const { onStateChange, commitDeadlineMs, maxInFlight, restartMs, ...options } = opts;
    this.#deadlineMs = commitDeadlineMs ?? 2000;
    // A write waiting for another process's lock gives up before its deadline: one answered 503 is then never
    // committed later, when the lock is released (only a write already in a commit that hangs can be).
    options.lockWaitMs = Math.min(options.lockWaitMs ?? 3000, Math.floor(this.#deadlineMs * 0.8));
    this.#init = { path, options };
    this.#health = new StoreHealth(onStateChange);
    this.#maxInFlight = maxInFlight ?? 10_000;
    this.#restart = restartMs ?? { min: 100, max: 5000 };
    this.#restartDelay = this.#restart.min;
  }

  /** Starts the worker and waits until it has opened (and migrated) the database; its open errors are rethrown here. */
  static async open(path: string, opts: WorkerStoreOptions = {}): Promise<WorkerSqliteStore> {
    const store = new WorkerSqliteStore(path, opts);
    const deadlineMs = opts.openDeadlineMs ?? OPEN_DEADLINE_MS;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // the thread may be stuck in the kernel: it is told to end, not waited for (unref'd, it keeps no process alive)
        store.#closing = Promise.resolve();
        void store.#worker?.terminate();
        reject(new TvphoneError('ERR_STORE_OPEN', `cannot open SQLite database ${path}: not opened and migrated within ${deadlineMs / 1000} s (a hung disk?)`));
      }, deadlineMs);
    });
    try {
      await Promise.race([store.#start(), late]);
    } finally {
      clearTimeout(timer);
    }
    return store;
  }

  /** how many times a dead worker was started again */
  get restarts(): number {
    return this.#restarts;
  }

  /** the worker thread (tests kill it) */
  get thread(): Worker | null {
    return this.#worker;
  }

  #start(): Promise<void> {
    const worker = new Worker(WORKER_URL, {
      workerData: this.#init, name: 'tvphone-sqlite', resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
    });
    this.#worker = worker;
    worker.unref(); // ref'd only while calls wait for it
    let lastError: unknown;
    return new Promise<void>((resolve, reject) => {
      let opened = false;
      worker.on('message', (batch: FromWorker[]) => {
        for (const m of batch) {
          if (m.type === 'ready') {
            opened = true;
            this.#workerUp = true;
            resolve();
          } else if (m.type === 'open-failed') reject(lastError = decodeError(m.error));
          else this.#onMessage(m);
        }
      });
      worker.on('error', (err) => { lastError = err; });
      worker.on('exit', (code) => {
        if (this.#worker === worker) this.#worker = null;
        if (!opened) reject(lastError ?? new StoreUnavailableError(`the SQLite worker thread exited (code ${code}) before opening ${this.path}`));
        // a worker that never opened is not restarted, unless it was itself a restart (its exit schedules the next try)
        if (this.#closing === null && (opened || this.#restarts > 0)) this.#lost(code, lastError);
      });
    });
  }

  #onMessage(m: FromWorker): void {
    if (m.type === 'health') {
      this.#workerUp = m.up;
      if (!m.up) this.#health.down(m.error ? decodeError(m.error) : new StoreUnavailableError(`SQLite database ${this.path} is unavailable`));
      return;
    }
    if (m.type !== 'result') return;
    const err = m.ok ? null : decodeError(m.error);
    // any answer but "unavailable" shows the thread working again
    if (!(err instanceof StoreUnavailableError)) {
      this.#restartDelay = this.#restart.min;
      if (this.#workerUp) this.#health.ok();
    }
    const p = this.#pending.get(m.id);
    if (p === undefined) return; // already answered 503 at its deadline
    this.#pending.delete(m.id);
    this.#idle();
    if (m.ok) p.resolve(m.value);
    else p.reject(err);
  }

  #call(method: StoreCall, args: unknown[]): Promise<unknown> {
    if (this.#closing !== null) return Promise.reject(new StoreUnavailableError('the store is closed'));
    const worker = this.#worker;
    if (worker === null) return Promise.reject(new StoreUnavailableError(`the SQLite worker thread of ${this.path} is being restarted`));
    if (this.#pending.size >= this.#maxInFlight) {
      return Promise.reject(new StoreUnavailableError(`${this.#pending.size} calls already wait for SQLite database ${this.path}`));
    }
    const id = this.#nextId++;
    const deadline = Date.now() + this.#deadlineMs;
    return new Promise((resolve, reject) => {
      if (this.#pending.size === 0) {
        worker.ref();
        this.#sweep ??= setInterval(() => this.#expire(), Math.min(100, Math.max(5, Math.floor(this.#deadlineMs / 10))));
      }
      this.#pending.set(id, { resolve, reject, deadline, method });
      this.#send({ type: 'call', id, method, args, deadline });
    });
  }

  /** Queues a message for the worker; the messages of this turn of the event loop go in one postMessage. */
  #send(m: ToWorker): void {
    if (this.#outbox.push(m) === 1) this.#flushTimer = setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#flushTimer = null;
    const batch = this.#outbox;
    this.#outbox = [];
    const worker = this.#worker;
    if (worker === null || batch.length === 0) return; // died meanwhile: its calls are already rejected
    try {
      worker.postMessage(batch);
    } catch {
      // an argument that does not clone (a bug of its caller): each alone, so only that call fails
      for (const m of batch) {
        try {
          worker.postMessage([m]);
        } catch (err) {
          if (m.type !== 'call') continue;
          const p = this.#pending.get(m.id);
          this.#pending.delete(m.id);
          p?.reject(err);
        }
      }
      this.#idle();
    }
  }

  /** The sweep: calls past their deadline fail as unavailable; the outage is reported once. */
  #expire(): void {
    const now = Date.now();
    for (const [id, p] of this.#pending) {
      if (p.deadline > now) break;
      this.#pending.delete(id);
      const err = new StoreUnavailableError(`SQLite database ${this.path} did not answer ${p.method} within ${this.#deadlineMs} ms (a hung disk?)`);
      this.#health.down(err);
      p.reject(err);
    }
    this.#idle();
  }

  /** No call waits: the sweep stops and the thread no longer keeps the process alive. */
  #idle(): void {
    if (this.#pending.size > 0) return;
    if (this.#sweep !== null) clearInterval(this.#sweep);
    this.#sweep = null;
    this.#worker?.unref();
  }

  #rejectAll(err: Error): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    this.#outbox = [];
    if (this.#flushTimer !== null) clearImmediate(this.#flushTimer);
    this.#flushTimer = null;
    this.#idle();
    for (const p of pending) p.reject(err);
  }

  /** The worker died: its calls fail as unavailable, and a new one is started after the back-off. */
  #lost(code: number, cause: unknown): void {
    const err = new StoreUnavailableError(`the SQLite worker thread of ${this.path} exited (code ${code})`, { cause });
    this.#workerUp = false;
    this.#health.down(err);
    this.#rejectAll(err);
    const delay = this.#restartDelay;
    this.#restartDelay = Math.min(this.#restart.max, delay * 2);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null;
      if (this.#closing !== null) return;
      this.#restarts++;
      this.#start().catch(() => {});
    }, delay);
    this.#restartTimer.unref();
  }

  /** Commits what is queued in the worker and ends it; idempotent. Bounded: a hung thread is left behind after the deadline plus 5 s. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#restartTimer !== null) clearTimeout(this.#restartTimer);
    this.#restartTimer = null;
    const worker = this.#worker;
    if (worker === null) return;
    worker.ref();
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    this.#send({ type: 'close' }); // after the calls already queued: the worker answers them, commits, then ends
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), this.#deadlineMs + 5000); }),
    ]);
    clearTimeout(timer);
    this.#rejectAll(new StoreUnavailableError('the store is closed'));
    if (gaveUp) {
      worker.unref();
      void worker.terminate().catch(() => {});
    }
    this.#worker = null;
  }
}
