// The worker thread of WorkerSqliteStore (worker-store.ts): it owns the SqliteStore (its group commit, its
// synchronous fsync) so that a slow or hung disk blocks this thread, never the one that answers SIP.

import { parentPort, workerData } from 'node:worker_threads';
import { SqliteStore } from './sqlite-store.ts';
import { encodeError, STORE_CALLS, type FromWorker, type ToWorker, type WorkerInit } from './wire.ts';
import { StoreUnavailableError } from '../../errors.ts';

const port = parentPort!;
/** what goes back in one message: the answers and health changes of one turn, in order */
let outbox: FromWorker[] = [];
const post = (m: FromWorker) => {
  if (outbox.push(m) === 1) queueMicrotask(() => {
    const batch = outbox;
    outbox = [];
    port.postMessage(batch);
  });
};
const { path, options } = workerData as WorkerInit;
const calls = new Set<string>(STORE_CALLS);

let store: SqliteStore | null = null;
try {
  store = SqliteStore.open(path, {
    ...options,
    onStateChange: (up, err) => post({ type: 'health', up, error: err === undefined ? undefined : encodeError(err) }),
  });
} catch (err) {
  // no listener is added: the thread ends once this is sent
  post({ type: 'open-failed', error: encodeError(err) });
}

if (store !== null) {
  const s = store;
  const onMessage = (batch: ToWorker[]) => {
    for (const m of batch) handle(m);
  };
  const handle = (m: ToWorker) => {
    if (m.type === 'close') {
      port.off('message', onMessage); // nothing else keeps the thread alive: it ends after 'closed'
      void s.close().then(() => post({ type: 'closed' }));
      return;
    }
    const { id, method } = m;
    // answered 503 on the main thread while this thread was stuck: not run now, long after its caller gave up
    if (Date.now() > m.deadline) {
      post({ type: 'result', id, ok: false, error: encodeError(new StoreUnavailableError(`${method} reached the SQLite thread after its deadline`)) });
      return;
    }
    if (!calls.has(method)) {
      post({ type: 'result', id, ok: false, error: encodeError(new TypeError(`not a store method: ${String(method)}`)) });
      return;
    }
    const f = s[method] as (...args: unknown[]) => Promise<unknown>;
    new Promise((resolve) => resolve(f.apply(s, m.args))).then(
      (value) => post({ type: 'result', id, ok: true, value }),
      (err: unknown) => post({ type: 'result', id, ok: false, error: encodeError(err) }),
    );
  };
  port.on('message', onMessage);
  post({ type: 'ready' });
}
