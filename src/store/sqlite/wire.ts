// What crosses between the SQLite worker thread and the store on the main thread: Store calls by method name,
// their results, and errors. Structured clone keeps only the built-in error classes, so ours are sent as data and
// rebuilt as the same classes with the same fields (routing relies on instanceof and on code, count, bytes).

import { QuotaExceededError, StoreUnavailableError, TvphoneError } from '../../errors.ts';
import { SqlStore } from '../sql-store.ts';
import type { Store } from '../store.ts';
import type { SqliteStoreOptions } from './sqlite-store.ts';

type AsyncMethods<T> = { [K in keyof T]: T[K] extends (...args: never[]) => Promise<unknown> ? K : never }[keyof T];

/** a Store method forwarded to the worker (close ends the worker instead) */
export type StoreCall = Exclude<AsyncMethods<Store>, 'close'>;

/** The Store methods, taken from SqlStore's prototype: one list for both sides, no copy per method. */
export const STORE_CALLS: readonly StoreCall[] = Object.getOwnPropertyNames(SqlStore.prototype)
  .filter((n) => n !== 'constructor' && typeof Object.getOwnPropertyDescriptor(SqlStore.prototype, n)?.value === 'function') as StoreCall[];

/** workerData: the file and the options that clone (the listener stays on the main thread) */
export interface WorkerInit {
  path: string;
  options: Omit<SqliteStoreOptions, 'onStateChange'>;
}

// Each postMessage carries a list of these, in order: the calls of one turn of the event loop go in one message and
// their answers come back in one (a message costs more than a small call: structured clone, a wake-up per message).

export type ToWorker =
  /** `deadline` (epoch ms): a call the worker reaches after it has already been answered 503 is not run */
  | { type: 'call'; id: number; method: StoreCall; args: unknown[]; deadline: number }
  | { type: 'close' };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'open-failed'; error: WireError }
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; error: WireError }
  /** the worker's StoreHealth changed (SQLite itself failing, a lock held too long) */
  | { type: 'health'; up: boolean; error?: WireError }
  | { type: 'closed' };

export type WireError =
  | { kind: 'unavailable'; message: string; stack?: string; cause?: WireError }
  | { kind: 'quota'; message: string; stack?: string; count: number; bytes: number }
  | { kind: 'tvphone'; code: string; message: string; stack?: string; cause?: WireError }
  /** anything else (a bug, a TypeError from ops, a driver error): name, message and its primitive fields (errcode …) */
  | { kind: 'error'; name: string; message: string; stack?: string; fields: Record<string, string | number | boolean> };

export function encodeError(err: unknown): WireError {
  if (!(err instanceof Error)) return { kind: 'error', name: 'Error', message: String(err), fields: {} };
  const cause = err.cause instanceof Error ? encodeError(err.cause) : undefined;
  if (err instanceof StoreUnavailableError) return { kind: 'unavailable', message: err.message, stack: err.stack, cause };
  if (err instanceof QuotaExceededError) return { kind: 'quota', message: err.message, stack: err.stack, count: err.count, bytes: err.bytes };
  if (err instanceof TvphoneError) return { kind: 'tvphone', code: err.code, message: err.message, stack: err.stack, cause };
  const fields: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(err)) if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') fields[k] = v;
  return { kind: 'error', name: err.name, message: err.message, stack: err.stack, fields };
}

const BUILT_IN: Record<string, ErrorConstructor> = { TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError };

export function decodeError(w: WireError): Error {
  const options = 'cause' in w && w.cause ? { cause: decodeError(w.cause) } : undefined;
  let err: Error;
  if (w.kind === 'unavailable') err = new StoreUnavailableError(w.message, options);
  else if (w.kind === 'tvphone') err = new TvphoneError(w.code, w.message, options);
  else if (w.kind === 'quota') {
    err = new QuotaExceededError('', { count: w.count, bytes: w.bytes });
    err.message = w.message; // the user is only in the message
  } else {
    err = new (BUILT_IN[w.name] ?? Error)(w.message);
    if (err.name !== w.name) err.name = w.name;
    Object.assign(err, w.fields);
  }
  if (w.stack !== undefined) err.stack = w.stack; // where it was thrown, in the worker
  return err;
}
