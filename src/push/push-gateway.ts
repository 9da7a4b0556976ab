// The push request to the push gateway (RFC 8599 §6: the proxy asks the PNS to wake the UA): an HTTP POST with a
// JSON body, bounded by a timeout and a number of retries, and logged. Fire and forget: SIP never waits on it.
import type { Logger } from '../log/logger.ts';
import type { PushParameters } from '../sip/push-parameters.ts';

/** The JSON body POSTed to the gateway. */
export interface PushRequest extends PushParameters {
  /** the caller's user id (or the From user) */
  caller: string;
  callId: string;
  type: 'call' | 'message';
}

export interface PushGatewayOptions {
  url: string;
  timeoutMs: number;
  /** further attempts after a failed one */
  retries: number;
  /** pushes in flight at once; beyond, a push is dropped (logged) */
  maxInFlight?: number;
  log?: Logger;
  /** the HTTP client (tests); default node's fetch */
  fetch?: typeof fetch;
}

/** Pause between attempts: 200 ms, 400 ms, 800 ms … capped at 2 s. */
function backoffMs(attempt: number): number {
  return Math.min(2000, 200 * 2 ** attempt);
}

export class PushGateway {
  readonly #o: Required<Omit<PushGatewayOptions, 'log'>> & { log?: Logger };
  #inFlight = 0;
  #closed = false;
  readonly #aborts = new Set<AbortController>();

  constructor(opts: PushGatewayOptions) {
    this.#o = { maxInFlight: 1000, fetch: globalThis.fetch, ...opts };
  }

  /** Sends the push in the background; resolves true once the gateway took it (2xx), false after the last failure. */
  send(req: PushRequest): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    if (this.#inFlight >= this.#o.maxInFlight) {
      this.#o.log?.warn({ callId: req.callId, provider: req.provider }, 'push dropped: too many in flight');
      return Promise.resolve(false);
    }
    this.#inFlight++;
    return this.#attempts(req).finally(() => { this.#inFlight--; });
  }

  async #attempts(req: PushRequest): Promise<boolean> {
    const body = JSON.stringify(req);
    const log = { callId: req.callId, provider: req.provider, type: req.type };
    for (let attempt = 0; attempt <= this.#o.retries && !this.#closed; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, backoffMs(attempt - 1)).unref());
      const abort = new AbortController();
      this.#aborts.add(abort);
      const timer = setTimeout(() => abort.abort(), this.#o.timeoutMs);
      timer.unref();
      try {
        const res = await this.#o.fetch(this.#o.url, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: abort.signal,
        });
        await res.arrayBuffer().catch(() => undefined); // drain: the connection can be reused
        if (res.ok) {
          this.#o.log?.info({ ...log, attempt }, 'push sent');
          return true;
        }
        this.#o.log?.warn({ ...log, attempt, status: res.status }, 'push gateway refused the push');
      } catch (err) {
        this.#o.log?.warn({ ...log, attempt, err: (err as Error).message }, 'push gateway not reached');
      } finally {
        clearTimeout(timer);
        this.#aborts.delete(abort);
      }
    }
    this.#o.log?.warn(log, 'push given up');
    return false;
  }

  /** Aborts the pushes in flight. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const a of this.#aborts) a.abort();
    this.#aborts.clear();
  }
}
